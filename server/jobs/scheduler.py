"""One timer queue for every job this process follows: a heap keyed by the monotonic time each job is next
looked at, one task that pops what is due, and at most `concurrency` looks at once. A followed job costs a
heap entry and a small record, not a coroutine; a callback or a cancel request moves it to the front."""

from __future__ import annotations

import heapq
import itertools
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import anyio

from providers.base import ModelSpec, Provider, Submission, VideoRequest

from . import common

log = logging.getLogger("videogen.jobs")


@dataclass(eq=False)
class Followed:
    """A job being followed here: what its looks need, kept between them."""

    job_id: str
    provider: Provider
    spec: ModelSpec
    submission: Submission
    request: VideoRequest
    elapsed: Callable[[], float]  # seconds since the job was created, jump-proof (see _age_clock)
    safety_net: bool  # the provider calls back: polls are only a slow safety net
    due: float = 0.0  # monotonic time of the next status poll
    unreachable_since: float | None = None  # monotonic time of the first failed poll in a row
    # The scheduler's bookkeeping: a look under way, a wake-up during it, the heap entry that is current.
    busy: bool = field(default=False, repr=False)
    woken: bool = field(default=False, repr=False)
    token: int = field(default=-1, repr=False)


Step = Callable[[Followed], Awaitable[float | None]]


class Scheduler:
    """`step(job)` looks at a job once and returns the monotonic time of its next look, or None when the job
    leaves the queue. A step must not raise: the engine turns every error into a job's outcome."""

    def __init__(self, step: Step, concurrency: int = common.POLL_CONCURRENCY):
        self._step = step
        self._heap: list[tuple[float, int, str]] = []
        self._jobs: dict[str, Followed] = {}
        self._tokens = itertools.count()
        self._slots = anyio.Semaphore(concurrency)
        self._kick = anyio.Event()

    def __contains__(self, job_id: str) -> bool:
        return job_id in self._jobs

    def __len__(self) -> int:
        return len(self._jobs)

    def add(self, job: Followed, at: float) -> None:
        self._jobs[job.job_id] = job
        self._push(job, at)

    def wake(self, job_id: str) -> None:
        """Look at the job now (a callback, a cancel request); after the look under way, if there is one."""
        job = self._jobs.get(job_id)
        if job is None:
            return
        if job.busy:
            job.woken = True
        else:
            self._push(job, time.monotonic())

    def drop(self, job_id: str) -> None:
        self._jobs.pop(job_id, None)  # its heap entries are skipped when they come up

    def _push(self, job: Followed, at: float) -> None:
        job.token = next(self._tokens)
        if not self._heap or at < self._heap[0][0]:
            self._kick.set()  # the queue's next time moved earlier
        heapq.heappush(self._heap, (at, job.token, job.job_id))

    async def run(self, task_group: anyio.abc.TaskGroup) -> None:
        while True:
            now = time.monotonic()
            while self._heap and self._heap[0][0] <= now:
                _, token, job_id = heapq.heappop(self._heap)
                job = self._jobs.get(job_id)
                if job is None or job.token != token or job.busy:
                    continue  # gone, or moved: a later entry stands for it
                await self._slots.acquire()  # bounded: the queue waits while every slot is taken
                job.busy = True
                task_group.start_soon(self._look, job)
                now = time.monotonic()
            self._kick = anyio.Event()
            wait = self._heap[0][0] - now if self._heap else math.inf
            with anyio.move_on_after(wait):
                await self._kick.wait()

    async def _look(self, job: Followed) -> None:
        try:
            at = await self._step(job)
        except Exception:  # a step handles its own errors; this only keeps the queue alive if one slips
            log.exception("job %s: following it failed", job.job_id)
            at = None
        finally:
            job.busy = False
            self._slots.release()
        if self._jobs.get(job.job_id) is not job:
            return
        if at is None:
            del self._jobs[job.job_id]
            return
        if job.woken:
            job.woken, at = False, time.monotonic()
        self._push(job, at)
