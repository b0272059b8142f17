"""The JobManager: submits jobs, watches them in the background, downloads results, resumes after a restart.

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
nor times healthy jobs out; persisted times stay wall-clock. Every sleep has a floor.

Before every submit (and resend) this process checks in the store that it still holds the job's lease and
the job is not finished; a submit the provider provably refused is marked (submit_refused_at), so a restart
resends it instead of failing it as unconfirmed. Stored input images are deleted when a job ends.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from contextlib import suppress
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import anyio

from providers.base import (
    TERMINAL,
    ErrorCode,
    ModelSpec,
    Provider,
    ProviderError,
    Snapshot,
    Submission,
    VideoRequest,
)
from providers.registry import Providers
from server.budget import Budget
from server.catalog import Catalog, RequestArgs
from server.crash import crash_point
from server.settings import Settings
from server.store import JobRow, JobStore, StoreError, new_owner_id
from server.webhooks import callback_url, new_token, token_matches, token_sha256

log = logging.getLogger("videogen.jobs")

Listener = Callable[[JobRow], Awaitable[None]]

# A job that keeps failing to answer is given up after this long without one good poll.
MAX_UNREACHABLE_SECONDS = 30 * 60
DOWNLOAD_ATTEMPTS = 5  # each after a fresh status read: signed URLs expire, CDNs hiccup
# A submit the provider refused (429, 503) or never received is resent this often (each time after the
# shared client's own retries, and the provider's cadence or Retry-After): a couple of minutes in all.
SUBMIT_RESENDS = 8
# A job running this many times longer than its model usually takes (and at least 20 min) is stuck.
STUCK_FACTOR = 10
STUCK_FLOOR_SECONDS = 20 * 60
# A job whose provider calls back is polled only as a safety net: not before the model's usual time, then
# at this many times the provider's cadence.
CALLBACK_POLL_FACTOR = 10
# A store error is retried after these many seconds, doubling up to the cap, until the store works again.
STORE_RETRY_FIRST = 0.05
STORE_RETRY_MAX = 5.0
# No sleep is shorter than this (times the poll scale): a bad interval must never become a busy loop.
SLEEP_FLOOR = 0.05
# A video the output folder cannot take (full, unwritable) is tried again with growing waits (at most
# STORAGE_MAX_WAIT apart) for this long, in the provider's seconds, while the provider still serves it.
STORAGE_RETRY_SECONDS = 15 * 60
STORAGE_MAX_WAIT = 60.0
# Listeners (notifications) must return at once; one that does not is skipped after this long.
LISTENER_SECONDS = 1.0
# How far along a state is: a callback counts only when it moves the job on (repeats and late arrivals of an
# older state change nothing).
STAGE = {"pending": -1, "queued": 0, "running": 1, "downloading": 2, "succeeded": 2, "failed": 2, "cancelled": 2}


def _shown(text: str, limit: int = 80) -> str:
    """An agent's value quoted back in an error, cut to `limit` characters."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


class LeaseLost(Exception):
    """Another process took this job over (our lease ran out); stop watching it quietly."""


class UnknownJob(LookupError):
    def __init__(self, job_id: str):
        super().__init__(f"no job with id {_shown(job_id)!r}; list_jobs shows the jobs this server knows")


def iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="seconds")


def _age_clock(created: float) -> Callable[[], float]:
    """Seconds since `created` that a wall-clock jump cannot move: the job's wall-clock age read once, now
    (never negative), then time on the monotonic clock."""
    start, age = time.monotonic(), max(0.0, time.time() - created)
    return lambda: age + (time.monotonic() - start)


def _is_news(row: JobRow, snapshot: Snapshot | None) -> bool:
    """Whether a callback tells the job's watcher something: a later state than the job has and than the
    callback already waiting. An unreadable one (None) asks for a poll, unless news is waiting already."""
    if STAGE.get(row.status, 2) >= STAGE["downloading"]:
        return False
    if snapshot is None:
        return row.callback is None
    waiting = (row.callback or {}).get("snapshot") or {}
    return STAGE[snapshot.status] > max(STAGE.get(row.status, 2), STAGE.get(waiting.get("status", ""), -1))


