"""``bf.compare``: versions of an output side by side per idx, scored against truth or a judge, with cost.

What can be compared (any mix, two or more, or one slot name for all its versions):

* graphs: run (from the memo and the ledger where they can; new calls are paid);
* recorded versions (``bf.versions("sentiment")[2]``, a whole :class:`~bfnb.versioning.VersionList`,
  or the slot name ``"sentiment"``): read from the project, never paid;
* DataFrames (batches).

``field`` may be ``"sentiment.label"`` (a key of a dict column).  With ``truth`` (a column of the
data, or a Series/dict by idx) each version gets an accuracy with its 95% Wilson interval and a
confusion table, and each version is paired with the one before it (McNemar's exact test on the
rows where exactly one is right).  With ``judge`` (an op such as ``AskLLM(..., output_key=
"verdict")`` reading the version's fields) the score is the judge's agreement, and the judge's
calls count in that version's cost.  Two graphs without truth or judge keep the two-column
:class:`~bfnb.display.compare_view.CompareView`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any

import pandas as pd

from . import batch as B
from . import scoring as S
from .errors import GraphError, MissingFieldError

__all__ = ["Comparison", "Side", "compare"]


@dataclass
class Side:
    """One compared version: its answers and what it cost."""

    label: str
    batch: pd.DataFrame
    cost_usd: float | None = None  # what its answers cost when first paid
    spent_usd: float | None = None  # what producing it spent now (0 for a recorded version)
    judge_cost_usd: float | None = 0.0
    args: dict[str, str] = dc_field(default_factory=dict)
    answered_by: str | None = None
    changed: list[str] = dc_field(default_factory=list)  # vs the previous side
    version: Any = None

    @property
    def total_cost_usd(self) -> float | None:
        if self.cost_usd is None or self.judge_cost_usd is None:
            return None
        return self.cost_usd + self.judge_cost_usd

    @property
    def failed(self) -> int:
        b = self.batch
        return int((b["status"].to_numpy() == "failed").sum()) if "status" in b.columns else 0


@dataclass
class Comparison:
    """The numbers behind a comparison view; ``frame`` has one column per side (plus truth, diff)."""

    field: str
    sides: list[Side]
    frame: pd.DataFrame
    truth_name: str | None = None
    score_name: str | None = None  # "accuracy" | "agreement"
    scores: list[S.Score] = dc_field(default_factory=list)
    correct: dict[str, pd.Series] = dc_field(default_factory=dict)
    paired: list[S.Paired] = dc_field(default_factory=list)
    confusions: dict[str, pd.DataFrame] = dc_field(default_factory=dict)

    @property
    def labels(self) -> list[str]:
        return [s.label for s in self.sides]

    def scores_frame(self) -> pd.DataFrame:
        """One row per version: score, interval, rows, failed, cost (first paid, judge, spent now)."""
        rows = []
        for i, s in enumerate(self.sides):
            sc = self.scores[i] if self.scores else None
            lo, hi = sc.interval if sc else (None, None)
            rows.append(
                {
                    "version": s.label,
                    "changed": ", ".join(s.changed) or None,
                    self.score_name or "score": sc.value if sc else None,
                    "ci_low": lo,
                    "ci_high": hi,
                    "scored": sc.n if sc else None,
                    "correct": sc.correct if sc else None,
                    "failed": s.failed,
                    "cost_usd": s.total_cost_usd,
                    "judge_cost_usd": s.judge_cost_usd,
                    "spent_now_usd": s.spent_usd,
                }
            )
        return pd.DataFrame(rows).set_index("version")

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        from .display.scoreboard import ComparisonView

        return ComparisonView(self)._repr_mimebundle_(include, exclude)

    def __repr__(self) -> str:
        from .display.scoreboard import ComparisonView

        return ComparisonView(self)._render_text()


def compare(
    *items: Any,
    field: str | tuple[str, str] | None = None,
    truth: str | pd.Series | Mapping[str, Any] | None = None,
    judge: Any = None,
    labels: tuple[str, ...] | list[str] | None = None,
    normalize: Callable[[Any], Any] | None = S.normalize_label,
    project: Any = None,
) -> Any:
    """Versions side by side per idx; with ``truth`` or ``judge``, scored, paired and costed.

    ``bf.compare(g1, g2, "text")`` (the field may also come last, positionally) shows two graphs;
    ``bf.compare("sentiment", field="label", truth="gold")`` scores every recorded version of the
    slot ``sentiment``; ``bf.compare(vl[1], vl[3], field="label", truth="gold")`` two of them.
    """
    items, field = _split_field(items, field)
    field = "text" if field is None else field  # AskLLM's default output_key, as before
    sides = _sides(items, labels, project)
    if len(sides) < 2 and truth is None and judge is None:
        raise TypeError(f"bf.compare needs two versions or more to put side by side, got {len(sides)}")
    plain = truth is None and judge is None and len(sides) == 2 and all(s.version is None for s in sides)
    if plain or isinstance(field, tuple):
        from .display import CompareView
        from .options import options

        a, b = sides
        return CompareView(
            a.batch,
            b.batch,
            field,
            labels=(a.label, b.label),
            cost_a=a.spent_usd,
            cost_b=b.spent_usd,
            max_rows=options.display.max_rows,
            max_chars=options.display.max_chars,
        )
    return build(sides, field, truth=truth, judge=judge, normalize=normalize)


def _split_field(items: tuple[Any, ...], field: Any) -> tuple[tuple[Any, ...], Any]:
    """``compare(g1, g2, "text")``: a trailing str after graphs or versions is the field."""
    from .graph import Graph
    from .op.op import Op

    if (
        field is None
        and len(items) >= 2
        and isinstance(items[-1], (str, tuple))
        and not isinstance(items[-2], str)
        and any(isinstance(x, (Graph, Op, pd.DataFrame)) or hasattr(x, "slot") for x in items[:-1])
    ):
        return items[:-1], items[-1]
    return items, field


def _sides(items: tuple[Any, ...], labels: Any, project: Any) -> list[Side]:
    from .graph import Graph
    from .op.op import Op
    from .versioning import Version, VersionList, versions

    flat: list[Any] = []
    for x in items:
        if isinstance(x, str):
            flat.extend(versions(x, project=project))
        elif isinstance(x, VersionList):
            flat.extend(x)
        else:
            flat.append(x)
    sides: list[Side] = []
    for i, x in enumerate(flat):
        name = f"{chr(65 + i)}" if i < 26 else f"#{i + 1}"
        if isinstance(x, Version):
            sides.append(
                Side(x.label, x.to_pandas(), x.cost_usd, 0.0, args=x.args, answered_by=x.answered_by, version=x)
            )
        elif isinstance(x, (Graph, Op)):
            g = x if isinstance(x, Graph) else x.to_graph()
            batch = g.run()
            rep = g.last_run
            spent = rep.cost_usd if rep is not None else None
            sides.append(Side(name, batch, _first_paid(g), spent, args=_tail_args(g), answered_by=_tail_model(g)))
        elif isinstance(x, pd.DataFrame):
            sides.append(Side(name, x, None, None))
        else:
            raise TypeError(f"bf.compare compares graphs, versions, slot names and DataFrames, not {type(x).__name__}")
    if labels is not None:
        if len(labels) != len(sides):
            raise ValueError(f"{len(labels)} labels for {len(sides)} versions")
        for s, lab in zip(sides, labels, strict=True):
            s.label = str(lab)
    for prev, s in itertools.pairwise(sides):
        if s.version is not None and prev.version is not None:
            s.changed = s.version.changes(prev.version)
        elif s.args or prev.args:
            keys = list(dict.fromkeys([*prev.args, *s.args]))
            s.changed = [k for k in keys if s.args.get(k) != prev.args.get(k)]
    return sides


def _tail_args(g: Any) -> dict[str, str]:
    from .versioning import describe_args

    tail = g.tail
    return describe_args(tail.op) if tail is not None else {}


def _tail_model(g: Any) -> str | None:
    from .versioning import answered_by

    tail = g.tail
    return answered_by(tail.op) if tail is not None else None


def _first_paid(g: Any) -> float | None:
    """What the answers of ``g``'s last run cost when first paid (ledger), over every node."""
    from .brokers.pricing import total_usd
    from .versioning import first_paid_cost

    rep = g.last_run
    if rep is None:
        return None
    return total_usd(first_paid_cost(rep, n) for n in rep.nodes)


