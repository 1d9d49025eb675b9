"""Atomic writes for everything gspmc produces (reports, score files, tables, configs, checkpoints,
description stores, embedding caches, pose files, packed data, index and cache folders): the one
place this is implemented.

A file either appears complete or not at all: we write a temporary file in the same folder, flush
it to disk and ``os.replace`` it over the target. A run killed mid-write (even by SIGKILL) leaves
the previous version (or nothing), never a truncated file that a later resume would trust.
Folders (a cloned repository, an extracted archive, a search index) are built under a temporary
name and renamed into place with :func:`replace_dir`.

Temporary names carry the writer's process id (``.<name>.<pid>.<random>.tmp`` / ``.partial``), so
:func:`remove_stale_temps` can delete what a killed process left without touching the temporary
file of a writer that is still running.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from gspmc.faults import armed, kill_point

_TEMP = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.[^.]+\.(tmp|partial)$")


def atomic_write(path: str | os.PathLike[str], write: Callable[[BinaryIO], None]) -> Path:
    """Call ``write(f)`` on a temporary binary file next to ``path``, then move it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent)
    try:
        # mkstemp creates 0600: keep the mode of the file being replaced, else what open() would give
        os.chmod(tmp, path.stat().st_mode & 0o777 if path.exists() else 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as f:
            write(_KillMidWrite(f, f"write:{path.name}") if armed(f"write:{path.name}") else f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


class _KillMidWrite:
    """A file wrapper for the crash tests (gspmc.faults): its first write puts half the bytes on disk,
    then reaches the kill point, then writes the rest."""

    def __init__(self, f: BinaryIO, point: str) -> None:
        self._f, self._point, self._done = f, point, False

    def write(self, data: bytes) -> int:
        if self._done or len(data) < 2:
            return self._f.write(data)
        self._done = True
        view = memoryview(data)
        half = len(view) // 2
        self._f.write(view[:half])
        self._f.flush()
        os.fsync(self._f.fileno())
        kill_point(self._point)
        return half + self._f.write(view[half:])

    def __getattr__(self, name: str) -> Any:
        return getattr(self._f, name)


def temp_dir(final: str | os.PathLike[str]) -> Path:
    """A new empty folder next to ``final`` to build it in (then :func:`replace_dir`)."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{final.name}.{os.getpid()}.", suffix=".partial", dir=final.parent))


def replace_dir(tmp: str | os.PathLike[str], final: str | os.PathLike[str]) -> bool:
    """Move the finished folder ``tmp`` to ``final`` (one rename: readers see the old folder or the new
    one, never a half-written one), replacing an old ``final``.

    Returns False, and removes ``tmp``, when another process put its own ``final`` in place between our
    removal of the old one and our rename (the caller may then use what it built, or ``final``).
    """
    tmp, final = Path(tmp), Path(final)
    if final.exists():
        shutil.rmtree(final)
    try:
        os.replace(tmp, final)
    except OSError:
        if not final.is_dir():
            raise
        shutil.rmtree(tmp, ignore_errors=True)
        return False
    return True


def remove_stale_temps(folder: str | os.PathLike[str], recursive: bool = False) -> list[Path]:
    """Delete the temporary files and folders that killed writers left in ``folder`` (those whose
    process id is no longer running); returns what was removed. A live writer's temporary is kept."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    removed = []
    for p in folder.rglob(".*") if recursive else folder.glob(".*"):
        m = _TEMP.match(p.name)
        if m is None or _alive(int(m["pid"])):
            continue
        if p.is_dir():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)
        removed.append(p)
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True  # another thread of ours may be writing it
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Atomically write bytes."""
    return atomic_write(path, lambda f: f.write(data))


def write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Atomically write UTF-8 text."""
    return atomic_write(path, lambda f: f.write(text.encode("utf-8")))


def write_json(path: str | os.PathLike[str], obj: Any) -> Path:
    """Atomically write ``obj`` as indented JSON (numpy scalars/arrays become plain numbers/lists)."""
    return write_text(path, json.dumps(obj, indent=2, default=_json_default) + "\n")


def write_npz(path: str | os.PathLike[str], **arrays: np.ndarray) -> Path:
    """Atomically write a compressed ``.npz`` (no pickled objects: string arrays are stored as unicode)."""

    def _write(f: BinaryIO) -> None:
        buf = io.BytesIO()
        np.savez_compressed(buf, **{k: np.asarray(v) for k, v in arrays.items()})
        f.write(buf.getvalue())

    return atomic_write(path, _write)


def read_json(path: str | os.PathLike[str]) -> Any:
    """Read a JSON file written by :func:`write_json`."""
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def plain(obj: Any) -> Any:
    """Tuples -> lists recursively: what YAML, JSON and ``torch.load(weights_only=True)`` accept."""
    if isinstance(obj, dict):
        return {k: plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [plain(v) for v in obj]
    return obj
