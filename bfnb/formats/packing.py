"""Packing values into JSON and back: images, the seed's encoding, and the public ``bf.pack``/``bf.unpack``.

A bfnb entry is a self-contained record that can travel as one ``.jsonl`` line, so every value a
field can hold has a JSON form. :mod:`bfnb.formats.jsonl` encodes numbers, text, containers,
numpy arrays and bytes with ``$``-tags; this module adds what that one needs from outside:

* **images** (``PIL.Image.Image``) as ``{"$image": {"format", "mode", "size", "b64"}}``: PNG, which
  is lossless for the modes it holds, else TIFF. Pillow stays optional: it is never imported to
  write (an image can only exist if Pillow is loaded), and reading an image without it is an
  error that says what to install.
* **the seed's encoding** (batchfactory's ``lib/base64_utils``): ``{"format": "bytes", "bytes": b64}``,
  ``{"format": "numpy.ndarray", "bytes", "dtype", "shape"}`` and ``{"format": "PIL.Image", "bytes",
  "mode", "size"}``. Reading recognises these exact shapes anywhere in a record and returns the
  value (so a batchfactory JSONL reads as arrays, bytes and images); writing them is an option
  (``WriteJsonl(..., packing="seed")``, ``bf.pack(v, style="seed")``) for files that batchfactory
  code will read. A user dict that merely has one of these shapes is escaped on write, so it
  still reads back as that dict.

Audio travels as what it is: the bytes of a sound file (``.ogg``, ``.wav``: ``bytes``) or an array
of samples (``numpy``); both round-trip exactly.
"""

from __future__ import annotations

import base64
import io
import sys
from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["STYLES", "is_image", "is_seed_packed", "pack", "unpack"]

STYLES = ("bfnb", "seed")

_SEED_KEYS = {
    "bytes": frozenset(("format", "bytes")),
    "numpy.ndarray": frozenset(("format", "bytes", "dtype", "shape")),
    "PIL.Image": frozenset(("format", "bytes", "mode", "size")),
}


# --------------------------------------------------------------------------------------- images


def is_image(v: Any) -> bool:
    """True for a Pillow image (without importing Pillow: no image can exist unless it is loaded)."""
    mod = sys.modules.get("PIL.Image")
    return mod is not None and isinstance(v, mod.Image)


def _pil() -> Any:
    try:
        from PIL import Image
    except ImportError:
        raise ImportError(
            "this record holds an image; reading it needs Pillow: pip install pillow"
        ) from None
    return Image


def _image_bytes(img: Any) -> tuple[str, bytes]:
    for fmt in ("PNG", "TIFF"):  # PNG where it holds the mode losslessly, else TIFF (CMYK, F, I;16 ...)
        buf = io.BytesIO()
        try:
            img.save(buf, format=fmt)
        except (OSError, ValueError, KeyError):
            continue
        return fmt, buf.getvalue()
    raise TypeError(f"cannot store an image of mode {img.mode!r} losslessly (neither PNG nor TIFF holds it)")


def image_tag(img: Any) -> dict[str, Any]:
    """bfnb's JSON form of a Pillow image."""
    fmt, raw = _image_bytes(img)
    return {"$image": {"format": fmt, "mode": img.mode, "size": list(img.size), "b64": base64.b64encode(raw).decode("ascii")}}


def image_from_tag(body: Mapping[str, Any]) -> Any:
    """The image of an ``$image`` tag's body (needs Pillow)."""
    img = _pil().open(io.BytesIO(base64.b64decode(body["b64"])))
    img.load()
    return img if img.mode == body["mode"] else img.convert(body["mode"])


# ---------------------------------------------------------------------------------- seed format


def is_seed_packed(d: Any) -> bool:
    """True for a dict of exactly the shape batchfactory's ``base64_utils`` wrote."""
    if type(d) is not dict or "format" not in d or type(d.get("bytes")) is not str:
        return False
    keys = _SEED_KEYS.get(d["format"]) if isinstance(d["format"], str) else None
    return keys is not None and d.keys() == keys


def seed_unpack(d: Mapping[str, Any]) -> Any:
    """The value of a seed-packed dict (:func:`is_seed_packed`)."""
    raw = base64.b64decode(d["bytes"])
    fmt = d["format"]
    if fmt == "bytes":
        return raw
    if fmt == "numpy.ndarray":
        return np.frombuffer(raw, dtype=np.dtype(d["dtype"])).reshape(tuple(d["shape"])).copy()
    img = _pil().open(io.BytesIO(raw))
    return img.convert(d["mode"])


def seed_pack(v: Any) -> dict[str, Any] | None:
    """The seed's dict for bytes, an array or an image; None for any other value."""
    if isinstance(v, bytes | bytearray | memoryview):
        return {"format": "bytes", "bytes": base64.b64encode(bytes(v)).decode("utf-8")}
    if isinstance(v, np.ndarray) and not v.dtype.hasobject:
        raw = np.ascontiguousarray(v).tobytes()
        return {"format": "numpy.ndarray", "bytes": base64.b64encode(raw).decode("utf-8"),
                "dtype": str(v.dtype), "shape": list(v.shape)}
    if is_image(v):
        buf = io.BytesIO()
        v.save(buf, format="PNG")
        return {"format": "PIL.Image", "bytes": base64.b64encode(buf.getvalue()).decode("utf-8"),
                "mode": v.mode, "size": list(v.size)}
    return None


def encode_seed_value(v: Any) -> Any:
    """Like :func:`~bfnb.formats.jsonl.encode_value`, with arrays, bytes and images in the seed's form."""
    from .jsonl import encode_value

    packed = seed_pack(v)
    if packed is not None:
        return packed
    if type(v) is list or type(v) is tuple:
        return [encode_seed_value(x) for x in v]
    if type(v) is dict and all(type(k) is str for k in v):
        out = {k: encode_seed_value(x) for k, x in v.items()}
        return {"$esc": out} if _needs_bfnb(out) else out  # a user dict shaped like a tag stays a dict
    return encode_value(v)


def _needs_bfnb(d: dict[str, Any]) -> bool:
    """A dict that would read back as something else (a tag or a seed shape) must be escaped."""
    return (len(d) == 1 and next(iter(d)).startswith("$")) or is_seed_packed(d)


# ------------------------------------------------------------------------------------ public API


def pack(value: Any, *, style: str = "bfnb") -> Any:
    """A JSON-able form of ``value`` that :func:`unpack` turns back into an equal value.

    ``style="bfnb"`` (the default) is lossless for every value a field can hold; ``style="seed"``
    writes arrays, bytes and images as batchfactory did, for files its code will read.

    >>> import numpy as np
    >>> pack(b"hi")
    {'$bytes': 'aGk='}
    >>> pack(np.arange(2, dtype="uint8"), style="seed")
    {'format': 'numpy.ndarray', 'bytes': 'AAE=', 'dtype': 'uint8', 'shape': [2]}
    >>> unpack(pack(np.arange(2, dtype="uint8"), style="seed"))
    array([0, 1], dtype=uint8)
    """
    from .jsonl import encode_value

    if style == "bfnb":
        return encode_value(value)
    if style == "seed":
        return encode_seed_value(value)
    raise ValueError(f"unknown packing style {style!r}; accepted: {', '.join(STYLES)}")


def unpack(obj: Any) -> Any:
    """The value of a packed form: bfnb's tags and the seed's dicts, anywhere inside ``obj``.

    >>> unpack({"format": "bytes", "bytes": "aGk="})
    b'hi'
    """
    from .jsonl import decode_value

    return decode_value(obj)
