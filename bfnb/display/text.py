"""Plain-text rendering: number formats, a fixed-width grid, and the terminal progress bars.

The ``text/plain`` side of every display is built here and must be deterministic (nbval compares
it): no ids, addresses or clock times.  Formats are shared with the HTML side so both say the same
thing; in particular an unknown cost reads ``unknown`` and never ``$0``.  :class:`TextProgress` is
the fallback of the live broker panel outside Jupyter: one tqdm bar per broker on stderr, fed from
:class:`bfnb.widgets.state.BrokerStates`, and a one-line summary per broker at the end.
"""

from __future__ import annotations

import math
import re
import sys
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from typing import IO, Any

__all__ = [
    "TextProgress",
    "cell_text",
    "format_compact",
    "format_cost",
    "format_int",
    "format_seconds",
    "grid",
    "safe_repr",
    "summary_line",
    "total_cost",
    "width",
]


def format_int(n: int | float | None) -> str:
    """``5000`` → ``5,000``; ``None`` → ``unknown``."""
    return "unknown" if n is None else f"{int(n):,}"


def format_compact(n: int | float | None) -> str:
    """``1234`` → ``1.2K``, ``3_400_000`` → ``3.4M``."""
    if n is None:
        return "unknown"
    n = float(n)
    for limit, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(n) >= limit:
            return f"{n / limit:.1f}".rstrip("0").rstrip(".") + suffix
    return f"{n:.0f}"


def format_cost(usd: float | None) -> str:
    """``$0.0123``; ``$0`` for exactly zero; ``unknown`` when the price is not known."""
    if usd is None or usd != usd:  # None or NaN
        return "unknown"
    if usd == 0:
        return "$0"
    if abs(usd) < 0.0001:  # two significant digits: cheap embedding calls cost millionths
        digits = min(12, 1 - math.floor(math.log10(abs(usd))))
        return f"${usd:.{digits}f}"
    if abs(usd) < 1:
        return "$" + f"{usd:.4f}".rstrip("0").rstrip(".")
    return f"${usd:,.2f}"


def total_cost(costs: Iterable[float | None]) -> str:
    """The sum of known costs; says ``+ unknown`` when some are unknown (never a silent $0)."""
    values = list(costs)
    known = [c for c in values if c is not None and c == c]
    n_unknown = len(values) - len(known)
    if n_unknown and not known:
        return "unknown"
    text = format_cost(sum(known))
    return f"{text} + unknown" if n_unknown else text


def format_seconds(s: float | None) -> str:
    """``0.42 s``, ``12 s``, ``3 min 05 s``, ``2 h 03 min``; ``—`` when unknown."""
    if s is None or s != s or s == float("inf"):
        return "—"
    if s < 10:
        return f"{s:.1f} s" if s >= 0.95 else f"{s:.2f} s"
    if s < 60:
        return f"{s:.0f} s"
    if s < 3600:
        return f"{int(s // 60)} min {int(s % 60):02d} s"
    return f"{int(s // 3600)} h {int(s % 3600 // 60):02d} min"


_ADDRESS = re.compile(r" at 0x[0-9A-Fa-f]+")


def safe_repr(value: object) -> str:
    """``repr(value)`` without memory addresses, so plain text stays deterministic."""
    try:
        text = repr(value)
    except Exception as err:  # a broken __repr__ must not break the display
        text = f"<{type(value).__name__}: repr failed: {type(err).__name__}>"
    return _ADDRESS.sub("", text)


def width(text: str) -> int:
    """Terminal columns taken by ``text`` (wide East Asian characters count 2, combining 0)."""
    if text.isascii():
        return len(text)
    w = 0
    for ch in text:
        if unicodedata.combining(ch):
            continue
        w += 2 if unicodedata.east_asian_width(ch) in "WF" else 1
    return w


def cell_text(text: str, max_width: int) -> str:
    """One line: newlines and tabs shown as ``⏎``/spaces, cut to ``max_width`` columns with ``…``."""
    text = text.replace("\r\n", "⏎").replace("\n", "⏎").replace("\r", "⏎").replace("\t", " ")
    if width(text) <= max_width:
        return text
    out, w = [], 0
    for ch in text:
        cw = width(ch)
        if w + cw > max_width - 1:
            break
        out.append(ch)
        w += cw
    return "".join(out) + "…"


def _pad(text: str, n: int, right: bool) -> str:
    fill = " " * max(0, n - width(text))
    return fill + text if right else text + fill


