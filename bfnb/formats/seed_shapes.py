"""The shapes a value takes in JSON that plain JSON has none for: Pillow images and batchfactory's dicts.

Images are ``{"$image": {"format", "mode", "size", "b64"}}`` (PNG when lossless for the mode, else
TIFF; Pillow is imported only to read one back).  The seed's shapes are batchfactory's
``{"format": "bytes" | "numpy.ndarray" | "PIL.Image", "bytes", ...}``.  Kept apart from
:mod:`bfnb.formats.jsonl` (which encodes the tags) and :mod:`bfnb.formats.packing` (the public
``bf.pack``/``bf.unpack``, which uses jsonl) so that neither of those imports the other's user.
"""

from __future__ import annotations

import base64
import io
import sys
from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["image_from_tag", "image_tag", "is_image", "is_seed_packed", "seed_pack", "seed_unpack"]

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
        raise ImportError("this record holds an image; reading it needs Pillow: pip install pillow") from None
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
    return {
        "$image": {
            "format": fmt,
            "mode": img.mode,
            "size": list(img.size),
            "b64": base64.b64encode(raw).decode("ascii"),
        }
    }


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
        return {
            "format": "numpy.ndarray",
            "bytes": base64.b64encode(raw).decode("utf-8"),
            "dtype": str(v.dtype),
            "shape": list(v.shape),
        }
    if is_image(v):
        buf = io.BytesIO()
        v.save(buf, format="PNG")
        return {
            "format": "PIL.Image",
            "bytes": base64.b64encode(buf.getvalue()).decode("utf-8"),
            "mode": v.mode,
            "size": list(v.size),
        }
    return None
