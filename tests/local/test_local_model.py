"""The built-in local model: deterministic, OpenAI-shaped, honest about being a stand-in."""

from __future__ import annotations

import base64
import re
from typing import Literal

import numpy as np
import pydantic
import pytest

from bfnb.local import model

jsonschema = pytest.importorskip("jsonschema")


def chat(content: str, **kw) -> dict:
    return model.chat_completion({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": content}], **kw})


def text(resp: dict, i: int = 0) -> str:
    return resp["choices"][i]["message"]["content"]


def test_same_request_same_answer_and_openai_shape():
    a, b = chat("Write a poem about The Odyssey."), chat("Write a poem about The Odyssey.")
    assert a == b
    assert a["object"] == "chat.completion" and a["created"] == 0 and a["model"] == "gpt-4o-mini"
    choice = a["choices"][0]
    assert choice["index"] == 0 and choice["finish_reason"] == "stop"
    assert choice["message"]["role"] == "assistant"
    assert set(a["usage"]) == {"prompt_tokens", "completion_tokens", "total_tokens"}


def test_answers_differ_by_prompt_and_use_its_words():
    odyssey, medusa = (
        text(chat("Write a poem about The Odyssey.")),
        text(chat("Write a poem about Medusa's Gaze.")),
    )
    assert odyssey != medusa
    assert "Odyssey" in odyssey and "Medusa" in medusa
    assert odyssey.endswith(model.MARKER) and medusa.endswith(model.MARKER)
    assert 3 <= len(odyssey.splitlines()) <= 7


def test_seed_temperature_model_and_choice_index_change_the_answer():
    base = text(chat("Write a poem about Troy and Helen."))
    assert text(chat("Write a poem about Troy and Helen.", seed=7)) != base
    assert text(chat("Write a poem about Troy and Helen.", temperature=1.3)) != base
    assert (
        text(
            model.chat_completion(
                {
                    "model": "other",
                    "messages": [{"role": "user", "content": "Write a poem about Troy and Helen."}],
                }
            )
        )
        != base
    )
    many = chat("Write a poem about Troy and Helen.", n=3)
    assert [c["index"] for c in many["choices"]] == [0, 1, 2]
    assert len({text(many, i) for i in range(3)}) == 3


def test_max_tokens_truncates_with_finish_reason_length():
    for key in ("max_tokens", "max_completion_tokens"):
        resp = chat("Write a long poem about Prometheus stealing fire.", **{key: 5})
        assert resp["choices"][0]["finish_reason"] == "length"
        assert len(text(resp)) <= 20
        assert resp["usage"]["completion_tokens"] <= 5
    assert chat("Write a poem about fire.", max_tokens=500)["choices"][0]["finish_reason"] == "stop"


def test_usage_counts_chars_over_four_plus_four_per_message():
    messages = [{"role": "system", "content": "You are a poet."}, {"role": "user", "content": "x" * 41}]
    resp = model.chat_completion({"model": "m", "messages": messages})
    assert resp["usage"]["prompt_tokens"] == (4 + 4) + (11 + 4)
    assert resp["usage"]["completion_tokens"] == -(-len(text(resp)) // 4)
    assert resp["usage"]["total_tokens"] == resp["usage"]["prompt_tokens"] + resp["usage"]["completion_tokens"]


def test_content_parts_and_system_only_prompts_are_answered():
    parts = [{"type": "text", "text": "Describe the Minotaur"}, {"type": "text", "text": "in the labyrinth"}]
    assert "Minotaur" in text(model.chat_completion({"model": "m", "messages": [{"role": "user", "content": parts}]}))
    assert text(model.chat_completion({"model": "m", "messages": [{"role": "system", "content": "Speak of Athena"}]}))


def test_line_number_questions_get_integers_from_the_prompt():
    numbered = "\n".join(f"{i}: line {i} of the story" for i in range(100, 160))
    prompt = f"Give the line numbers where each scene starts, separated by spaces.\n{numbered}"
    answer = text(chat(prompt))
    numbers = [int(x) for x in answer.split()]
    assert numbers == sorted(set(numbers)) and len(numbers) >= 2
    assert numbers[0] == 100 and set(numbers) <= set(range(100, 160))
    assert text(chat(prompt)) == answer


def test_malformed_requests_raise_a_clear_error():
    with pytest.raises(model.LocalModelError, match="messages"):
        model.chat_completion({"model": "m", "messages": []})
    with pytest.raises(model.LocalModelError, match="input"):
        model.embedding({"model": "m", "input": [1, 2]})
    with pytest.raises(model.LocalModelError, match="2048"):
        model.embedding({"model": "m", "input": ["a"] * 2049})


class Character(pydantic.BaseModel):
    name: str
    age: int = pydantic.Field(ge=18, le=90)
    role: Literal["hero", "villain", "god"]
    mortal: bool
    strength: float
    epithets: list[str]
    mentor: str | None


class Cast(pydantic.BaseModel):
    title: str
    characters: list[Character]


@pytest.mark.parametrize("prompt", ["Cast a play about Perseus", "Who fought at Troy?", ""])
def test_json_schema_output_validates(prompt):
    schema = Cast.model_json_schema()  # nested $defs/$ref, enum, bounds, Optional
    fmt = {"type": "json_schema", "json_schema": {"name": "cast", "schema": schema, "strict": True}}
    resp = chat(prompt or "?", response_format=fmt)
    content = text(resp)
    jsonschema.validate(pydantic.TypeAdapter(dict).validate_json(content), schema)
    cast = Cast.model_validate_json(content)
    assert cast.characters
    assert resp == chat(prompt or "?", response_format=fmt)


def test_json_object_output_is_a_json_object():
    content = text(chat("Describe Zeus as JSON", response_format={"type": "json_object"}))
    assert isinstance(pydantic.TypeAdapter(dict).validate_json(content), dict)


def embed(texts, **kw) -> np.ndarray:
    resp = model.embedding({"model": "local-embed", "input": texts, **kw})
    return np.array([d["embedding"] for d in resp["data"]], dtype=np.float32)


def test_embedding_similarity_reflects_shared_words():
    v = embed(
        [
            "The Fall of Icarus",
            "Icarus and the fall from the sky",
            "the fall of icarus",
            "Quantum chromodynamics lattice simulation",
        ]
    )
    sim = v @ v.T
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert sim[0, 2] == pytest.approx(1.0, abs=1e-6)  # case does not matter
    assert sim[0, 1] > 0.4
    assert sim[0, 1] > sim[0, 3] + 0.3
    assert abs(sim[0, 3]) < 0.25


def test_embedding_shape_formats_and_usage():
    resp = model.embedding({"model": "local-embed", "input": "one text only"})
    assert resp["object"] == "list" and len(resp["data"]) == 1 and resp["data"][0]["index"] == 0
    assert len(resp["data"][0]["embedding"]) == 256
    assert resp["usage"] == {"prompt_tokens": 4, "total_tokens": 4}
    assert embed(["a b c"], dimensions=64).shape == (1, 64)
    small = model.embedding({"model": "text-embedding-3-small", "input": ["x"]})
    assert len(small["data"][0]["embedding"]) == 1536
    b64 = model.embedding({"model": "local-embed", "input": ["alpha beta"], "encoding_format": "base64"})
    decoded = np.frombuffer(base64.b64decode(b64["data"][0]["embedding"]), dtype="<f4")
    assert np.array_equal(decoded, embed(["alpha beta"])[0])


def test_marker_words_do_not_leak_into_the_next_turn():
    first = text(chat("Please introduce the story of Pandora's Box."))
    convo = [
        {"role": "user", "content": "Please introduce the story of Pandora's Box."},
        {"role": "assistant", "content": first},
        {"role": "user", "content": "Please respond."},  # no content words: earlier turns are used
    ]
    second = text(model.chat_completion({"model": "m", "messages": convo}))
    body = second.removesuffix(model.MARKER).lower()
    assert "pandora" in body
    assert not re.search(r"\b(local|model)\b", body)


@pytest.mark.parametrize(
    "prompt",
    [
        "Write a short poem about the myth number 17 of Greek mythology.",
        "Give me a poem about the numbers 3 and 7",
    ],
)
def test_prompts_that_merely_mention_numbers_get_text(prompt):
    assert text(chat(prompt)).endswith(model.MARKER)


def test_how_many_and_answer_with_a_number_get_one_integer():
    assert text(chat("How many ships sailed to Troy?")).isdigit()
    assert text(chat("Answer with a number: how old was Nestor?")).isdigit()


def test_request_tokens_count_max_tokens_times_n_and_never_raise():
    b = body = {"messages": [{"role": "user", "content": "x" * 8}], "max_tokens": 100, "n": 2}
    assert model.estimate_request_tokens(body) == (2 + 4) + 200
    assert model.estimate_request_tokens({**b, "max_tokens": "many"}) == 6
    assert model.estimate_request_tokens({"input": ["abcd", "abcde"]}, "embedding") == 3
    with pytest.raises(model.LocalModelError, match="max_tokens"):
        model.chat_completion({**b, "max_tokens": "many"})