def build(
    sides: list[Side],
    field: str,
    *,
    truth: Any = None,
    judge: Any = None,
    normalize: Callable[[Any], Any] | None = S.normalize_label,
) -> Comparison:
    """Join the sides on idx (first side's order, then new idx), then score them."""
    values = {}
    for s in sides:
        try:
            values[s.label] = B.field_values(s.batch, field)
        except MissingFieldError:
            raise MissingFieldError(
                f"{s.label} has no field {field!r} (fields: {B.data_fields(s.batch)})", field=field
            ) from None
    index = sides[0].batch.index
    for s in sides[1:]:
        if not s.batch.index.equals(index):
            index = index.union(s.batch.index, sort=False)
    frame = pd.DataFrame({lab: v.reindex(index).astype(object) for lab, v in values.items()}, index=index)
    frame.index.name = "idx"
    cmp = Comparison(field, sides, frame)
    frame["diff"] = _diff(frame, sides, index)
    if truth is not None:
        t, name = _truth(truth, sides, index)
        frame.insert(0, name, t.astype(object))
        cmp.truth_name, cmp.score_name = name, "accuracy"
        for s in sides:
            scored, right = S.correct_mask(values[s.label].reindex(index), t, normalize)
            present = pd.Series(index.isin(s.batch.index), index=index)
            cmp.scores.append(S.score("accuracy", values[s.label].reindex(index), right, scored & present))
            cmp.correct[s.label] = right & scored & present
            cmp.confusions[s.label] = S.confusion(values[s.label], t, normalize)
        both = pd.Series([v is not None and v == v for v in t.tolist()], index=index)
        _pair(cmp, both)
    elif judge is not None:
        cmp.score_name = "agreement"
        for s in sides:
            verdicts, cost = _run_judge(judge, s.batch)
            scored, right = S.judged(verdicts.reindex(s.batch.index).tolist(), s.batch.index)
            cmp.scores.append(S.score("agreement", verdicts.reindex(s.batch.index), right, scored))
            cmp.correct[s.label] = right.reindex(index, fill_value=False)
            s.judge_cost_usd = cost
        common = pd.Series([all(ix in s.batch.index for s in sides) for ix in index], index=index)
        _pair(cmp, common)
    return cmp


