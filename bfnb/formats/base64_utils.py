"""batchfactory's ``bf.base64`` helpers, with its names, signatures and results.

Seed code packs values into self-describing dicts by hand (``bf.base64.encode_ndarray(a)`` gives
``{"format": "numpy.ndarray", "bytes": ..., "dtype": ..., "shape": [...]}``) and unpacks them with
the ``decode_*`` twins. bfnb stores arrays, bytes and images in a field as they are and reads the
seed's dicts back as values (:mod:`bfnb.formats.packing`), so the ``decode_*`` functions here also
accept the value itself and return it unchanged: seed code that decodes what a bfnb reader already
unpacked keeps working. Unlike the seed, importing this module never needs Pillow; only the image
functions do.
"""

from __future__ import annotations

import base64
from typing import Any

import numpy as np

from .seed_shapes import is_image

__all__ = [
    "decode_bytes",
    "decode_image",
    "decode_ndarray",
    "encode_bytes",
    "encode_image",
    "encode_ndarray",
    "resize_image_downscale",
]


def encode_bytes(data: bytes, **kwargs: Any) -> dict[str, Any]:
    """``{"format": "bytes", "bytes": <base64>, **kwargs}`` (audio files travel this way too).

    >>> encode_bytes(b"hi")
    {'format': 'bytes', 'bytes': 'aGk='}
    """
    return {"format": "bytes", "bytes": base64.b64encode(data).decode("utf-8"), **kwargs}


def decode_bytes(item: dict[str, Any] | bytes) -> bytes:
    """The bytes of :func:`encode_bytes`'s dict (bytes themselves are returned as they are)."""
    if isinstance(item, bytes | bytearray):
        return bytes(item)
    return base64.b64decode(item["bytes"].encode("utf-8"))


def encode_ndarray(array: Any) -> dict[str, Any]:
    """An array (or a list, made an array) as ``{"format": "numpy.ndarray", "bytes", "dtype", "shape"}``."""
    array = np.asarray(array)
    return encode_bytes(array.tobytes(), format="numpy.ndarray", dtype=str(array.dtype), shape=list(array.shape))


def decode_ndarray(data: dict[str, Any] | np.ndarray) -> np.ndarray:
    """The array of :func:`encode_ndarray`'s dict (an array is returned as it is)."""
    if isinstance(data, np.ndarray):
        return data
    return np.frombuffer(decode_bytes(data), dtype=data["dtype"]).reshape(tuple(data["shape"]))


def _pil() -> Any:
    try:
        import PIL.Image
    except ImportError:
        raise ImportError("Pillow is required for encoding/decoding images: pip install pillow") from None
    return PIL.Image


def encode_image(image: Any) -> dict[str, Any]:
    """A Pillow image as PNG: ``{"format": "PIL.Image", "bytes", "mode", "size"}``."""
    import io

    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return encode_bytes(buffer.getvalue(), format="PIL.Image", mode=image.mode, size=image.size)


def decode_image(data: dict[str, Any] | Any) -> Any:
    """The image of :func:`encode_image`'s dict, in its mode (an image is returned as it is)."""
    import io

    if is_image(data):
        return data
    return _pil().open(io.BytesIO(decode_bytes(data))).convert(data["mode"])


def resize_image_downscale(image: Any, max_width: int, max_height: int) -> Any:
    """The image scaled down to fit ``max_width`` x ``max_height`` (kept as is when it fits)."""
    width, height = image.size
    if width <= max_width and height <= max_height:
        return image
    ratio = min(max_width / width, max_height / height)
    return image.resize((int(width * ratio), int(height * ratio)), _pil().LANCZOS)
