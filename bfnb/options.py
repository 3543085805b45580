"""``bf.options``: the few process-wide settings, with named defaults.

Environment variables set the defaults so that notebooks and scripts run unchanged:
``BFNB_OFFLINE=1`` answers every model with the built-in local model; ``BFNB_MODEL`` and
``BFNB_EMBEDDING_MODEL`` choose the demos' models; ``BFNB_DATA_DIR`` moves project folders.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

__all__ = ["Options", "default_embedding_model", "default_model", "options"]


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


@dataclass
class DisplayOptions:
    max_rows: int = 20
    max_chars: int = 200


@dataclass
class Options:
    display: DisplayOptions = field(default_factory=DisplayOptions)
    #: run what a displayed graph needs, dispatching broker calls (budget permitting)
    dispatch_on_display: bool = True
    #: show a live panel (Jupyter) or a text progress bar (terminal) while brokers work
    progress: bool = True
    #: ``"model@provider"`` names sent although the endpoint's model list lacks them (``"*@provider"``:
    #: every name of that provider); see README "Fail before paying"
    unlisted_models: set[str] = field(default_factory=set)
    _engine: str = field(default="auto", repr=False)

    @property
    def engine(self) -> str:
        """The engine ``g.run()`` uses when none is given: ``auto`` (default), ``local``, ``stream``, ``ray``."""
        return self._engine

    @engine.setter
    def engine(self, name: str) -> None:
        from .engine_names import validate_name  # an unknown name fails here, listing the accepted ones

        self._engine = validate_name(name)

    @property
    def offline(self) -> bool:
        """Answer every model with the built-in local model (``BFNB_OFFLINE=1``)."""
        return _env_flag("BFNB_OFFLINE")

    @offline.setter
    def offline(self, value: bool) -> None:
        os.environ["BFNB_OFFLINE"] = "1" if value else "0"


options = Options()

LOCAL_CHAT = "local-chat@local"
LOCAL_EMBED = "local-embed@local"


def default_model() -> str:
    """``BFNB_MODEL`` if set; gpt-4o-mini when an OpenAI key is configured; else the local model."""
    if os.environ.get("BFNB_MODEL"):
        return os.environ["BFNB_MODEL"]
    if os.environ.get("OPENAI_API_KEY") and not options.offline:
        return "gpt-4o-mini@openai"
    return LOCAL_CHAT


def default_embedding_model() -> str:
    """``BFNB_EMBEDDING_MODEL`` if set; text-embedding-3-small with an OpenAI key; else local."""
    if os.environ.get("BFNB_EMBEDDING_MODEL"):
        return os.environ["BFNB_EMBEDDING_MODEL"]
    if os.environ.get("OPENAI_API_KEY") and not options.offline:
        return "text-embedding-3-small@openai"
    return LOCAL_EMBED
