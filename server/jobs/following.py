"""Following a submitted job until the provider is done with it: one look per turn in the scheduler's queue.

News comes from the provider's callbacks (kept in the index by whichever process received them) or from
polling with the provider's cadence; for a job given a callback URL, polling is only a slow safety net. A look
keeps the job's row between looks rather than read it back every time: it reads it when woken (a callback or
a cancel request received here, a notification from another process), and every ROW_CHECK_SECONDS; meanwhile
one query every NEWS_CHECK_SECONDS, for all the jobs this process holds, wakes those for which another process
stored a callback or a cancel request.

A poll is written to the index only when it says something: a new status, message, queue position or charge,
or progress moved by PROGRESS_STEP. Cadences and stuck detection run on the monotonic clock (_age_clock).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from typing import Any

import anyio

from providers.base import (
    CANCEL_AT_ONCE,
    ErrorCode,
    ModelSpec,
    Provider,
    ProviderError,
    Snapshot,
    Submission,
    VideoRequest,
)
from server.store import _CANCELLABLE, JobRow

from . import common
from .parts import EngineParts
from .scheduler import Followed

log = logging.getLogger("videogen.jobs")


def _changes(row: JobRow, snapshot: Snapshot) -> dict[str, Any]:
    """What of a running job's snapshot is worth writing: nothing when only progress crept (under one point)."""
    changes: dict[str, Any] = {
        "status": snapshot.status,
        "progress": snapshot.progress,
        "queue_position": snapshot.queue_position,
        "message": snapshot.message or snapshot.status,
    }
    if snapshot.charged_usd is not None:
        changes["cost_charged"] = snapshot.charged_usd
    if any(getattr(row, k) != v for k, v in changes.items() if k != "progress"):
        return changes
    old, new = row.progress, snapshot.progress
    if old == new or (old is not None and new is not None and abs(new - old) < common.PROGRESS_STEP):
        return {}
    return changes


# The followed jobs with news another process stored (a callback, a cancel request); `pending`: a job whose
# submit is being confirmed may already be followed.
_NEWS = (
    f"SELECT job_id, callback IS NOT NULL FROM jobs WHERE {_CANCELLABLE} AND lease_owner=? "
    "AND (cancel_requested=1 OR callback IS NOT NULL)"
)


