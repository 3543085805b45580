"""The local model makes offline demos teach: labels follow the text, roles act, languages and lines fit.

The labelled sets in ``tests/local/data`` are plain on purpose (a review that says what it thinks, a
headline about one topic); the figure asserted is the agreement issue 9 asks for (at least 90%).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Literal

import numpy as np
import pydantic
import pytest

from bfnb.local import model

DATA = Path(__file__).parent / "data"
REPO = Path(__file__).resolve().parents[2]


def answer(messages: list[dict] | str, **kw) -> dict:
    if isinstance(messages, str):
        messages = [{"role": "user", "content": messages}]
    return model.chat_completion({"model": "gpt-4o-mini", "messages": messages, **kw})


def text(messages, **kw) -> str:
    return answer(messages, **kw)["choices"][0]["message"]["content"]


def labelled(name: str) -> list[dict]:
    return [json.loads(line) for line in (DATA / f"{name}.jsonl").read_text().splitlines()]


SETS = {"sentiment": ["positive", "negative", "neutral"], "topics": ["sports", "politics", "technology", "business"]}


def schema_for(labels: list[str]) -> dict:
    Answer = pydantic.create_model("Answer", label=(Literal[tuple(labels)], ...), reason=(str, ...))
    return {"type": "json_schema", "json_schema": {"name": "answer", "schema": Answer.model_json_schema()}}


def agreement(predicted: list[str], rows: list[dict]) -> float:
    return sum(p == r["label"] for p, r in zip(predicted, rows, strict=True)) / len(rows)


@pytest.mark.parametrize("name", SETS)
def test_labels_agree_with_a_plain_labelled_set(name):
    rows, labels = labelled(name), SETS[name]
    assert len(rows) >= 30 and {r["label"] for r in rows} == set(labels)
    listed = ", ".join(labels[:-1]) + " or " + labels[-1]
    free = [text(f"Classify this text as {listed}. Answer with the label only.\n\nText: {r['text']}") for r in rows]
    fmt = schema_for(labels)
    structured = [json.loads(text(f"Classify this text.\n\n{r['text']}", response_format=fmt)) for r in rows]
    assert agreement(free, rows) >= 0.9
    assert agreement([s["label"] for s in structured], rows) >= 0.9
    # A structured answer's reason quotes words of the text, not of the instructions.
    quoted = [re.findall(r'"([^"]+)"', s["reason"]) for s in structured]
    assert sum(
        all(w in r["text"].lower() for w in q) and bool(q) for q, r in zip(quoted, rows, strict=True)
    ) >= 0.8 * len(rows)


def test_editing_the_instructions_keeps_the_labels():
    rows = labelled("sentiment")
    one = [text(f"Classify the sentiment as positive, negative or neutral:\n{r['text']}") for r in rows]
    two = [
        text(f"Read this customer review carefully. Is it positive, negative or neutral?\n\n{r['text']}") for r in rows
    ]
    assert one == two


def test_a_label_named_in_the_text_by_stem_or_synonym_wins_over_sentiment():
    labels = schema_for(["sports", "weather", "other"])
    assert (
        json.loads(text("Headline: the striker scored a terrible own goal", response_format=labels))["label"]
        == "sports"
    )
    assert json.loads(text("Headline: heavy rain and storms all week", response_format=labels))["label"] == "weather"
    assert text("Classify as positive or negative: not good at all, it broke") == "negative"
    assert text("Classify as positive or negative: never had a problem, works great") == "positive"


def test_answers_are_marked_as_local_in_text_or_metadata():
    assert text("Write a poem about Troy.").endswith(model.MARKER)
    structured = answer("Classify: great", response_format=schema_for(["positive", "negative"]))
    assert model.MARKER not in structured["choices"][0]["message"]["content"]
    assert structured["metadata"]["marker"] == model.MARKER
    assert model.embedding({"input": ["x"]})["metadata"]["answered_by"] == "bfnb local model"


def dialogue_turn(role: str, history: list[tuple[str, str]], command: str) -> str:
    """A turn as AICharacter sends it: own lines as assistant, the other's prefixed with their name."""
    msgs = [{"role": "system", "content": f"You are a {role.lower()}. Please only output the dialogue."}]
    for speaker, line in history:
        if speaker == role:
            msgs.append({"role": "assistant", "content": line})
        else:
            msgs.append({"role": "user", "content": f"{speaker}: {line}"})
    if msgs[-1]["role"] == "user":
        msgs[-1]["content"] += "\n\n" + command
    else:
        msgs.append({"role": "user", "content": command})
    return text(msgs)


