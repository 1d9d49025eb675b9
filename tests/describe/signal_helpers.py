"""Interrupting a real `gspmc describe` process at a known point (for the SIGINT and SIGKILL tests)."""

from __future__ import annotations

import os
import signal
import threading

from describe_helpers import good_reply, step_of


class SignalAtGloss:
    """A reply script that sends ``sig`` to the describe process when the first request (P1) of the
    ``at``-th gloss arrives, and holds that request until ``release`` is set.

    With ``--concurrency 1`` a gloss is requested only after the previous one was stored, so at that
    moment exactly ``at - 1`` glosses are in the store, and none can be added before the signal
    lands: the point of the interrupt is fixed, whatever the machine's speed."""

    def __init__(self, at: int, sig: signal.Signals) -> None:
        self.at, self.sig = at, sig
        self.pid: int | None = None
        self.started = threading.Event()  # the process id is known
        self.release = threading.Event()
        self.p1_seen = 0

    def __call__(self, req: dict, n: int) -> tuple[int, dict, float]:
        if step_of(req) == "p1":
            self.p1_seen += 1
            if self.p1_seen == self.at:
                assert self.started.wait(60)
                os.kill(self.pid, self.sig)
                self.release.wait(120)  # keep the gloss unfinished until the process has reacted
        return 200, good_reply(req), 0.0
