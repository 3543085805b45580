"""ProjectFolder: a folder namespace for one project's outputs, ledger and checkpoints.

``ProjectFolder("quickstart", 1, 0, 7)`` is ``./data/projects/quickstart_v1.0.7/``.  The version
numbers only name the folder: bfnb caches by content, so editing a prompt does not need a new
version; bump it when you want a clean slate.  Paths from ``project["out/x.md"]`` stay inside the
folder: ``..`` and absolute paths are refused.  That is checked again when a writer writes
(:func:`ensure_inside`), on the real path: a folder of the project swapped for a symlink after
``project[...]`` was called cannot carry a write outside it.
"""

from __future__ import annotations

import contextvars
import os
from pathlib import Path, PurePosixPath
from typing import Any

from .errors import PathError, WriteError

__all__ = ["ProjectFolder", "check_name", "current_project", "ensure_inside"]

_current: contextvars.ContextVar[ProjectFolder | None] = contextvars.ContextVar("bfnb_project", default=None)
_last: list[ProjectFolder] = []  # the most recently entered project, for ops built outside `with`
_roots: set[Path] = set()  # every project folder made in this process (absolute, not resolved)


def _default_data_dir() -> str:
    return os.environ.get("BFNB_DATA_DIR", "./data/projects")


class ProjectFolder:
    """A project's folder; use it as a context manager while building the graph."""

    def __init__(
        self,
        project_name: str,
        version: int = 0,
        minor_version: int = 0,
        patch_version: int = 0,
        *,
        data_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        if not project_name or any(c in project_name for c in "/\\") or project_name in (".", ".."):
            raise PathError(f"invalid project name {project_name!r}: a non-empty name without '/' or '\\'")
        check_name(project_name, "project name")
        self.name = project_name
        self.version = (int(version), int(minor_version), int(patch_version))
        base = Path(data_dir if data_dir is not None else _default_data_dir())
        self.root_folder = (base / f"{project_name}_v{version}.{minor_version}.{patch_version}").absolute()
        try:
            self.root_folder.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            where = "data_dir=" if data_dir is not None else "BFNB_DATA_DIR (or data_dir=)"
            raise WriteError(
                f"cannot create the project folder {str(self.root_folder)!r}: {e.strerror or e}; "
                f"choose a writable place with {where}"
            ) from e
        _roots.add(self.root_folder)
        self._token: contextvars.Token[ProjectFolder | None] | None = None
        self._ledger: Any = None

    # --- context ----------------------------------------------------------------------------

    def __enter__(self) -> ProjectFolder:
        self._token = _current.set(self)
        _last[:] = [self]
        return self

    def __exit__(self, *exc: object) -> None:
        if self._token is not None:
            _current.reset(self._token)
            self._token = None

    @staticmethod
    def get_current() -> ProjectFolder:
        p = current_project()
        if p is None:
            raise RuntimeError("no ProjectFolder is active; use `with bf.ProjectFolder(...) as project:`")
        return p

    # --- paths ------------------------------------------------------------------------------

    def resolve_path(self, rel: str | os.PathLike[str], *, mkdir: bool = True) -> Path:
        """``root/rel``, refusing absolute paths and anything that climbs out with ``..``."""
        text = os.fspath(rel)
        check_name(text, "project path")
        pure = PurePosixPath(text.replace("\\", "/"))
        if pure.is_absolute() or Path(text).is_absolute() or (len(text) > 1 and text[1] == ":"):
            raise PathError(f"project paths are relative to the project folder; got absolute path {text!r}")
        if ".." in pure.parts:
            raise PathError(f"project paths may not contain '..': {text!r}")
        path = (self.root_folder / pure).resolve()
        root = self.root_folder.resolve()
        if path != root and root not in path.parents:  # a symlink inside pointing outside
            raise PathError(f"{text!r} resolves outside the project folder {str(root)!r}")
        if mkdir:
            path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def __getitem__(self, rel: str) -> Path:
        return self.resolve_path(rel)

    def __truediv__(self, rel: str) -> Path:
        return self.resolve_path(rel)

    @property
    def ledger_dir(self) -> Path:
        return self.resolve_path("ledger/x").parent

    @property
    def checkpoint_dir(self) -> Path:
        return self.resolve_path("checkpoints/x").parent

    @property
    def ledger(self) -> Any:
        """The project's call ledger (opened on first use, shared by every op of the project)."""
        if self._ledger is None:
            self._ledger = _shared_ledger(self.ledger_dir)
        return self._ledger

    def __repr__(self) -> str:
        v = ".".join(map(str, self.version))
        return f"ProjectFolder({self.name!r}, v{v}, root={str(self.root_folder)!r})"

    def __bfnb_fingerprint__(self) -> str:
        from .fingerprint import hash_bytes

        return hash_bytes(str(self.root_folder).encode())


_ledgers: dict[str, Any] = {}


def _shared_ledger(path: Path) -> Any:
    """One Ledger object per folder per process (two ProjectFolder objects for one folder share it)."""
    from .ledger import Ledger

    key = str(path.resolve())
    if key not in _ledgers:
        _ledgers[key] = Ledger(path)
    return _ledgers[key]


def check_name(text: str, what: str, *, op: Any = None, idx: Any = None, field: Any = None) -> None:
    """PathError for a name no file system can hold: a NUL, or a lone surrogate (not encodable)."""
    if "\0" in text:
        raise PathError(f"{what} {text!r} contains a NUL character", op=op, idx=idx, field=field)
    try:
        os.fsencode(text)
    except UnicodeEncodeError as e:
        raise PathError(
            f"{what} {text!r} contains {text[e.start : e.end]!r}, which no file name can hold (a lone surrogate: "
            f"text decoded with errors='surrogateescape' or cut in the middle of a character?)",
            op=op,
            idx=idx,
            field=field,
        ) from None


def ensure_inside(path: str | os.PathLike[str], base: str | os.PathLike[str] | None = None, *, op: Any = None,
                  idx: Any = None, field: Any = None) -> Path:  # fmt: skip
    """``path``, checked at write time on its real path: inside ``base`` (if given) and inside the
    project folder it lies in (if any).  PathError names where the real path leads."""
    p = Path(path).absolute()
    check_name(str(p), "output path", op=op, idx=idx, field=field)
    real = Path(os.path.realpath(p))
    folders = [Path(base).absolute()] if base is not None else []
    folders += [r for r in list(_roots) if r == p or r in p.parents]
    for folder in folders:
        real_folder = Path(os.path.realpath(folder))
        if real != real_folder and real_folder not in real.parents:
            raise PathError(
                f"refusing to write {str(p)!r}: its real path {str(real)!r} is outside {str(folder)!r} "
                f"(a symlinked folder?)",
                op=op,
                idx=idx,
                field=field,
            )
    return p


def current_project() -> ProjectFolder | None:
    """The project of the enclosing ``with`` block, else the last one entered, else None."""
    p = _current.get()
    if p is not None:
        return p
    return _last[0] if _last else None


def default_project() -> ProjectFolder:
    """The project used when none was given: ``BFNB_DATA_DIR``/default_v0.0.0."""
    p = current_project()
    return p if p is not None else ProjectFolder("default")
