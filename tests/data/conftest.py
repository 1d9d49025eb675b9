"""Fixtures of the data tests (builders in data_builders.py)."""

from __future__ import annotations

import numpy as np
import pytest
from data_builders import make_npz_arrays


@pytest.fixture
def npz_arrays() -> dict[str, np.ndarray]:
    return make_npz_arrays()