def test_a_student_asks_and_a_teacher_explains_and_sums_up():
    history: list[tuple[str, str]] = []
    history.append(
        ("Teacher", dialogue_turn("Teacher", history, "Please introduce the text titled Perseus Slays Medusa."))
    )
    for _ in range(3):
        history.append(("Student", dialogue_turn("Student", history, "Please ask questions or respond.")))
        history.append(
            ("Teacher", dialogue_turn("Teacher", history, "Please respond to the student or continue explaining."))
        )
    history.append(("Teacher", dialogue_turn("Teacher", history, "Please summarize.")))
    bodies = [(who, line.removesuffix(model.MARKER).strip()) for who, line in history]
    assert all(line.endswith(model.MARKER) for _, line in history)
    assert "Perseus Slays Medusa" in bodies[0][1]
    student = [b for who, b in bodies if who == "Student"]
    teacher = [b for who, b in bodies if who == "Teacher"]
    assert len(student) == 3 and all(b.endswith("?") for b in student)
    assert not any(b.endswith("?") for b in teacher)
    assert bodies[-1][1].startswith("To sum up") and re.search(r"Perseus|Medusa", bodies[-1][1])
    # Each answer takes up the words of the question it answers.
    for q, a in zip(bodies[1::2], bodies[2::2], strict=False):
        asked = set(re.findall(r"[A-Z][a-z]+", q[1])) - {"What", "Why", "How", "Could", "Who", "Is"}
        assert asked & set(re.findall(r"[A-Z][a-z]+", a[1])), (q, a)


@pytest.mark.parametrize(
    ("prompt", "script"),
    [
        ("请写一个关于“奥德赛”的儿童故事，大约57个汉字。", r"[\u4e00-\u9fff]"),
        ("奥德赛についての短い物語を書いてください。", r"[\u3040-\u30ff\u4e00-\u9fff]"),
        ("Напиши короткую историю про Одиссея.", r"[\u0400-\u04ff]"),
    ],
)
def test_an_answer_uses_the_prompts_script(prompt, script):
    body = text(prompt).removesuffix(model.MARKER)
    letters = re.findall(r"[^\W\d_]", body)
    assert sum(bool(re.match(script, ch)) for ch in letters) >= 0.8 * len(letters)


def test_a_chinese_prompt_gets_chinese_about_its_subject():
    body = text("请写一个关于“The Odyssey”的儿童故事，大约57个汉字。").removesuffix(model.MARKER)
    assert "The Odyssey" in body
    assert len(re.findall(r"[\u4e00-\u9fff]", body)) >= 30
    assert not set(re.findall(r"[A-Za-z]+", body)) - {"The", "Odyssey"}


def fable_titles() -> list[str]:
    """Title lines of the demo fables: a line after two blank lines, followed by a blank line."""
    raw = (REPO / "demo_data" / "aesop_fables.txt").read_text()
    return re.findall(r"\n\n\n([^\n]+)\n\n", raw)


def test_line_number_questions_over_numbered_text_get_the_title_lines():
    import bfnb.op.functional as F

    lines = F.lines((REPO / "demo_data" / "aesop_fables.txt").read_text())
    prompt = (
        "Below are numbered lines of fables; each fable starts with its title.\n"
        "Give the line numbers of the title lines, separated by spaces.\n\n" + F.join_texts(F.label_texts(lines))
    )
    picked = [lines[int(n) - 1] for n in text(prompt).split()]
    assert picked == fable_titles() and len(picked) == 25


def test_embeddings_fold_case_and_ignore_stop_words():
    vec = lambda t: np.array(model.embedding({"input": [t]})["data"][0]["embedding"])  # noqa: E731
    assert vec("The War of the Titans") @ vec("THE WAR OF THE TITANS") == pytest.approx(1.0, abs=1e-6)
    assert abs(vec("The War of the Titans") @ vec("The Song of the Sirens")) < 0.2
    assert vec("The Labors of Heracles") @ vec("Heracles and the Nemean Lion") > 0.3
