"""The seed README's snippets run on bfnb (offline: the local model answers every model name)."""

from __future__ import annotations

import shutil
from pathlib import Path

import bfnb as bf
import bfnb.op.functional as F
from bfnb.op import *

REPO = Path(__file__).resolve().parents[2]


def test_quickstart_snippet(tmp_path, monkeypatch):
    shutil.copytree(REPO / "demo_data", tmp_path / "demo_data")
    monkeypatch.chdir(tmp_path)
    PROMPT = """
Write a poem about {keyword}.
"""
    with bf.ProjectFolder("quickstart", 1, 0, 7) as project:
        g = bf.Graph()
        g |= ReadMarkdownLines("./demo_data/greek_mythology_stories.md")
        g |= Shuffle(seed=42) | TakeFirstN(5)
        g |= AskLLM(PROMPT, model="gpt-4o-mini@openai")
        g |= MapField(lambda headings, keyword: headings + [keyword], ["headings", "keyword"], "headings")
        g |= WriteMarkdownEntries(project["out/poems.md"])
    g.execute(dispatch_brokers=True)
    text = Path(project["out/poems.md"]).read_text()
    assert text.startswith("# Greek Mythology Stories") and text.count("\n## ") == 5


def test_roleplay_snippet(tmp_path, monkeypatch):
    shutil.copytree(REPO / "demo_data", tmp_path / "demo_data")
    monkeypatch.chdir(tmp_path)
    model, FORMAT_REQ = "gpt-4o-mini@openai", "Please only output the dialogue."
    with bf.ProjectFolder("roleplay", 1, 0, 5) as project:
        g = ReadMarkdownLines("./demo_data/greek_mythology_stories.md") | TakeFirstN(1)
        Teacher = AICharacter("Teacher", "You are a teacher. " + FORMAT_REQ, model=model)
        Student = AICharacter("Student", "You are a student. " + FORMAT_REQ, model=model)
        g |= Teacher("Please introduce the text from {headings} titled {keyword}.")
        loop_body = Student("Please ask questions or respond.")
        loop_body |= Teacher("Please respond to the student or continue explaining.")
        g |= Repeat(loop_body, 3)
        g |= Teacher("Please summarize.")
        g |= ChatHistoryToText(template="**{role}**: {content}\n\n")
        g |= MapField(lambda headings, keyword: headings + [keyword], ["headings", "keyword"], "headings")
        g |= WriteMarkdownEntries(project["out/roleplay.md"])
    g.execute(dispatch_brokers=True)
    text = Path(project["out/roleplay.md"]).read_text()
    assert text.count("**Teacher**: ") == 5 and text.count("**Student**: ") == 3


def test_spawn_snippet_with_its_one_change():
    text = "\n".join(f"line {i}" for i in range(1, 9))
    model = "gpt-4o-mini@openai"
    LABEL_SEG_PROMPT = "Give the numbers of the lines that start a scene.\n{text}"

    def create_input_chunks(text):
        return F.label_and_chunk_texts(F.lines(text), chunk_length=40)

    def post_processing(text, labels):
        new_texts, _ = F.postprocess_labels(labels, F.lines(text))
        return new_texts, F.flatten_list(labels)

    g = FromList([{"text": text}])
    g |= MapField(create_input_chunks, "text", "text_segments")
    spawn_chain = AskLLM(LABEL_SEG_PROMPT, model=model, output_key="labels")
    spawn_chain |= MapField(F.text_to_integer_list, "labels")
    g |= ListParallel(spawn_chain, "text_segments", "text", "labels", "labels")  # the seed wrote `g | ...`
    g |= MapField(post_processing, ["text", "labels"], ["text_segments", "labels"])
    g |= ExplodeList(["text_segments"], ["text"])
    out = g.run()
    assert len(out) >= 1 and "".join(out["text"]).replace("\n", "") == text.replace("\n", "")


def test_embedding_snippet():
    g = FromList([{"keyword": "fire"}, {"keyword": "ice"}])
    g |= EmbedText("keyword", model="text-embedding-3-small@openai", output_format="list")
    out = g.run()
    assert all(isinstance(v, list) and isinstance(v[0], float) for v in out["embedding"])
