"""Cell by cell in a real kernel, the way JupyterLab runs a notebook.

JupyterLab sends each cell's id in the ``execute_request`` metadata (``{"cellId": ...}``); nbclient
and nbval send none.  These tests build those requests themselves with the client's session and
send them on the shell channel of a real ipykernel (cwd and ``BFNB_DATA_DIR`` in a temp folder,
``BFNB_OFFLINE=1``, no API key), then read the iopub outputs of each request.  They check what a
notebook user relies on: re-running an edited cell replaces what that cell added (the graph does
not grow), nothing upstream runs again, only changed requests are sent, re-running an earlier cell
drops what later cells added, and a cell ending in ``g |= op`` shows a bfnb table.
"""

from __future__ import annotations

import os
import queue
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.notebook, pytest.mark.slow]


class Cell:
    """What one execute_request produced: the reply status, stdout, errors and display bundles."""

    def __init__(self, reply: dict[str, Any], outputs: list[dict[str, Any]]) -> None:
        self.status = reply["content"]["status"]
        self.outputs = outputs
        self.stdout = "".join(o["content"]["text"] for o in outputs if o["msg_type"] == "stream" and o["content"]["name"] == "stdout")
        self.stderr = "".join(o["content"]["text"] for o in outputs if o["msg_type"] == "stream" and o["content"]["name"] == "stderr")
        self.errors = [f"{o['content']['ename']}: {o['content']['evalue']}" for o in outputs if o["msg_type"] == "error"]
        self.bundles = [o["content"]["data"] for o in outputs if o["msg_type"] in ("execute_result", "display_data")]

    def html(self) -> str:
        return "\n".join(b["text/html"] for b in self.bundles if "text/html" in b)

    def result_text(self) -> str:
        return "\n".join(b.get("text/plain", "") for b in self.bundles)


class Kernel:
    """A python3 ipykernel of this interpreter, driven through jupyter_client like a front end."""

    def __init__(self, tmp: Path) -> None:
        from jupyter_client.kernelspec import KernelSpecManager
        from jupyter_client.manager import KernelManager

        work = tmp / "work"
        work.mkdir()
        env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
        env.pop("OPENAI_BASE_URL", None)
        env.update(
            BFNB_OFFLINE="1",
            BFNB_DATA_DIR=str(tmp / "bfnb-data"),
            IPYTHONDIR=str(tmp / "ipython"),
            PYTHONPATH=os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p),
        )
        self.km = KernelManager(kernel_name="python3", kernel_spec_manager=KernelSpecManager(kernel_dirs=[]))
        self.km.start_kernel(cwd=str(work), env=env)
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=120)

    def run(self, code: str, cell_id: str, timeout: float = 120) -> Cell:
        """Execute ``code`` as the notebook cell ``cell_id`` (JupyterLab's request shape)."""
        content = {
            "code": textwrap.dedent(code),
            "silent": False,
            "store_history": True,
            "user_expressions": {},
            "allow_stdin": False,
            "stop_on_error": True,
        }
        msg = self.kc.session.msg("execute_request", content=content, metadata={"cellId": cell_id})
        self.kc.shell_channel.send(msg)
        msg_id = msg["header"]["msg_id"]
        deadline = time.monotonic() + timeout
        outputs: list[dict[str, Any]] = []
        while True:  # iopub until this request's kernel status goes idle
            try:
                m = self.kc.get_iopub_msg(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                raise TimeoutError(f"cell {cell_id} did not finish within {timeout} s") from None
            if m["parent_header"].get("msg_id") != msg_id:
                continue
            if m["msg_type"] == "status" and m["content"]["execution_state"] == "idle":
                break
            if m["msg_type"] in ("stream", "execute_result", "display_data", "error"):
                outputs.append(m)
        while True:
            reply = self.kc.get_shell_msg(timeout=max(0.1, deadline - time.monotonic()))
            if reply["parent_header"].get("msg_id") == msg_id:
                return Cell(reply, outputs)

    def ok(self, code: str, cell_id: str) -> Cell:
        cell = self.run(code, cell_id)
        assert cell.status == "ok" and not cell.errors, f"cell {cell_id} failed: {cell.errors}\n{cell.stderr}"
        assert "Traceback" not in cell.stderr, cell.stderr
        return cell

    def close(self) -> None:
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)


@pytest.fixture
def kernel(tmp_path: Path):
    k = Kernel(tmp_path)
    try:
        yield k
    finally:
        k.close()


IMPORTS = """
    import bfnb as bf
    from bfnb.op import *
"""
CELL1 = """
    def shout(word):
        print("computed", word)
        return word.upper()

    g = bf.Graph() | FromList([{"word": "olive"}, {"word": "lyre"}, {"word": "laurel"}])
    g |= MapField(shout, "word", "loud")
"""
CELL2 = 'g |= MapField(lambda loud: loud + "!", "loud", "cheer")'
CELL2_EDITED = 'g |= MapField(lambda loud: loud + "?", "loud", "cheer")'
CELL3 = 'g |= AskLLM("Write a line about {word}.", model="local-chat@local")'
CELL3_EDITED = 'g |= AskLLM("Write a short line about {word}.", model="local-chat@local")'
# A follow-up cell: what the last run did, as one parseable line.
REPORT = """
    _c = g.cost().loc["total"]
    _e = g.explain()
    print(f"ops={len(g)}|sent={_c['calls_sent']}|cached={_c['calls_cached']}|"
          f"served={sorted(_e['served'])}|changed={sorted(set(_e['changed'].dropna()))}|"
          f"tail={g.tail.op.label()}")
"""


