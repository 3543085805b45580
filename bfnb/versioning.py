"""Prompt versions: every edited version of a cell's op, kept in the project, listed and compared free.

Prompt iteration is "edit the prompt, re-run the cell, compare with before".  The ledger already
makes a re-run of an old prompt free, but the *old version itself* (its prompt, model, parameters,
results and what it cost) used to be gone once the cell was edited.  So each top-level run records,
for every node that is a **slot**, one version per distinct node fingerprint:

* a slot is a tagged broker node (``AskLLM(...).tag("sentiment")``: the slot ``"sentiment"``), or
  an untagged broker node added by a notebook cell (slot ``"cell <id>"``, JupyterLab and VS Code
  send cell ids; re-running that cell replaces the node, and its earlier versions stay here);
* a version is written once, when a fingerprint is first seen complete (no pending rows): the
  node's result as Parquet (lossless) plus one JSON line in ``versions/manifest.jsonl`` with the
  op's arguments, the model that answered, row counts and costs.  Re-running an unchanged cell
  writes nothing; editing it back to an earlier prompt finds that earlier version.

Reading versions (``bf.versions()``, ``bf.compare("sentiment")``) reads these files only: it works
in a new kernel and never sends a call.  Costs: ``cost_usd`` is what the version's answers cost
when they were first paid (summed from the ledger's records, whoever paid them), ``spent_usd`` what
the run that recorded the version spent itself (0 when every answer came from the ledger).
"""

from __future__ import annotations

import inspect
import json
import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from .ledger.records import CallRecord

__all__ = ["Version", "VersionList", "record_run", "versions"]

MANIFEST = "manifest.jsonl"


@dataclass(frozen=True)
class Version:
    """One recorded version of a slot: what the op was, what it produced, what it cost."""

    slot: str
    number: int
    fingerprint: str
    op: str  # what the op is (``AskLLM[gpt-4o-mini@openai]``)
    args: dict[str, str]  # the op's arguments as text, by parameter name (the prompt in full)
    answered_by: str | None  # the model that actually answered (``local model`` offline)
    rows: int
    failed: int
    cost_usd: float | None  # what the answers cost when first paid (ledger); None: unknown price
    spent_usd: float | None  # what the recording run spent itself
    calls: int  # calls behind the rows (sent or from the ledger)
    input_tokens: int
    output_tokens: int
    created: float
    file: str  # the Parquet file, relative to the versions folder
    cell: str | None = None
    root: str = field(default="", compare=False, repr=False)

    @property
    def label(self) -> str:
        return f"{self.slot} v{self.number}"

    def to_pandas(self, *, meta: bool = True) -> pd.DataFrame:
        """The version's result batch, read from the project (no call is sent)."""
        from .convert import read_parquet

        df = read_parquet(Path(self.root) / self.file)
        if meta:
            return df
        drop = {"rev", *_META}
        return df.drop(columns=[c for c in df.columns if c in drop])

    def changes(self, other: Version | None) -> list[str]:
        """What differs from ``other``: argument names (``prompt``, ``model``...), else the input."""
        if other is None:
            return []
        keys = list(dict.fromkeys([*other.args, *self.args]))
        out = [k for k in keys if self.args.get(k) != other.args.get(k)]
        if self.answered_by != other.answered_by:
            out.append("answering model")
        if not out and self.fingerprint != other.fingerprint:
            out.append("input")
        return out

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("root")
        return d


#: bookkeeping fields left out by ``to_pandas(meta=False)`` when the op that wrote them is gone
_META = ("status", "error", "finish_reason")


class VersionList:
    """Versions of one slot or of all slots, oldest first; ``vl[2]`` is version 2 of a single slot."""

    def __init__(self, items: list[Version], slot: str | None, project: Any) -> None:
        self.items = items
        self.slot = slot
        self.project = project

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[Version]:
        return iter(self.items)

    def __getitem__(self, number: int) -> Version:
        slots = {v.slot for v in self.items}
        if len(slots) > 1:
            raise KeyError(f"versions of several slots ({sorted(slots)}); pick one: bf.versions('{sorted(slots)[0]}')")
        for v in self.items:
            if v.number == number:
                return v
        raise KeyError(f"no version {number} of {self.slot!r}; versions: {[v.number for v in self.items]}")

    def latest(self) -> Version:
        if not self.items:
            raise KeyError("no versions recorded yet")
        return max(self.items, key=lambda v: v.created)

    def to_pandas(self) -> pd.DataFrame:
        """One row per version: slot, number, what changed, the prompt, model, rows, costs."""
        prev: dict[str, Version] = {}
        rows = []
        for v in self.items:
            rows.append(
                {
                    "slot": v.slot,
                    "version": v.number,
                    "changed": ", ".join(v.changes(prev.get(v.slot))) or None,
                    "op": v.op,
                    "prompt": v.args.get("prompt"),
                    "answered_by": v.answered_by,
                    "rows": v.rows,
                    "failed": v.failed,
                    "cost_usd": v.cost_usd,
                    "spent_usd": v.spent_usd,
                    "created": pd.Timestamp(v.created, unit="s"),
                }
            )
            prev[v.slot] = v
        return pd.DataFrame(rows)

    def compare(self, field: str, **kwargs: Any) -> Any:
        """``bf.compare`` of these versions (see :func:`bfnb.compare.compare`)."""
        if _compare is None:  # only if bfnb/__init__ never ran, which importing any bfnb module does
            raise RuntimeError("bf.compare is not registered; `import bfnb` registers it")
        return _compare(*self.items, field=field, **kwargs)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        from .display.history import VersionsView

        return VersionsView(self)._repr_mimebundle_()

    def __repr__(self) -> str:
        from .display.history import VersionsView

        return VersionsView(self)._render_text()


