"""The GISLR (Kaggle asl-signs) reader: the real 48-file format fixture, parquet trees written here
(several participants, variable length, NaN hands, shuffled rows), the class map, the pack cache
(reused, resumed), each bad input, the registry, participant-grouped folds, `gspmc info` and `gspmc fit`."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

from gspmc.cli import main  # noqa: E402
from gspmc.data import get_protocol, load_dataset  # noqa: E402
from gspmc.data.readers import gislr  # noqa: E402
from gspmc.data.readers.gislr import pack_folder, read_gislr  # noqa: E402
from gspmc.errors import DataError  # noqa: E402
from gspmc.paths import data_dir  # noqa: E402

# Kaggle's row order within a frame; the fixture's files put pose first (the reader must not care)
KAGGLE = (("face", 468), ("left_hand", 21), ("pose", 33), ("right_hand", 21))
# Where (type, landmark_index) lands in mediapipe-holistic-543, written out by hand (pose-format's
# component order: POSE 0-32, FACE 33-500, LEFT_HAND 501-521, RIGHT_HAND 522-542), not via the registry
OFFSET = {"pose": 0, "face": 33, "left_hand": 501, "right_hand": 522}
SIGNS = ("after", "TV", "all")  # in the 250-sign map; sorted they are TV, after, all
TINY_MAP = {"all": 0, "after": 1, "TV": 2, "airplane": 3}  # hand-written, not sorted

FAST = ["model.profile=cpu-small", "model.channels=[8, 8]", "model.strides=[1, 2]", "optim.epochs=1",
        "optim.batch_size=8", "optim.milestones=[3]", "optim.warmup_epochs=0", "input.window=8",
        "trainer.threads=1", "trainer.progress_bar=false", "trainer.accelerator=cpu",
        "trainer.precision=32-true", "trainer.num_workers=0", "augment=null", "data.options.workers=1",
        "data.options.progress=false"]


def clip_columns(rng: np.random.Generator, frames: int, start: int = 20, left_nan: tuple[int, ...] = (),
                 right_nan: tuple[int, ...] = ()) -> dict[str, np.ndarray]:
    """The columns of one clip in Kaggle's row order; the left/right hand is NaN in the listed frames."""
    cols: dict[str, list] = {"frame": [], "row_id": [], "type": [], "landmark_index": []}
    for f in range(start, start + frames):
        for kind, n in KAGGLE:
            cols["frame"] += [f] * n
            cols["type"] += [kind] * n
            cols["landmark_index"] += list(range(n))
            cols["row_id"] += [f"{f}-{kind}-{i}" for i in range(n)]
    out = {k: np.asarray(v) for k, v in cols.items()}
    xyz = rng.uniform(0.05, 0.95, (len(out["frame"]), 3))
    for kind, frames_nan in (("left_hand", left_nan), ("right_hand", right_nan)):
        xyz[(out["type"] == kind) & np.isin(out["frame"] - start, frames_nan)] = np.nan
    out.update(x=xyz[:, 0], y=xyz[:, 1], z=xyz[:, 2])
    return out


def write_parquet(path: Path, cols: dict[str, np.ndarray], order: np.ndarray | None = None) -> Path:
    order = np.arange(len(next(iter(cols.values())))) if order is None else order
    table = pa.table({k: (v[order].tolist() if v.dtype.kind in "OU" else v[order]) for k, v in cols.items()})
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    return path


def expected_arrays(cols: dict[str, np.ndarray], start: int = 20) -> tuple[np.ndarray, np.ndarray]:
    """(T, 543, 3) coords (0 where NaN) and (T, 543) mask from the columns, by the hand-written offsets."""
    frames = int(cols["frame"].max()) - start + 1
    coords = np.zeros((frames, 543, 3), np.float32)
    mask = np.zeros((frames, 543), bool)
    for r in range(len(cols["frame"])):
        t, j = int(cols["frame"][r]) - start, OFFSET[str(cols["type"][r])] + int(cols["landmark_index"][r])
        xyz = np.array([cols["x"][r], cols["y"][r], cols["z"][r]], np.float32)
        if np.isfinite(xyz).all():
            coords[t, j], mask[t, j] = xyz, True
    return coords, mask


