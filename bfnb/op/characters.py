"""Chat agents: AICharacter turns, chat history, transcripts.

A chat history is a list of ``{"role": <character name>, "content": str}`` in the entry.  When a
character speaks, the history is shown to the model from that character's side: its own lines
as ``assistant``, everyone else's as ``user`` prefixed with the speaker's name; the character's
setting is the system message.  Each turn is one broker node, cached by the content of its
request, so a whole dialogue re-runs from the ledger for free.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from .. import batch as B
from ..calls import Calls, Endpoint, resolve_endpoint
from ..errors import MissingFieldError, OpError
from ..project import current_project
from . import functional as F
from .broker_op import BrokerOp
from .keywords import check_keywords, seed_broker_keywords
from .llm import DEFAULT_OUTPUT_ESTIMATE, ChatParams, chat_body, response_text
from .op import MapOp, RunContext
from .prompts import PromptMaker, render_prompts

__all__ = [
    "AICharacter",
    "ChatHistoryToText",
    "TransformCharacterDialogueForLLM",
    "UpdateChatHistory",
    "character_messages",
]

_LLM_ROLES = ("user", "assistant", "system")


def character_messages(
    name: str, history: list[dict[str, Any]], template: str = "{name}: {content}"
) -> list[dict[str, str]]:
    """The history seen from ``name``'s side; consecutive messages of one role are joined."""
    out: list[dict[str, str]] = []
    for m in history or []:
        role, content = m.get("role"), str(m.get("content", ""))
        if role == name:
            role, text = "assistant", content
        elif role in _LLM_ROLES:
            text = content
        else:
            role, text = "user", template.format(name=role, content=content)
        if out and out[-1]["role"] == role:
            out[-1] = {"role": role, "content": out[-1]["content"] + "\n" + text}
        else:
            out.append({"role": role, "content": text})
    return out


class CharacterTurn(BrokerOp):
    """One turn of an :class:`AICharacter`: it reads the history, speaks, and appends its line."""

    def __init__(self, character: AICharacter, command: str | PromptMaker) -> None:
        self.character = character
        self.model = character.model
        self.broker, self.failure_behavior = character.broker, character.failure_behavior
        self.command = PromptMaker.from_prompt(command)
        self._project = current_project()

    def display_name(self) -> str:
        return f"{self.character.name}: {getattr(self.command, 'prompt', 'turn')[:30]}"

    def max_output_tokens(self) -> int:
        return self.character.params["max_completion_tokens"] or DEFAULT_OUTPUT_ESTIMATE

    def _histories(self, rows: pd.DataFrame) -> list[Any]:
        hkey = self.character.chat_history_key
        return rows[hkey].tolist() if hkey in rows.columns else [[] for _ in range(len(rows))]

    def _names(self, rows: pd.DataFrame) -> list[str]:
        ch = self.character
        return rows[ch.name_key].tolist() if ch.name_key else [ch.name] * len(rows)

    def requests(self, rows: pd.DataFrame, endpoint: Endpoint) -> list[dict[str, Any]]:
        ch = self.character
        commands = render_prompts(self.command, rows, self)
        bodies = []
        for cmd, hist, name in zip(commands, self._histories(rows), self._names(rows), strict=True):
            if hist is not None and not isinstance(hist, list):
                raise OpError("a chat history must be a list of {role, content}", op=self, field=ch.chat_history_key)
            msgs = [{"role": "system", "content": ch.setting_for(name)}]
            msgs += character_messages(name, hist or [])
            if msgs[-1]["role"] == "user":
                msgs[-1] = {"role": "user", "content": msgs[-1]["content"] + "\n\n" + cmd}
            else:
                msgs.append({"role": "user", "content": cmd})
            bodies.append(chat_body(endpoint.model, msgs, **ch.params))
        return bodies

    def read(self, rows: pd.DataFrame, calls: Calls) -> dict[str, list[Any]]:
        ch = self.character
        new_hist = []
        for rec, hist, name, s in zip(
            calls.records, self._histories(rows), self._names(rows), calls.status(), strict=True
        ):
            text, _ = response_text(rec)
            if s != "done" or text is None:
                new_hist.append(hist)
                continue
            if ch.remove_cot:
                text = F.remove_cot(text)
            text = F.remove_speaker_tag(text).strip()
            new_hist.append([*(hist or []), {"role": name, "content": text}])
        return {ch.chat_history_key: new_hist}