def report(k: Kernel, cell_id: str = "report") -> dict[str, str]:
    line = k.ok(REPORT, cell_id).stdout.strip().splitlines()[-1]
    return dict(part.split("=", 1) for part in line.split("|"))


def test_rerunning_cells_replaces_what_they_added(kernel: Kernel):
    kernel.ok(IMPORTS, "c0")  # bfnb hooks into IPython on import, from the next cell on
    c1 = kernel.ok(CELL1, "c1")
    assert c1.stdout.count("computed") == 3  # the cell ends with `g |= op`: it ran and showed
    assert "bfnb-table" in c1.html()

    c2 = kernel.ok(CELL2, "c2")
    assert "computed" not in c2.stdout  # upstream came from the kernel's memo
    assert "OLIVE!" in c2.html()

    c3 = kernel.ok(CELL3, "c3")
    assert "computed" not in c3.stdout
    html = c3.html()
    assert 'class="bfnb bfnb-table"' in html
    assert "3 sent" in c3.result_text()
    first = report(kernel)
    assert first["ops"] == "4" and first["sent"] == "3" and first["cached"] == "0"
    assert first["tail"].startswith("AskLLM")

    # Edit the prompt and run the same cell again: its AskLLM is replaced, not stacked.
    c3b = kernel.ok(CELL3_EDITED, "c3")
    assert "computed" not in c3b.stdout
    edited = report(kernel)
    assert edited["ops"] == "4", edited
    assert edited["sent"] == "3" and edited["cached"] == "0"
    assert edited["changed"] == "['prompt text']", edited

    # Revert the edit: the graph is the first version again, whose result the kernel remembers.
    c3c = kernel.ok(CELL3, "c3")
    reverted = report(kernel)
    assert reverted["ops"] == "4" and reverted["sent"] == "0", reverted
    llm_line = next(ln for ln in c3c.result_text().splitlines() if "AskLLM" in ln)
    assert "memo" in llm_line and "sent" not in llm_line, llm_line

    # Re-run cell 2 edited: the graph is cell 1 + cell 2 again; cell 3's op is gone until it runs.
    c2b = kernel.ok(CELL2_EDITED, "c2")
    assert "computed" not in c2b.stdout
    assert "OLIVE?" in c2b.html() and "OLIVE!" not in c2b.html()
    shape = kernel.ok("print(len(g), g.tail.op.label(), sorted(g.run().columns))", "shape").stdout.split()
    assert shape[:2] == ["3", "MapField"], shape
    assert "'text'," not in " ".join(shape)  # no AskLLM output field any more

    # Cell 3 again on top of the edited cell 2: its input changed, so AskLLM runs, but its
    # requests did not (the prompt reads only {word}): all three answers come from the ledger.
    kernel.ok(CELL3, "c3")
    again = report(kernel)
    assert again["ops"] == "4" and again["sent"] == "0" and again["cached"] == "3", again
    assert again["served"] == "['ledger', 'ledger', 'ledger']", again


def test_two_cells_with_the_same_source_are_two_cells(kernel: Kernel):
    """Cell identity is the cell id, not its text: an identical second cell extends again."""
    kernel.ok(IMPORTS, "a0")
    kernel.ok(CELL1, "a1")
    kernel.ok('g |= MapField(lambda word: word[::-1], "word", "back")', "a2")
    kernel.ok('g |= MapField(lambda word: word[::-1], "word", "back")', "a3")
    out = kernel.ok("print(len(g))", "a4").stdout.split()
    assert out == ["4"], out
    kernel.ok('g |= MapField(lambda word: word[::-1], "word", "back")', "a3")  # a3 again
    out = kernel.ok("print(len(g))", "a4").stdout.split()
    assert out == ["4"], out


def test_a_cell_ending_with_the_graph_shows_the_chain_and_the_table(kernel: Kernel):
    kernel.ok(IMPORTS, "b0")
    kernel.ok(CELL1, "b1")
    cell = kernel.ok("g", "b2")
    assert len(cell.bundles) == 1
    bundle = cell.bundles[0]
    assert "bfnb-table" in bundle["text/html"]
    assert "MapField" in bundle["text/plain"] and "3 entries" in bundle["text/plain"]
    # HTML in data is escaped, never markup.
    cell = kernel.ok(
        """
        x = bf.Graph() | FromList([{"word": '<img src=x onerror="alert(1)">'}])
        x
        """,
        "b3",
    )
    html = cell.html()
    assert "&lt;img src=x onerror=" in html and "<img src=x" not in html
