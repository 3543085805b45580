"""Self-contained data: arrays, bytes, images and audio through JSONL and Parquet; the seed's packing."""

from __future__ import annotations

import io
import json
import wave

import numpy as np
import pytest
from PIL import Image

import bfnb as bf
from bfnb.op import FromList, OutputEntries, ReadJsonl, ReadParquet, WriteJsonl, WriteParquet


def wav_bytes(samples: np.ndarray, rate: int = 8000) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.astype("<i2").tobytes())
    return buf.getvalue()


def sample_records():
    rng = np.random.default_rng(7)
    tone = (np.sin(np.arange(800) / 5) * 3000).astype("int16")
    rgb = Image.fromarray(rng.integers(0, 255, (6, 9, 3), dtype=np.uint8), "RGB")
    gray16 = Image.fromarray(rng.integers(0, 60000, (4, 5)).astype(np.uint16))
    return [
        {
            "idx": "a",
            "emb": rng.random(5, dtype=np.float32),
            "blob": b"\x00\xffraw",
            "img": rgb,
            "audio": wav_bytes(tone),
            "samples": tone.astype("float32") / 3000,
            "meta": {"n": [np.float16(1.5)]},
        },
        {
            "idx": "b",
            "emb": np.zeros((2, 3), dtype=np.float16),
            "blob": b"",
            "img": gray16,
            "audio": b"OggS\x00fake",
            "samples": np.array([], dtype="float32"),
            "meta": {"n": []},
        },
    ]


def same(x, y) -> bool:
    if isinstance(x, np.ndarray):
        return isinstance(y, np.ndarray) and x.dtype == y.dtype and np.array_equal(x, y)
    if isinstance(x, Image.Image):
        return isinstance(y, Image.Image) and x.mode == y.mode and x.size == y.size and x.tobytes() == y.tobytes()
    if isinstance(x, dict):
        return isinstance(y, dict) and x.keys() == y.keys() and all(same(x[k], y[k]) for k in x)
    if isinstance(x, list):
        return isinstance(y, list) and len(x) == len(y) and all(same(a, b) for a, b in zip(x, y, strict=True))
    return x == y and type(x) is type(y)


@pytest.mark.parametrize("fmt", ["jsonl", "jsonl-seed", "parquet"])
def test_arrays_bytes_images_and_audio_round_trip(tmp_path, fmt):
    recs = sample_records()
    if fmt == "parquet":
        path, write, read = tmp_path / "d.parquet", WriteParquet, ReadParquet
    else:
        path, read = tmp_path / "d.jsonl", ReadJsonl
        write = (lambda p: WriteJsonl(p, packing="seed")) if fmt == "jsonl-seed" else WriteJsonl
    (FromList(recs) | write(path)).run()
    back = (read(str(path)) | OutputEntries()).execute()
    assert [e.idx for e in back] == ["a", "b"]
    for rec, e in zip(recs, back, strict=True):
        for k, v in rec.items():
            if k == "idx":
                continue
            want = {"n": [1.5]} if k == "meta" and rec["meta"]["n"] else v  # numpy scalars come back as floats
            assert same(want, e.data[k]), (fmt, k)
    with wave.open(io.BytesIO(back[0].data["audio"])) as w:  # the sound file itself is intact
        assert w.getnframes() == 800


def test_the_seeds_packed_values_are_read_as_values(tmp_path):
    arr = np.arange(6, dtype=np.float16).reshape(2, 3)
    seed = bf.base64
    line = {
        "idx": "k",
        "rev": 0,
        "emb": seed.encode_ndarray(arr),
        "raw": seed.encode_bytes(b"meow"),
        "pic": seed.encode_image(Image.new("RGB", (3, 2), (9, 8, 7))),
        "text": "plain",
    }
    path = tmp_path / "seed.jsonl"
    path.write_text(json.dumps(line) + "\n")  # a file as batchfactory wrote it
    (e,) = (ReadJsonl(str(path)) | OutputEntries()).execute()
    assert same(arr, e.data["emb"]) and e.data["raw"] == b"meow"
    assert e.data["pic"].size == (3, 2) and e.data["pic"].getpixel((0, 0)) == (9, 8, 7)
    # seed code that decodes by hand still works on what bfnb already unpacked
    assert same(arr, seed.decode_ndarray(e.data["emb"])) and seed.decode_bytes(e.data["raw"]) == b"meow"
    assert seed.decode_image(e.data["pic"]) is e.data["pic"]


def test_writing_the_seeds_form_and_a_dict_that_only_looks_packed(tmp_path):
    lookalike = {"format": "bytes", "bytes": "aGk="}  # a user's dict, not a packed value
    path = tmp_path / "out.jsonl"
    (
        FromList([{"idx": "k", "emb": np.ones(2, dtype="float32"), "d": lookalike}]) | WriteJsonl(path, packing="seed")
    ).run()
    rec = json.loads(path.read_text())
    assert rec["emb"] == {"format": "numpy.ndarray", "bytes": "AACAPwAAgD8=", "dtype": "float32", "shape": [2]}
    (e,) = (ReadJsonl(str(path)) | OutputEntries()).execute()
    assert e.data["d"] == lookalike  # stays a dict
    assert bf.unpack(bf.pack(lookalike)) == lookalike and bf.unpack(bf.pack(lookalike, style="seed")) == lookalike
    with pytest.raises(ValueError, match="accepted: bfnb, seed"):
        WriteJsonl(path, packing="msgpack")
    with pytest.raises(ValueError, match="accepted: bfnb, seed"):
        bf.pack(1, style="pickle")


def test_pack_and_unpack_helpers():
    img = Image.new("L", (2, 2), 200)
    for style in ("bfnb", "seed"):
        packed = bf.pack({"img": img, "a": np.eye(2), "b": b"x"}, style=style)
        json.dumps(packed)  # JSON-able
        out = bf.unpack(packed)
        assert same({"img": img, "a": np.eye(2), "b": b"x"}, out)
    assert bf.base64.resize_image_downscale(Image.new("RGB", (100, 50)), 10, 10).size == (10, 5)


def test_pillow_is_optional(tmp_path):
    import subprocess
    import sys

    path = tmp_path / "img.jsonl"
    (FromList([{"idx": "k", "img": Image.new("RGB", (1, 1))}]) | WriteJsonl(path)).run()
    code = f"""
import sys; sys.modules["PIL"] = None  # as if Pillow were not installed
import numpy as np, bfnb as bf
from bfnb.op import *
assert "PIL" not in [m for m in sys.modules if sys.modules[m] is not None]
(e,) = (FromList([{{"a": np.ones(2), "b": b"x"}}]) | OutputEntries()).execute()
assert bf.unpack(bf.pack(e.data["a"])).tolist() == [1.0, 1.0]
try:
    ReadJsonl({str(path)!r}).run()
except Exception as err:
    print(type(err).__name__, err)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "reading it needs Pillow: pip install pillow" in out.stdout
