"""Submitting a job: validate, price, record it, then send it to the provider exactly once.

A job is written before the provider hears of it; the provider's id is written the moment it is known. Before
every submit (and resend) this process checks in the store that it still holds the job's lease and the job is
not finished; a submit the provider provably refused is marked (submit_refused_at), so a restart resends it
instead of failing it as unconfirmed. A submit whose outcome is unknown is reconciled, never blindly resent.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from collections.abc import Callable
from typing import Any

from providers.base import (
    AT_MOST_USD,
    CANCEL_AT_ONCE,
    ErrorCode,
    ModelSpec,
    Provider,
    ProviderError,
    Submission,
    VideoRequest,
)
from server.catalog import RequestArgs
from server.crash import crash_point
from server.store import JobRow
from server.webhooks import callback_url, new_token, token_sha256

from . import common
from .common import LeaseLost
from .parts import EngineParts

log = logging.getLogger("videogen.jobs")


class Submitting(EngineParts):
    """The JobManager's submitting part (see server/jobs/manager.py for the attributes it uses)."""

    async def submit(self, args: RequestArgs, idempotency_key: str | None = None) -> JobRow:
        """Validate, price, record and start a job. Bad input raises before anything is written."""
        key = (idempotency_key or "").strip() or None
        if key and (len(key) > 200 or not key.isprintable() or key != key.encode("utf-8", "replace").decode()):
            raise ProviderError(
                ErrorCode.INVALID_INPUT, "idempotency_key must be at most 200 printable characters (valid Unicode)"
            )
        await self.catalog.prepare(args.provider, args.model)  # an aggregator's uncurated model, read first
        provider, spec, request = self.catalog.resolve(args)
        request_sha256 = common._request_sha256(provider, spec, request)
        if key and (existing := await self.read(self.db.by_idempotency_key, key)):
            return common._same_request(existing, key, request_sha256)
        # Without a key, an identical request while its twin runs (or just succeeded) is a client retrying
        # after it gave up: it gets the twin, before the budget or the images are touched. The insert below
        # looks again inside its transaction, so two identical requests at the same moment make one job.
        dedupe_since = None if key else self._dedupe_since()
        if dedupe_since is not None and (twin := await self.read(self.db.twin, request_sha256, dedupe_since)):
            return twin
        if not provider.configured():
            raise ProviderError(
                ErrorCode.NOT_CONFIGURED,
                f"{provider.title} is not configured: set {', '.join(provider.missing_env())} in the server's "
                "environment, or choose another provider (list_models shows which are ready)",
            )
        cost = self.catalog.price(provider, spec, request).usd
        # Refuses early, before images are stored; re-checked atomically below.
        spend_counts = self._spend_counts(cost)
        if spend_counts:
            await self.read(self.budget.enforce, cost)
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
            row = await self._store(
                self.db.insert,
                row,
                lease_owner=self.owner,
                lease_seconds=self.settings.lease_seconds,
                admit=(lambda: self.budget.enforce(cost)) if spend_counts else None,
                dedupe_since=dedupe_since,
            )
        except BaseException:
            self._drop_inputs(job_id)
            raise
        if row.job_id != job_id:  # the same key, or an identical request, at the same moment
            self._drop_inputs(job_id)
            return row if row.deduplicated else common._same_request(row, key or "", request_sha256)
        self._start_watching(job_id, claimed=True)
        return row

    def _spend_counts(self, cost: float) -> bool:
        """Whether the budget must be asked about a job of this cost: a daily budget is set (then the day's
        spend decides, read inside the insert's transaction), or the per-job limit refuses it (Budget.enforce
        says so in its words). Otherwise no limit can refuse it, and reading the day's ledger is skipped: that
        query reads every job of the day, 7.5 ms at 10,000 jobs, twice per submit (once on the event loop,
        once holding the index's one writer), which made submitting slow down as the day filled."""
        limits = self.budget.limits
        per_job = limits.max_cost_per_job
        return limits.daily_budget is not None or (per_job is not None and cost > per_job)

    def twin(self, args: RequestArgs) -> JobRow | None:
        """The job this request without an idempotency key would get back from submit (marked deduplicated),
        or None; nothing is written. Lets the spend question spare the person a request that costs nothing.
        Bad input raises as in submit."""
        since = self._dedupe_since()
        return None if since is None else self.db.twin(common._request_sha256(*self.catalog.resolve(args)), since)

    def _dedupe_since(self) -> float | None:
        seconds = self.settings.dedupe_seconds
        return None if seconds <= 0 else time.time() - seconds

    def _keep_inline_images(self, job_id: str, request: VideoRequest) -> VideoRequest:
        """Data-URI images and videos are written to the data folder so a resumed job still has them (and
        the index and every job result stay small: a video's data URI is megabytes); the request then names
        the stored file."""
        from providers import images, videos

        def keep(value: str, name: str, decode: Callable[[str], tuple[bytes, str]]) -> str:
            if not value.startswith("data:"):
                return value
            data, mime = decode(value)
            suffix = "." + mime.split("/")[-1].replace("jpeg", "jpg").replace("quicktime", "mov")
            path = self.settings.data_dir / "inputs" / f"{job_id}_{name}_{hashlib.sha256(data).hexdigest()[:8]}{suffix}"
            path.write_bytes(data)
            return str(path)

        kept = [keep(v, str(n), images.decode_data_uri) for n, v in enumerate(request.images)]
        end_image = keep(request.end_image, str(len(kept)), images.decode_data_uri) if request.end_image else None
        video = keep(request.video, "video", videos.decode_data_uri) if request.video else None
        return request.model_copy(update={"images": kept, "end_image": end_image, "video": video})

    def _callback_for(self, job_id: str, provider: Provider) -> tuple[str, str] | None:
        """(callback URL, its token's hash) for a job on a provider that calls back, when we serve them."""
        if not (self.callbacks and provider.supports_callbacks and self.settings.public_url):
            return None
        token = new_token()
        return callback_url(self.settings.public_url, job_id, token), token_sha256(token)

    async def _ensure_submitted(
        self, row: JobRow, provider: Provider, spec: ModelSpec, request: VideoRequest
    ) -> Submission | None:
        if row.status != "pending":
            return Submission(ref=row.provider_ref or "", state=row.provider_state, charged_usd=row.cost_charged)
        started = row.submit_started_at
        maybe_sent = started is not None and row.submit_refused_at is None
        if row.cancel_requested and (not maybe_sent or provider.resubmit_is_safe):
            await self._write(
                row.job_id,
                status="cancelled",
                message="cancelled before submission; nothing was charged",
                finished_at=time.time(),
            )
            return None
        # A submit cut off mid-way (we crashed) is looked up first, cancel requested or not: if the provider made
        # the job, its id is stored and the follower cancels it.
        if started is not None and maybe_sent and not provider.resubmit_is_safe:
            # We crashed while submitting: the provider may or may not have the job. (A last attempt the
            # provider refused is simply resent.)
            unknown = ProviderError(
                ErrorCode.SUBMIT_UNCONFIRMED,
                f"the server stopped while submitting to {provider.title}; the job may have been created and "
                "charged there. Check the provider's dashboard before submitting again.",
                retryable=False,
            )
            window = provider.reconcile_within
            if window is not None and time.time() - started > window * self.settings.poll_scale:
                raise unknown  # too late to ask again safely (e.g. an idempotency key has expired)
            found = await self._reconcile(row.job_id, provider, request, unknown, cancelled=row.cancel_requested)
            if found is None:
                return None
            submission = found
        else:
            crash_point("before_submit")
            # The token's hash is stored before the provider hears of the URL: a callback may beat the reply.
            callback = self._callback_for(row.job_id, provider)
            if callback:
                await self._write(row.job_id, callback_token_sha256=callback[1])
            sent = await self._submit(row.job_id, provider, spec, request, callback[0] if callback else None)
            if sent is None:
                return None
            submission = sent
        crash_point("after_submit")  # the provider has the job; its id is not stored yet
        try:
            await self._write(
                row.job_id,
                status="queued",
                provider_ref=submission.ref,
                provider_state=submission.state,
                cost_charged=submission.charged_usd,
                message=f"submitted to {provider.title}",
                # stored with the id: the follower cancels it at once, and after a crash too
                **(_cancel_at_once(row, submission) if submission.state.get(CANCEL_AT_ONCE) else {}),
            )
        except LeaseLost:
            # Answered after our lease ran out (this process stalled): another process holds the job now, or
            # failed it as unconfirmed. The provider made and charges this job: its id must not be lost.
            late = (
                f"{provider.title} created this job (id {submission.ref}) after all, answering once this server "
                "had stopped waiting for it; it is charged there: find it in the provider's console by that id"
            )
            if submission.state.get(CANCEL_AT_ONCE):  # no one will follow it: cancel it here, as it asked
                late = await self._cancel_late(provider, submission, request, late)
            keep = self.db.keep_late_submission  # counted at the most the provider said it may cost
            if await self._store(keep, row.job_id, submission.ref, submission.state, late, _at_most(submission)):
                log.warning("job %s: kept %s's late answer (id %s)", row.job_id, provider.title, submission.ref)
                await self._publish(row.job_id)
            raise
        crash_point("after_store")  # the id (and any cancel the provider asked for) is in the index
        return submission

    @staticmethod
    async def _cancel_late(provider: Provider, submission: Submission, request: VideoRequest, late: str) -> str:
        """A late answer for a job that must not run (CANCEL_AT_ONCE): cancel it at once, as the follower would
        have; the message kept says how that went."""
        try:
            await provider.cancel(submission, request)
        except ProviderError as error:
            return f"{late}. It must not run ({submission.state[CANCEL_AT_ONCE]}), but cancelling it failed: {error}"
        return f"{late}; it was cancelled there at once: {submission.state[CANCEL_AT_ONCE]}"

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
        for resend in range(common.SUBMIT_RESENDS + 1):
            if not await self._store(self.db.hold, job_id, self.owner, self.settings.lease_seconds):
                raise LeaseLost(job_id)
            await self._write(job_id, submit_started_at=time.time(), submit_refused_at=None)
            try:
                return await provider.submit(job_id, request, callback)
            except ProviderError as error:
                if error.code == ErrorCode.SUBMIT_UNCONFIRMED:
                    return await self._reconcile(job_id, provider, request, error)
                if not error.retryable or resend == common.SUBMIT_RESENDS:
                    raise
                log.warning("job %s: %s refused the submit, will resend: %s", job_id, provider.title, error.message)
                await self._write(job_id, submit_refused_at=time.time(), message=f"waiting to resend: {error.message}")
                await self._sleep(job_id, max(error.retry_after or 0, self._interval(provider, spec, 0)))
                if (await self._read(job_id)).cancel_requested:
                    await self._write(
                        job_id,
                        status="cancelled",
                        finished_at=time.time(),
                        message="cancelled before submission; nothing was charged",
                    )
                    return None
        raise AssertionError("unreachable: the last resend returns or raises")

    async def _reconcile(
        self, job_id: str, provider: Provider, request: VideoRequest, unknown: ProviderError, cancelled: bool = False
    ) -> Submission | None:
        """Look the job up at the provider by our id (where it can) rather than submit twice; without
        an answer, the job fails with `unknown` (SUBMIT_UNCONFIRMED), never with a retryable code. `cancelled`:
        the person cancelled it meanwhile, so a provider's answer that it has no such job ends it cancelled
        (None), as nothing was made or charged."""
        looked_up = True
        try:
            submission = await provider.reconcile(job_id, request)
        except ProviderError as error:
            log.warning("job %s: reconciling with %s failed: %s", job_id, provider.title, error.message)
            submission, looked_up = None, False
        if submission is None:
            if cancelled and looked_up and provider.can_reconcile:
                await self._write(
                    job_id,
                    status="cancelled",
                    message=f"cancelled: {provider.title} has no job under this job's id, so it was not created; "
                    "nothing was charged",
                    finished_at=time.time(),
                )
                return None
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


def _at_most(submission: Submission) -> float:
    """The most the provider said the job may charge (AT_MOST_USD), 0 when it said nothing."""
    value = submission.state.get(AT_MOST_USD)
    return float(value) if isinstance(value, int | float) else 0.0


def _cancel_at_once(row: JobRow, submission: Submission) -> dict[str, Any]:
    """The changes for a job the provider took but must not run: cancel it, and count it at the most the
    provider said it may charge (it keeps the credits of a task it had started before the cancel reached it)."""
    changes: dict[str, Any] = {"cancel_requested": True}
    if _at_most(submission) > (row.cost_estimate or 0.0):
        changes["cost_estimate"] = _at_most(submission)
    return changes
