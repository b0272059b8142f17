"""Crash points for the crash tests: with VIDEOGEN_CRASH_AT=<name> in its environment, a process kills
itself (SIGKILL, as `kill -9` would) the moment it reaches that point, so a test can stop a server at an
exact phase of a job and prove that a restart ends the job correctly. Unset, a crash point costs a lookup."""

from __future__ import annotations

import os
import signal

POINTS = ("before_submit", "after_submit", "after_store", "mid_download")


def crash_point(name: str) -> None:
    if os.environ.get("VIDEOGEN_CRASH_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)