_compare: Callable[..., Any] | None = None


def register_compare(compare: Callable[..., Any]) -> None:
    """What :meth:`VersionList.compare` calls: ``bf.compare``, registered by ``import bfnb``
    (:mod:`bfnb.engine_runner`).  :mod:`bfnb.compare` reads versions, so this module never imports it."""
    global _compare
    _compare = compare


def versions(slot: str | None = None, *, project: Any = None) -> VersionList:
    """The recorded versions of ``slot`` (a tag or ``"cell <id>"``), or of every slot; reads files only."""
    from .project import default_project

    proj = project or default_project()
    items = _read_manifest(_folder(proj))
    if slot is not None:
        known = sorted({v.slot for v in items})
        items = [v for v in items if v.slot == slot]
        if not items:
            raise KeyError(f"no versions of {slot!r} in {proj.name!r}; slots with versions: {known or 'none'}")
    return VersionList(items, slot, proj)


# --- recording ------------------------------------------------------------------------------------


def _folder(project: Any) -> Path:
    return project.resolve_path("versions/x").parent


def _read_manifest(folder: Path) -> list[Version]:
    path = folder / MANIFEST
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            d = json.loads(line)
            out.append(Version(**d, root=str(folder)))
        except (ValueError, TypeError):  # a torn last line (a crash mid-append) is skipped
            continue
    return out


def _slot(node: Any) -> str | None:
    """Broker ops only: their results are paid work worth keeping; a tagged reader or map is not
    (keeping every version of a million-row source would cost a copy per edit for nothing)."""
    if node.op.kind != "broker":
        return None
    if node.tag:
        return str(node.tag)
    if node.cell and not str(node.cell).startswith("src:"):
        return f"cell {node.cell}"
    return None


def record_run(graph: Any, report: Any) -> list[Version]:
    """Record a version for each slot node of a finished top-level run whose result is new."""
    if report is None or not report.results:
        return []
    nodes = {n.id: n for n in graph.nodes}
    new: list[Version] = []
    manifests: dict[str, list[Version]] = {}
    for nrep in report.nodes:
        node = nodes.get(nrep.node_id)
        if node is None or nrep.incomplete or nrep.node_id not in report.results:
            continue
        slot = _slot(node)
        if slot is None or node.op.side_effect:
            continue
        batch = report.results[nrep.node_id][0]
        if "status" in batch.columns and (batch["status"].to_numpy() == "pending").any():
            continue
        project = _project_of(node.op, report)
        folder = _folder(project)
        known = manifests.setdefault(str(folder), _read_manifest(folder))
        if any(v.slot == slot and v.fingerprint == nrep.fingerprint for v in known):
            continue
        v = _write_version(folder, slot, node, nrep, batch, report, known)
        known.append(v)
        new.append(v)
    return new


def _project_of(op: Any, report: Any) -> Any:
    from .project import default_project

    return getattr(report, "project", None) or getattr(op, "_project", None) or default_project()


def _write_version(
    folder: Path, slot: str, node: Any, nrep: Any, batch: pd.DataFrame, report: Any, known: list[Version]
) -> Version:
    from .convert import write_parquet

    number = 1 + max((v.number for v in known if v.slot == slot), default=0)
    rel = f"{_safe(slot)}/{nrep.fingerprint[:24]}.parquet"
    (folder / rel).parent.mkdir(parents=True, exist_ok=True)
    write_parquet(batch, folder / rel)
    first_paid, calls = _first_paid(report, nrep, known)
    failed = int((batch["status"].to_numpy() == "failed").sum()) if "status" in batch.columns else 0
    v = Version(
        slot=slot,
        number=number,
        fingerprint=nrep.fingerprint,
        op=node.op.display_name(),
        args=describe_args(node.op),
        answered_by=answered_by(node.op),
        rows=len(batch),
        failed=failed,
        cost_usd=first_paid,
        spent_usd=nrep.cost_usd if not nrep.cached else 0.0,
        calls=calls if calls is not None else nrep.calls_sent + nrep.calls_cached,
        input_tokens=nrep.input_tokens,
        output_tokens=nrep.output_tokens,
        created=time.time(),
        file=rel,
        cell=node.cell,
        root=str(folder),
    )
    line = json.dumps(v.as_dict(), ensure_ascii=False, default=str) + "\n"
    with open(folder / MANIFEST, "a", encoding="utf-8") as f:  # one write per line: a crash tears at most it
        f.write(line)
        f.flush()
        os.fsync(f.fileno())
    return v


