"""LLM ops: AskLLM, and the seed's GenerateLLMRequest → CallLLM → ExtractResponseText chain.

``AskLLM`` is one node: it fills the prompt for each entry, builds the provider request, and asks
the broker for the model only for requests the ledger has not answered (keyed by content, so an
edited prompt re-sends only what changed and a reverted edit costs nothing).  Entries whose call
failed keep their row with ``status="failed"`` and the ``error``; entries not sent (dispatch off,
cancelled, budget reached) get ``status="pending"`` and are sent on the next run.  Entries that
arrive failed or pending from an earlier op pass through untouched.
"""

from __future__ import annotations

from typing import Any, TypedDict, Unpack

import pandas as pd

from .. import batch as B
from ..calls import Calls, Endpoint, resolve_endpoint
from ..errors import MissingFieldError, OpError
from ..ledger.records import CallRecord, Status
from . import functional as F
from .answers import check_output_keys, parse_answer, spread
from .broker_op import ROW_ERRORS, BrokerOp, active_mask, answering_model, client_of, merge_rows
from .keywords import SeedBrokerKeywords
from .op import MapOp, RunContext, key_list
from .prompts import BasicPromptMaker, PromptMaker, render_prompts

__all__ = [
    "AskLLM",
    "BasicPromptMaker",
    "CallLLM",
    "CallRequests",
    "ChatParams",
    "CleanupLLMData",
    "ExtractResponseText",
    "GenerateLLMRequest",
    "PromptMaker",
    "active_mask",
    "chat_body",
    "merge_rows",
    "response_text",
]

#: what is reserved against TPM/budget when the user sets no max_tokens
DEFAULT_OUTPUT_ESTIMATE = 512


class ChatParams(TypedDict):
    """The sampling parameters a chat op puts in each request body (None: left out)."""

    temperature: float | None
    seed: int | None
    max_completion_tokens: int | None


def _schema(response_format: Any) -> dict[str, Any] | None:
    """A pydantic model class or a JSON schema → the OpenAI ``response_format`` body."""
    if response_format is None:
        return None
    if isinstance(response_format, dict):
        if response_format.get("type") in ("json_schema", "json_object", "text"):
            return response_format
        return {"type": "json_schema", "json_schema": {"name": "response", "schema": response_format, "strict": False}}
    if hasattr(response_format, "model_json_schema"):
        return {
            "type": "json_schema",
            "json_schema": {
                "name": response_format.__name__,
                "schema": response_format.model_json_schema(),
                "strict": False,
            },
        }
    raise TypeError("response_format is a pydantic model class or a JSON schema dict")


def chat_body(
    model_name: str,
    messages: list[dict[str, str]],
    *,
    temperature: float | None = None,
    seed: int | None = None,
    max_completion_tokens: int | None = None,
    response_format: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model_name, "messages": messages}
    if temperature is not None:
        body["temperature"] = temperature
    if seed is not None:
        body["seed"] = seed
    if max_completion_tokens is not None:
        body["max_completion_tokens"] = max_completion_tokens
    if response_format is not None:
        body["response_format"] = response_format
    if extra:
        body.update(extra)
    return body


def response_text(record: CallRecord | None) -> tuple[str | None, str | None]:
    """(content, finish_reason) of a chat record's first choice."""
    if record is None or record.status != Status.DONE or not record.response:
        return None, None
    return choice_text(record.response)


def choice_text(response: dict[str, Any]) -> tuple[str | None, str | None]:
    """(content, finish_reason) of a chat response's first choice (a refusal counts as content)."""
    try:
        choice = response["choices"][0]
        msg = choice.get("message") or {}
        content = msg.get("content")
        if content is None and msg.get("refusal"):
            content = msg["refusal"]
        return content, choice.get("finish_reason")
    except (KeyError, IndexError, TypeError, AttributeError):
        return None, None


