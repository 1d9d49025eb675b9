"""Evaluation protocols: stratified validation carving, held-out signers, the shared-data fold sizes."""

from __future__ import annotations

import numpy as np
import pytest

from gspmc.data.protocols import get_protocol, held_out_signer, list_protocols, stratified_holdout
from gspmc.data.sample import ClipSet, Sample
from gspmc.errors import ConfigError, DataError


def _clips(labels: list[int], signers: list[str], k: int) -> ClipSet:
    samples = [Sample(np.zeros((2, 27, 2), np.float32), np.zeros((2, 27), bool), "sam-slr-27", lab, f"c{i}", sig)
               for i, (lab, sig) in enumerate(zip(labels, signers, strict=True))]
    return ClipSet(samples, [f"k{i}" for i in range(k)], "sam-slr-27", "toy")


def test_stratified_holdout_exact() -> None:
    # class 0: 25 clips, class 1: 12, class 2: 3 -> 10% of 40 = 4 carved: quotas 2.5, 1.2, 0.3
    labels = np.array([0] * 25 + [1] * 12 + [2] * 3)
    idx = np.arange(40)
    kept, carved = stratified_holdout(idx, labels, 0.1, np.random.default_rng(0))
    assert len(carved) == 4 and len(kept) == 36 and set(kept) | set(carved) == set(idx)
    per_class = np.bincount(labels[carved], minlength=3).tolist()
    assert per_class == [3, 1, 0]  # floor (2, 1, 0) + the one extra to the largest remainder (0.5)
    kept2, carved2 = stratified_holdout(idx, labels, 0.1, np.random.default_rng(0))
    assert carved2.tolist() == carved.tolist()
    _, carved3 = stratified_holdout(idx, labels, 0.1, np.random.default_rng(1))
    assert carved3.tolist() != carved.tolist()
    assert len(stratified_holdout(idx, labels, 0.0, np.random.default_rng(0))[1]) == 0
    with pytest.raises(ConfigError):
        stratified_holdout(idx, labels, 1.0, np.random.default_rng(0))


def test_held_out_signer_on_toy() -> None:
    # signer x: classes 0, 1 (20 clips each); signer y: classes 1, 2 (5 each); unknown-label clip ignored
    labels = [0] * 20 + [1] * 20 + [1] * 5 + [2] * 5 + [-1]
    signers = ["x"] * 40 + ["y"] * 10 + ["x"]
    clips = _clips(labels, signers, 3)
    proto = held_out_signer("toy-xsigner", ["x", "y"])
    split = proto.split(clips, "y", seed=3)
    assert split.test.tolist() == list(range(40, 45))  # only class 1: class 2 never trained
    assert len(split.val) == 4 and len(split.train) == 36
    assert not set(split.train) & set(split.val) and set(split.train) | set(split.val) == set(range(40))
    assert np.bincount(clips.labels()[split.val]).tolist() == [2, 2]
    assert split.describe().splitlines()[0] == "protocol toy-xsigner, fold y, seed 3"
    assert proto.split(clips, "y", seed=3).val.tolist() == split.val.tolist()
    assert proto.split(clips, "y", seed=4).val.tolist() != split.val.tolist()
    with pytest.raises(ConfigError, match="has folds"):
        proto.split(clips, "z")
    with pytest.raises(ConfigError, match="no clip of signer 'x'"):
        held_out_signer("p", ["x"]).split(_clips([0], ["y"], 1), "x")


def test_held_out_group_validation_on_toy() -> None:
    # x: classes 0, 1 (4 each); y: classes 1, 2 (3 each); z (test): classes 0, 1, 2 (2 each)
    labels = [0] * 4 + [1] * 4 + [1] * 3 + [2] * 3 + [0, 0, 1, 1, 2, 2]
    signers = ["x"] * 8 + ["y"] * 6 + ["z"] * 6
    clips = _clips(labels, signers, 3)
    split = get_protocol("leave-one-group-out", val_group="y").split(clips, "z")
    assert split.train.tolist() == list(range(8))  # x only: y validates, z tests
    assert split.val.tolist() == [8, 9, 10]  # y's clips of the classes x has (class 2 never trains)
    assert split.test.tolist() == [14, 15, 16, 17]  # z's clips of classes 0 and 1
    assert split.summary["val"]["signers"] == ["y"]
    with pytest.raises(ConfigError, match="held-out .test. signer"):
        get_protocol("leave-one-group-out", val_group="z").split(clips, "z")
    with pytest.raises(ConfigError, match="no clip of signer 'w'"):
        get_protocol("leave-one-group-out", val_group="w").split(clips, "z")
    with pytest.raises(ConfigError, match="needs a leave-one-group-out"):
        get_protocol("group-kfold", val_group="y")


def test_registry() -> None:
    assert {"traduttore-xsigner", "autsl", "slr500", "slr500-gsp-mc", "slr500-best"} <= set(list_protocols())
    assert get_protocol("traduttore-xsigner").folds == ("TheCamNelson", "dmohazab")
    gsp, best = get_protocol("slr500"), get_protocol("slr500-best")
    assert gsp.train_signers == tuple(range(1, 36)) and gsp.test_signers == tuple(range(36, 51))
    assert best.train_signers == tuple(range(1, 37)) and best.test_signers == tuple(range(37, 51))
    with pytest.raises(ConfigError, match="unknown protocol 'nope'"):
        get_protocol("nope")


