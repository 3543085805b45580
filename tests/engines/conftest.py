"""The engine conformance suite: every case runs on every engine and must equal the local result.

Gaps are declared, not skipped: ``@pytest.mark.notimpl(["ray"], reason=...)`` marks a case an
engine does not do yet, ``@pytest.mark.never([...], reason=...)`` one it will never do by design.
Both become strict xfails (``xfail_strict = true``), so a gap that closes fails the suite until
its marker is removed.  Chunked engines run with tiny chunks here, so a few dozen entries cross
several chunk boundaries.
"""

from __future__ import annotations

import importlib.util
import os

import pytest

from bfnb.engines import get_engine

ENGINES = ["local", "stream"] + (["ray"] if importlib.util.find_spec("ray") else [])


@pytest.fixture(params=ENGINES)
def engine(request):
    name = request.param
    for mark_name in ("notimpl", "never"):
        for mark in request.node.iter_markers(mark_name):
            if name in mark.args[0]:
                request.applymarker(
                    pytest.mark.xfail(reason=f"{mark_name} on {name}: {mark.kwargs.get('reason', '')}", strict=True)
                )
    if name == "ray":
        request.getfixturevalue("ray_session")
    eng = get_engine(name)
    knob = "chunk_rows" if hasattr(eng, "chunk_rows") else "batch_rows" if hasattr(eng, "batch_rows") else None
    old = getattr(eng, knob) if knob else None
    if knob:
        setattr(eng, knob, 7)
    yield name
    if knob:
        setattr(eng, knob, old)


@pytest.fixture(scope="package")
def ray_session():
    """One local Ray for these tests (starting it costs seconds): 2 CPUs, no dashboard; shut down
    after them, so it does not compete with the Ray a notebook test's kernel starts."""
    import ray

    from bfnb.engines.ray import ensure_ray

    started = not ray.is_initialized()
    try:
        ensure_ray()  # as a run would: a local Ray with this machine's CPUs (2 in CI)
    except Exception as e:  # Ray's raylet has a fixed 30 s to start; a shared, overloaded machine misses it
        if os.environ.get("CI"):
            raise
        pytest.skip(f"Ray could not start on this busy machine ({e}); CI runs these cases")
    yield
    if started:
        ray.shutdown()
