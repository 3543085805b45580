"""``python -m bfnb``: a thin command line.

python -m bfnb quickstart [--out DIR]   run notebooks/1_quickstart.ipynb (offline without a key)
python -m bfnb serve [--port N ...]     the local OpenAI-compatible server
python -m bfnb ledger PROJECT_DIR       summarise a project's ledger
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def _repo_root() -> Path:
    here = Path.cwd()
    for p in [here, *here.parents]:
        if (p / "notebooks" / "1_quickstart.ipynb").exists():
            return p
    pkg = Path(__file__).resolve().parent.parent
    return pkg


def quickstart(args: argparse.Namespace) -> int:
    import nbformat
    from nbclient import NotebookClient

    root = _repo_root()
    nb_path = root / "notebooks" / "1_quickstart.ipynb"
    if not nb_path.exists():
        print(f"cannot find {nb_path}", file=sys.stderr)
        return 2
    if not os.environ.get("OPENAI_API_KEY") and not os.environ.get("BFNB_MODEL"):
        os.environ.setdefault("BFNB_OFFLINE", "1")
        print("No OPENAI_API_KEY set: running offline on the built-in local model (BFNB_OFFLINE=1).")
    out_dir = Path(args.out or root / "data").absolute()
    out_dir.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("BFNB_DATA_DIR", str(out_dir / "projects"))
    nb = nbformat.read(nb_path, as_version=4)
    print(f"Executing {nb_path.relative_to(root)} in a fresh kernel ...")
    client = NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(nb_path.parent)}}
    )
    client.execute()
    executed = out_dir / "1_quickstart.executed.ipynb"
    nbformat.write(nb, executed)
    print(f"Executed notebook: {executed}")
    poems = sorted(Path(os.environ["BFNB_DATA_DIR"]).glob("quickstart_v*/out/poems.md"))
    if poems:
        print(f"Poems written to: {poems[-1]}\n")
        print(poems[-1].read_text(encoding="utf-8")[:1500])
    return 0


def serve(args: argparse.Namespace) -> int:
    from .server import main as server_main

    return int(server_main(args.rest) or 0)


def ledger(args: argparse.Namespace) -> int:
    from .ledger import Ledger

    path = Path(args.path)
    if (path / "ledger").is_dir():
        path = path / "ledger"
    with Ledger(path) as led:
        print(led.stats())
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bfnb")
    sub = parser.add_subparsers(dest="cmd", required=True)
    q = sub.add_parser("quickstart", help="run the quickstart notebook")
    q.add_argument("--out", help="where to write the executed notebook and project data (default ./data)")
    q.set_defaults(fn=quickstart)
    s = sub.add_parser("serve", help="run the local OpenAI-compatible server")
    s.add_argument("rest", nargs=argparse.REMAINDER)
    s.set_defaults(fn=serve)
    led = sub.add_parser("ledger", help="summarise a project's ledger")
    led.add_argument("path")
    led.set_defaults(fn=ledger)
    args = parser.parse_args(argv)
    return int(args.fn(args))


if __name__ == "__main__":
    sys.exit(main())