class Following(EngineParts):
    """The JobManager's following part (see server/jobs/manager.py for the attributes it uses)."""

    _news_at: float = -math.inf  # monotonic time of the next look for news (see _check_news)

    async def _look(self, job: Followed) -> float | None:
        """The scheduler's step: look at a followed job once. Returns when to look next, or None when the job
        has left the queue (done, handed to delivery, failed, or taken over by another process)."""
        try:
            return await self._look_once(job)
        except Exception as error:
            delay = await self._ended_by(job.job_id, error)
            if delay is None:
                await self._done(job.job_id)
                return None
            return time.monotonic() + delay  # a store error: look again once it may work

    async def _look_once(self, job: Followed) -> float | None:
        now = time.monotonic()
        await self._check_news(job, now)
        row = job.row
        if row is None or job.stale or now - job.read_at >= common.ROW_CHECK_SECONDS * self.settings.poll_scale:
            job.stale = False
            row = job.row = await self._read(job.job_id)
            job.read_at = now
        if row.terminal:
            await self._done(job.job_id)
            return None
        called, snapshot = await self._callback(job, row)
        if row.cancel_requested:
            job.row = None  # the cancel writes the row: read it again next time
            return await self._act_on_cancel(job, row, now, snapshot)
        if snapshot is None and (called or now >= job.due):  # an unreadable callback asks for a poll
            try:
                snapshot = await job.provider.poll(job.submission, job.request)
            except ProviderError as error:
                return self._unreachable(job, error, now)
            job.unreachable_since = None
        if snapshot is None:
            return self._next(min(job.due - now, self._interval(job.provider, job.spec, job.elapsed())))
        return await self._take_in(job, row, snapshot)

    async def _callback(self, job: Followed, row: JobRow) -> tuple[bool, Snapshot | None]:
        """The callback stored for the job, taken (it is cleared in the index): whether there was one, and what
        it says (None: nothing readable, a poll will tell)."""
        if row.callback is None:
            return False, None
        job.row = None
        news = await self._store(self.db.take_callback, job.job_id, self.owner)
        if news is None:
            return False, None
        said = news.get("snapshot")
        return True, None if said is None else Snapshot.model_validate(said)

    async def _take_in(self, job: Followed, row: JobRow, snapshot: Snapshot) -> float | None:
        """Act on what the provider says of the job: hand a finished video to delivery, end a failed or
        cancelled job, write what changed; the time of the next look, or None when the job leaves the queue."""
        if snapshot.status == "succeeded":
            self._deliver_later(job, snapshot)
            return None
        if snapshot.status == "failed":
            if snapshot.charged_usd is not None:  # a failure the provider charged for (Runway's input moderation)
                await self._write(job.job_id, cost_charged=snapshot.charged_usd)
            err = snapshot.error
            raise ProviderError(
                err.code if err else ErrorCode.PROVIDER_FAILED,
                err.message if err else f"{job.provider.title} reported the job as failed",
                retryable=err.retryable if err else False,
            )
        if snapshot.status == "cancelled":
            message = f"cancelled at {job.provider.title}"
            await self._write(job.job_id, status="cancelled", message=message, finished_at=time.time())
            await self._done(job.job_id)
            return None
        if changes := _changes(row, snapshot):
            await self._write(job.job_id, **changes)
            if job.row is row:
                job.row = dataclasses.replace(row, **changes)
        waited = job.elapsed() / self.settings.poll_scale  # in the provider's own seconds
        if waited > self._stuck_after(job.spec):
            await self._give_up(job.provider, job.submission, job.request, job.spec, waited)
        delay = self._poll_delay(job.provider, job.spec, job.elapsed(), job.safety_net)
        job.due = time.monotonic() + delay
        return self._next(min(delay, self._interval(job.provider, job.spec, job.elapsed())))

    async def _act_on_cancel(self, job: Followed, row: JobRow, now: float, said: Snapshot | None) -> float | None:
        """A cancel was asked (by the person, or by the provider's own estimate, CANCEL_AT_ONCE). Look first (a
        poll, or a callback that says the job finished): a job that finished meanwhile (after a restart, say) is
        taken in as it ended, its paid video delivered, not deleted (a cancel deletes a finished Runway task).
        Where the cancel could delete, a check that fails is tried again for MAX_UNREACHABLE_SECONDS, then the
        cancel is sent anyway; a cancel the provider refuses is tried again as long, then withdrawn and the job
        followed to its end. Each has its own streak; the job never ends with its task running unwatched."""
        title = job.provider.title
        snapshot = said if said is not None and said.status in _ENDED else None
        if snapshot is None:
            try:
                snapshot = await job.provider.poll(job.submission, job.request)
            except ProviderError as error:
                snapshot = None  # gone there (a cancel whose answer was lost), or the cancel cannot delete
                if error.retryable and job.provider.supports_cancel:
                    job.check_failing_since = _since(job.check_failing_since, now)
                    if _recent(job.check_failing_since, now):
                        return await self._retry_cancel(job, error, f"checking the job at {title} first failed")
            else:
                job.check_failing_since = job.unreachable_since = None
        if snapshot is not None and snapshot.status in _ENDED:
            if snapshot.status != "cancelled":
                message = f"not cancelled: it had {snapshot.status} at {title} before the cancel came"
                await self._write(job.job_id, cancel_requested=False, message=message)
            return await self._take_in(job, row, snapshot)
        try:
            ended = await self._cancel_remote(job.job_id, job.provider, job.submission, job.request)
        except ProviderError as error:
            job.cancel_failing_since = _since(job.cancel_failing_since, now)
            if error.retryable and _recent(job.cancel_failing_since, now):
                return await self._retry_cancel(job, error, f"{title} refused the cancel")
            job.cancel_failing_since = job.check_failing_since = None
            message = (
                f"could not cancel at {title} ({error.message.rstrip('.')}); still watching it: the video will be "
                "delivered, and charged as the provider says"
            )
            await self._write(job.job_id, cancel_requested=False, message=message)
            return self._next(0)
        job.cancel_failing_since = job.check_failing_since = None
        if ended:
            await self._done(job.job_id)
            return None
        return self._next(0)  # refused there (it runs on): follow it

    async def _retry_cancel(self, job: Followed, error: ProviderError, what: str) -> float:
        """The cancel is not done yet: say why, and look again at the provider's cadence (or its Retry-After)."""
        log.warning("job %s: %s, will retry: %s", job.job_id, what, error.message)
        reason = f"{what} ({error.message.rstrip('.')})"
        await self._write(job.job_id, message=common.CANCEL_RETRYING.format(reason=reason))
        return self._next(max(error.retry_after or 0, self._interval(job.provider, job.spec, 0)))

    async def _check_news(self, job: Followed, now: float) -> None:
        """At most every NEWS_CHECK_SECONDS (on the poll clock, never slower than real time): wake the followed
        jobs for which another process stored a callback or a cancel request (`job`, being looked at, is marked
        to read its row now). One query for every job, instead of a row read at every look."""
        if now < self._news_at:
            return
        self._news_at = now + common.NEWS_CHECK_SECONDS * min(1.0, self.settings.poll_scale)
        for found, called_back in await self.read(self.db.query, _NEWS, (self.owner,)):
            other = self.scheduler.get(found)
            retrying = other is not None and (other.cancel_failing_since, other.check_failing_since) != (None, None)
            if retrying and not called_back:
                continue  # its cancel is being retried at the provider's cadence: not every NEWS_CHECK_SECONDS
            if found == job.job_id:
                job.stale = True
            else:
                self.scheduler.wake(found)

    def _unreachable(self, job: Followed, error: ProviderError, now: float) -> float:
        """A failed poll: transient faults never fail a job, for as long as MAX_UNREACHABLE_SECONDS."""
        job.unreachable_since = _since(job.unreachable_since, now)
        if not error.retryable or not _recent(job.unreachable_since, now):
            raise error
        log.warning("job %s: status check failed, will retry: %s", job.job_id, error.message)
        wait = max(error.retry_after or 0, self._interval(job.provider, job.spec, 0))
        job.due = now + wait
        return self._next(wait)

    def _next(self, seconds: float) -> float:
        """The monotonic time `seconds` from now, never sooner than the floor: no busy loop, whatever the
        interval says."""
        return time.monotonic() + max(seconds, common.SLEEP_FLOOR * self.settings.poll_scale, 0.001)

    def _poll_delay(self, provider: Provider, spec: ModelSpec, elapsed: float, safety_net: bool) -> float:
        """Seconds until the next status poll: the provider's cadence, or, for a job that will be called back,
        not before the model's usual time is up and then CALLBACK_POLL_FACTOR times less often. `elapsed`:
        seconds since the job was created (see _age_clock)."""
        interval = self._interval(provider, spec, elapsed)
        if not safety_net:
            return interval
        return max(interval * common.CALLBACK_POLL_FACTOR, spec.typical_seconds * self.settings.poll_scale - elapsed)

    def _interval(self, provider: Provider, spec: ModelSpec, elapsed: float) -> float:
        """The provider's cadence on a scaled clock (it sees elapsed time in its own, unscaled seconds); for a
        job far past its model's usual time, slower (see LATE_FACTOR), never faster."""
        scale = self.settings.poll_scale
        waited = elapsed / scale
        seconds = provider.poll_interval(spec, waited)
        if waited > common.LATE_FACTOR * spec.typical_seconds:
            seconds = max(seconds, min(common.LATE_MAX_INTERVAL, waited / common.LATE_DIVISOR))
        return seconds * scale

    def _stuck_after(self, spec: ModelSpec) -> float:
        """How long a job may run before it counts as stuck: far past what the model usually takes."""
        if self.settings.stuck_seconds is not None:
            return self.settings.stuck_seconds
        return max(common.STUCK_FACTOR * spec.typical_seconds, common.STUCK_FLOOR_SECONDS)

    async def _give_up(
        self, provider: Provider, submission: Submission, request: VideoRequest, spec: ModelSpec, waited: float
    ) -> None:
        """End a stuck job with a clear timeout, cancelling it at the provider where that is possible."""
        outcome = "it may still finish there and be charged"
        if provider.supports_cancel:
            try:
                await provider.cancel(submission, request)
                outcome = f"it was cancelled at {provider.title}"
            except ProviderError as error:
                outcome = f"cancelling it there failed ({error.message}); it may still be charged"
        raise ProviderError(
            ErrorCode.TIMED_OUT,
            f"{provider.title} has not finished this job after {waited / 60:.0f} min (this model usually takes "
            f"{spec.typical_seconds / 60:.1f} min), so this server stopped waiting; {outcome}. Submitting again "
            "may work.",
            retryable=True,
        )

    async def _poll(
        self, job_id: str, provider: Provider, spec: ModelSpec, submission: Submission, request: VideoRequest
    ) -> Snapshot:
        """One status answer, asking again through transient faults for as long as MAX_UNREACHABLE_SECONDS
        (delivery asks this way for a fresh URL; a cancel request does not cut it short: the video is done)."""
        started = time.monotonic()
        while True:
            try:
                return await provider.poll(submission, request)
            except ProviderError as error:
                if not error.retryable or time.monotonic() - started > common.MAX_UNREACHABLE_SECONDS:
                    raise
                log.warning("job %s: status check failed, will retry: %s", job_id, error.message)
                wait = max(error.retry_after or 0, self._interval(provider, spec, 0))
            await anyio.sleep(max(wait, common.SLEEP_FLOOR * self.settings.poll_scale))

    async def _cancel_remote(
        self, job_id: str, provider: Provider, submission: Submission, request: VideoRequest
    ) -> bool:
        """End the job as cancelled, at the provider too where it can. False: the provider refused to cancel it
        now (BytePlus and DashScope cancel only queued tasks), so it runs on and will be charged: the request is
        withdrawn and the job followed to the end, so the paid video is delivered rather than lost."""
        if provider.supports_cancel:
            try:
                await provider.cancel(submission, request)
            except ProviderError as error:
                if error.code is not ErrorCode.INVALID_INPUT:
                    raise
                message = f"{error.message.rstrip('.')}. Still watching it: the video will be delivered."
                await self._write(job_id, cancel_requested=False, provider_state=submission.state, message=message)
                return False
            message = submission.state.get(CANCEL_AT_ONCE) or f"cancelled at {provider.title}"
        else:
            message = (
                f"{provider.title} cannot cancel a submitted job: it may still run there and be charged; "
                "this server stopped watching it"
            )
        await self._write(
            job_id, status="cancelled", provider_state=submission.state, message=message, finished_at=time.time()
        )
        return True


_ENDED = ("succeeded", "failed", "cancelled")


def _since(since: float | None, now: float) -> float:
    """When a streak of failures began: `since`, or now for the first failure."""
    return now if since is None else since


def _recent(since: float, now: float) -> bool:
    """Whether a streak of failures that began at `since` (monotonic) is within MAX_UNREACHABLE_SECONDS."""
    return now - since <= common.MAX_UNREACHABLE_SECONDS
