"""``model@provider``: where a model string is sent, and with which key.

A provider is a base URL and the name of the environment variable holding its key; every
OpenAI-compatible endpoint is one more registry entry (``register_provider``), so brokers need no
per-provider code.  ``resolve("gpt-4o-mini@openai")`` is the one place that reads the environment:
it fails at once, before any work is queued, when a remote provider's key is unset, with a message
saying which variable to export and how to run offline instead.  Offline mode (``BFNB_OFFLINE=1``
or ``bf.options.offline = True``) sends every model to the built-in local model and keeps the
requested name for display.  Keys live only in ``ResolvedModel.api_key`` and never show in a repr.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

from bfnb.errors import BrokerError, MissingAPIKeyError
from bfnb.redaction import register_secret

__all__ = [
    "LOCAL_DUMMY_KEY",
    "ModelStringError",
    "Provider",
    "ResolvedModel",
    "get_provider",
    "is_offline",
    "parse_model",
    "providers",
    "register_provider",
    "resolve",
]

# Local servers (vLLM, Ollama, LM Studio) ignore the key, but OpenAI clients insist on one.
LOCAL_DUMMY_KEY = "sk-local"
_TRUE = {"1", "true", "yes", "on"}


class ModelStringError(BrokerError, ValueError):
    """A model string is not ``"<model>@<provider>"`` or names an unknown provider."""


def _mask(value: str | None) -> str:
    return "None" if value is None else "'***'"


@dataclass(frozen=True)
class Provider:
    """An OpenAI-compatible endpoint: base URL and the environment variable holding its key.

    ``kind="local"`` marks a server on this machine (its key is optional); the built-in model,
    which needs no HTTP at all, is the local provider with ``base_url=None`` (``in_process``).
    ``base_url_env`` names a variable that overrides ``base_url`` when set (``OPENAI_BASE_URL``).
    """

    name: str
    base_url: str | None
    api_key_env: str | None = None
    kind: Literal["remote", "local"] = "remote"
    extra_headers: Mapping[str, str] = field(default_factory=dict)
    base_url_env: str | None = None

    @property
    def in_process(self) -> bool:
        """True for the built-in local model, answered without HTTP."""
        return self.base_url is None

    @property
    def key_required(self) -> bool:
        """A remote provider with a key variable needs that variable set."""
        return self.kind == "remote" and self.api_key_env is not None

    def effective_base_url(self) -> str | None:
        """``base_url``, or the value of ``base_url_env`` when that variable is set."""
        if self.base_url_env and os.environ.get(self.base_url_env):
            return os.environ[self.base_url_env].rstrip("/")
        return self.base_url

    def __repr__(self) -> str:
        headers = {k: "***" for k in self.extra_headers}
        return (
            f"Provider(name={self.name!r}, base_url={self.base_url!r}, api_key_env={self.api_key_env!r}, "
            f"kind={self.kind!r}, extra_headers={headers!r})"
        )


@dataclass(frozen=True)
class ResolvedModel:
    """A model string resolved against the registry: what to send, where, with which key.

    ``model`` is the name sent to the endpoint (in offline mode, the name the user asked for, kept
    for display); ``requested_provider`` is the provider named in the string; ``offline`` says that
    the built-in model answers instead.  ``api_key`` is masked in every repr.
    """

    model: str
    provider: Provider
    api_key: str | None = field(default=None, repr=False)
    requested_provider: str = ""
    offline: bool = False

    @property
    def base_url(self) -> str | None:
        return self.provider.base_url

    @property
    def model_string(self) -> str:
        """``model@provider`` as the user wrote it."""
        return f"{self.model}@{self.requested_provider or self.provider.name}"

    def __repr__(self) -> str:
        extra = ", offline=True" if self.offline else ""
        return (
            f"ResolvedModel(model={self.model!r}, provider={self.provider.name!r}, "
            f"base_url={self.provider.base_url!r}, api_key={_mask(self.api_key)}{extra})"
        )

    __str__ = __repr__


_BUILTIN = [
    Provider("openai", "https://api.openai.com/v1", "OPENAI_API_KEY", base_url_env="OPENAI_BASE_URL"),
    Provider("deepseek", "https://api.deepseek.com/v1", "DEEPSEEK_API_KEY"),
    Provider("together", "https://api.together.xyz/v1", "TOGETHER_API_KEY"),
    Provider("groq", "https://api.groq.com/openai/v1", "GROQ_API_KEY"),
    Provider("openrouter", "https://openrouter.ai/api/v1", "OPENROUTER_API_KEY"),
    Provider("lambda", "https://api.lambdalabs.com/v1", "LAMBDA_API_KEY"),
    Provider("fireworks", "https://api.fireworks.ai/inference/v1", "FIREWORKS_API_KEY"),
    Provider("mistral", "https://api.mistral.ai/v1", "MISTRAL_API_KEY"),
    Provider("vllm", "http://127.0.0.1:8000/v1", "VLLM_API_KEY", kind="local", base_url_env="VLLM_BASE_URL"),
    Provider("ollama", "http://127.0.0.1:11434/v1", "OLLAMA_API_KEY", kind="local", base_url_env="OLLAMA_BASE_URL"),
    Provider(
        "lmstudio",
        "http://127.0.0.1:1234/v1",
        "LMSTUDIO_API_KEY",
        kind="local",
        base_url_env="LMSTUDIO_BASE_URL",
    ),
    Provider("local", None, None, kind="local"),
]
_REGISTRY: dict[str, Provider] = {p.name: p for p in _BUILTIN}


def providers() -> dict[str, Provider]:
    """A copy of the registry, by name."""
    return dict(_REGISTRY)


def get_provider(name: str) -> Provider:
    """The provider registered under ``name`` (case-insensitive)."""
    try:
        return _REGISTRY[name.strip().lower()]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY))
        raise ModelStringError(
            f"unknown provider {name!r}; known providers: {known}. "
            f"Add one with bfnb.brokers.providers.register_provider({name!r}, base_url=..., api_key_env=...)"
        ) from None


def register_provider(
    name: str,
    base_url: str | None,
    api_key_env: str | None = None,
    *,
    kind: Literal["remote", "local"] = "remote",
    extra_headers: Mapping[str, str] | None = None,
    base_url_env: str | None = None,
) -> Provider:
    """Add (or replace) an OpenAI-compatible provider; returns it.

    >>> register_provider("myproxy", "http://127.0.0.1:9000/v1", "MYPROXY_KEY")  # doctest: +ELLIPSIS
    Provider(name='myproxy', ...)
    """
    key = name.strip().lower()
    if not key or "@" in key:
        raise ModelStringError(f"a provider name must be non-empty and contain no '@', got {name!r}")
    if kind not in ("remote", "local"):
        raise ValueError(f"kind must be 'remote' or 'local', got {kind!r}")
    p = Provider(key, base_url.rstrip("/") if base_url else base_url, api_key_env, kind,
                 dict(extra_headers or {}), base_url_env)  # fmt: skip
    _REGISTRY[key] = p
    return p


def parse_model(model_string: str) -> tuple[str, str]:
    """``"gpt-4o-mini@openai"`` → ``("gpt-4o-mini", "openai")``."""
    if not isinstance(model_string, str) or "@" not in model_string:
        raise ModelStringError(
            f"model {model_string!r} names no provider; write '<model>@<provider>', "
            f"e.g. 'gpt-4o-mini@openai', or 'local-chat@local' for the built-in offline model"
        )
    model, _, provider = model_string.rpartition("@")
    if not model.strip() or not provider.strip():
        raise ModelStringError(f"model {model_string!r} is not '<model>@<provider>', e.g. 'gpt-4o-mini@openai'")
    return model.strip(), provider.strip().lower()


def is_offline() -> bool:
    """True when ``BFNB_OFFLINE`` is 1/true or ``bfnb.options.offline`` is set."""
    if os.environ.get("BFNB_OFFLINE", "").strip().lower() in _TRUE:
        return True
    # Read bf.options only if the user has imported it: providers must not import the public face.
    options = getattr(sys.modules.get("bfnb.options"), "options", None)
    return bool(getattr(options, "offline", False))


def resolve(model_string: str, *, offline: bool | None = None) -> ResolvedModel:
    """Resolve ``model@provider`` to its endpoint and key, or raise at once if the key is unset.

    ``offline`` overrides :func:`is_offline`; offline, every model is answered by the built-in
    local model.  Raises :class:`ModelStringError` for a malformed string or an unknown provider,
    :class:`~bfnb.errors.MissingAPIKeyError` when a remote provider's key variable is unset.
    """
    model, name = parse_model(model_string)
    provider = get_provider(name)
    if (is_offline() if offline is None else offline) and not provider.in_process:
        return ResolvedModel(model, _REGISTRY["local"], None, requested_provider=name, offline=True)
    provider = replace(provider, base_url=provider.effective_base_url())
    if provider.in_process:
        return ResolvedModel(model, provider, None, requested_provider=name)
    key = os.environ.get(provider.api_key_env, "").strip() if provider.api_key_env else ""
    if not key and provider.key_required:
        raise MissingAPIKeyError(
            f"no API key for {model_string!r}: the environment variable {provider.api_key_env} is not set.\n"
            f"  Set it:        export {provider.api_key_env}=...   (or os.environ[{provider.api_key_env!r}] = ... "
            f"before the run)\n"
            f"  Or run offline: export BFNB_OFFLINE=1 (or bf.options.offline = True) to answer every model "
            f"with the built-in local model, or use '{model}@local'."
        )
    register_secret(key)  # from now on redacted from every error, record, table and widget
    return ResolvedModel(model, provider, key or LOCAL_DUMMY_KEY, requested_provider=name)