class AICharacter:
    """A character played by a model; calling it with a command gives one dialogue turn (an op).

    ``Teacher = AICharacter("Teacher", "You are a teacher.", model=...)`` then
    ``g |= Teacher("Please introduce {keyword}.")``; works inside ``Repeat``.
    """

    broker: Any = None  # a bfnb broker that answers its turns (the seed's ``broker=``)
    failure_behavior: Any = "emit"  # what its turns do with a failed call (the seed's keyword)

    def __init__(
        self,
        name: str,
        character_setting_prompt: str,
        *,
        model: str | None = None,
        name_key: str | None = None,
        max_completion_tokens: int | None = None,
        system_prompt: str | None = None,
        remove_cot: bool = True,
        chat_history_key: str = "chat_history",
        temperature: float | None = None,
        seed: int | None = None,
        broker: Any = None,
        failure_behavior: Any = "emit",
    ) -> None:
        from ..options import default_model

        self.name = name
        self.setting = character_setting_prompt
        self.model = model or default_model()
        resolve_endpoint("chat", self.model)  # a missing key fails here, at once
        self.name_key = name_key
        self.system_prompt = system_prompt
        self.remove_cot = remove_cot
        self.chat_history_key = chat_history_key
        self.params = ChatParams(temperature=temperature, seed=seed, max_completion_tokens=max_completion_tokens)
        seed_broker_keywords(self, broker=broker, failure_behavior=failure_behavior)

    def __new__(cls, *args: Any, **kwargs: Any) -> AICharacter:
        check_keywords(cls, kwargs)  # an unknown keyword fails here, listing the accepted ones
        return super().__new__(cls)

    def setting_for(self, name: str) -> str:
        parts = [self.system_prompt, self.setting] if self.system_prompt else [self.setting]
        return "\n\n".join(p.replace("{name}", name) for p in parts if p)

    def __call__(self, command: str | PromptMaker, cache_path: Any = None) -> CharacterTurn:
        turn = CharacterTurn(self, command)
        if cache_path is not None:
            turn.cache_path = str(cache_path)  # the turn's checkpoint goes there
        return turn

    def __bfnb_fingerprint__(self) -> str:
        from ..fingerprint import fingerprint

        return fingerprint(
            {
                "name": self.name,
                "setting": self.setting,
                "model": self.model,
                "name_key": self.name_key,
                "system": self.system_prompt,
                "cot": self.remove_cot,
                "history": self.chat_history_key,
                "params": self.params,
            }
        )

    def __repr__(self) -> str:
        return f"AICharacter({self.name!r}, model={self.model!r})"


class UpdateChatHistory(MapOp):
    """Appends ``{"role": character name, "content": data[input_key]}`` to the history."""

    def __init__(
        self,
        *,
        input_key: str = "text",
        output_key: str = "chat_history",
        character_name: str | None = None,
        character_name_key: str | None = None,
    ) -> None:
        if (character_name is None) == (character_name_key is None):
            raise TypeError("give exactly one of character_name or character_name_key")
        self.input_key, self.output_key = input_key, output_key
        self.character_name, self.character_name_key = character_name, character_name_key

    def apply(self, b: pd.DataFrame, ctx: RunContext) -> pd.DataFrame:
        B.require_fields(b, [self.input_key], op=self)
        names = b[self.character_name_key].tolist() if self.character_name_key else [self.character_name] * len(b)
        hist = b[self.output_key].tolist() if self.output_key in b.columns else [[] for _ in range(len(b))]
        new = [
            [*(h or []), {"role": n, "content": t}]
            for h, n, t in zip(hist, names, b[self.input_key].tolist(), strict=True)
        ]
        return B.with_fields(b, {self.output_key: new})


class ChatHistoryToText(MapOp):
    """Renders the history as text with ``template`` (``{role}``, ``{content}``)."""

    def __init__(
        self,
        *,
        input_key: str = "chat_history",
        output_key: str = "text",
        template: str = "**{role}**: {content}\n\n",
        exclude_roles: list[str] | None = None,
    ) -> None:
        self.input_key, self.output_key, self.template = input_key, output_key, template
        self.exclude = set(exclude_roles or ())

    def apply(self, b: pd.DataFrame, ctx: RunContext) -> pd.DataFrame:
        if self.input_key not in b.columns and len(b):
            raise MissingFieldError(f"missing field {self.input_key!r}", op=self, idx=b.index[0], field=self.input_key)
        texts = [
            "".join(
                self.template.format(role=m.get("role"), content=m.get("content"))
                for m in (h or [])
                if m.get("role") not in self.exclude
            )
            for h in (b[self.input_key].tolist() if len(b) else [])
        ]
        return B.with_fields(b, {self.output_key: texts})


class TransformCharacterDialogueForLLM(MapOp):
    """Rewrites a request's character roles into user/assistant from one character's side."""

    def __init__(
        self,
        *,
        character_name: str | None = None,
        character_name_key: str | None = None,
        dialogue_template: str = "{name}: {content}",
        input_key: str = "llm_request",
    ) -> None:
        self.character_name, self.character_name_key = character_name, character_name_key
        self.template, self.input_key = dialogue_template.rstrip("\n"), input_key

    def apply(self, b: pd.DataFrame, ctx: RunContext) -> pd.DataFrame:
        B.require_fields(b, [self.input_key], op=self)
        names = b[self.character_name_key].tolist() if self.character_name_key else [self.character_name] * len(b)
        out = []
        for req, name in zip(b[self.input_key].tolist(), names, strict=True):
            msgs = req.get("messages", [])
            head = [m for m in msgs if m.get("role") == "system"][:1]
            rest = [m for m in msgs if m not in head]
            out.append({**req, "messages": head + character_messages(name, rest, self.template)})
        return B.with_fields(b, {self.input_key: out})