def write_tree(root: Path, participants=("16069", "2044", "26734", "37055", "62590"), clips_per_sign: int = 2,
               seed: int = 0) -> dict[str, dict[str, np.ndarray]]:
    """A GISLR-shaped corpus: every participant signs each of SIGNS ``clips_per_sign`` times, 3-9 frames,
    some hands NaN. Returns the columns of each clip by sequence id."""
    rng = np.random.default_rng(seed)
    lines, written = ["path,participant_id,sequence_id,sign"], {}
    seq = 1000
    for p in participants:
        for sign in SIGNS:
            for _ in range(clips_per_sign):
                seq += 1
                frames = int(rng.integers(3, 10))
                cols = clip_columns(rng, frames, left_nan=tuple(range(0, frames, 2)), right_nan=(1,) if seq % 3 else ())
                rel = f"train_landmark_files/{p}/{seq}.parquet"
                write_parquet(root / rel, cols)
                lines.append(f"{rel},{p},{seq},{sign}")
                written[str(seq)] = cols
    (root / "train.csv").write_text("\n".join(lines) + "\n")
    return written


@pytest.fixture(scope="module")
def sign_map(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real 250-sign map when the shared data is here, else a tiny hand-written one."""
    real = data_dir() / "vocab" / "gislr250_sign_to_prediction_index_map.json"
    if real.is_file():
        return real
    path = tmp_path_factory.mktemp("map") / "tiny_map.json"
    path.write_text(json.dumps(TINY_MAP))
    return path


@pytest.fixture()
def tree(tmp_path: Path) -> tuple[Path, dict[str, dict[str, np.ndarray]]]:
    root = tmp_path / "asl-signs"
    return root, write_tree(root)


@pytest.fixture(scope="module")
def gislr_format(shared_data: Path) -> Path:
    """The 48-file fixture in the shared data (absent data: skipped, or failed in CI, by ``shared_data``)."""
    path = shared_data / "gislr-format"
    assert (path / "train.csv").is_file(), f"the GISLR format fixture is missing from {shared_data}"
    return path


def read(root: Path, **kw) -> object:
    return read_gislr(root, workers=kw.pop("workers", 1), progress=False, **kw)


# ---------------------------------------------------------------------------------------------- the fixture


@pytest.mark.shared_data
def test_real_fixture_without_a_map(gislr_format: Path) -> None:
    clips = read(gislr_format)
    assert len(clips) == 48 and len(clips.classes) == 24 and clips.layout == "mediapipe-holistic-543"
    assert clips.classes == sorted(clips.classes) and clips.classes[:3] == ["A", "B", "C"]
    assert {s.signer for s in clips.samples} == {"100"} and {s.num_frames for s in clips.samples} == {1}
    assert np.bincount(clips.labels()).tolist() == [2] * 24
    # every landmark where the hand-written offsets put it (the fixture's rows are pose first, not Kaggle's order)
    first = clips.samples[0]
    table = pq.read_table(gislr_format / "train_landmark_files" / "100" / f"{first.id}.parquet").to_pydict()
    cols = {k: np.asarray(v) for k, v in table.items()}
    assert cols["type"][0] == "pose"
    coords, mask = expected_arrays(cols, start=int(cols["frame"].min()))
    np.testing.assert_array_equal(first.coords, coords)
    np.testing.assert_array_equal(first.mask, mask)
    assert not (gislr_format / gislr.MAP_NAME).exists()  # read without a map


@pytest.mark.shared_data
def test_info_names_participant_100(gislr_format: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", str(gislr_format)]) == 0
    out = capsys.readouterr().out
    assert "gislr-format: 48 clips, layout mediapipe-holistic-543, 24 classes" in out
    assert "clips per signer (1): 100 48" in out
    assert "frames per clip: min 1, median 1, max 1" in out


# ---------------------------------------------------------------------------------------------- written trees


def test_rows_are_placed_by_type_and_index_not_by_order(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    cols = clip_columns(rng, 4, left_nan=(0, 2))
    shuffled = np.random.default_rng(2).permutation(len(cols["frame"]))
    a = gislr.read_clip_file(write_parquet(tmp_path / "a.parquet", cols))
    b = gislr.read_clip_file(write_parquet(tmp_path / "b.parquet", cols, shuffled))
    np.testing.assert_array_equal(a, b)  # NaN at the same places too
    coords, mask = expected_arrays(cols)
    np.testing.assert_array_equal(np.nan_to_num(a, nan=0.0), coords)
    np.testing.assert_array_equal(np.isfinite(a).all(-1), mask)


def test_tree_with_nan_hands_and_variable_length(tree, sign_map: Path) -> None:
    root, written = tree
    clips = read(root, sign_map=sign_map)
    assert len(clips) == 30 and sorted({s.signer for s in clips.samples}) == ["16069", "2044", "26734", "37055", "62590"]
    for s in clips.samples:
        coords, mask = expected_arrays(written[s.id])
        np.testing.assert_array_equal(s.coords, coords)
        np.testing.assert_array_equal(s.mask, mask)
    s = clips.samples[0]
    assert s.num_frames == len(np.unique(written[s.id]["frame"]))
    assert not s.mask[0, 501:522].any() and s.mask[1, 501:522].all()  # left hand NaN in even frames
    assert (s.coords[0, 501:522] == 0).all()  # masked, not zeros taken as observed
    assert len({c.num_frames for c in clips.samples}) > 1


def test_class_order_follows_the_map(tree, sign_map: Path, tmp_path: Path) -> None:
    root, _ = tree
    order = [k for k, _ in sorted(json.loads(sign_map.read_text()).items(), key=lambda kv: kv[1])]
    mapped = read(root, sign_map=sign_map)
    assert mapped.classes == order
    index = json.loads(sign_map.read_text())
    signs = {line.split(",")[2]: line.split(",")[3] for line in (root / "train.csv").read_text().splitlines()[1:]}
    assert all(s.label == index[signs[s.id]] for s in mapped.samples)
    # no map: the sorted signs of train.csv
    assert read(root).classes == ["TV", "after", "all"]
    # a map beside train.csv is found; a hand-written one that is not sorted is followed
    (root / gislr.MAP_NAME).write_text(json.dumps(TINY_MAP))
    beside = read(root)
    assert beside.classes == ["all", "after", "TV", "airplane"]
    assert all(s.label == TINY_MAP[signs[s.id]] for s in beside.samples)


def test_processes_read_the_same_arrays(tree, monkeypatch: pytest.MonkeyPatch) -> None:
    root, _ = tree
    monkeypatch.setattr(gislr, "POOL_MIN_FILES", 1)  # a pool even for 30 files
    serial = read(root, cache=root.parent / "serial")
    parallel = read(root, workers=2, chunk_size=7, cache=root.parent / "parallel")
    assert serial.ids() == parallel.ids()
    for a, b in zip(serial.samples, parallel.samples, strict=True):
        np.testing.assert_array_equal(a.coords, b.coords)
        np.testing.assert_array_equal(a.mask, b.mask)


# ---------------------------------------------------------------------------------------------- the pack


def _counting(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    real = gislr.read_clip_file

    def spy(path, dims=3):
        calls.append(Path(path).stem)
        return real(path, dims)

    monkeypatch.setattr(gislr, "read_clip_file", spy)
    return calls


def test_pack_is_cached_and_reused(tree, monkeypatch: pytest.MonkeyPatch) -> None:
    root, _ = tree
    before = sorted(p.relative_to(root) for p in root.rglob("*"))
    first = read(root, chunk_size=4)
    folder = pack_folder(root)
    assert folder.parent == Path(os.environ["GSPMC_CACHE"]) / "gislr" and (folder / "pack.json").is_file()
    assert sorted(p.relative_to(root) for p in root.rglob("*")) == before  # nothing beside the data
    calls = _counting(monkeypatch)
    again = read(root, chunk_size=4)
    assert calls == []  # no parquet file read the second time
    for a, b in zip(first.samples, again.samples, strict=True):
        np.testing.assert_array_equal(a.coords, b.coords)
    # a changed file re-reads its chunk only
    victim = root / "train_landmark_files" / "2044" / "1007.parquet"
    write_parquet(victim, clip_columns(np.random.default_rng(9), 5))
    os.utime(victim, ns=(victim.stat().st_atime_ns, victim.stat().st_mtime_ns + 10**9))
    changed = read(root, chunk_size=4)
    assert calls == ["1005", "1006", "1007", "1008"]  # chunk 1 of 8
    assert [s.num_frames for s in changed.samples if s.id == "1007"] == [5]


def test_interrupted_pack_resumes(tree, monkeypatch: pytest.MonkeyPatch) -> None:
    root, _ = tree
    whole = read(root, chunk_size=4)
    folder = pack_folder(root)
    chunks = sorted(folder.glob("chunk-*.npz"))
    assert len(chunks) == 8  # 30 clips in chunks of 4
    # as if killed after the first 5 chunks: the later ones and pack.json were never written
    for c in chunks[5:]:
        c.unlink()
    (folder / "pack.json").unlink()
    calls = _counting(monkeypatch)
    resumed = read(root, chunk_size=4)
    assert calls == [str(1000 + i) for i in range(21, 31)]  # only the clips of chunks 5-7
    assert resumed.ids() == whole.ids()
    for a, b in zip(whole.samples, resumed.samples, strict=True):
        np.testing.assert_array_equal(a.coords, b.coords)
        np.testing.assert_array_equal(a.mask, b.mask)


def test_an_error_keeps_the_finished_chunks(tree, monkeypatch: pytest.MonkeyPatch) -> None:
    root, written = tree
    bad = root / "train_landmark_files" / "26734" / "1015.parquet"  # line 16: chunk 3 of size 4 (clips 13-16)
    good = bad.read_bytes()
    bad.unlink()
    with pytest.raises(DataError, match="parquet file not found") as err:
        read(root, chunk_size=4)
    assert err.value.path == str(bad) and "train.csv line 16" in str(err.value)
    assert "the 3 finished chunk(s) are kept" in str(err.value)
    assert len(list(pack_folder(root).glob("chunk-*.npz"))) == 3
    bad.write_bytes(good)
    calls = _counting(monkeypatch)
    assert len(read(root, chunk_size=4)) == 30
    assert calls == [str(1000 + i) for i in range(13, 31)]  # chunks 0-2 were kept


# ---------------------------------------------------------------------------------------------- bad input


def test_bad_inputs_name_the_file(tree, sign_map: Path) -> None:
    root, written = tree
    files = root / "train_landmark_files"

    def reread(match: str, path: Path) -> None:
        with pytest.raises(DataError, match=match) as err:
            read(root, sign_map=sign_map, cache=root.parent / "cache")
        assert err.value.path == str(path)

    # a missing parquet file
    missing = files / "16069" / "1002.parquet"
    kept = missing.read_bytes()
    missing.unlink()
    reread("parquet file not found", missing)
    missing.write_bytes(kept)
    # a parquet file with other columns
    other = files / "2044" / "1008.parquet"
    kept = other.read_bytes()
    cols = dict(written["1008"])
    cols["idx"] = cols.pop("landmark_index")
    write_parquet(other, cols)
    reread(r"not a GISLR landmark file: it has the columns .* \(missing landmark_index\)", other)
    other.write_bytes(kept)
    # a frame with fewer rows than 543
    short = files / "26734" / "1014.parquet"
    kept = short.read_bytes()
    cols = written["1014"]
    write_parquet(short, cols, np.arange(len(cols["frame"]) - 1))
    reread(r"frame \d+ has 542 rows, expected 543", short)
    short.write_bytes(kept)
    # an empty clip
    empty = files / "37055" / "1020.parquet"
    kept = empty.read_bytes()
    write_parquet(empty, written["1020"], np.arange(0))
    reread("empty clip: the file has no rows", empty)
    empty.write_bytes(kept)
    # an unknown sign: names train.csv and the clip
    csv_path = root / "train.csv"
    kept_csv = csv_path.read_text()
    csv_path.write_text(kept_csv.replace(",16069,1001,after", ",16069,1001,not-a-sign"))
    reread(r"line 2 \(train_landmark_files/16069/1001.parquet\): sign 'not-a-sign' is not in the class map", csv_path)
    csv_path.write_text(kept_csv)
    assert len(read(root, sign_map=sign_map, cache=root.parent / "cache")) == 30


def test_skip_bad_counts_and_reports(tree, sign_map: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root, written = tree
    files = root / "train_landmark_files"
    (files / "16069" / "1002.parquet").unlink()
    write_parquet(files / "26734" / "1014.parquet", written["1014"], np.arange(543 * 2 - 5))
    write_parquet(files / "37055" / "1020.parquet", written["1020"], np.arange(0))
    csv_path = root / "train.csv"
    csv_path.write_text(csv_path.read_text().replace(",2044,1010,TV", ",2044,1010,not-a-sign"))
    clips = read(root, sign_map=sign_map, skip_bad=True)
    assert len(clips) == 26 and not {"1002", "1010", "1014", "1020"} & set(clips.ids())
    err = capsys.readouterr().err
    assert "gislr: skipped 4 of 30 clips (skip_bad)" in err
    listed = (pack_folder(root) / "skipped.csv").read_text()
    assert listed.count("\n") == 5 and "1014.parquet" in listed and "not in the class map" in listed
    # the pack remembers the bad files: read again without skip_bad, the first is an error
    csv_path.write_text(csv_path.read_text().replace(",2044,1010,not-a-sign", ",2044,1010,TV"))
    with pytest.raises(DataError, match="parquet file not found"):
        read(root, sign_map=sign_map)


# ---------------------------------------------------------------------------------------------- wiring


def test_registry_and_participant_folds(tree) -> None:
    root, _ = tree
    assert len(load_dataset(root, workers=1, progress=False)) == 30  # auto: train.csv + train_landmark_files/
    assert len(load_dataset(root / "train.csv", workers=1, progress=False)) == 30
    assert len(load_dataset(root, format="gislr", workers=1, progress=False)) == 30
    with pytest.raises(DataError, match="has no default place"):
        load_dataset("gislr")
    clips = load_dataset(root, workers=1, progress=False)
    proto = get_protocol("group-kfold", group="signer", k=5)
    signers = clips.signers()
    tested = []
    for fold in proto.fold_names(clips):
        split = proto.split(clips, fold, seed=0)
        test_side, train_side = set(signers[split.test]), set(signers[np.concatenate([split.train, split.val])])
        assert len(test_side) == 1 and not test_side & train_side  # whole participants
        tested += sorted(test_side)
    assert sorted(tested) == sorted(set(signers))


def test_fit_gislr_config_end_to_end(tree, tmp_path: Path) -> None:
    root, _ = tree
    out = tmp_path / "run"
    sets = [f"data.path={root}", "data.fold='2'", *FAST]
    args = ["fit", "--config", "gislr", "--out", str(out)]
    for item in sets:
        args += ["--set", item]
    assert main(args) == 0
    result = json.loads((out / "result.json").read_text())
    assert result["complete"] and result["protocol"] == "group-kfold" and result["fold"] == "2"
    assert result["split_sizes"]["test"]["clips"] == 6  # one participant's clips
    shutil.rmtree(out)
