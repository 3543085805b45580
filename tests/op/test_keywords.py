"""Nothing is accepted and ignored: unknown keywords fail listing the accepted ones; the seed's are honoured or warned."""

from __future__ import annotations

import warnings

import pytest

from bfnb.brokers import FunctionBroker
from bfnb.op import AICharacter, AskLLM, BrokerFailureBehavior, CallLLM, CallLLMEmbedding, EmbedText, FromList, MapField


@pytest.mark.parametrize("make", [
    lambda: AskLLM("x {w}", max_tokenz=5),
    lambda: EmbedText("w", dimension=8),
    lambda: CallLLM(input_keys="r"),
    lambda: CallLLMEmbedding(outputkey="e"),
    lambda: AICharacter("T", "You teach.", max_tokens=5),
    lambda: MapField(str.upper, "w", into="x"),
])  # fmt: skip
def test_an_unknown_keyword_is_a_type_error_listing_the_accepted_ones(make):
    with pytest.raises(TypeError, match=r"unknown keyword argument.*accepted: ") as e:
        make()
    assert len(str(e.value).split("accepted: ")[1].split(", ")) >= 1  # the accepted names, listed


def test_a_misspelt_keyword_names_the_one_meant():
    with pytest.raises(TypeError, match=r"'max_tokenz' \(did you mean 'max_completion_tokens'\?\)|max_tokenz"):
        AskLLM("x {w}", max_tokenz=5)


def test_every_seed_keyword_of_the_broker_ops_is_accepted():
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        AskLLM(
            "x {w}",
            model="local-chat@local",
            output_key="text",
            cache_path=None,
            broker=None,
            max_completion_tokens=4096,
            system_prompt=None,
            remove_cot=True,
            failure_behavior=BrokerFailureBehavior.STAY,
        )
        CallLLM(
            cache_path=None,
            broker=None,
            input_key="llm_request",
            output_key="llm_response",
            status_key="status",
            job_idx_key="job_idx",
            keep_all_rev=True,
            failure_behavior="emit",
            barrier_level=1,
        )
        CallLLMEmbedding(
            cache_path=None,
            broker=None,
            input_key="r",
            output_key="e",
            status_key="status",
            job_idx_key="job_idx",
            keep_all_rev=True,
            failure_behavior="retry",
            barrier_level=1,
        )
        EmbedText(
            "w",
            model="local-embedding@local",
            output_key="embedding",
            cache_path=None,
            broker=None,
            dimensions=None,
            dtype="float32",
            output_format="list",
        )
        AICharacter(
            "T",
            "You teach.",
            model="local-chat@local",
            broker=None,
            name_key=None,
            max_completion_tokens=4096,
            system_prompt=None,
            remove_cot=True,
            chat_history_key="chat_history",
            failure_behavior="stay",
        )


def test_a_seed_keyword_without_meaning_warns_once_naming_it():
    from bfnb.op import keywords

    keywords._warned.clear()  # another test may have warned already in this process
    with pytest.warns(UserWarning, match="job_idx_key"):
        CallLLM(job_idx_key="my_job")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        CallLLM(job_idx_key="my_job")  # once per process


def test_broker_and_failure_behavior_are_honoured():
    def handler(body):
        text = body["messages"][-1]["content"]
        if "bad" in text:
            raise ValueError("refused")
        return {"choices": [{"message": {"content": text.upper()}, "finish_reason": "stop"}]}

    broker = FunctionBroker(handler, provider="mine", model="upper")
    rows = [{"w": "good"}, {"w": "bad"}]
    emitted = (FromList(rows) | AskLLM("{w}", broker=broker)).run()
    assert emitted["status"].tolist() == ["done", "failed"] and emitted["text"].tolist()[0] == "GOOD"
    stayed = (FromList(rows) | AskLLM("{w}", broker=broker, failure_behavior="stay", output_key="t")).run()
    assert stayed.index.tolist() == [emitted.index[0]]  # the failed row is not emitted
    with pytest.raises(ValueError, match="failure_behavior"):
        AskLLM("{w}", failure_behavior="ignore")


def test_a_template_field_that_is_none_or_nan_fails_before_anything_is_sent():
    import math

    import bfnb as bf

    rows = [{"w": "a"}, {"w": None}, {"w": math.nan}]
    with pytest.raises(bf.MissingFieldError, match="field 'w' is None at idx") as e:
        (FromList(rows) | AskLLM("About {w}", model="local-chat@local")).run()
    assert e.value.field == "w" and e.value.idx is not None
    out = (FromList(rows) | AskLLM("About {w}", model="local-chat@local", missing="empty")).run()
    assert out["status"].tolist() == ["done"] * 3
    with pytest.raises(bf.MissingFieldError, match="field 'w' is"):
        (FromList(rows) | EmbedText("w", model="local-embedding@local")).run()


def test_a_user_field_where_the_op_writes_its_status_is_refused_naming_the_keyword():
    import bfnb as bf

    rows = [{"w": "a", "status": "active"}, {"w": "b", "status": "closed"}]
    with pytest.raises(bf.OpError, match=r"'status'.*status_key="):
        (FromList(rows) | AskLLM("About {w}", model="local-chat@local")).run()
    out = (FromList(rows) | AskLLM("About {w}", model="local-chat@local", status_key="llm_status")).run()
    assert out["status"].tolist() == ["active", "closed"] and out["llm_status"].tolist() == ["done", "done"]


def test_every_keyword_an_op_takes_changes_what_it_does():
    """CallLLMEmbedding sends rendered requests: it has no template to fill, so it takes no ``missing=``."""
    with pytest.raises(TypeError, match=r"missing"):
        CallLLMEmbedding(missing="empty")
    EmbedText("w", missing="empty")  # EmbedText renders texts: there the policy means something
