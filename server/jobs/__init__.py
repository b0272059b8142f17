"""The job engine: submits jobs, follows them in one scheduler, delivers the results, resumes after a restart.

  manager.py     JobManager: life cycle, publishing, the public face, the phases of a job's life here
  submitting.py  validate, price, record, send exactly once (resend only what provably did not arrive)
  scheduler.py   one timer queue for every followed job, bounded concurrency
  following.py   one look at a followed job: callbacks, polls at the provider's cadence, stuck detection
  delivering.py  download, verify, probe, thumbnail
  leases.py      one process per job: renew, adopt orphans, release
  common.py      tunables, exceptions, helpers

A job learns of the provider's progress by polling it, or, over HTTP with VIDEOGEN_PUBLIC_URL, from the
provider's callbacks (server/webhooks.py receives them); polling then stays only as a slow safety net.

Every state change is written to the store first, then published to whoever listens (a waiting tool
call, resource subscribers). Jobs run in the manager's own task group, so a tool call that gives up
waiting, or a client that disconnects, loses nothing.

A store error (the index locked by another process, a full disk) never ends the server: a job's writes are
retried with growing waits until the store works again (the job is neither lost nor resubmitted), the
housekeeping tries again next period, and tool calls get the StoreError's one-line message.

Cadences and stuck detection run on a monotonic clock anchored when this process starts following a job
(plus the job's wall-clock age read once at that moment), so a wall-clock jump neither speeds polling up
nor times healthy jobs out; persisted times stay wall-clock. Every sleep has a floor. Stored input images
are deleted when a job ends.
"""

from __future__ import annotations

import sys
import time  # noqa: F401 (server.jobs.time: the engine's clock module, which tests replace)
import types
from typing import Any

from server.store import JobRow

from . import common, delivering, following, leases, manager, scheduler, submitting
from .common import *  # noqa: F403 (the tunables, read and set as server.jobs.NAME)
from .common import LeaseLost, Listener, UnknownJob, dedupe_note, iso
from .manager import JobManager
from .scheduler import Followed, Scheduler

__all__ = ["Followed", "JobManager", "JobRow", "LeaseLost", "Listener", "Scheduler", "UnknownJob", "dedupe_note", "iso"]

_PARTS = (common, delivering, following, leases, manager, scheduler, submitting)


class _Engine(types.ModuleType):
    """Setting a name on server.jobs (a tunable such as STORAGE_RETRY_SECONDS, or the `time` module, as tests
    do) sets it in every part that uses it, where the code reads it."""

    def __setattr__(self, name: str, value: Any) -> None:
        for part in _PARTS:
            if not name.startswith("__") and name in vars(part):
                setattr(part, name, value)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Engine
