"""Model tests use one intra-op thread: the tensors are tiny, and on a shared, oversubscribed machine
OpenMP worker threads waiting for a descheduled sibling make multi-threaded steps ~100x slower."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
