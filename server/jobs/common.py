"""What the parts of the engine share: its tunables, its two exceptions and small helpers."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone

from providers.base import ErrorCode, ModelSpec, Provider, ProviderError, Snapshot, VideoRequest
from server.store import JobRow

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
# A job this many times past its model's usual time is rarely about to finish: it is polled less often, every
# 1/LATE_DIVISOR of its age (never more often than its provider's cadence), at most LATE_MAX_INTERVAL apart.
LATE_FACTOR = 3
LATE_DIVISOR = 20
LATE_MAX_INTERVAL = 60.0
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
# What a job says while the provider refuses its cancel for now (following.py); cancel_job stops waiting on it.
CANCEL_RETRYING = "cancel not done yet, trying again: {reason}"
# At most this many status polls (each one HTTP request and maybe one write) run at once.
POLL_CONCURRENCY = 64
# One provider's looks take at most this many of those at once, so that a provider that hangs or is rate limited
# cannot stall the others' jobs.
POLL_PER_PROVIDER = POLL_CONCURRENCY // 2
# A followed job's row is read from the index at its first look, when it is woken (a callback or a cancel
# request here, a notification from another process) and at least every ROW_CHECK_SECONDS; in between, one
# query every NEWS_CHECK_SECONDS finds the jobs this process holds that have news stored by another process.
NEWS_CHECK_SECONDS = 2.0
ROW_CHECK_SECONDS = 300.0
# The scheduler's timer wakes at most this many seconds after a job is due, so that the jobs due within it are
# taken in one wake-up: waking the event loop costs more CPU than the Python of a poll. A wake-up (a callback,
# a cancel) is never delayed.
TIMER_SLACK = 0.2
# A poll's progress is written only when it moved by this much (1 point), or something else changed.
PROGRESS_STEP = 0.01
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
    callback already waiting. An unreadable one (None) asks for a poll, unless a poll is asked for already: it
    replaces a waiting snapshot, since the poll reads the latest state (a success that names only a file id,
    arriving before the watcher took the "running" update, must not be dropped), and no readable one replaces
    it (callbacks come in any order: a late "running" must not cancel the poll a success asked for)."""
    if STAGE.get(row.status, 2) >= STAGE["downloading"]:
        return False
    if snapshot is None:
        return row.callback is None or row.callback.get("snapshot") is not None
    if row.callback is not None and row.callback.get("snapshot") is None:
        return False  # a poll is asked for already: it reads a later state than any callback can say
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
