"""Delivery's retries, with the demo provider's real rendering behind a fetch that fails first: a provider that
only says "not now" (rate limit, network fault; Google serves its files through its rate-limited API) is waited
out however often it says so, as polls are; a fetch that fails for other reasons gives up after
DOWNLOAD_ATTEMPTS with DOWNLOAD_FAILED. (The fault suite once lost a Google video to five 429s in a row.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from providers.base import ErrorCode, ProviderError
from server.catalog import RequestArgs
from server.jobs import JobManager
from server.jobs import common as engine_common
from server.media import verify
from server.settings import Settings

pytestmark = pytest.mark.anyio


def failing_first(provider: Any, errors: list[ProviderError]) -> list[int]:
    """Make `provider.fetch` raise `errors` in turn, then fetch for real; returns the call counter."""
    real, calls = provider.fetch, [0]

    async def fetch(*args: Any) -> None:
        calls[0] += 1
        if errors:
            raise errors.pop(0)
        await real(*args)

    provider.fetch = fetch
    return calls


async def test_a_rate_limited_download_is_waited_out_past_the_attempt_limit(env: dict[str, str]):
    refusals = engine_common.DOWNLOAD_ATTEMPTS * 2
    errors = [
        ProviderError(ErrorCode.RATE_LIMITED, "rate limit reached (HTTP 429)", retryable=True, retry_after=0.01)
        if n % 2
        else ProviderError(ErrorCode.TRANSIENT, "connection reset", retryable=True)
        for n in range(refusals)
    ]
    settings = Settings.from_env({**env, "VIDEOGEN_POLL_SCALE": "0.001"})
    async with JobManager(settings) as engine:
        calls = failing_first(engine.providers.get("demo"), errors)
        row = await engine.submit(RequestArgs(prompt="a rate-limited download", provider="demo", duration=2))
        done = await engine.wait(row.job_id, 30)
    assert done.status == "succeeded", done.error
    assert calls[0] == refusals + 1
    assert verify(Path(done.video["path"])).frames


async def test_a_download_that_keeps_failing_gives_up_with_download_failed(env: dict[str, str]):
    broken = ProviderError(ErrorCode.DOWNLOAD_FAILED, "the finished interaction no longer holds the video")
    settings = Settings.from_env({**env, "VIDEOGEN_POLL_SCALE": "0.001"})
    async with JobManager(settings) as engine:
        calls = failing_first(engine.providers.get("demo"), [broken] * 50)
        row = await engine.submit(RequestArgs(prompt="a lost video", provider="demo", duration=2))
        done = await engine.wait(row.job_id, 30)
    assert done.status == "failed" and done.error["code"] == "DOWNLOAD_FAILED", done.error
    assert "no longer holds the video" in done.error["message"]
    assert calls[0] == engine_common.DOWNLOAD_ATTEMPTS
