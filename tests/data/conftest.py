"""Fixtures of the data tests (builders in data_builders.py)."""

from __future__ import annotations

import numpy as np
import pytest
from data_builders import make_npz_arrays


@pytest.fixture
def npz_arrays() -> dict[str, np.ndarray]:
    return make_npz_arrays()


@pytest.fixture(scope="session")
def traduttore(shared_data):
    """The shared traduttore ClipSet, read once per session. (Its read time is a benchmark,
    bench/data_read.py, not a test: a busy machine must not fail the suite.)"""
    from gspmc.data.readers.npz import read_mp_npz

    return read_mp_npz(shared_data / "traduttore_asl33.npz")
