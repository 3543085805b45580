"""Outside Jupyter a run with broker work prints a text progress bar and a one-line summary."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_script_run_prints_a_summary_line(tmp_path):
    code = textwrap.dedent(
        """
        import bfnb as bf
        from bfnb.op import FromList, AskLLM
        g = FromList([{"w": f"word {i}"} for i in range(20)]) | AskLLM("About {w}")
        out = g.run()
        print("rows", len(out))
        """
    )
    env = {"BFNB_OFFLINE": "1", "BFNB_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120, check=True)
    assert "rows 20" in res.stdout
    assert "chat local-chat@local" in res.stderr and "20 done" in res.stderr, res.stderr[-1500:]
    fresh = {**env, "BFNB_DATA_DIR": str(tmp_path / "quiet")}  # nothing cached: the calls are made again
    quiet = subprocess.run(
        [sys.executable, "-c", "import bfnb as bf; bf.options.progress = False\n" + code],
        capture_output=True,
        text=True,
        env=fresh,
        timeout=120,
        check=True,
    )
    assert "rows 20" in quiet.stdout
    assert "chat local-chat@local" not in quiet.stderr
