"""One timer queue for every job this process follows: a heap keyed by the monotonic time each job is next
looked at, and a fixed pool of `concurrency` workers that take what is due. A followed job costs a heap entry
and a small record, not a coroutine; a callback or a cancel request moves it to the front.

No provider may hold more than `per_provider` workers at once: a provider whose status checks hang (timeouts)
or wait their turn under a rate limit (Wireflow's allowance) slows its own jobs, never the others'. Its due
jobs beyond that wait off the heap ("parked"), in the order they came due, a woken one (a cancel, a callback)
first; each look of it that ends hands its worker straight to the next, so no job due later takes that place.

A look costs no task of its own: a worker that finishes a look takes the next due job itself, and only when
none is due does it wait (the timer hands it the next one). Timer wake-ups come at most `slack` seconds late,
so that jobs due close together are taken in one wake-up instead of one each."""

from __future__ import annotations

import heapq
import itertools
import logging
import math
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import anyio

from providers.base import ModelSpec, Provider, Submission, VideoRequest
from server.store import JobRow

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
    cancel_failing_since: float | None = None  # monotonic time of the first failed cancel in a row
    check_failing_since: float | None = None  # ... of the first failed check before a cancel in a row
    # The job's row as this process last read or wrote it, and when it read it (monotonic): a look reads the
    # index again only when woken or after a while (see Following._look_once).
    row: JobRow | None = None
    read_at: float = -math.inf
    stale: bool = False  # woken: the index may hold news (a callback, a cancel request)
    # The scheduler's bookkeeping: a look under way, a wake-up during it, the heap entry that is current.
    busy: bool = field(default=False, repr=False)
    parked: bool = field(default=False, repr=False)  # due, waiting for a worker its provider may take
    urgent: bool = field(default=False, repr=False)  # woken (a cancel, a callback): first among the parked
    woken: bool = field(default=False, repr=False)
    token: int = field(default=-1, repr=False)


Step = Callable[[Followed], Awaitable[float | None]]


class _Line:
    """One provider's due jobs waiting for a worker: the woken ones first, each part in the order it came."""

    __slots__ = ("due", "urgent")

    def __init__(self) -> None:
        self.urgent: deque[Followed] = deque()
        self.due: deque[Followed] = deque()

    def join(self, job: Followed) -> None:
        (self.urgent if job.urgent else self.due).append(job)

    def promote(self, job: Followed) -> None:
        """A waiting job was woken: behind the other woken ones, ahead of the rest."""
        if job in self.due:
            self.due.remove(job)
            self.urgent.append(job)

    def next(self) -> Followed | None:
        return self.urgent.popleft() if self.urgent else self.due.popleft() if self.due else None


class _Worker:
    """A worker waiting for the timer to hand it a job."""

    __slots__ = ("event", "job")

    def __init__(self) -> None:
        self.event = anyio.Event()
        self.job: Followed | None = None