def _same_request(existing: JobRow, key: str, request_sha256: str) -> JobRow:
    """The job an idempotency key already names, if the request is the same one; else INVALID_INPUT."""
    if existing.request_sha256 is not None and existing.request_sha256 != request_sha256:
        raise ProviderError(
            ErrorCode.INVALID_INPUT,
            f"idempotency_key {_shown(key)!r} was already used for a different request (job {existing.job_id}); "
            "use a new key for a new request, or send the same request to get that job",
        )
    return existing


def _request_sha256(provider: Provider, spec: ModelSpec, request: VideoRequest) -> str:
    """The normalized request (before inline images are stored): what an idempotency key names, and what
    an identical request is recognised by."""
    normalized = json.dumps(
        {"provider": provider.name, "model": spec.id, "request": request.model_dump(mode="json")},
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(normalized.encode()).hexdigest()


def dedupe_note(row: JobRow) -> str:
    """What an agent is told when its request returned an identical job (row.deduplicated)."""
    age = max(0, round(time.time() - row.created_at))
    return (
        f"This request is identical to {row.job_id} (started {age} s ago), so that job is returned instead of "
        "paying for another. To make a new variation, call generate_video again with a new idempotency_key."
    )


class JobManager:
    def __init__(self, settings: Settings, *, resume: bool = True, callbacks: bool = False):
        """`callbacks`: this process serves the webhook route (HTTP with VIDEOGEN_PUBLIC_URL), so jobs on
        providers that call back may be given a callback URL. stdio and the CLI never advertise one."""
        self.settings = settings
        self.resume = resume
        self.callbacks = callbacks and settings.public_url is not None
        self.owner = new_owner_id()
        self.providers = Providers(settings.env, settings.allowed_dirs)
        self.catalog = Catalog(self.providers, settings.allowed_dirs)
        self.store: JobStore | None = None
        self.listeners: list[Listener] = []
        self._changed: dict[str, anyio.Event] = {}
        self._watching: set[str] = set()
        self._tg: anyio.abc.TaskGroup | None = None
        self._http: Any = None

    # -- life cycle ----------------------------------------------------------------------------
    async def __aenter__(self) -> JobManager:
        self.settings.ensure_dirs()
        self.store = JobStore(self.settings.index_path, busy_seconds=self.settings.store_busy_seconds)
        self.budget = Budget(self.store, self.settings.limits)
        self._tg = anyio.create_task_group()
        await self._tg.__aenter__()
        if self.resume:
            self._tg.start_soon(self._housekeeping)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._tg is not None and self.store is not None
        self._tg.cancel_scope.cancel()
        await self._tg.__aexit__(None, None, None)
        # Leave unfinished jobs free for the next process at once, not after the lease expires.
        try:
            self.store.release(self.owner)
        except StoreError as error:
            log.warning("could not release this process's jobs (they are free once the lease runs out): %s", error)
        with anyio.CancelScope(shield=True):
            await self.providers.aclose()
            if self._http is not None:
                await self._http.aclose()
        self.store.close()

    @property
    def db(self) -> JobStore:
        assert self.store is not None, "JobManager used outside `async with`"
        return self.store

    async def _housekeeping(self) -> None:
        """Renew our leases and adopt unfinished jobs nobody watches (after a crash or restart)."""
        period = self.settings.lease_seconds / 3
        while True:
            try:
                self.db.renew(self.owner, self.settings.lease_seconds)
                for job_id in self.db.orphans(self.owner):
                    self._start_watching(job_id)
            except StoreError as error:  # e.g. the index locked by another process: try again next period
                log.warning("housekeeping skipped: %s", error)
            await anyio.sleep(period)

    # -- publishing ----------------------------------------------------------------------------
    def _event(self, job_id: str) -> anyio.Event:
        if job_id not in self._changed:
            self._changed[job_id] = anyio.Event()
        return self._changed[job_id]

    def _wake(self, job_id: str) -> None:
        """Wake whoever sleeps on this job here (its watcher, waiting calls)."""
        event = self._changed.pop(job_id, None)
        if event is not None:
            event.set()

    async def _publish(self, job_id: str) -> None:
        self._wake(job_id)
        try:
            row = self.db.get(job_id)
        except StoreError as error:  # the change is stored; listeners see it at the next one
            log.warning("job %s: not published: %s", job_id, error)
            return
        for listener in list(self.listeners):
            try:
                with anyio.move_on_after(LISTENER_SECONDS) as waited:  # a slow listener must not hold a job up
                    await listener(row)
                if waited.cancelled_caught:
                    log.warning("job %s: a listener took over %g s; skipped for this change", job_id, LISTENER_SECONDS)
            except Exception:  # a broken listener must not break the job
                log.exception("job listener failed")

    async def _write(self, job_id: str, **changes: Any) -> None:
        """Store first, then publish. Raises LeaseLost when another process owns the job now. A store error
        is retried with growing waits until the store works again: what the write records (a provider's id,
        a delivered video) must not be lost, and the job must not be resubmitted."""
        delay = STORE_RETRY_FIRST
        while True:
            try:
                written = self.db.update(job_id, self.owner, **changes)
                break
            except StoreError as error:
                log.warning("job %s: %s (retrying in %.2f s)", job_id, error, delay)
                await anyio.sleep(delay)
                delay = min(delay * 2, STORE_RETRY_MAX)
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
        row = self.db.get(job_id.strip())
        if row is None:
            raise UnknownJob(job_id)
        return row

    async def submit(self, args: RequestArgs, idempotency_key: str | None = None) -> JobRow:
        """Validate, price, record and start a job. Bad input raises before anything is written."""
        key = (idempotency_key or "").strip() or None
        if key and (len(key) > 200 or not key.isprintable() or key != key.encode("utf-8", "replace").decode()):
            raise ProviderError(
                ErrorCode.INVALID_INPUT, "idempotency_key must be at most 200 printable characters (valid Unicode)"
            )
        provider, spec, request = self.catalog.resolve(args)
        request_sha256 = _request_sha256(provider, spec, request)
        if key and (existing := self.db.by_idempotency_key(key)):
            return _same_request(existing, key, request_sha256)
        # Without a key, an identical request while its twin runs (or just succeeded) is a client retrying
        # after it gave up: it gets the twin, before the budget or the images are touched. The insert below
        # looks again inside its transaction, so two identical requests at the same moment make one job.
        dedupe_since = None if key else self._dedupe_since()
        if dedupe_since is not None and (twin := self.db.twin(request_sha256, dedupe_since)):
            return twin
        if not provider.configured():
            raise ProviderError(
                ErrorCode.NOT_CONFIGURED,
                f"{provider.title} is not configured: set {', '.join(provider.missing_env())} in the server's "
                "environment, or choose another provider (list_models shows which are ready)",
            )
        cost = self.catalog.price(provider, spec, request).usd
        self.budget.enforce(cost)  # refuses early, before images are stored; re-checked atomically below
        job_id = "job_" + secrets.token_hex(8)
        request = self._keep_inline_images(job_id, request)
        now = time.time()
        row = JobRow(
            job_id=job_id,
            status="pending",
            provider=provider.name,
            model=spec.id,
            request=request.model_dump(mode="json"),
            created_at=now,
            updated_at=now,
            idempotency_key=key,
            cost_estimate=cost,
            message=f"accepted; submitting to {provider.title}",
            request_sha256=request_sha256,
        )
        try:
            # The daily budget is checked inside the insert's transaction: no concurrent request, here or in
            # another process on this index, can slip in between the check and the reservation.
            row = self.db.insert(
                row,
                lease_owner=self.owner,
                lease_seconds=self.settings.lease_seconds,
                admit=lambda: self.budget.enforce(cost),
                dedupe_since=dedupe_since,
            )
        except BaseException:
            self._drop_inputs(job_id)
            raise
        if row.job_id != job_id:  # the same key, or an identical request, at the same moment
            self._drop_inputs(job_id)
            return row if row.deduplicated else _same_request(row, key or "", request_sha256)
        self._start_watching(job_id, claimed=True)
        return row

    def twin(self, args: RequestArgs) -> JobRow | None:
        """The job this request without an idempotency key would get back from submit (marked deduplicated),
        or None; nothing is written. Lets the spend question spare the person a request that costs nothing.
        Bad input raises as in submit."""
        since = self._dedupe_since()
        return None if since is None else self.db.twin(_request_sha256(*self.catalog.resolve(args)), since)

    def _dedupe_since(self) -> float | None:
        seconds = self.settings.dedupe_seconds
        return None if seconds <= 0 else time.time() - seconds

    def _keep_inline_images(self, job_id: str, request: VideoRequest) -> VideoRequest:
        """Data-URI images are written to the data folder so a resumed job still has them (and the
        index stays small); the request then names the stored file."""
        from providers.images import decode_data_uri

        def keep(value: str, n: int) -> str:
            if not value.startswith("data:"):
                return value
            data, mime = decode_data_uri(value)
            suffix = "." + mime.split("/")[-1].replace("jpeg", "jpg")
            path = self.settings.data_dir / "inputs" / f"{job_id}_{n}_{hashlib.sha256(data).hexdigest()[:8]}{suffix}"
            path.write_bytes(data)
            return str(path)

        images = [keep(v, n) for n, v in enumerate(request.images)]
        end_image = keep(request.end_image, len(images)) if request.end_image else None
        return request.model_copy(update={"images": images, "end_image": end_image})

    async def wait(
        self, job_id: str, seconds: float, on_update: Callable[[JobRow], Awaitable[None]] | None = None
    ) -> JobRow:
        """Return when the job is finished or `seconds` have passed; call on_update at every change
        and at least every heartbeat (jobs watched by another process are seen through the store)."""
        deadline = time.monotonic() + max(0.0, seconds)
        while True:
            event = self._event(job_id)
            row = self.get(job_id)
            if on_update is not None:
                await on_update(row)
            remaining = deadline - time.monotonic()
            if row.terminal or remaining <= 0:
                return row
            with anyio.move_on_after(min(self.settings.heartbeat_seconds, remaining)):
                await event.wait()

    async def cancel(self, job_id: str) -> JobRow:
        row = self.get(job_id)
        if row.terminal:
            return row
        self.db.request_cancel(row.job_id)
        if row.job_id not in self._watching and self.db.claim(row.job_id, self.owner, self.settings.lease_seconds):
            self._start_watching(row.job_id, claimed=True)
        if row.job_id in self._watching:
            await self._publish(row.job_id)  # wakes the watcher's sleep
            return await self.wait(row.job_id, 15.0)
        return self.get(row.job_id)

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
        if not self.db.offer_callback(row.job_id, news, lambda current: _is_news(current, snapshot)):
            return False
        log.info("job %s: callback from %s: %s", row.job_id, provider.title, snapshot.status if snapshot else "poll")
        self._wake(row.job_id)
        return True

    def _callback_for(self, job_id: str, provider: Provider) -> tuple[str, str] | None:
        """(callback URL, its token's hash) for a job on a provider that calls back, when we serve them."""
        if not (self.callbacks and provider.supports_callbacks and self.settings.public_url):
            return None
        token = new_token()
        return callback_url(self.settings.public_url, job_id, token), token_sha256(token)

    # -- watching one job ----------------------------------------------------------------------
    def _start_watching(self, job_id: str, claimed: bool = False) -> None:
        if job_id in self._watching or self._tg is None:
            return
        if not claimed and not self.db.claim(job_id, self.owner, self.settings.lease_seconds):
            return
        self._watching.add(job_id)
        self._tg.start_soon(self._watch, job_id)

    async def _watch(self, job_id: str) -> None:
        """Follow a job to its end. A store error stops nothing: after a wait, the job is taken up again from
        what the store holds (every write that records a side effect is retried in place, see _write)."""
        delay = STORE_RETRY_FIRST
        try:
            while True:
                try:
                    await self._run(job_id)
                    return
                except StoreError as error:
                    log.warning("job %s: %s (taking it up again in %.2f s)", job_id, error, delay)
                    await anyio.sleep(delay)
                    delay = min(delay * 2, STORE_RETRY_MAX)
        finally:
            self._watching.discard(job_id)
            if self.store is not None:
                try:
                    self.db.release(self.owner, job_id)
                except StoreError as error:  # the lease runs out on its own
                    log.warning("job %s: could not release its lease: %s", job_id, error)

    async def _run(self, job_id: str) -> None:
        try:
            row = self.get(job_id)
            if row.terminal:
                return
            if row.lease_owner != self.owner:
                raise LeaseLost(job_id)
            provider = self.providers.get(row.provider)
            request = VideoRequest.model_validate(row.request)
            spec = provider.spec(row.model)
            if spec is None:
                raise ProviderError(
                    ErrorCode.INVALID_INPUT, f"model {row.model!r} is no longer offered by {row.provider}"
                )
            submission = await self._ensure_submitted(row, provider, spec, request)
            if submission is None:
                return
            snapshot = await self._follow(job_id, provider, spec, submission, request)
            if snapshot is not None:
                await self._deliver(job_id, provider, spec, submission, request, snapshot)
        except LeaseLost:
            log.info("job %s is watched by another process now", job_id)
        except ProviderError as error:
            await self._finish_failed(job_id, error)
        except StoreError:
            raise
        except Exception as error:
            log.exception("job %s failed unexpectedly", job_id)
            await self._finish_failed(job_id, ProviderError(ErrorCode.INTERNAL, f"internal error: {error}"))

    async def _finish_failed(self, job_id: str, error: ProviderError) -> None:
        info = {"code": error.code.value, "message": error.message, "retryable": error.retryable}
        try:
            await self._write(job_id, status="failed", error=info, message=error.message, finished_at=time.time())
        except LeaseLost:
            pass

    async def _ensure_submitted(
        self, row: JobRow, provider: Provider, spec: ModelSpec, request: VideoRequest
    ) -> Submission | None:
        if row.status != "pending":
            return Submission(ref=row.provider_ref or "", state=row.provider_state, charged_usd=row.cost_charged)
        if row.cancel_requested:
            await self._write(
                row.job_id,
                status="cancelled",
                message="cancelled before submission; nothing was charged",
                finished_at=time.time(),
            )
            return None
        if row.submit_started_at is not None and row.submit_refused_at is None and not provider.resubmit_is_safe:
            # We crashed while submitting: the provider may or may not have the job. (A last attempt the
            # provider refused is simply resent.)
            unknown = ProviderError(
                ErrorCode.SUBMIT_UNCONFIRMED,
                f"the server stopped while submitting to {provider.title}; the job may have been created and "
                "charged there. Check the provider's dashboard before submitting again.",
                retryable=False,
            )
            window = provider.reconcile_within
            if window is not None and time.time() - row.submit_started_at > window * self.settings.poll_scale:
                raise unknown  # too late to ask again safely (e.g. an idempotency key has expired)
            submission = await self._reconcile(row.job_id, provider, request, unknown)
        else:
            crash_point("before_submit")
            # The token's hash is stored before the provider hears of the URL: a callback may beat the reply.
            callback = self._callback_for(row.job_id, provider)
            if callback:
                await self._write(row.job_id, callback_token_sha256=callback[1])
            submission = await self._submit(row.job_id, provider, spec, request, callback[0] if callback else None)
            if submission is None:
                return None
        crash_point("after_submit")  # the provider has the job; its id is not stored yet
        await self._write(
            row.job_id,
            status="queued",
            provider_ref=submission.ref,
            provider_state=submission.state,
            cost_charged=submission.charged_usd,
            message=f"submitted to {provider.title}",
        )
        return submission

    async def _submit(
        self, job_id: str, provider: Provider, spec: ModelSpec, request: VideoRequest, callback: str | None = None
    ) -> Submission | None:
        """Submit, resending only what provably did not arrive. The shared HTTP client reports a retryable
        error for a submit only when the provider refused it (429, 503) or no connection was made; anything
        that may have reached the provider is SUBMIT_UNCONFIRMED, answered by reconciling, never resending.
        None: the job was cancelled while waiting to resend.

        Before every attempt, the store must confirm that this process still holds the job and that it is not
        finished (a process frozen past its lease must not send what another one has taken over or failed);
        submit_started_at is written first, and submit_refused_at once the provider provably refused."""
        for resend in range(SUBMIT_RESENDS + 1):
            if not self.db.hold(job_id, self.owner, self.settings.lease_seconds):
                raise LeaseLost(job_id)
            await self._write(job_id, submit_started_at=time.time(), submit_refused_at=None)
            try:
                return await provider.submit(job_id, request, callback)
            except ProviderError as error:
                if error.code == ErrorCode.SUBMIT_UNCONFIRMED:
                    return await self._reconcile(job_id, provider, request, error)
                if not error.retryable or resend == SUBMIT_RESENDS:
                    raise
                log.warning("job %s: %s refused the submit, will resend: %s", job_id, provider.title, error.message)
                await self._write(job_id, submit_refused_at=time.time(), message=f"waiting to resend: {error.message}")
                await self._sleep(job_id, max(error.retry_after or 0, self._interval(provider, spec, 0)))
                if self.get(job_id).cancel_requested:
                    await self._write(
                        job_id,
                        status="cancelled",
                        finished_at=time.time(),
                        message="cancelled before submission; nothing was charged",
                    )
                    return None

    async def _reconcile(
        self, job_id: str, provider: Provider, request: VideoRequest, unknown: ProviderError
    ) -> Submission:
        """Look the job up at the provider by our id (where it can) rather than submit twice; without
        an answer, the job fails with `unknown` (SUBMIT_UNCONFIRMED), never with a retryable code."""
        try:
            submission = await provider.reconcile(job_id, request)
        except ProviderError as error:
            log.warning("job %s: reconciling with %s failed: %s", job_id, provider.title, error.message)
            submission = None
        if submission is None:
            if provider.can_reconcile:
                raise ProviderError(
                    ErrorCode.SUBMIT_UNCONFIRMED,
                    f"{unknown.message} {provider.title} has no job under this job's id now, so it was probably "
                    "not created; check its console before submitting again.",
                    retryable=False,
                )
            raise unknown
        log.info("job %s: found at %s after an unconfirmed submit", job_id, provider.title)
        return submission

    async def _follow(
        self, job_id: str, provider: Provider, spec: ModelSpec, submission: Submission, request: VideoRequest
    ) -> Snapshot | None:
        """Follow the job until it is done. None: it was cancelled. News comes from the provider's callbacks
        (kept in the index by whichever process received them) or from polling with the provider's cadence;
        for a job given a callback URL, polling is only a slow safety net."""
        row = self.get(job_id)
        elapsed = _age_clock(row.created_at)
        safety_net = self.callbacks and row.callback_token_sha256 is not None
        due = time.monotonic() + (self._poll_delay(provider, spec, elapsed(), safety_net) if safety_net else 0.0)
        while True:
            row = self.get(job_id)
            if row.cancel_requested:
                await self._cancel_remote(job_id, provider, submission, request)
                return None
            news = self.db.take_callback(job_id, self.owner) if row.callback is not None else None
            if news is not None and news.get("snapshot") is not None:
                snapshot: Snapshot | None = Snapshot.model_validate(news["snapshot"])
            elif news is not None or time.monotonic() >= due:  # an unreadable callback asks for a poll
                snapshot = await self._poll(job_id, provider, spec, submission, request)
            else:
                await self._nap(job_id, provider, spec, elapsed(), due)
                continue
            if snapshot is None:
                continue  # woken by a cancel request while the provider was unreachable
            if snapshot.status == "succeeded":
                return snapshot
            if snapshot.status == "failed":
                err = snapshot.error
                raise ProviderError(
                    err.code if err else ErrorCode.PROVIDER_FAILED,
                    err.message if err else f"{provider.title} reported the job as failed",
                    retryable=err.retryable if err else False,
                )
            if snapshot.status == "cancelled":
                await self._write(
                    job_id, status="cancelled", message=f"cancelled at {provider.title}", finished_at=time.time()
                )
                return None
            changes: dict[str, Any] = {
                "status": snapshot.status,
                "progress": snapshot.progress,
                "queue_position": snapshot.queue_position,
                "message": snapshot.message or snapshot.status,
            }
            if snapshot.charged_usd is not None:
                changes["cost_charged"] = snapshot.charged_usd
            if any(getattr(row, k) != v for k, v in changes.items()):
                await self._write(job_id, **changes)
            waited = elapsed() / self.settings.poll_scale  # in the provider's own seconds
            if waited > self._stuck_after(spec):
                await self._give_up(provider, submission, request, spec, waited)
            due = time.monotonic() + self._poll_delay(provider, spec, elapsed(), safety_net)
            await self._nap(job_id, provider, spec, elapsed(), due)

    def _poll_delay(self, provider: Provider, spec: ModelSpec, elapsed: float, safety_net: bool) -> float:
        """Seconds until the next status poll: the provider's cadence, or, for a job that will be called back,
        not before the model's usual time is up and then CALLBACK_POLL_FACTOR times less often. `elapsed`:
        seconds since the job was created (see _age_clock)."""
        interval = self._interval(provider, spec, elapsed)
        if not safety_net:
            return interval
        return max(interval * CALLBACK_POLL_FACTOR, spec.typical_seconds * self.settings.poll_scale - elapsed)

    async def _nap(self, job_id: str, provider: Provider, spec: ModelSpec, elapsed: float, due: float) -> None:
        """Sleep until the next poll is due, at most one interval at a time: a callback stored by another
        process wakes nothing here, so the index is looked at (cheaply) at the provider's cadence."""
        interval = self._interval(provider, spec, elapsed)
        await self._sleep(job_id, min(due - time.monotonic(), interval))

    def _stuck_after(self, spec: ModelSpec) -> float:
        """How long a job may run before it counts as stuck: far past what the model usually takes."""
        if self.settings.stuck_seconds is not None:
            return self.settings.stuck_seconds
        return max(STUCK_FACTOR * spec.typical_seconds, STUCK_FLOOR_SECONDS)

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
    ) -> Snapshot | None:
        """One status answer, asking again through transient faults (they never fail a job) for as long as
        MAX_UNREACHABLE_SECONDS. None: a cancel request arrived while waiting."""
        started = time.monotonic()
        while True:
            try:
                return await provider.poll(submission, request)
            except ProviderError as error:
                if not error.retryable or time.monotonic() - started > MAX_UNREACHABLE_SECONDS:
                    raise
                log.warning("job %s: status check failed, will retry: %s", job_id, error.message)
                wait = max(error.retry_after or 0, self._interval(provider, spec, 0))
            await self._sleep(job_id, wait)
            if self.get(job_id).cancel_requested:
                return None

    def _interval(self, provider: Provider, spec: ModelSpec, elapsed: float) -> float:
        # A scaled clock: the provider's cadence sees elapsed time in its own (unscaled) seconds.
        scale = self.settings.poll_scale
        return provider.poll_interval(spec, elapsed / scale) * scale

    async def _sleep(self, job_id: str, seconds: float) -> None:
        """Wait, waking early for a cancel request. The event is taken before the flag is read: a cancel
        stores its flag, then publishes, so it is seen either here or through the event, never lost."""
        event = self._event(job_id)
        if self.get(job_id).cancel_requested:
            return
        with anyio.move_on_after(max(seconds, SLEEP_FLOOR * self.settings.poll_scale, 0.001)):
            await event.wait()

    async def _cancel_remote(self, job_id: str, provider: Provider, submission: Submission, request: VideoRequest):
        if provider.supports_cancel:
            await provider.cancel(submission, request)
            message = f"cancelled at {provider.title}"
        else:
            message = (
                f"{provider.title} cannot cancel a submitted job: it may still run there and be charged; "
                "this server stopped watching it"
            )
        await self._write(
            job_id, status="cancelled", provider_state=submission.state, message=message, finished_at=time.time()
        )

    async def _deliver(
        self,
        job_id: str,
        provider: Provider,
        spec: ModelSpec,
        submission: Submission,
        request: VideoRequest,
        snapshot: Snapshot,
    ) -> None:
        """Download (or render) the video next to a temp name, verify it, then rename it into place.

        A failed download is tried again (after a fresh status read: signed URLs expire) DOWNLOAD_ATTEMPTS
        times. When our own disk is at fault (output folder full, unwritable or deleted: it is recreated),
        the job says so in its message and keeps trying with growing waits for STORAGE_RETRY_SECONDS while the
        provider serves the video; then it fails DOWNLOAD_FAILED (retryable), never INTERNAL. A thumbnail that
        cannot be written leaves a delivered video without one."""
        from server import media

        row = self.get(job_id)
        name = media.video_filename(job_id, request.prompt, datetime.fromtimestamp(row.created_at, timezone.utc))
        dest = self.settings.output_dir / name
        await self._write(
            job_id,
            status="downloading",
            progress=1.0,
            queue_position=None,
            message="downloading the video",
            cost_charged=snapshot.charged_usd or row.cost_charged,
        )
        scale = self.settings.poll_scale
        storage_error = getattr(media, "LocalStorageError", OSError)
        started, failures, storage_failures = time.monotonic(), 0, 0
        while True:
            try:
                await self._fetch(provider, submission, request, snapshot, dest)
                info = await anyio.to_thread.run_sync(media.probe, dest)
                break
            except (media.MediaError, ProviderError, OSError) as error:
                if isinstance(error, OSError | storage_error):
                    storage_failures += 1
                    message = self._storage_message(error)
                    if time.monotonic() - started >= STORAGE_RETRY_SECONDS * scale:
                        raise ProviderError(
                            ErrorCode.DOWNLOAD_FAILED,
                            f"{message}. Gave up saving it after {STORAGE_RETRY_SECONDS / 60:.0f} min; once the "
                            "folder can take it, submitting again makes a new video (and may be charged again).",
                            retryable=True,
                        ) from None
                    wait = min(STORAGE_MAX_WAIT, 2.0 * storage_failures) * scale
                    await self._write(job_id, message=f"{message}; trying again")
                else:
                    failures += 1
                    message = error.message if isinstance(error, ProviderError) else str(error)
                    if failures >= DOWNLOAD_ATTEMPTS:
                        raise ProviderError(
                            ErrorCode.DOWNLOAD_FAILED, f"could not download the video: {message}"
                        ) from None
                    wait = self._interval(provider, spec, 0) * failures
                log.warning("job %s: delivery attempt failed: %s", job_id, message)
                await self._sleep(job_id, wait)
                try:
                    fresh = await self._poll(job_id, provider, spec, submission, request)  # a fresh (unexpired) URL
                except ProviderError as gone:
                    raise ProviderError(
                        ErrorCode.DOWNLOAD_FAILED,
                        f"{message}; and {provider.title} no longer answers for the video: {gone.message}",
                        retryable=True,
                    ) from None
                if fresh is not None and fresh.status == "succeeded":
                    snapshot = fresh
        try:
            thumb: str | None = str(await anyio.to_thread.run_sync(media.thumbnail, dest, dest.with_suffix(".png")))
        except (media.MediaError, OSError) as error:  # the video itself is safe: deliver it without a picture
            log.warning("job %s: no thumbnail: %s", job_id, error)
            thumb = None
        video = {
            "path": str(dest),
            "url": snapshot.video_url,
            "thumbnail_path": thumb,
            "duration_seconds": round(info.duration_seconds, 3),
            "width": info.width,
            "height": info.height,
            "size_bytes": info.size_bytes,
        }
        log.info("job %s delivered by %s", job_id, self.owner)
        await self._write(
            job_id, status="succeeded", video=video, progress=1.0, message=f"done: {dest.name}", finished_at=time.time()
        )

    async def _fetch(
        self, provider: Provider, submission: Submission, request: VideoRequest, snapshot: Snapshot, dest: Path
    ) -> None:
        from server import media

        dest.parent.mkdir(parents=True, exist_ok=True)  # the output folder may have been deleted since
        if snapshot.video_url:
            # A provider served from this machine or network (a proxy, a simulator) may serve its videos there.
            private = await media.is_private_url(provider.base_url) if provider.base_url else False
            await media.download(
                self._http_client(),
                snapshot.video_url,
                dest,
                max_bytes=self.settings.max_download_bytes,
                allow_private=private,
            )
            return
        part = dest.with_name(dest.name + ".part")
        try:
            await provider.fetch(snapshot, submission, request, part)
            await anyio.to_thread.run_sync(media.finalize, part, dest)  # verifies every frame: not on the loop
        finally:
            with suppress(OSError):
                part.unlink(missing_ok=True)

    def _storage_message(self, error: Exception) -> str:
        """What is wrong with the output folder, and what to do (media's LocalStorageError says both)."""
        if isinstance(error, OSError):
            return (
                f"cannot save the video in {self.settings.output_dir}: {error.strerror or error}. Free space there "
                "(or make it writable), or set VIDEOGEN_OUTPUT_DIR to a folder that has room"
            )
        return str(error)

    def _http_client(self) -> Any:
        if self._http is None:
            import httpx

            self._http = httpx.AsyncClient(timeout=httpx.Timeout(60.0, connect=10.0), follow_redirects=True)
        return self._http