class AskLLM(BrokerOp):
    """Ask the model with a prompt per entry; the answer goes to ``output_key``.

    ``prompt`` is a template (``"Write a poem about {keyword}."``) or a :class:`PromptMaker`.
    ``response_format`` (a pydantic model or a JSON schema) makes the answer a parsed dict, and
    ``output_key=["label", "reason"]`` spreads its fields into one column each.  An answer that
    fails its schema is a failed row carrying the validation error.
    ``batch=True`` sends through the OpenAI Batch API (half price, answers within 24 h).
    """

    def __init__(
        self,
        prompt: str | PromptMaker,
        *,
        model: str | None = None,
        output_key: str | list[str] = "text",
        system_prompt: str | None = None,
        temperature: float | None = None,
        seed: int | None = None,
        max_completion_tokens: int | None = None,
        response_format: Any = None,
        remove_cot: bool = True,
        batch: bool = False,
        status_key: str = "status",
        error_key: str = "error",
        finish_reason_key: str | None = "finish_reason",
        cost_key: str | None = None,
        missing: str = "error",
        **seed_keywords: Unpack[SeedBrokerKeywords],
    ) -> None:
        from ..options import default_model

        self.maker = PromptMaker.from_prompt(prompt)
        self.model = model or default_model()
        resolve_endpoint("chat", self.model)  # a missing key or unknown provider fails here, at once
        self.output_keys = check_output_keys(output_key, response_format)  # a list: one column per field
        self.output_key: str = self.output_keys[0] if self.output_keys else str(output_key)
        self.system_prompt = system_prompt
        self.params = ChatParams(temperature=temperature, seed=seed, max_completion_tokens=max_completion_tokens)
        self.response_format = response_format
        self.remove_cot = remove_cot
        self.batch = batch
        self.status_key, self.error_key = status_key, error_key
        self.finish_reason_key, self.cost_key = finish_reason_key, cost_key
        self.missing = missing  # a template field that is None/NaN: "error" (before sending) or "empty"
        self.init_broker_op(seed_keywords)

    def display_name(self) -> str:
        """``AskLLM[gpt-4o-mini@openai]``, or ``AskLLM[gpt-4o-mini@openai → local model]`` offline."""
        return f"AskLLM[{answering_model(self)}]"

    def messages(self, prompt: str) -> list[dict[str, str]]:
        msgs = [{"role": "system", "content": self.system_prompt}] if self.system_prompt else []
        return [*msgs, {"role": "user", "content": prompt}]

    def requests(self, rows: pd.DataFrame, endpoint: Endpoint) -> list[dict[str, Any]]:
        prompts = render_prompts(self.maker, rows, self, self.missing)
        fmt = _schema(self.response_format)
        return [chat_body(endpoint.model, self.messages(p), response_format=fmt, **self.params) for p in prompts]

    def max_output_tokens(self) -> int:
        return self.params["max_completion_tokens"] or DEFAULT_OUTPUT_ESTIMATE

    def read(self, rows: pd.DataFrame, calls: Calls) -> dict[str, list[Any]]:
        texts, reasons = [], []
        for r in calls.records:
            t, fr = response_text(r)
            texts.append(t)
            reasons.append(fr)
        status = calls.status()
        values: list[Any] = []
        row_errors: list[str | None] = []
        for t, s in zip(texts, status, strict=True):
            value, err = self._postprocess(t) if s == "done" else (None, None)
            values.append(value)
            row_errors.append(err)
        fields: dict[str, list[Any]] = (
            spread(values, self.output_keys) if self.output_keys else {self.output_key: values}
        )
        if any(e is not None for e in row_errors):
            fields[ROW_ERRORS] = row_errors
        if self.finish_reason_key:
            fields[self.finish_reason_key] = reasons
        if self.cost_key:
            fields[self.cost_key] = [None if r is None else r.cost_usd for r in calls.records]
        return fields

    def _postprocess(self, text: str | None) -> tuple[Any, str | None]:
        """(the answer's value, None), or (None, why the answer fails its schema)."""
        if text is None:
            return None, None
        if self.response_format is not None:
            return parse_answer(text, self.response_format)
        return (F.remove_cot(text) if self.remove_cot else text), None


class GenerateLLMRequest(MapOp):
    """Builds a chat request (``{"model", "messages", ...}``) into ``output_key`` (seed API)."""

    def __init__(
        self,
        user_prompt: str | PromptMaker,
        *,
        model: str | None = None,
        max_completion_tokens: int | None = None,
        role: str = "user",
        output_key: str = "llm_request",
        system_prompt: str | None = None,
        chat_history_key: str | bool | None = None,
        after_prompt: str | PromptMaker | None = None,
        temperature: float | None = None,
        seed: int | None = None,
    ) -> None:
        from ..options import default_model

        self.maker = PromptMaker.from_prompt(user_prompt)
        self.after = PromptMaker.from_prompt(after_prompt) if after_prompt is not None else None
        self.model = model or default_model()
        resolve_endpoint("chat", self.model)
        self.role, self.output_key, self.system_prompt = role, output_key, system_prompt
        self.history_key = "chat_history" if chat_history_key is True else (chat_history_key or None)
        self.params = ChatParams(temperature=temperature, seed=seed, max_completion_tokens=max_completion_tokens)

    def apply(self, b: pd.DataFrame, ctx: RunContext) -> pd.DataFrame:
        prompts = render_prompts(self.maker, b, self)
        afters = render_prompts(self.after, b, self) if self.after else [None] * len(b)
        if self.history_key and self.history_key not in b.columns and len(b):
            raise MissingFieldError(
                f"missing field {self.history_key!r}", op=self, idx=b.index[0], field=self.history_key
            )
        histories = b[self.history_key].tolist() if self.history_key else [None] * len(b)
        reqs = []
        for p, a, h in zip(prompts, afters, histories, strict=True):
            msgs = [{"role": "system", "content": self.system_prompt}] if self.system_prompt else []
            msgs.append({"role": self.role, "content": p})
            msgs.extend(dict(m) for m in (h or []))
            if a is not None:
                msgs.append({"role": "user", "content": a})
            reqs.append(chat_body(self.model, msgs, **self.params))
        return B.with_fields(b, {self.output_key: reqs})