class Scheduler:
    """`step(job)` looks at a job once and returns the monotonic time of its next look, or None when the job
    leaves the queue. A step must not raise: the engine turns every error into a job's outcome."""

    def __init__(
        self,
        step: Step,
        concurrency: int = common.POLL_CONCURRENCY,
        slack: float = common.TIMER_SLACK,
        per_provider: int | None = None,
    ):
        self._step = step
        self._concurrency = concurrency
        self._per_provider = max(1, per_provider or concurrency)
        self._looking: Counter[str] = Counter()  # looks under way, by provider
        self._parked: dict[str, _Line] = {}  # due jobs of a provider at its share
        self._slack = max(0.0, slack)
        self._heap: list[tuple[float, int, str]] = []
        self._jobs: dict[str, Followed] = {}
        self._tokens = itertools.count()
        self._idle: list[_Worker] = []  # workers waiting for a job, the latest idle last
        self._kick = anyio.Event()
        self._timer = math.inf  # when the timer wakes next (inf: only when kicked)

    def __contains__(self, job_id: str) -> bool:
        return job_id in self._jobs

    def __len__(self) -> int:
        return len(self._jobs)

    def add(self, job: Followed, at: float) -> None:
        """Follow a job from `at` (marked `urgent` when it has news: first in line if it must wait)."""
        self._jobs[job.job_id] = job
        self._push(job, at)

    def get(self, job_id: str) -> Followed | None:
        return self._jobs.get(job_id)

    def wake(self, job_id: str) -> None:
        """Look at the job now (a callback, a cancel request); after the look under way, if there is one; at
        the front of its provider's waiting line if it waits there."""
        job = self._jobs.get(job_id)
        if job is None:
            return
        job.stale = True
        job.urgent = True
        if job.busy:
            job.woken = True
        elif job.parked:
            self._parked[_lane(job)].promote(job)
        else:
            self._push(job, time.monotonic(), now=True)

    def drop(self, job_id: str) -> None:
        self._jobs.pop(job_id, None)  # its heap entries are skipped when they come up

    def _push(self, job: Followed, at: float, now: bool = False) -> None:
        job.token = next(self._tokens)
        heapq.heappush(self._heap, (at, job.token, job.job_id))
        # Kick the timer when this job is due before it would wake (a wake-up: at once, never with slack).
        if self._idle and at + (0.0 if now else self._slack) < self._timer:
            self._kick.set()

    def _take(self, now: float) -> Followed | None:
        """The next job due by `now`, off the heap and marked busy; None when none is due."""
        heap = self._heap
        while heap and heap[0][0] <= now:
            _, token, job_id = heapq.heappop(heap)
            job = self._jobs.get(job_id)
            if job is None or job.token != token or job.busy or job.parked:
                continue  # gone, moved (a later entry stands for it), or already waiting for its provider
            lane = _lane(job)
            if self._looking[lane] >= self._per_provider:
                job.parked = True
                self._parked.setdefault(lane, _Line()).join(job)
                continue
            self._looking[lane] += 1
            job.busy, job.urgent = True, False
            return job
        return None

    def _hand_on(self, lane: str) -> Followed | None:
        """A look of `lane` ended: its worker goes to the provider's first waiting job (marked busy; the place
        passes on), or the place is freed when none waits."""
        waiting = self._parked.get(lane)
        while waiting is not None and (job := waiting.next()) is not None:
            job.parked = False
            if self._jobs.get(job.job_id) is job and not job.busy:
                job.busy, job.urgent = True, False
                return job
        self._looking[lane] -= 1
        return None

    async def run(self, task_group: anyio.abc.TaskGroup) -> None:
        """The timer: hands due jobs to idle workers, and sleeps until the next one is due (plus the slack)."""
        for _ in range(self._concurrency):
            task_group.start_soon(self._work)
        while True:
            now = time.monotonic()
            while self._idle:
                job = self._take(now)
                if job is None:
                    break
                worker = self._idle.pop()
                worker.job = job
                worker.event.set()
            self._kick = anyio.Event()
            # With every worker busy, the one that finishes first takes what is due (or kicks the timer).
            self._timer = self._heap[0][0] + self._slack if self._idle and self._heap else math.inf
            with anyio.move_on_after(self._timer - now):
                await self._kick.wait()

    async def _work(self) -> None:
        worker = _Worker()
        job: Followed | None = None
        while True:
            if job is None:  # else: handed on by the look that just ended
                job = self._take(time.monotonic())
            if job is None:
                worker.event = anyio.Event()
                worker.job = None
                self._idle.append(worker)
                if self._heap and self._heap[0][0] + self._slack < self._timer:
                    self._kick.set()  # the timer slept with no idle worker, or before this job was queued
                await worker.event.wait()
                job = worker.job
                if job is None:
                    continue
            job = await self._look(job)

    async def _look(self, job: Followed) -> Followed | None:
        """Look at a job once and queue its next look; returns the job this worker looks at next (its
        provider's first waiting one), if any."""
        try:
            at = await self._step(job)
        except Exception:  # a step handles its own errors; this only keeps the queue alive if one slips
            log.exception("job %s: following it failed", job.job_id)
            at = None
        except BaseException:  # cancelled: its place is freed, no waiting job is handed to a worker that stops
            job.busy = False
            self._looking[_lane(job)] -= 1
            raise
        job.busy = False
        handed = self._hand_on(_lane(job))
        self._requeue(job, at)
        return handed

    def _requeue(self, job: Followed, at: float | None) -> None:
        if self._jobs.get(job.job_id) is not job:
            return
        if at is None:
            del self._jobs[job.job_id]
            return
        if job.woken:
            job.woken, at = False, time.monotonic()
        self._push(job, at)


def _lane(job: Followed) -> str:
    """Which provider's share a look counts against."""
    return getattr(job.provider, "name", "")