def _pair(cmp: Comparison, scored: pd.Series) -> None:
    labels = cmp.labels
    for a, b in itertools.pairwise(labels):
        cmp.paired.append(S.paired(a, b, cmp.correct[a], cmp.correct[b], scored))


def _diff(frame: pd.DataFrame, sides: list[Side], index: pd.Index) -> list[str]:
    present = [index.isin(s.batch.index) for s in sides]
    cols = [frame[s.label].tolist() for s in sides]
    out = []
    for i in range(len(index)):
        have = [j for j in range(len(sides)) if present[j][i]]
        if len(have) < len(sides):
            out.append("only " + ", ".join(sides[j].label for j in have))
            continue
        vals = [repr(cols[j][i]) for j in have]
        out.append("" if len(set(vals)) <= 1 else "≠")
    return out


def _truth(truth: Any, sides: list[Side], index: pd.Index) -> tuple[pd.Series, str]:
    if isinstance(truth, str):
        for s in sides:
            if truth in s.batch.columns or "." in truth:
                try:
                    return B.field_values(s.batch, truth).reindex(index), truth
                except MissingFieldError:
                    continue
        raise MissingFieldError(
            f"no compared version has the truth field {truth!r} (fields: {B.data_fields(sides[0].batch)})", field=truth
        )
    if isinstance(truth, pd.Series):
        return truth.rename(index=str).reindex(index), str(truth.name or "truth")
    if isinstance(truth, Mapping):
        return pd.Series({str(k): v for k, v in truth.items()}).reindex(index), "truth"
    raise TypeError(f"truth is a field name, a Series or a dict by idx, not {type(truth).__name__}")


def _run_judge(judge: Any, batch: pd.DataFrame) -> tuple[pd.Series, float | None]:
    """Run ``judge`` over a version's rows (its calls are cached like any other); verdicts and cost."""
    from .graph import Graph
    from .op.sources import FromList

    last = judge.tail if isinstance(judge, Graph) else None
    if isinstance(judge, Graph) and last is None:
        raise GraphError("the judge is an empty graph: give an op (or a graph ending in one) that writes a verdict")
    g = FromList(B.to_records(batch)) | judge
    out = g.run()
    key = _judge_key(judge if last is None else last.op)
    if key not in out.columns:
        raise MissingFieldError(f"the judge wrote no field {key!r} (fields: {B.data_fields(out)})", field=key)
    return out[key], _first_paid(g)


def _judge_key(op: Any) -> str:
    keys = getattr(op, "output_key", None)
    if isinstance(keys, str):
        return keys
    if isinstance(keys, (list, tuple)) and keys:
        return str(keys[0])
    raise TypeError(
        f"a judge is an op with an output_key (e.g. AskLLM(..., output_key='verdict')), got {type(op).__name__}"
    )
