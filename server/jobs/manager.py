"""The JobManager: its life cycle, what it publishes, its public face, and the phases of a job's life here.

A job here is first submitted (a task of its own, see submitting.py), then followed (an entry in the one
scheduler's queue, see following.py), then delivered (a task of its own, see delivering.py); leases.py keeps
it ours meanwhile. Whatever ends a phase early decides the job: a provider's error fails it, a lost lease
hands it to the process that took it, and a store error takes it up again from the index after a wait.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import anyio
import anyio.abc
import anyio.from_thread
import anyio.lowlevel
import anyio.to_thread

from providers.base import TERMINAL, ErrorCode, ModelSpec, Provider, ProviderError, Snapshot, Submission, VideoRequest
from providers.registry import Providers
from server.budget import Budget
from server.catalog import Catalog
from server.settings import Settings
from server.store import CANCELLABLE, JobRow, Store, StoreError, new_owner_id, open_store
from server.webhooks import token_matches

from . import common
from .common import LeaseLost, Listener, UnknownJob, _age_clock, _is_news
from .delivering import Delivering
from .following import Following
from .leases import Leases
from .scheduler import Followed, Scheduler
from .submitting import Submitting

log = logging.getLogger("videogen.jobs")
T = TypeVar("T")


class JobManager(Submitting, Following, Delivering, Leases):
    def __init__(self, settings: Settings, *, resume: bool = True, callbacks: bool = False):
        """`callbacks`: this process serves the webhook route (HTTP with VIDEOGEN_PUBLIC_URL), so jobs on
        providers that call back may be given a callback URL. stdio and the CLI never advertise one."""
        self.settings = settings
        self.resume = resume
        self.callbacks = callbacks and settings.public_url is not None
        self.owner = new_owner_id()
        self.providers = Providers(settings.env, settings.allowed_dirs, settings.tuning)
        self.catalog = Catalog(self.providers, settings.allowed_dirs)
        self.store: Store | None = None
        self.listeners: list[Listener] = []
        # The timer's slack is on the poll clock, like the cadences it delays (tests compress both).
        self.scheduler = Scheduler(
            self._look,
            slack=common.TIMER_SLACK * min(1.0, settings.poll_scale),
            per_provider=common.POLL_PER_PROVIDER,
        )
        self._changed: dict[str, anyio.Event] = {}
        self._watching: set[str] = set()  # every job this process has taken up, in whichever phase
        self._retry_delay: dict[str, float] = {}  # a job's next wait after a store error
        self._writer = anyio.CapacityLimiter(1)  # see _store
        self._reader = anyio.CapacityLimiter(1)  # see read (PostgreSQL)
        self._tg: anyio.abc.TaskGroup | None = None
        self._http: Any = None
        self._listener_ended: threading.Event | None = None  # set once the LISTEN thread is over (PostgreSQL)

    # -- life cycle ----------------------------------------------------------------------------
    async def __aenter__(self) -> JobManager:
        self.settings.ensure_dirs()
        if self.settings.database_url:  # connecting and migrating take round trips: not on the event loop
            self.store = await anyio.to_thread.run_sync(open_store, self.settings)
            # PostgreSQL has no single writer: writes and reads share the store's small connection pool.
            self._writer = self._reader = anyio.CapacityLimiter(getattr(self.store, "pool_size", 4))
        else:
            self.store = open_store(self.settings)
        self.budget = Budget(self.store, self.settings.limits)
        self._tg = anyio.create_task_group()
        await self._tg.__aenter__()
        self._tg.start_soon(self.scheduler.run, self._tg)
        if hasattr(self.store, "listen"):
            await self._tg.start(self._listen)
        if self.resume:
            self._tg.start_soon(self._housekeeping)
            self._tg.start_soon(self._warm_up)
        return self

    async def _warm_up(self) -> None:
        """Import what the first provider call needs most (the HTTP client and its transport) in a worker
        thread, shortly after start: imported on the event loop at the first call, they froze it for 0.4 s (3 s
        on a loaded machine), renewing no lease and answering no tool call meanwhile. Not at once: the first
        initialize and tools/list come first (cold start)."""
        await anyio.sleep(WARM_UP_AFTER)
        try:
            await anyio.to_thread.run_sync(_import_transport)
        except Exception:  # only an optimisation: the first call imports what is missing
            log.debug("warm-up imports failed", exc_info=True)

    async def __aexit__(self, *exc: object) -> None:
        assert self._tg is not None and self.store is not None
        self._tg.cancel_scope.cancel()
        await self._tg.__aexit__(None, None, None)
        # Leave unfinished jobs free for the next process at once, not after the lease expires.
        try:
            with anyio.CancelScope(shield=True):
                await self._store(self.store.release, self.owner)
        except StoreError as error:
            log.warning("could not release this process's jobs (they are free once the lease runs out): %s", error)
        with anyio.CancelScope(shield=True):
            if self._listener_ended is not None:
                await anyio.to_thread.run_sync(self._listener_ended.wait, 5.0)
            await self.providers.aclose()
            if self._http is not None:
                await self._http.aclose()
        self.store.close()

    @property
    def db(self) -> Store:
        assert self.store is not None, "JobManager used outside `async with`"
        return self.store

    async def _store(self, call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """A store call that writes: it may wait for the index's write lock (another process may hold it for
        seconds), so it runs in a worker thread, one at a time on SQLite (it has one writer anyway), a few at
        once on PostgreSQL: a locked index holds up the jobs that write, never the event loop."""
        return await anyio.to_thread.run_sync(functools.partial(call, *args, **kwargs), limiter=self._writer)

    async def read(self, call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """A store call that only reads. SQLite: on the event loop's own connection (in WAL mode a reader
        never waits for a writer; cheaper than a trip to a worker thread, on every look at every job).
        PostgreSQL: every call is a network round trip, so in a worker thread."""
        if self.db.offloaded:
            return await anyio.to_thread.run_sync(functools.partial(call, *args, **kwargs), limiter=self._reader)
        return call(*args, **kwargs)

    async def _read(self, job_id: str) -> JobRow:
        """A job's row (see `read`)."""
        row = await self.read(self.db.get, job_id.strip())
        if row is None:
            raise UnknownJob(job_id)
        return row

    async def job(self, job_id: str) -> JobRow:
        """A job's row, off the event loop where the store needs it. UnknownJob if there is none."""
        return await self._read(job_id)

    # -- wake-ups from other processes (PostgreSQL's LISTEN/NOTIFY) ------------------------------
    async def _listen(self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Listen, in a thread of its own, for jobs another process changed (a callback it received, a cancel
        it was asked for, a job it finished) and wake whoever waits on them here at once: waiting calls, and
        the scheduler when this process follows the job. Started once listening (or after the busy timeout,
        when the database does not answer: the listener keeps trying). After a lost connection is back,
        every waiter here looks again (what was notified meanwhile is lost)."""
        listen = getattr(self.db, "listen")  # noqa: B009 (only PostgresJobStore has it)
        token = anyio.lowlevel.current_token()
        stop = threading.Event()
        ready = anyio.Event()

        def on_loop(call: Callable[..., None], *args: Any) -> None:
            try:
                anyio.from_thread.run_sync(call, *args, token=token)
            except RuntimeError:  # the event loop has ended
                stop.set()

        def listening() -> None:
            if ready.is_set():
                self._wake_all()
            else:
                ready.set()

        ended = self._listener_ended = threading.Event()

        def run() -> None:
            try:
                listen(
                    functools.partial(on_loop, self._notified), stop, on_listening=functools.partial(on_loop, listening)
                )
            finally:
                ended.set()

        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(functools.partial(anyio.to_thread.run_sync, run, abandon_on_cancel=True))
                with anyio.move_on_after(self.settings.store_busy_seconds):
                    await ready.wait()
                task_status.started()
        finally:
            stop.set()  # the abandoned thread ends within its poll period (__aexit__ waits for it)

    def _notified(self, job_id: str) -> None:
        self._wake(job_id)
        self.scheduler.wake(job_id)

    def _wake_all(self) -> None:
        for job_id in list(self._changed):
            self._wake(job_id)

    # -- publishing ----------------------------------------------------------------------------
    def _event(self, job_id: str) -> anyio.Event:
        if job_id not in self._changed:
            self._changed[job_id] = anyio.Event()
        return self._changed[job_id]

    def _wake(self, job_id: str) -> None:
        """Wake whoever sleeps on this job here (waiting calls, a submit or delivery waiting to try again)."""
        event = self._changed.pop(job_id, None)
        if event is not None:
            event.set()

    async def _publish(self, job_id: str) -> None:
        self._wake(job_id)
        try:
            row = await self.read(self.db.get, job_id)
        except StoreError as error:  # the change is stored; listeners see it at the next one
            log.warning("job %s: not published: %s", job_id, error)
            return
        if row is None:
            return
        for listener in list(self.listeners):
            try:
                with anyio.move_on_after(common.LISTENER_SECONDS) as waited:  # a slow listener must not hold a job
                    await listener(row)
                if waited.cancelled_caught:
                    log.warning(
                        "job %s: a listener took over %g s; skipped for this change", job_id, common.LISTENER_SECONDS
                    )
            except Exception:  # a broken listener must not break the job
                log.exception("job listener failed")

    async def _write(self, job_id: str, **changes: Any) -> None:
        """Store first, then publish. Raises LeaseLost when another process owns the job now. A store error
        is retried with growing waits until the store works again: what the write records (a provider's id,
        a delivered video) must not be lost, and the job must not be resubmitted."""
        delay = common.STORE_RETRY_FIRST
        while True:
            try:
                written = await self._store(self.db.update, job_id, self.owner, **changes)
                break
            except StoreError as error:
                log.warning("job %s: %s (retrying in %.2f s)", job_id, error, delay)
                await anyio.sleep(delay)
                delay = min(delay * 2, common.STORE_RETRY_MAX)
        if not written:
            raise LeaseLost(job_id)
        if changes.get("status") in TERMINAL:
            self._drop_inputs(job_id)
        await self._publish(job_id)

    def _drop_inputs(self, job_id: str) -> None:
        """Delete the input images kept for this job (see _keep_inline_images): a finished job needs none."""
        for path in (self.settings.data_dir / "inputs").glob(f"{job_id}_*"):
            try:
                path.unlink(missing_ok=True)
            except OSError as error:
                log.warning("job %s: could not delete the stored input %s: %s", job_id, path.name, error)

    # -- the public face -----------------------------------------------------------------------
    def get(self, job_id: str) -> JobRow:
        """A job's row, read synchronously (the CLI; on the event loop prefer `job`, which never blocks it)."""
        row = self.db.get(job_id.strip())
        if row is None:
            raise UnknownJob(job_id)
        return row

    async def wait(
        self,
        job_id: str,
        seconds: float,
        on_update: Callable[[JobRow], Awaitable[None]] | None = None,
        until: Callable[[JobRow], bool] | None = None,
    ) -> JobRow:
        """Return when the job is finished (or `until` says so) or `seconds` have passed; call on_update at every
        change and at least every heartbeat (jobs watched by another process are seen through the store)."""
        deadline = time.monotonic() + max(0.0, seconds)
        while True:
            event = self._event(job_id)
            row = await self._read(job_id)
            if on_update is not None:
                await on_update(row)
            remaining = deadline - time.monotonic()
            if row.terminal or remaining <= 0 or (until is not None and until(row)):
                return row
            with anyio.move_on_after(min(self.settings.heartbeat_seconds, remaining)):
                await event.wait()

    async def cancel(self, job_id: str) -> JobRow:
        row = await self._read(job_id)
        if row.status not in CANCELLABLE:  # finished, or its finished (paid) video is being downloaded
            return row
        await self._store(self.db.request_cancel, row.job_id)
        if row.job_id not in self._watching:
            await self._adopt(row.job_id)
        if row.job_id in self._watching:
            self.scheduler.wake(row.job_id)
            await self._publish(row.job_id)  # wakes a submit or a delivery waiting to try again
            # Until it ends, the provider refused to cancel it now and it is followed to the end, or the provider
            # refused the cancel for now (it is tried again; the job says so).
            retrying = common.CANCEL_RETRYING.partition("{")[0]
            return await self.wait(
                row.job_id, 15.0, until=lambda r: not r.cancel_requested or (r.message or "").startswith(retrying)
            )
        return await self._read(row.job_id)

    # -- provider callbacks --------------------------------------------------------------------
    def callback_job(self, job_id: str, token: str) -> JobRow | None:
        """The job a callback URL names, if its token is the one issued for it. None: unknown job or wrong
        token (callers must not tell which)."""
        row = self.db.get(job_id)
        return row if row is not None and token_matches(row.callback_token_sha256, token) else None

    async def receive_callback(self, row: JobRow, payload: dict[str, Any]) -> bool:
        """Keep what a verified callback says for the job's watcher (whichever process holds it) and wake it
        if it is ours. False: nothing new (a repeat, an older state, a finished job) and nothing changed."""
        provider = self.providers.get(row.provider)
        submission = Submission(ref=row.provider_ref or "", state=row.provider_state, charged_usd=row.cost_charged)
        try:
            snapshot = provider.parse_callback(payload, submission)
        except Exception:  # the token proved who sent it, not that its body is well formed
            log.warning("job %s: could not read a callback from %s", row.job_id, provider.title, exc_info=True)
            snapshot = None
        news = {"snapshot": None if snapshot is None else snapshot.model_dump(mode="json")}
        accept = lambda current: _is_news(current, snapshot)  # noqa: E731
        if not await self._store(self.db.offer_callback, row.job_id, news, accept):
            return False
        log.info("job %s: callback from %s: %s", row.job_id, provider.title, snapshot.status if snapshot else "poll")
        self.scheduler.wake(row.job_id)
        self._wake(row.job_id)
        return True

    # -- the phases of a job's life here -------------------------------------------------------
    async def _begin(self, job_id: str) -> None:
        """Take a job up: check it is ours, submit it unless it was, then queue it to be followed."""
        while True:
            try:
                job = await self._prepare(job_id)
            except Exception as error:
                delay = await self._ended_by(job_id, error)
                if delay is not None:
                    await anyio.sleep(delay)
                    continue
                job = None
            if job is None:
                await self._done(job_id)
            else:
                self.scheduler.add(job, job.due)
            return

    async def _prepare(self, job_id: str) -> Followed | None:
        """The job, submitted, ready to follow; None when there is nothing to follow (finished, cancelled)."""
        row = await self._read(job_id)
        if row.terminal:
            return None
        if row.lease_owner != self.owner:
            raise LeaseLost(job_id)
        provider = self.providers.get(row.provider)
        request = VideoRequest.model_validate(row.request)
        # A model an aggregator described from its published schema (Replicate's owner/name) is described again
        # after a restart: its running, billed prediction is followed, not dropped.
        spec = provider.spec(row.model) or await _described(provider, row.model)
        if spec is None:
            raise ProviderError(ErrorCode.INVALID_INPUT, f"model {row.model!r} is no longer offered by {row.provider}")
        submission = await self._ensure_submitted(row, provider, spec, request)
        if submission is None:
            return None
        row = await self._read(job_id)
        job = Followed(
            job_id=job_id,
            provider=provider,
            spec=spec,
            submission=submission,
            request=request,
            elapsed=_age_clock(row.created_at),
            safety_net=self.callbacks and row.callback_token_sha256 is not None,
        )
        # News that came while submitting (a callback can beat the submit's reply, a cancel request) found no
        # job to wake: look at once instead of at the first safety-net poll, minutes away.
        news = row.callback is not None or row.cancel_requested
        wait = self._poll_delay(provider, spec, job.elapsed(), True) if job.safety_net and not news else 0.0
        job.due = time.monotonic() + wait
        job.urgent = news  # first in its provider's line if that is full (a cancel Runway's estimate asked for)
        return job

    def _deliver_later(self, job: Followed, snapshot: Snapshot) -> None:
        assert self._tg is not None
        self._tg.start_soon(self._delivery, job, snapshot)

    async def _delivery(self, job: Followed, snapshot: Snapshot) -> None:
        try:
            await self._deliver(job.job_id, job.provider, job.spec, job.submission, job.request, snapshot)
        except Exception as error:
            delay = await self._ended_by(job.job_id, error)
            if delay is not None:  # a store error: take the job up again (a fresh poll, then delivery)
                await anyio.sleep(delay)
                await self._begin(job.job_id)
                return
        await self._done(job.job_id)

    async def _ended_by(self, job_id: str, error: Exception) -> float | None:
        """What an error that ended a phase means for the job: None when the job is over here (failed, or
        watched by another process now); else seconds after which to take it up again (a store error)."""
        if isinstance(error, LeaseLost):
            log.info("job %s is watched by another process now", job_id)
            return None
        if isinstance(error, StoreError):
            delay = self._retry_delay.get(job_id, common.STORE_RETRY_FIRST)
            self._retry_delay[job_id] = min(delay * 2, common.STORE_RETRY_MAX)
            log.warning("job %s: %s (taking it up again in %.2f s)", job_id, error, delay)
            return delay
        if not isinstance(error, ProviderError):
            log.error("job %s failed unexpectedly", job_id, exc_info=error)
            error = ProviderError(ErrorCode.INTERNAL, f"internal error: {error}")
        await self._finish_failed(job_id, error)
        return None

    async def _finish_failed(self, job_id: str, error: ProviderError) -> None:
        info = {"code": error.code.value, "message": error.message, "retryable": error.retryable}
        try:
            await self._write(job_id, status="failed", error=info, message=error.message, finished_at=time.time())
        except LeaseLost:
            pass

    async def _sleep(self, job_id: str, seconds: float) -> None:
        """Wait, waking early for a cancel request. The event is taken before the flag is read: a cancel
        stores its flag, then publishes, so it is seen either here or through the event, never lost."""
        event = self._event(job_id)
        if (await self._read(job_id)).cancel_requested:
            return
        with anyio.move_on_after(max(seconds, common.SLEEP_FLOOR * self.settings.poll_scale, 0.001)):
            await event.wait()


WARM_UP_AFTER = 1.0  # seconds after start


def _import_transport() -> None:
    """Import the HTTP client and its aiohttp transport (see JobManager._warm_up)."""
    import importlib

    for module in ("httpx", "aiohttp", "httpx_aiohttp", "providers.http"):
        try:
            importlib.import_module(module)
        except ImportError:  # httpx-aiohttp is optional under trio
            pass


async def _described(provider: Provider, model: str) -> ModelSpec | None:
    """The spec a provider that accepts any model of its catalogue reads from the model's published schema."""
    return await provider.describe(model)