@pytest.mark.shared_data
def test_traduttore_xsigner_counts(traduttore) -> None:
    clips = traduttore
    labels, signers = clips.labels(), clips.signers().astype(str)
    proto = get_protocol("traduttore-xsigner")
    expected = {"TheCamNelson": (1363, 15, 2925, 24), "dmohazab": (2220, 15, 2188, 32)}
    for fold, (n_test, k_test, n_train_side, k_train_side) in expected.items():
        split = proto.split(clips, fold, seed=0)
        side = np.concatenate([split.train, split.val])
        assert len(split.test) == n_test and len(np.unique(labels[split.test])) == k_test
        assert len(side) == n_train_side and len(np.unique(labels[side])) == k_train_side
        assert (signers[split.test] == fold).all() and not (signers[side] == fold).any()
        assert len(split.val) == round(0.1 * n_train_side)
        assert len(np.unique(side)) == len(side)
        assert set(labels[split.test]) <= set(labels[split.train])


@pytest.mark.shared_data
def test_preset_is_leave_one_group_out_over_signers(traduttore) -> None:
    """traduttore-xsigner is the generic leave-one-group-out with group signer, index for index."""
    clips = traduttore
    preset, generic = get_protocol("traduttore-xsigner"), get_protocol("leave-one-group-out", group="signer")
    assert generic.fold_names(clips) == ["Alex", "TheCamNelson", "dmohazab"]
    for fold in preset.folds:
        a, b = preset.split(clips, fold, seed=0), generic.split(clips, fold, seed=0)
        for part in ("train", "val", "test"):
            assert getattr(a, part).tolist() == getattr(b, part).tolist(), (fold, part)


def _grouped(groups: list[str], labels: list[int], k: int) -> ClipSet:
    samples = [Sample(np.zeros((2, 27, 2), np.float32), np.zeros((2, 27), bool), "sam-slr-27", lab, f"c{i}")
               for i, lab in enumerate(labels)]
    return ClipSet(samples, [f"k{i}" for i in range(k)], "sam-slr-27", "toy",
                   meta={"session": np.asarray(groups)})


def test_group_kfold_keeps_groups_whole_and_balances_classes() -> None:
    # 6 sessions: s0-s2 have only class 0 (4 clips each), s3-s5 only class 1 (4 clips each)
    groups = [f"s{g}" for g in range(6) for _ in range(4)]
    labels = [0 if g < 3 else 1 for g in range(6) for _ in range(4)]
    clips = _grouped(groups, labels, 2)
    proto = get_protocol("group-kfold", group="session", k=3)
    assert proto.folds == ("0", "1", "2")
    assigned = proto.assign(clips, seed=0)
    assert sorted(assigned) == [f"s{g}" for g in range(6)]
    for fold in range(3):  # stratified: each fold gets one class-0 session and one class-1 session
        members = [g for g, f in assigned.items() if f == fold]
        assert sorted(int(g[1]) < 3 for g in members) == [False, True], assigned
    tested = []
    for fold in proto.folds:
        split = proto.split(clips, fold, seed=0)
        sessions = clips.meta["session"]
        test_groups = set(sessions[split.test])
        assert not test_groups & set(sessions[np.concatenate([split.train, split.val])])
        tested += split.test.tolist()
    assert sorted(tested) == list(range(24))  # every clip is tested exactly once over the k folds
    assert proto.assign(clips, seed=0) == assigned  # deterministic
    with pytest.raises(ConfigError, match="k=7 folds need k >= 2 and at least k session values"):
        get_protocol("group-kfold", group="session", k=7).split(clips, "0")
    with pytest.raises(ConfigError, match="has folds"):
        proto.split(clips, "3")


def test_split_file(tmp_path) -> None:
    clips = _grouped(["a"] * 10, [0, 1] * 5, 2)
    csv = tmp_path / "split.csv"
    csv.write_text("id,split\n" + "".join(f"c{i},train\n" for i in range(6)) + "c6,val\nc7,test\nc8,TEST\n")
    split = get_protocol("split-file", split_file=str(csv)).split(clips, "file")
    assert split.train.tolist() == list(range(6)) and split.val.tolist() == [6] and split.test.tolist() == [7, 8]
    # no val rows: validation carved from train (10% of 6 -> 1 clip)
    csv.write_text("".join(f"c{i},train\n" for i in range(6)) + "c7,test\n")
    split = get_protocol("split-file", split_file=str(csv)).split(clips, "file")
    assert len(split.val) == 1 and len(split.train) == 5 and split.test.tolist() == [7]
    bad = {"c1,holdout\n": "split 'holdout' is not train, val or test", "zz,train\n": "clip 'zz' is not in 'toy'",
           "c1,train\nc1,test\n": "clip 'c1' is listed twice"}
    for text, message in bad.items():
        csv.write_text(text)
        with pytest.raises(DataError, match=message) as err:
            get_protocol("split-file", split_file=str(csv)).split(clips, "file")
        assert str(csv) in str(err.value)
    with pytest.raises(ConfigError, match="needs data.split_file"):
        get_protocol("split-file")
