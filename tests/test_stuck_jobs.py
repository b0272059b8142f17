"""A provider job that never finishes ends with a clear timeout instead of hanging forever."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from providers.simulators import build_app, sample_env
from providers.simulators.common import running
from server.catalog import RequestArgs
from server.jobs import JobManager
from server.settings import Settings

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def simulators() -> Iterator[tuple[str, dict]]:
    app = build_app(speed=100)
    with running(app) as url:
        yield url, app.state.simulators


@pytest.mark.parametrize(
    ("provider", "outcome"), [("runway", "cancelled at Runway"), ("runblob", "may still finish there and be charged")]
)
async def test_a_stuck_job_times_out_and_is_cancelled_where_possible(env, simulators, provider, outcome):
    url, sims = simulators
    # The provider takes 100,000 s; this server gives up after 60 s of the provider's clock (0.6 s here).
    settings = Settings.from_env(
        {**env, **sample_env(url), "VIDEOGEN_POLL_SCALE": "0.01", "VIDEOGEN_STUCK_SECONDS": "60"}
    )
    async with JobManager(settings) as manager:
        row = await manager.submit(RequestArgs(prompt="forever sim:seconds=100000 sim:queue=0", provider=provider))
        row = await manager.wait(row.job_id, 20)
    assert row.status == "failed" and row.error["code"] == "TIMED_OUT" and row.error["retryable"] is True
    assert "stopped waiting" in row.error["message"] and outcome in row.error["message"]
    sim_job = sims[provider].jobs[row.provider_ref]
    assert sim_job.cancelled is (provider == "runway")
