"""One mixin gives every display object its Jupyter representation.

A display object describes itself with two pure methods, ``_render_html()`` and
``_render_text()``; this mixin turns them into IPython's ``_repr_mimebundle_`` (``text/html`` plus
``text/plain``), ``__repr__`` and ``__str__``.  Like Rich's ``JupyterMixin``, only this mixin
knows the display protocol, and nothing here imports IPython: the kernel calls us.
"""

from __future__ import annotations

from collections.abc import Container
from typing import Any

__all__ = ["DisplayMixin"]


class DisplayMixin:
    """Adds ``_repr_mimebundle_``, ``__repr__`` and ``__str__`` from two render methods."""

    __slots__ = ()

    def _render_html(self) -> str:
        raise NotImplementedError

    def _render_text(self) -> str:
        raise NotImplementedError

    def _repr_mimebundle_(
        self,
        include: Container[str] | None = None,
        exclude: Container[str] | None = None,
        **kwargs: Any,
    ) -> dict[str, str]:
        renderers = {"text/plain": self._render_text, "text/html": self._render_html}
        return {
            mime: render()
            for mime, render in renderers.items()
            if (include is None or mime in include) and (exclude is None or mime not in exclude)
        }

    def __repr__(self) -> str:
        return self._render_text()

    def __str__(self) -> str:
        return self._render_text()
