"""Fault injection for the crash tests: a process kills itself with SIGKILL at a named point.

Set ``GSPMC_KILL_AT=POINT`` (or ``POINT@N``: the N-th time the point is reached, default 1) in the
environment of a gspmc process and it dies with ``SIGKILL`` exactly there: no handler, no cleanup,
no flushed buffers, as when the machine loses power or the OOM killer strikes. Unset (the normal
case), :func:`kill_point` costs one dictionary lookup.

Points (the crash tests use them: tests/train/test_fit_kill9.py, tests/describe/test_describe_kill9.py,
tests/video/test_extract_kill9.py, tests/test_io.py):

- ``write:<file name>``: inside :func:`gspmc.io.atomic_write`, after the first half of the first
  chunk of data reached the temporary file (so a partial temporary file is on disk), e.g.
  ``write:last.ckpt@2`` (the second write of a checkpoint), ``write:store.jsonl``, ``write:x.pose``.
- ``fit:step``: after a training batch (``fit:step@7``: after the 7th optimisation step of this process).
"""

from __future__ import annotations

import os
import signal
from collections import Counter

ENV = "GSPMC_KILL_AT"
_seen: Counter[str] = Counter()


def _target() -> tuple[str, int] | None:
    """(point, N) from ``GSPMC_KILL_AT``, or None when it is unset."""
    spec = os.environ.get(ENV)
    if not spec:
        return None
    name, at, count = spec.rpartition("@")
    return (name, int(count)) if at and count.isdigit() else (spec, 1)


def armed(point: str) -> bool:
    """True when ``GSPMC_KILL_AT`` names ``point`` (whatever N): the caller may then prepare for it."""
    target = _target()
    return target is not None and target[0] == point


def kill_point(point: str) -> None:
    """SIGKILL this process if ``GSPMC_KILL_AT`` names ``point`` and this is its N-th visit."""
    target = _target()
    if target is None or target[0] != point:
        return
    _seen[point] += 1
    if _seen[point] == target[1]:
        os.kill(os.getpid(), signal.SIGKILL)
