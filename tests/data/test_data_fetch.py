"""`gspmc data`: packing an MP_Data tree from a local git repository / archive into the npz format."""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from data_builders import mp_frame, write_tree

from gspmc.cli import main
from gspmc.data.fetch import git_signers
from gspmc.data.readers.npz import read_mp_npz
from gspmc.errors import DataError

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def _git(repo: Path, *args: str, author: str | None = None) -> None:
    env = dict(os.environ)
    if author:
        env.update(GIT_AUTHOR_NAME=author, GIT_AUTHOR_EMAIL=f"{author}@x", GIT_COMMITTER_NAME=author,
                   GIT_COMMITTER_EMAIL=f"{author}@x")
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, env=env)


def _clips(rng: np.random.Generator) -> dict[tuple[str, str], np.ndarray]:
    return {
        ("tea", "0"): np.stack([mp_frame(rng) for _ in range(3)]),
        ("tea", "1"): np.stack([mp_frame(rng, left=False) for _ in range(3)]),
        ("-", "0"): np.zeros((3, 258), np.float32),
        ("coffee", "0"): np.stack([mp_frame(rng) for _ in range(2)]),
    }


@pytest.fixture
def repo(tmp_path: Path) -> tuple[Path, dict]:
    """A git repo: ann commits tea/0, tea/1, -/0; bob then edits one frame of tea/1 and adds coffee/0."""
    root = tmp_path / "traduttore-model"
    root.mkdir()
    _git(root, "init", "-q")
    clips = _clips(np.random.default_rng(0))
    first = {k: v for k, v in clips.items() if k[0] != "coffee"}
    tea1 = first[("tea", "1")].copy()
    tea1[0] = 0.5  # the first version of the frame bob edits later
    write_tree(root / "MP_Data", {**first, ("tea", "1"): tea1})
    (root / "README.md").write_text("x")
    _git(root, "add", ".")
    _git(root, "commit", "-qm", "ann's recordings", author="ann")
    write_tree(root / "MP_Data", {("tea", "1"): clips[("tea", "1")], ("coffee", "0"): clips[("coffee", "0")]})
    _git(root, "add", ".")
    _git(root, "commit", "-qm", "bob's recordings", author="bob")
    return root, clips


def _check_packed(out: Path, clips: dict, signers: dict[str, str | None]) -> None:
    with np.load(out, allow_pickle=False) as z:
        assert set(z.files) == {"keypoints", "lengths", "labels", "classes", "signers", "sessions", "ids"}
        assert z["keypoints"].dtype == np.float16 and z["keypoints"].shape == (4, 3, 258)
        assert z["classes"].tolist() == ["-", "coffee", "tea"]
        assert z["ids"].tolist() == ["MP_Data/-/0", "MP_Data/coffee/0", "MP_Data/tea/0", "MP_Data/tea/1"]
        assert z["lengths"].tolist() == [3, 2, 3, 3] and z["labels"].tolist() == [0, 1, 2, 2]
        assert z["sessions"].tolist() == ["MP_Data"] * 4
        for i, key in enumerate([("-", "0"), ("coffee", "0"), ("tea", "0"), ("tea", "1")]):
            frames = clips[key]
            np.testing.assert_array_equal(z["keypoints"][i, : len(frames)], frames.astype(np.float16))
            assert not z["keypoints"][i, len(frames):].any()
    cs = read_mp_npz(out)  # reader (a) reads what `gspmc data` writes
    assert {s.id: s.signer for s in cs.samples} == signers
    np.testing.assert_array_equal(cs[2].coords[:, 0], clips[("tea", "0")][:, :3].astype(np.float16).astype(np.float32))