def _safe(slot: str) -> str:
    from .fingerprint import hash_bytes

    clean = re.sub(r"[^A-Za-z0-9_.-]+", "_", slot)[:40].strip("._") or "slot"
    return f"{clean}-{hash_bytes(slot.encode())[:8]}"


def call_records(report: Any, label: str) -> list[CallRecord] | None:
    """The ledger records behind a node's calls in ``report`` (None when the run kept no call log)."""
    entries = [e for e in _call_log(report) if _get(e, "op") == label]
    if not entries:
        return None
    out: list[CallRecord] = []
    for e in entries:
        keys = list(dict.fromkeys(_get(e, "keys")))
        out += [r for r in _get(e, "ledger").get_many(keys) if r is not None]
    return out


def _call_log(report: Any) -> list[Any]:
    return list(getattr(report, "call_log", None) or [])  # the call client's log (bfnb.calls.CallLogEntry)


def _get(entry: Any, name: str) -> Any:
    return entry[name] if isinstance(entry, dict) else getattr(entry, name)


def _first_paid(report: Any, nrep: Any, known: list[Version]) -> tuple[float | None, int | None]:
    from .brokers.pricing import total_usd

    recs = call_records(report, nrep.op_label)
    if recs is None:  # served whole from the memo or a checkpoint: an earlier version knows its cost
        same = [v for v in known if v.fingerprint == nrep.fingerprint]
        if same:
            return same[0].cost_usd, same[0].calls
        return (nrep.cost_usd if not nrep.cached else None), None
    return total_usd(r.cost_usd for r in recs if r.status == "done"), len(recs)


def first_paid_cost(report: Any, nrep: Any) -> float | None:
    """What a node's answers cost when first paid: its calls' ledger records, or, for a node reused
    whole (memo, checkpoint), the recorded version with its fingerprint; None when unknown."""
    if nrep.kind != "broker" and not (nrep.calls_sent or nrep.calls_cached):
        return 0.0
    recs = call_records(report, nrep.op_label)
    if recs is None:
        if not nrep.cached:
            return 0.0 if not (nrep.calls_sent or nrep.calls_cached) else nrep.cost_usd
        try:
            same = [v for v in versions() if v.fingerprint == nrep.fingerprint]
        except OSError:
            same = []
        return same[0].cost_usd if same else None
    from .brokers.pricing import total_usd

    return total_usd(r.cost_usd for r in recs if r.status == "done")


def describe_args(op: Any) -> dict[str, str]:
    """The op's constructor arguments as text, by parameter name; a prompt is kept in full."""
    from .fingerprint import describe_function

    args, kwargs = getattr(op, "_args", ((), {}))
    try:
        sig = inspect.signature(type(op).__init__)
        bound = sig.bind_partial(None, *args, **kwargs).arguments
        bound.pop(next(iter(bound)))  # self
        named = {k: v for k, v in bound.items()}
        var_kw = next((p.name for p in sig.parameters.values() if p.kind is p.VAR_KEYWORD), None)
        named.update((named.pop(var_kw, None) or {}) if var_kw else {})  # **seed_keywords, one by one
    except TypeError:
        named = {f"arg{i}": a for i, a in enumerate(args)} | dict(kwargs)
    out = {}
    for k, v in named.items():
        if isinstance(v, str):
            out[k] = v
        elif isinstance(v, type):
            fields = list(getattr(v, "model_fields", {}) or {})
            out[k] = f"{v.__name__}({', '.join(fields)})" if fields else v.__name__
        elif callable(v):
            out[k] = describe_function(v)
        else:
            text = repr(v)
            out[k] = text if len(text) <= 300 else text[:299] + "…"
    if "prompt" not in out:
        maker = getattr(op, "maker", None)
        if maker is not None and hasattr(maker, "prompt"):
            out["prompt"] = str(maker.prompt)
    return out


def answered_by(op: Any) -> str | None:
    """Who answers the op's calls: ``gpt-4o-mini@openai``, or ``gpt-4o-mini@openai → local model`` offline."""
    if not callable(getattr(op, "endpoint", None)) or getattr(op, "model", None) is None:
        return None
    from .op.broker_op import answering_model

    return answering_model(op)
