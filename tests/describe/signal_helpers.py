"""Interrupting a real `gspmc describe` process at a known point (for the SIGINT and SIGKILL tests)."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

from describe_helpers import good_reply

from gspmc.describe.store import load_store


class SignalAtGloss:
    """A reply script that sends ``sig`` to the describe process with the first request made after
    ``at - 1`` glosses are in the store (``out``), and holds that request until ``release`` is set.

    With ``--concurrency 1`` a gloss is requested only after the previous one was stored, so that
    request is the first of the ``at``-th gloss: at the signal exactly ``at - 1`` glosses are stored, and
    none can be added before the signal lands (its gloss waits for ``release``). The point is fixed
    by what is on disk, not by timing, nor by how many requests a gloss takes."""

    def __init__(self, at: int, sig: signal.Signals, out: Path) -> None:
        self.at, self.sig, self.out = at, sig, out
        self.pid: int | None = None
        self.started = threading.Event()  # the process id is known
        self.release = threading.Event()
        self.fired = False

    def _stored(self) -> int:
        return len(load_store(self.out)) if self.out.exists() else 0  # atomic writes: always a whole file

    def __call__(self, req: dict, n: int) -> tuple[int, dict, float]:
        if not self.fired and self._stored() >= self.at - 1:
            self.fired = True
            assert self.started.wait(60)
            os.kill(self.pid, self.sig)
            self.release.wait(120)  # keep the gloss unfinished until the process has reacted
        return 200, good_reply(req), 0.0
