"""Fingerprints: stable content hashes of op arguments, functions and data.

A node's result is reused while its fingerprint is unchanged, so the fingerprint must change when
anything that changes the result changes: an argument, a function's code or a value it captures
(closure cells, referenced globals, defaults), an input.  ``fingerprint`` is one open
``singledispatch`` function with one registration per type.  Objects it cannot see into raise
:class:`Unhashable` instead of falling back to a silent ``repr`` guess.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import inspect
import types
from collections.abc import Mapping
from functools import singledispatch
from pathlib import PurePath
from typing import Any

import numpy as np
import pandas as pd
import xxhash

__all__ = ["Unhashable", "combine", "fingerprint", "hash_bytes", "text_hashes"]

MAX_DEPTH = 12


class Unhashable(TypeError):
    """An argument whose content bfnb cannot fingerprint."""


def text_hashes(values: Any) -> np.ndarray:
    """A uint64 xxh3 hash of each str (as UTF-8) or bytes value of a homogeneous sequence.

    One C call per value and no bulk UTF-8 copy: about 3x faster than pandas' SipHash over object
    arrays, which matters because every source hashes its records to make idx.
    """
    n = len(values)
    if not n:
        return np.zeros(0, dtype=np.uint64)
    h = xxhash.xxh3_64_intdigest
    if type(values[0]) is str:
        try:
            return np.fromiter(map(h, map(str.encode, values)), dtype=np.uint64, count=n)
        except UnicodeEncodeError:  # lone surrogates
            return np.fromiter((h(v.encode("utf-8", "surrogatepass")) for v in values), dtype=np.uint64, count=n)
    return np.fromiter(map(h, values), dtype=np.uint64, count=n)


def hash_bytes(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def combine(*parts: str) -> str:
    """Combine fingerprints (order matters)."""
    return hash_bytes("\x1f".join(parts).encode())


def fingerprint(obj: Any, _depth: int = 0) -> str:
    """The content fingerprint of ``obj`` (32 hex digits)."""
    if _depth > MAX_DEPTH:
        raise Unhashable(f"{type(obj).__name__} nested deeper than {MAX_DEPTH} levels")
    custom = getattr(obj, "__bfnb_fingerprint__", None)
    if custom is not None and not isinstance(obj, type):
        return str(custom())
    return _fp(obj, _depth)


@singledispatch
def _fp(obj: Any, depth: int) -> str:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        fields = {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
        return combine("dc", _qualname(type(obj)), fingerprint(fields, depth + 1))
    if hasattr(obj, "model_dump") and hasattr(type(obj), "model_json_schema"):  # pydantic instance
        return combine("pyd", _qualname(type(obj)), fingerprint(obj.model_dump(mode="json"), depth + 1))
    if hasattr(obj, "__dict__"):  # user objects such as a PromptMaker: class code + state
        return combine("obj", _fp_class(type(obj), depth), fingerprint(dict(vars(obj)), depth + 1))
    raise Unhashable(f"cannot fingerprint a {type(obj).__name__}; give it a __bfnb_fingerprint__() method")


def _qualname(t: type) -> str:
    return f"{t.__module__}.{t.__qualname__}"


@_fp.register(type(None))
@_fp.register(bool)
@_fp.register(int)
@_fp.register(float)
@_fp.register(complex)
def _(obj: Any, depth: int) -> str:
    return hash_bytes(f"{type(obj).__name__}:{obj!r}".encode())


@_fp.register(str)
def _(obj: str, depth: int) -> str:
    return hash_bytes(b"s:" + obj.encode("utf-8", "surrogatepass"))


@_fp.register(bytes)
@_fp.register(bytearray)
def _(obj: bytes, depth: int) -> str:
    return hash_bytes(b"b:" + bytes(obj))


@_fp.register(PurePath)
def _(obj: PurePath, depth: int) -> str:
    return hash_bytes(f"path:{obj}".encode())


@_fp.register(enum.Enum)
def _(obj: enum.Enum, depth: int) -> str:
    return hash_bytes(f"enum:{_qualname(type(obj))}.{obj.name}".encode())


@_fp.register(list)
@_fp.register(tuple)
def _(obj: list[Any] | tuple[Any, ...], depth: int) -> str:
    tag = type(obj).__name__
    if obj and all(type(v) is str for v in obj):  # fast path for long lists of text
        return hash_bytes(f"{tag}-str:{len(obj)}:".encode() + text_hashes(obj).tobytes())
    return combine(f"{tag}:{len(obj)}", *(fingerprint(v, depth + 1) for v in obj))


@_fp.register(set)
@_fp.register(frozenset)
def _(obj: set[Any], depth: int) -> str:
    return combine("set", *sorted(fingerprint(v, depth + 1) for v in obj))


@_fp.register(Mapping)
def _(obj: Mapping[Any, Any], depth: int) -> str:
    items = sorted((fingerprint(k, depth + 1), fingerprint(v, depth + 1)) for k, v in obj.items())
    return combine("map", *(f"{k}={v}" for k, v in items))


@_fp.register(np.ndarray)
def _(obj: np.ndarray, depth: int) -> str:
    if obj.dtype == object:
        return combine("ndarray-obj", str(obj.shape), fingerprint(obj.tolist(), depth + 1))
    return hash_bytes(f"nd:{obj.dtype.str}:{obj.shape}:".encode() + np.ascontiguousarray(obj).tobytes())


@_fp.register(np.generic)
def _(obj: np.generic, depth: int) -> str:
    return fingerprint(obj.item(), depth)


@_fp.register(pd.DataFrame)
def _(obj: pd.DataFrame, depth: int) -> str:
    parts = [f"df:{list(map(str, obj.columns))}", fingerprint(obj.index.tolist(), depth + 1)]
    for c in obj.columns:
        parts.append(_fp_series(obj[c], depth))
    return combine(*parts)


@_fp.register(pd.Series)
def _(obj: pd.Series, depth: int) -> str:
    return _fp_series(obj, depth)


def _fp_series(s: pd.Series, depth: int) -> str:
    try:
        return hash_bytes(f"ser:{s.dtype}:".encode() + pd.util.hash_pandas_object(s, index=False).to_numpy().tobytes())
    except TypeError:  # lists, dicts, arrays inside
        return combine(f"ser:{s.dtype}", fingerprint(s.tolist(), depth + 1))


@_fp.register(type)
def _(obj: type, depth: int) -> str:
    return _fp_class(obj, depth)


def _fp_class(cls: type, depth: int) -> str:
    if cls.__module__ in ("builtins",) or cls.__module__.startswith(("bfnb.", "pandas", "numpy")):
        return hash_bytes(f"cls:{_qualname(cls)}".encode())
    parts = [f"cls:{_qualname(cls)}"]
    for name, member in sorted(vars(cls).items()):
        if isinstance(member, (staticmethod, classmethod)):
            member = member.__func__
        if isinstance(member, types.FunctionType):
            parts.append(f"{name}={_fp_code(member.__code__)}")
        elif not name.startswith("__") and isinstance(member, (str, int, float, bool, tuple)):
            parts.append(f"{name}={fingerprint(member, depth + 1)}")
    parts += [_fp_class(b, depth + 1) for b in cls.__bases__ if b is not object]
    return combine(*parts)


def _fp_code(code: types.CodeType) -> str:
    consts = []
    for c in code.co_consts:
        consts.append(_fp_code(c) if isinstance(c, types.CodeType) else repr(c))
    return hash_bytes(b"code:" + code.co_code + repr((consts, code.co_names, code.co_varnames)).encode())


@_fp.register(types.FunctionType)
def _(fn: types.FunctionType, depth: int) -> str:
    parts = [f"fn:{fn.__qualname__}", _fp_code(fn.__code__)]
    if fn.__defaults__:
        parts.append(fingerprint(fn.__defaults__, depth + 1))
    if fn.__kwdefaults__:
        parts.append(fingerprint(fn.__kwdefaults__, depth + 1))
    if fn.__closure__:
        for name, cell in zip(fn.__code__.co_freevars, fn.__closure__, strict=False):
            try:
                value = cell.cell_contents
            except ValueError:  # empty cell
                continue
            parts.append(f"{name}={_fp_captured(value, depth)}")
    for name in _global_names(fn.__code__):
        if name in fn.__globals__:
            parts.append(f"g:{name}={_fp_captured(fn.__globals__[name], depth)}")
    return combine(*parts)


def _global_names(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            names |= _global_names(c)
    return names


def _fp_captured(value: Any, depth: int) -> str:
    """Captured values: modules and classes by name (their code is not the user's), others by content."""
    if isinstance(value, types.ModuleType):
        return f"module:{value.__name__}"
    if isinstance(value, (types.BuiltinFunctionType, types.MethodDescriptorType, types.WrapperDescriptorType)):
        return f"builtin:{getattr(value, '__module__', '')}.{value.__qualname__}"
    if isinstance(value, type) and (value.__module__ == "builtins" or not _is_user_module(value.__module__)):
        return f"class:{_qualname(value)}"
    if isinstance(value, types.FunctionType) and not _is_user_module(value.__module__ or ""):
        return f"libfn:{value.__module__}.{value.__qualname__}"
    try:
        return fingerprint(value, depth + 1)
    except Unhashable:
        return f"opaque:{type(value).__qualname__}"


def _is_user_module(mod: str) -> bool:
    """User code: notebooks/scripts (``__main__``) and modules outside site-packages and the stdlib."""
    if mod in ("__main__", "__mp_main__") or mod.startswith("bfnb.op.functional"):
        return True
    import sys

    m = sys.modules.get(mod)
    f = getattr(m, "__file__", None) or ""
    return bool(f) and "site-packages" not in f and "/lib/python3" not in f


@_fp.register(types.MethodType)
def _(m: types.MethodType, depth: int) -> str:
    return combine("method", fingerprint(m.__func__, depth + 1), fingerprint(m.__self__, depth + 1))


@_fp.register(types.BuiltinFunctionType)
@_fp.register(types.MethodDescriptorType)
@_fp.register(types.WrapperDescriptorType)
@_fp.register(types.MethodWrapperType)
@_fp.register(types.ClassMethodDescriptorType)
def _(fn: types.BuiltinFunctionType, depth: int) -> str:
    return hash_bytes(f"builtin:{getattr(fn, '__module__', '')}.{fn.__qualname__}".encode())


def describe_function(fn: Any) -> str:
    """A short readable form of a user function for reprs: a lambda's source, else its name."""
    name = getattr(fn, "__name__", type(fn).__name__)
    if name != "<lambda>":
        return name
    try:
        src = inspect.getsource(fn).strip()
    except (OSError, TypeError):
        return "lambda"
    code = fn.__code__
    args = ", ".join(code.co_varnames[: code.co_argcount])
    starts = [j for j in range(len(src)) if src.startswith("lambda", j)]
    exact = [j for j in starts if src[j + 6 :].lstrip().replace(" ", "").startswith(args.replace(" ", "") + ":")]
    i = (exact or starts or [0])[0]
    src = src[i:]
    depth = 0
    for j, ch in enumerate(src):  # cut at the comma or bracket that ends the lambda
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            if depth == 0:
                return src[:j].strip()
            depth -= 1
        elif ch == "," and depth == 0:
            return src[:j].strip()
    return src.splitlines()[0].strip()
