"""Lazy public names: a package maps each name to the module that defines it, imported on first use.

``import bfnb`` and the ``bfnb.op`` / ``bfnb.display`` / ``bfnb.widgets`` namespaces stay quick and
never pull in ipywidgets, IPython or the openai client until a name that needs them is used.
``from pkg import *`` works: it reads ``__all__`` and resolves each name through ``__getattr__``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_names"]


def lazy_names(
    package: str,
    where: Mapping[str, str],
    namespace: dict[str, Any],
    *,
    modules: Mapping[str, str] | None = None,
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package``.

    ``where`` maps a name to its module (``".table"`` relative to ``package``, or absolute);
    ``modules`` maps a name to a module that is itself the value (``bf.markdown``).
    """
    mods = dict(modules or {})

    def __getattr__(name: str) -> Any:
        if name in where:
            value = getattr(importlib.import_module(where[name], package), name)
        elif name in mods:
            value = importlib.import_module(mods[name], package)
        else:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        namespace[name] = value  # the next access is a plain global lookup
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(where) | set(mods))

    return __getattr__, __dir__