class CallRequests(BrokerOp):
    """Sends the request dicts in ``input_key`` (their ``model`` is ``name@provider``), grouped by model."""

    def __init__(
        self,
        *,
        input_key: str = "llm_request",
        output_key: str = "llm_response",
        status_key: str = "status",
        error_key: str = "error",
        batch: bool = False,
        **seed_keywords: Unpack[SeedBrokerKeywords],
    ) -> None:
        self.input_key, self.output_key = input_key, output_key
        self.status_key, self.error_key, self.batch = status_key, error_key, batch
        self.init_broker_op(seed_keywords)

    def output_tokens(self, body: dict[str, Any]) -> int:
        """Output tokens to reserve for one request."""
        return int(body.get("max_completion_tokens") or body.get("max_tokens") or DEFAULT_OUTPUT_ESTIMATE)

    def extra_fingerprint(self) -> str:
        """The requests name their models; the calls' keys carry who answers."""
        return ""

    def fetch(self, rows: pd.DataFrame, ctx: RunContext, arrivals: Any = None) -> Calls:
        # Several endpoints, so no single ``arrivals``: a look sees these rows when the node is done.
        B.require_fields(rows, [self.input_key], op=self)
        reqs = rows[self.input_key].tolist()
        records: list[CallRecord | None] = [None] * len(reqs)
        keys = [""] * len(reqs)
        by_model: dict[str, list[int]] = {}
        for i, r in enumerate(reqs):
            if not isinstance(r, dict) or "model" not in r:
                raise OpError(
                    "expected a request dict with a 'model'", op=self, idx=rows.index[i], field=self.input_key
                )
            by_model.setdefault(r["model"], []).append(i)
        total = Calls(keys, records)
        for model, positions in by_model.items():
            ep = resolve_endpoint(self.call_kind, model)
            bodies = [{**reqs[i], "model": ep.model} for i in positions]
            got = client_of(ctx).fetch(ep, bodies, op=self.label(), idxs=[rows.index[i] for i in positions],
                                       max_output_tokens=[self.output_tokens(b) for b in bodies],
                                       batch=self.batch, project=self._project)  # fmt: skip
            for i, k, rec in zip(positions, got.keys, got.records, strict=True):
                records[i], keys[i] = rec, k
            total.merge_counts(got)
        return total

    def read(self, rows: pd.DataFrame, calls: Calls) -> dict[str, list[Any]]:
        return {
            self.output_key: [r.response if r is not None and r.status == Status.DONE else None for r in calls.records]
        }


class CallLLM(CallRequests):
    """Sends the chat requests in ``input_key``; responses to ``output_key`` (seed API)."""


class ExtractResponseText(MapOp):
    """Copies the answer text of a chat response into ``output_key`` (None for failed entries)."""

    def __init__(self, input_key: str = "llm_response", output_key: str = "text") -> None:
        self.input_key, self.output_key = input_key, output_key

    def apply(self, b: pd.DataFrame, ctx: RunContext) -> pd.DataFrame:
        B.require_fields(b, [self.input_key], op=self)
        texts = [choice_text(r)[0] if r else None for r in b[self.input_key].tolist()]
        return B.with_fields(b, {self.output_key: texts})


class CleanupLLMData(MapOp):
    """Removes the request/response bookkeeping fields that are present."""

    def __init__(self, keys: str | list[str] | None = None) -> None:
        self.keys = key_list(keys) if keys is not None else ["llm_request", "llm_response", "job_idx"]

    def apply(self, b: pd.DataFrame, ctx: RunContext) -> pd.DataFrame:
        return b.drop(columns=[k for k in self.keys if k in b.columns])
