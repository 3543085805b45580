"""Prompt templates: ``"Write a poem about {keyword}."`` or a :class:`PromptMaker` subclass.

A template's fields are read from each entry; a missing field is an error naming the field and
the entry's idx.  A list of strings renders as its items joined by ", " (``{headings}`` reads
"Greek Mythology Stories", not ``['Greek Mythology Stories']``).
"""

from __future__ import annotations

import difflib
import string
from abc import ABC, abstractmethod
from typing import Any

import pandas as pd

from ..errors import MissingFieldError, UserFunctionError
from .op import row_dicts

__all__ = ["BasicPromptMaker", "PromptMaker", "missing_field_message", "render_prompts", "template_fields"]


class PromptMaker(ABC):
    """Subclass and implement ``make_prompt(data) -> str`` to choose a prompt per entry."""

    @abstractmethod
    def make_prompt(self, data: dict[str, Any]) -> str: ...

    @staticmethod
    def from_prompt(prompt: str | PromptMaker) -> PromptMaker:
        if isinstance(prompt, PromptMaker):
            return prompt
        if isinstance(prompt, str):
            return BasicPromptMaker(prompt)
        raise TypeError(f"a prompt is a str or a PromptMaker, got {type(prompt).__name__}")


BRACES_HINT = "write {{ and }} for a literal brace (a JSON example in a prompt: '{{\"label\": ...}}')"


def template_fields(template: str) -> list[str]:
    """The entry fields a ``str.format`` template reads, in order; a clear error for brace traps."""
    names: list[str] = []
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as e:  # "Single '}' encountered in format string"
        raise ValueError(f"the prompt template cannot be read ({e}); {BRACES_HINT}: {_short(template)}") from None
    for _, name, _, _ in parsed:
        if name is None:
            continue
        base = name.split(".")[0].split("[")[0]
        if not base:
            raise ValueError(
                f"positional fields {{}} are not allowed in a prompt template; {BRACES_HINT}: {_short(template)}"
            )
        if _looks_literal(base):
            raise ValueError(
                f"the prompt template reads {{{name}}} as the field {base!r}, which looks like literal text; "
                f"{BRACES_HINT}: {_short(template)}"
            )
        if base not in names:
            names.append(base)
    return names


def _looks_literal(name: str) -> bool:
    """A 'field name' that is surely JSON or prose between literal braces, not a field."""
    return name[0] in "\"' \n\t" or any(c in name for c in "\"'\n")


def _short(text: str, n: int = 80) -> str:
    return repr(text if len(text) <= n else text[: n - 1] + "…")


def missing_field_message(field: str, available: list[str], what: str = "the prompt uses field") -> str:
    """ "... lacks 'reveiw'; did you mean 'review'? fields: [...]" (closest names first)."""
    close = difflib.get_close_matches(field, available, n=3, cutoff=0.6)
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    return f"{what} {field!r}, which this entry lacks{hint} (fields: {available})"


def _render_value(v: Any) -> Any:
    if isinstance(v, (list, tuple)) and all(isinstance(x, str) for x in v):
        return ", ".join(v)
    return v


class BasicPromptMaker(PromptMaker):
    """A ``str.format`` template filled from the entry's fields."""

    def __init__(self, prompt: str) -> None:
        self.prompt = prompt
        self.fields = template_fields(prompt)

    def make_prompt(self, data: dict[str, Any]) -> str:
        return self.prompt.format(**{k: _render_value(data[k]) for k in self.fields})


def is_missing(v: Any) -> bool:
    """None, NaN, NaT or pd.NA: a value a template cannot be filled with."""
    return v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and v != v)


def check_present(batch: pd.DataFrame, fields: list[str], op: Any, missing: str = "error") -> None:
    """A MissingFieldError naming the first idx and field whose value is None/NaN (``missing="error"``).

    Raised before anything is sent, so no call is paid for a prompt with a hole in it;
    ``missing="empty"`` fills such holes with "" instead.
    """
    if missing == "empty":
        return
    if missing != "error":
        raise ValueError(f"missing= is 'error' or 'empty', got {missing!r}")
    for f in fields:
        if f not in batch.columns:
            continue
        for ix, v in zip(batch.index, batch[f].tolist(), strict=True):
            if is_missing(v):
                raise MissingFieldError(
                    f"field {f!r} is {'None' if v is None else 'NaN'} at idx {ix!r}: nothing was sent; fill it, filter "
                    f"the row out, or pass missing='empty' to use ''",
                    op=op, idx=ix, field=f,
                )  # fmt: skip


def render_prompts(maker: PromptMaker, batch: pd.DataFrame, op: Any, missing: str = "error") -> list[str]:
    """One prompt per entry, with a clear error for a missing field or a failing maker."""
    if isinstance(maker, BasicPromptMaker):
        for f in maker.fields:
            if f not in batch.columns:
                ix = batch.index[0] if len(batch) else None
                fields = [c for c in batch.columns if c != "rev"]
                raise MissingFieldError(missing_field_message(f, fields), op=op, idx=ix, field=f)
        check_present(batch, maker.fields, op, missing)
        cols = [["" if is_missing(v) else v for v in batch[f].tolist()] for f in maker.fields]
        tmpl = maker.prompt
        out = []
        for i, vals in enumerate(zip(*cols, strict=True)):
            try:
                out.append(tmpl.format(**{f: _render_value(v) for f, v in zip(maker.fields, vals, strict=True)}))
            except Exception as e:
                raise UserFunctionError(
                    f"cannot fill the prompt: {type(e).__name__}: {e}", op=op, idx=batch.index[i]
                ) from e
        if not maker.fields:
            out = [tmpl.format() for _ in range(len(batch))]
        return out
    out = []
    for i, d in enumerate(row_dicts(batch)):
        try:
            p = maker.make_prompt(d)
        except KeyError as e:
            field = e.args[0] if e.args else None
            fields = [c for c in batch.columns if c != "rev"]
            msg = missing_field_message(str(field), fields, "the prompt maker read the field")
            raise MissingFieldError(msg, op=op, idx=batch.index[i], field=field) from e
        except Exception as e:
            raise UserFunctionError(
                f"{type(maker).__name__}.make_prompt raised {type(e).__name__}: {e}", op=op, idx=batch.index[i]
            ) from e
        if not isinstance(p, str):
            raise UserFunctionError(f"make_prompt must return a str, got {type(p).__name__}", op=op, idx=batch.index[i])
        out.append(p)
    return out