def test_git_repo_signers_from_history(repo: tuple[Path, dict], tmp_path: Path, capsys) -> None:
    root, clips = repo
    out = tmp_path / "out" / "packed.npz"
    assert main(["data", "--source", str(root), "--out", str(out), "--no-progress"]) == 0
    expected = {"MP_Data/-/0": "ann", "MP_Data/coffee/0": "bob", "MP_Data/tea/0": "ann", "MP_Data/tea/1": "bob"}
    _check_packed(out, clips, expected)
    assert git_signers(root / "MP_Data", root / "MP_Data") == expected
    assert "2 author(s) over 4 clips" in capsys.readouterr().out
    # an existing output is kept (resume / skip) unless --force
    stamp = out.stat().st_mtime_ns
    assert main(["data", "--source", str(root), "--out", str(out), "--no-progress"]) == 0
    assert out.stat().st_mtime_ns == stamp and "already there" in capsys.readouterr().out
    assert main(["data", "--source", str(root), "--out", str(out), "--force", "--no-progress"]) == 0
    assert not list(out.parent.glob(".*.tmp"))  # no temp file left behind
    blocked = tmp_path / "file-not-folder"
    blocked.write_text("x")
    assert main(["data", "--source", str(root), "--out", str(blocked / "x.npz"), "--no-progress"]) == 2
    assert "cannot write" in capsys.readouterr().err


def test_clone_by_url(repo: tuple[Path, dict], tmp_path: Path) -> None:
    root, clips = repo
    out = tmp_path / "cloned.npz"
    assert main(["data", "--source", root.as_uri(), "--out", str(out), "--no-progress"]) == 0
    _check_packed(out, clips, {"MP_Data/-/0": "ann", "MP_Data/coffee/0": "bob", "MP_Data/tea/0": "ann",
                               "MP_Data/tea/1": "bob"})


def test_zip_and_tar_archives(repo: tuple[Path, dict], tmp_path: Path, capsys) -> None:
    root, clips = repo
    zpath = tmp_path / "traduttore-model-main.zip"
    with zipfile.ZipFile(zpath, "w") as zf:  # GitHub's "Download ZIP": one top folder, no history
        for f in sorted((root / "MP_Data").rglob("*.npy")):
            zf.write(f, "traduttore-model-main/" + f.relative_to(root).as_posix())
    out = tmp_path / "z.npz"
    assert main(["data", "--source", str(zpath), "--out", str(out), "--no-progress"]) == 0
    assert "signers are unknown" in capsys.readouterr().out
    _check_packed(out, clips, dict.fromkeys(["MP_Data/-/0", "MP_Data/coffee/0", "MP_Data/tea/0", "MP_Data/tea/1"]))
    signer_map = tmp_path / "signers.csv"
    signer_map.write_text("MP_Data/tea/0,carla\nMP_Data/-/0,dan\n")
    tpath = tmp_path / "src.tar.gz"
    with tarfile.open(tpath, "w:gz") as tf:
        tf.add(root / "MP_Data", arcname="repo/MP_Data")
    out2 = tmp_path / "t.npz"
    assert main(["data", "--source", str(tpath), "--out", str(out2), "--signer-map", str(signer_map),
                 "--no-progress"]) == 0
    _check_packed(out2, clips, {"MP_Data/-/0": "dan", "MP_Data/coffee/0": None, "MP_Data/tea/0": "carla",
                                "MP_Data/tea/1": None})


def test_bad_sources(tmp_path: Path, capsys) -> None:
    out = tmp_path / "o.npz"
    bad_zip = tmp_path / "bad.zip"
    bad_zip.write_bytes(b"PK\x03\x04 truncated")
    assert main(["data", "--source", str(bad_zip), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert str(bad_zip) in err and "corrupt or truncated archive" in err
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as zf:
        zf.writestr("../../escape.npy", b"x")
    assert main(["data", "--source", str(evil), "--out", str(out)]) == 2
    assert "outside the target folder" in capsys.readouterr().err
    assert not (tmp_path.parent / "escape.npy").exists()
    empty_zip = tmp_path / "empty.zip"
    with zipfile.ZipFile(empty_zip, "w") as zf:
        zf.writestr("README.md", "no data")
    assert main(["data", "--source", str(empty_zip), "--out", str(out)]) == 2
    assert "no MP_Data folder" in capsys.readouterr().err
    text = tmp_path / "a.txt"
    text.write_text("x")
    assert main(["data", "--source", str(text), "--out", str(out)]) == 2
    assert "not an archive" in capsys.readouterr().err
    assert main(["data", "--source", str(tmp_path / "missing"), "--out", str(out)]) == 2
    assert not out.exists()
    with pytest.raises(DataError, match="no such file"):
        from gspmc.data.fetch import pack

        pack(source=str(tmp_path / "missing"), out=out)
