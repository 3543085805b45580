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

from typing import Any

from .jsonl import decode_value, encode_value
from .seed_shapes import is_image, is_seed_packed, seed_pack

__all__ = ["STYLES", "is_image", "is_seed_packed", "pack", "unpack"]

STYLES = ("bfnb", "seed")


def encode_seed_value(v: Any) -> Any:
    """Like :func:`~bfnb.formats.jsonl.encode_value`, with arrays, bytes and images in the seed's form."""
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
    return decode_value(obj)
