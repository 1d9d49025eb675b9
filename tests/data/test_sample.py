"""Sample validation and ClipSet helpers."""

from __future__ import annotations

import numpy as np
import pytest

from gspmc.data.sample import ClipSet, Sample
from gspmc.errors import DataError


def _sample(label: int = 0, sid: str = "a", t: int = 4, v: int = 27, signer: str | None = "s1", **kw) -> Sample:
    coords = kw.pop("coords", np.ones((t, v, 2), np.float64))
    mask = kw.pop("mask", np.ones((t, v), bool))
    return Sample(coords=coords, mask=mask, layout="sam-slr-27", label=label, id=sid, signer=signer, **kw)


def test_sample_coerces_dtypes() -> None:
    s = _sample(score=np.full((4, 27), 0.5, np.float64))
    assert s.coords.dtype == np.float32 and s.score.dtype == np.float32
    assert s.num_frames == 4 and s.num_joints == 27


def test_sample_all_masked_is_valid() -> None:
    s = _sample(coords=np.zeros((3, 27, 2)), mask=np.zeros((3, 27), bool))
    assert not s.mask.any()


@pytest.mark.parametrize(
    ("kw", "needle"),
    [
        ({"coords": np.ones((4, 27))}, "shape (T, V, 2|3)"),
        ({"coords": np.ones((4, 27, 4))}, "shape (T, V, 2|3)"),
        ({"mask": np.ones((4, 26), bool)}, "mask shape"),
        ({"mask": np.ones((4, 27), np.int8)}, "mask must be bool"),
        ({"coords": np.ones((0, 27, 2)), "mask": np.ones((0, 27), bool)}, "empty clip"),
        ({"coords": np.full((4, 27, 2), np.nan)}, "NaN or inf"),
        ({"score": np.ones((4, 26))}, "score shape"),
        ({"score": np.full((4, 27), np.inf)}, "score contains"),
        ({"label": -2}, "label must be"),
        ({"label": 1.5}, "label must be"),
    ],
)
def test_sample_rejects(kw: dict, needle: str) -> None:
    with pytest.raises(DataError, match="clip 'a'") as err:
        _sample(**kw)
    assert needle in str(err.value)


def test_clipset_helpers() -> None:
    samples = [_sample(0, "a", signer="x"), _sample(2, "b", signer=None), _sample(2, "c"), _sample(-1, "d")]
    cs = ClipSet(samples, ["p", "q", "r"], "sam-slr-27", "toy", meta={"split": np.array(["train", "val", "test", "test"])})
    assert cs.labels().tolist() == [0, 2, 2, -1]
    assert cs.signers().tolist() == ["x", None, "s1", "s1"]
    assert cs.class_counts().tolist() == [1, 0, 2]
    assert cs.ids() == ["a", "b", "c", "d"]
    sub = cs.subset([2, 0])
    assert sub.ids() == ["c", "a"] and sub.classes == cs.classes and sub.meta["split"].tolist() == ["test", "train"]
    with pytest.raises(IndexError):
        cs.subset([4])


def test_clipset_rejects_inconsistency() -> None:
    with pytest.raises(DataError, match="outside the 2 classes"):
        ClipSet([_sample(2)], ["p", "q"], "sam-slr-27", "toy")
    with pytest.raises(DataError, match="not 'mp-data-258'"):
        ClipSet([_sample(0)], ["p"], "mp-data-258", "toy")
    with pytest.raises(DataError, match="duplicate class"):
        ClipSet([_sample(0)], ["p", "p"], "sam-slr-27", "toy")
    with pytest.raises(DataError, match="meta"):
        ClipSet([_sample(0)], ["p"], "sam-slr-27", "toy", meta={"split": np.array(["a", "b"])})
