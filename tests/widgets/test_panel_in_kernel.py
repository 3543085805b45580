"""The live panel inside a real kernel: shown as a widget, and updated while a blocking run goes on."""

from __future__ import annotations

import os
import queue
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

CODE = """
import time
from bfnb.brokers.broker import Job
from bfnb.brokers.config import RateLimits
from bfnb.brokers.function import FunctionBroker
from bfnb.executor.loop import run_sync
from bfnb.widgets import live_progress

def slow(request):
    time.sleep(0.06)
    return {"usage": {"prompt_tokens": 10, "completion_tokens": 5}}

broker = FunctionBroker(slow, name="slow <b>", limits=RateLimits(concurrency=1))
with live_progress(lambda: [broker], interval=0.1) as panel:
    run_sync(broker.run([Job(f"k{i}", "chat", {"i": i}) for i in range(20)], on_record=lambda r: None))
print(type(panel).__name__, panel._rows["slow <b>"].bar.value)
"""


@pytest.mark.notebook
def test_panel_is_a_widget_and_moves_during_a_blocking_run(tmp_path):
    jupyter_client = pytest.importorskip("jupyter_client")
    env = dict(os.environ, PYTHONPATH=str(ROOT), IPYTHONDIR=str(tmp_path / "ipython"))
    km = jupyter_client.KernelManager(kernel_name="python3")
    km.start_kernel(env=env, cwd=str(ROOT))
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        msg_id = kc.execute(CODE)
        displays, stdout, errors, bar_values = [], [], [], []
        while True:
            try:
                msg = kc.get_iopub_msg(timeout=60)
            except queue.Empty:
                pytest.fail("the kernel did not finish the cell")
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "display_data":
                displays.append(content["data"])
            elif kind == "stream":
                (stdout if content["name"] == "stdout" else errors).append(content["text"])
            elif kind == "error":
                errors.append("\n".join(content["traceback"]))
            elif kind == "comm_msg":
                state = content["data"].get("state", {})
                if "value" in state and isinstance(state["value"], int):
                    bar_values.append(state["value"])
            elif kind == "status" and content["execution_state"] == "idle":
                break
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    assert not errors, errors
    assert "".join(stdout).strip() == "BrokerPanel 20"
    (data,) = displays
    assert data["text/plain"] == "BrokerPanel(brokers=['slow <b>'])"
    assert "application/vnd.jupyter.widget-view+json" in data
    # the refresher thread sent progress while the cell was still blocked in run_sync
    assert any(0 < v < 20 for v in bar_values), bar_values
    assert bar_values[-1] == 20
