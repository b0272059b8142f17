"""A wall-clock jump (NTP step, suspend, a person setting the clock) while jobs run: backward must not make
the engine poll in a busy loop, forward must not time healthy jobs out and cancel them at the provider.
Only the job engine's wall clock jumps here (server.jobs.time); the simulators keep real time."""

from __future__ import annotations

import time
from collections.abc import Iterator

import anyio
import pytest

from providers.simulators import build_app, sample_env
from providers.simulators.common import running
from server import jobs
from server.catalog import RequestArgs
from server.jobs import JobManager
from server.settings import Settings

pytestmark = pytest.mark.anyio
DAY = 86400.0
SECONDS = 200  # the job's length in the provider's seconds (2 s real at speed 100)
MIN_INTERVAL = {"fal": 2.0, "wireflow": 1.0}  # each adapter's shortest cadence, in the provider's seconds


class JumpingClock:
    """The `time` module as server.jobs sees it, with a wall clock that can jump."""

    def __init__(self) -> None:
        self.offset = 0.0

    def time(self) -> float:
        return time.time() + self.offset

    @staticmethod
    def monotonic() -> float:
        return time.monotonic()


@pytest.fixture(scope="module")
def simulators() -> Iterator[tuple[str, dict]]:
    app = build_app(speed=100)
    with running(app) as url:
        yield url, app.state.simulators


@pytest.fixture
def clock(monkeypatch) -> JumpingClock:
    fake = JumpingClock()
    monkeypatch.setattr(jobs, "time", fake)
    return fake


async def run_with_jump(env, url, provider: str, clock: JumpingClock, jump: float):
    settings = Settings.from_env(
        {**env, **sample_env(url), "VIDEOGEN_POLL_SCALE": "0.01", "VIDEOGEN_STUCK_SECONDS": "3000"}
    )
    async with JobManager(settings) as manager:
        row = await manager.submit(RequestArgs(prompt=f"tick sim:seconds={SECONDS} sim:queue=0", provider=provider))
        with anyio.fail_after(20):
            while manager.get(row.job_id).status != "running":  # followed (and its clock anchored) already
                await anyio.sleep(0.01)
        clock.offset = jump
        return await manager.wait(row.job_id, 30)


@pytest.mark.parametrize("provider", ["fal", "wireflow"])
async def test_a_backward_jump_keeps_the_providers_cadence(env, simulators, clock, provider):
    url, sims = simulators
    row = await run_with_jump(env, url, provider, clock, -DAY)
    assert row.status == "succeeded", row.error
    polls = sims[provider].polls[row.provider_ref]
    # At the provider's shortest interval the whole job needs SECONDS / interval polls; a busy loop makes hundreds.
    assert polls <= SECONDS / MIN_INTERVAL[provider] + 10, polls


@pytest.mark.parametrize("provider", ["fal", "runway"])
async def test_a_forward_jump_does_not_time_out_a_healthy_job(env, simulators, clock, provider):
    url, sims = simulators
    row = await run_with_jump(env, url, provider, clock, DAY)  # a day later, far past the 3000 s stuck limit
    assert row.status == "succeeded", row.error
    assert not sims[provider].jobs[row.provider_ref].cancelled