def grid(
    headers: Sequence[str],
    rows: Iterable[Sequence[str]],
    *,
    right: Sequence[bool] | None = None,
    max_width: int = 40,
    subheaders: Sequence[str] | None = None,
) -> str:
    """A fixed-width table: header line(s), a rule, then one line per row cut to ``max_width``."""
    heads = [[cell_text(h, max_width) for h in headers]]
    if subheaders is not None and any(subheaders):
        heads.append([cell_text(h, max_width) for h in subheaders])
    body = [[cell_text(c, max_width) for c in r] for r in rows]
    widths = [max(width(r[i]) for r in heads + body) for i in range(len(headers))]
    right = list(right) if right is not None else [False] * len(headers)

    def line(cells: Sequence[str]) -> str:
        return "  ".join(_pad(c, widths[i], right[i]) for i, c in enumerate(cells)).rstrip()

    rule = "  ".join("-" * w for w in widths).rstrip()
    return "\n".join([*map(line, heads), rule, *map(line, body)])


def summary_line(state: Any) -> str:
    """``chat gpt-4o-mini@local: 5 done (2 cached), 0 failed, 1.2K tokens, $0 — 0.4 s``."""
    tokens = state.input_tokens + state.output_tokens
    cost = format_cost(state.cost_usd if state.cost_known else None)
    line = (
        f"{state.name}: {state.done + state.cached:,} done ({state.cached:,} cached), "
        f"{state.failed:,} failed, {format_compact(tokens)} tokens, {cost}"
    )
    if state.elapsed_s is not None:
        line += f" — {format_seconds(state.elapsed_s)}"
    return line


class TextProgress:
    """One tqdm bar per broker on ``file`` (stderr), refreshed from broker states.

    ``states_getter`` returns the current :class:`~bfnb.widgets.state.PanelState` list (see
    :meth:`bfnb.widgets.state.BrokerStates.collect`).  Call :meth:`refresh` periodically (a
    :class:`~bfnb.widgets.state.PanelRefresher` does) and :meth:`close` once at the end, which
    prints one summary line per broker.  ``disable=None`` hides the bars when ``file`` is not a
    terminal (the summary lines are always printed).
    """

    def __init__(
        self,
        states_getter: Callable[[], list[Any]],
        *,
        file: IO[str] | None = None,
        disable: bool | None = None,
        summary: bool = True,
    ) -> None:
        self._get = states_getter
        self._file = file
        self._disable = disable
        self._summary = summary
        self._bars: dict[str, Any] = {}
        self._closed = False

    @property
    def file(self) -> IO[str]:
        return self._file if self._file is not None else sys.stderr

    def refresh(self) -> None:
        """Move each broker's bar to its current state."""
        if self._closed:
            return
        from tqdm import tqdm  # imported only when a text progress bar is actually shown

        for st in self._get():
            bar = self._bars.get(st.name)
            if bar is None:
                bar = tqdm(
                    total=st.total,
                    desc=st.name,
                    unit="call",
                    file=self.file,
                    disable=self._disable,
                    dynamic_ncols=True,
                    leave=True,
                    mininterval=0.2,
                )
                self._bars[st.name] = bar
            if st.finished < bar.n:  # a new burst of work: start the bar again
                bar.reset()
            bar.total = st.total
            if st.finished > bar.n:
                bar.update(st.finished - bar.n)  # update() keeps tqdm's own rate and ETA right
            bar.set_postfix_str(_postfix(st), refresh=False)
            bar.refresh()

    def close(self) -> None:
        """Last refresh, close the bars, then print one summary line per broker."""
        if self._closed:
            return
        self.refresh()
        self._closed = True
        for bar in self._bars.values():
            bar.close()
        if self._summary:
            for st in self._get():
                print(summary_line(st), file=self.file, flush=True)

    def __enter__(self) -> TextProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"TextProgress(brokers={sorted(self._bars)!r})"


def _postfix(st: Any) -> str:
    parts = [f"cached {st.cached:,}"]
    if st.failed:
        parts.append(f"failed {st.failed:,}")
    if st.retrying:
        parts.append(f"retrying {st.retrying:,}")
    tokens = st.input_tokens + st.output_tokens
    if tokens:
        parts.append(f"{format_compact(tokens)} tok")
    parts.append(format_cost(st.cost_usd if st.cost_known else None))
    waiting = st.waiting_on() if hasattr(st, "waiting_on") else None
    if waiting:
        parts.append(waiting)
    return ", ".join(parts)
