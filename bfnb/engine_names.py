"""The names ``engine=`` accepts, known without importing any engine.

``bf.options.engine = "ray"`` and ``g.run(engine=...)`` check a name here, so a typo fails at once
with the accepted names listed, and neither :mod:`bfnb.options` nor a graph has to import
:mod:`bfnb.engines` (which imports the executor) to check one.  Third-party engines are the
entry points of the group ``bfnb.engines``.
"""

from __future__ import annotations

from typing import Any

from .errors import EngineError

__all__ = ["AUTO", "BUILTIN", "EXTRAS", "accepted_names", "entry_point_engines", "validate_name"]

AUTO = "auto"

#: built-in engines: name → module holding ``Engine``
BUILTIN: dict[str, str] = {
    "local": "bfnb.engines.local",
    "ray": "bfnb.engines.ray",
    "stream": "bfnb.engines.stream",
}

#: what to install for an engine whose module needs a third-party package
EXTRAS: dict[str, str] = {"ray": 'pip install "bfnb[ray]"'}


def entry_point_engines() -> dict[str, Any]:
    from importlib.metadata import entry_points  # imported when a name is not built in (~5 ms a process)

    try:
        return {ep.name: ep for ep in entry_points(group="bfnb.engines")}
    except Exception:  # a broken third-party distribution must not break the built-ins
        return {}


def accepted_names() -> list[str]:
    """Every name ``engine=`` accepts: ``auto``, the built-ins and registered entry points."""
    return [AUTO, *sorted(set(BUILTIN) | set(entry_point_engines()))]


def validate_name(name: Any) -> str:
    """``name`` if it is an accepted engine name, else an EngineError listing the accepted ones."""
    if name == AUTO or name in BUILTIN:  # no scan of the installed distributions (~0.1 s) for these
        return name
    if not isinstance(name, str) or name not in accepted_names():
        raise EngineError(f"unknown engine {name!r}; accepted: {', '.join(accepted_names())}")
    return name
