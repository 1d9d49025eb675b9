"""gspmc.io: atomic files (even under SIGKILL mid-write), atomic folder replacement, stale temporaries."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gspmc.faults import ENV
from gspmc.io import remove_stale_temps, replace_dir, temp_dir, write_text


def _env(kill: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != ENV}
    if kill:
        env[ENV] = kill
    return env


def test_sigkill_mid_write_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "x.txt"
    write_text(target, "old\n")
    code = f"from gspmc.io import write_text; write_text({str(target)!r}, 'new ' * 5000)"
    done = subprocess.run([sys.executable, "-c", code], env=_env("write:x.txt"), capture_output=True)
    assert done.returncode == -9, done.stderr  # it really died there, with SIGKILL
    assert target.read_text() == "old\n"  # the previous version, complete
    partial = list(tmp_path.glob(".x.txt.*.tmp"))
    assert len(partial) == 1 and partial[0].stat().st_size == len("new " * 5000) // 2  # died mid-write
    assert remove_stale_temps(tmp_path) == partial and not partial[0].exists()
    # without the kill point the same write goes through
    assert subprocess.run([sys.executable, "-c", code], env=_env(None)).returncode == 0
    assert target.read_text() == "new " * 5000


def test_remove_stale_temps_keeps_a_live_writers_file(tmp_path: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # reaped: its pid is free
    stale = tmp_path / f".a.npz.{dead.pid}.k3j.tmp"
    live = tmp_path / f".a.npz.{os.getppid()}.k4j.tmp"  # our parent process is running
    mine = tmp_path / f".b.json.{os.getpid()}.x1.tmp"
    folder = tmp_path / f".index.{dead.pid}.zz.partial"
    for p in (stale, live, mine):
        p.write_bytes(b"half")
    folder.mkdir()
    (folder / "meta.json").write_text("{}")
    other = tmp_path / ".hidden"
    other.write_text("not ours")
    assert sorted(remove_stale_temps(tmp_path)) == sorted([stale, folder])
    assert live.exists() and mine.exists() and other.exists()


def test_replace_dir(tmp_path: Path) -> None:
    final = tmp_path / "slot"
    tmp = temp_dir(final)
    assert tmp.parent == tmp_path and tmp.name.startswith(f".slot.{os.getpid()}.") and not any(tmp.iterdir())
    (tmp / "a").write_text("1")
    assert replace_dir(tmp, final) and (final / "a").read_text() == "1" and not tmp.exists()
    tmp2 = temp_dir(final)
    (tmp2 / "b").write_text("2")
    assert replace_dir(tmp2, final)  # an old folder is replaced whole
    assert sorted(p.name for p in final.iterdir()) == ["b"]
    with pytest.raises(FileNotFoundError):
        replace_dir(tmp_path / "missing", tmp_path / "other")


def test_replace_dir_when_another_process_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Between our removal of the old folder and our rename, another writer renames its own folder in."""
    import gspmc.io

    final, tmp = tmp_path / "index", temp_dir(tmp_path / "index")
    (tmp / "ours").write_text("1")
    real_replace = os.replace

    def racing_replace(src: object, dst: object) -> None:
        (final / "theirs").parent.mkdir()
        (final / "theirs").write_text("2")
        real_replace(src, dst)  # fails: the target is a non-empty folder now

    monkeypatch.setattr(gspmc.io.os, "replace", racing_replace)
    assert replace_dir(tmp, final) is False
    assert not tmp.exists() and [p.name for p in final.iterdir()] == ["theirs"]
