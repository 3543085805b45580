"""AICharacter dialogues in Repeat, ChatHistoryToText, and the seed roleplay snippet offline."""

from __future__ import annotations

import bfnb as bf
from bfnb.executor.memo import memo
from bfnb.op import (
    AICharacter,
    ChatHistoryToText,
    FromList,
    MapField,
    ReadMarkdownLines,
    Repeat,
    TakeFirstN,
    TransformCharacterDialogueForLLM,
    UpdateChatHistory,
    WriteMarkdownEntries,
)
from bfnb.op.characters import character_messages

FORMAT_REQ = "Please only output the dialogue."


def roleplay(md, model="gpt-4o-mini@openai"):
    with bf.ProjectFolder("roleplay", 1, 0, 5) as project:
        g = ReadMarkdownLines(str(md)) | TakeFirstN(1)
        Teacher = AICharacter("Teacher", "You are a teacher. " + FORMAT_REQ, model=model)
        Student = AICharacter("Student", "You are a student. " + FORMAT_REQ, model=model)
        g |= Teacher("Please introduce the text from {headings} titled {keyword}.")
        loop_body = Student("Please ask questions or respond.")
        loop_body |= Teacher("Please respond to the student or continue explaining.")
        g |= Repeat(loop_body, 3)
        g |= Teacher("Please summarize.")
        g |= ChatHistoryToText(template="**{role}**: {content}\n\n")
        g |= MapField(lambda headings, keyword: [*headings, keyword], ["headings", "keyword"], "headings")
        g |= WriteMarkdownEntries(project["out/roleplay.md"])
    return g, project


def test_seed_roleplay_snippet_runs_offline_with_5_teacher_and_3_student_turns(tmp_path):
    md = tmp_path / "myths.md"
    md.write_text("# Greek Mythology Stories\nThe Odyssey  \nEcho  \n", encoding="utf-8")
    g, project = roleplay(md)
    out = g.run()
    hist = out["chat_history"].iloc[0]
    roles = [m["role"] for m in hist]
    assert roles.count("Teacher") == 5 and roles.count("Student") == 3
    assert roles[0] == "Teacher" and roles[1] == "Student"
    text = (project.root_folder / "out" / "roleplay.md").read_text(encoding="utf-8")
    assert text.count("**Teacher**:") == 5 and text.count("**Student**:") == 3
    assert g.cost().loc["total", "calls_sent"] == 8
    memo.clear()
    g2, _ = roleplay(md)
    g2.run()
    assert g2.cost().loc["total", "calls_sent"] == 0  # the whole dialogue came from the ledger


def test_character_sees_history_from_its_own_side():
    hist = [
        {"role": "Teacher", "content": "Hello"},
        {"role": "Student", "content": "Hi"},
        {"role": "Student", "content": "Question?"},
    ]
    msgs = character_messages("Teacher", hist)
    assert msgs == [
        {"role": "assistant", "content": "Hello"},
        {"role": "user", "content": "Student: Hi\nStudent: Question?"},
    ]


def test_update_history_and_transform_ops():
    g = (
        bf.Graph()
        | FromList(
            [
                {
                    "text": "hi",
                    "llm_request": {
                        "model": "x@local",
                        "messages": [{"role": "A", "content": "a"}, {"role": "B", "content": "b"}],
                    },
                }
            ]
        )
        | UpdateChatHistory(character_name="A")
        | TransformCharacterDialogueForLLM(character_name="B")
    )
    out = g.run()
    assert out["chat_history"].iloc[0] == [{"role": "A", "content": "hi"}]
    assert [m["role"] for m in out["llm_request"].iloc[0]["messages"]] == ["user", "assistant"]
