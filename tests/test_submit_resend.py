"""A submit the provider refused (429, 503) and that waits to be resent: after a restart it is resent, not
failed as unconfirmed (the provider never took it); and a process that lost the job meanwhile (frozen past its
lease while another process ended it) never resends it. Checked against the Runway simulator, which cannot
look a job up by our id, so a wrong resend or a wrong "unconfirmed" shows."""

from __future__ import annotations

import time
from collections.abc import Iterator

import anyio
import pytest

from providers.simulators import build_app, sample_env
from providers.simulators.common import running
from server.catalog import RequestArgs
from server.jobs import JobManager
from server.settings import Settings
from server.store import JobStore

pytestmark = pytest.mark.anyio
PROMPT = "resend me sim:seconds=30 sim:queue=0"


@pytest.fixture(scope="module")
def simulators() -> Iterator[tuple[str, object]]:
    app = build_app(speed=100)
    with running(app) as url:
        yield url, app


@pytest.fixture
def refusing(simulators):
    """The Runway simulator refuses every submit with 429 (before creating anything) until the test stops it."""
    _, app = simulators
    plan = app.state.faults["runway"]
    plan.rates[("submit", "429")] = 1.0
    yield app.state.simulators["runway"], lambda: plan.rates.pop(("submit", "429"), None)
    plan.rates.pop(("submit", "429"), None)


def settings_for(env: dict[str, str], url: str) -> Settings:
    # Runway's cadence (5-10 s) at this scale: a resend waits 1.5-3 s, long enough for the test to act.
    return Settings.from_env({**env, **sample_env(url), "VIDEOGEN_POLL_SCALE": "0.3"})


async def until_waiting_to_resend(manager: JobManager, job_id: str) -> None:
    with anyio.fail_after(20):
        while not manager.get(job_id).message.startswith("waiting to resend"):
            await anyio.sleep(0.01)


async def test_a_refused_submit_is_resent_after_a_restart(env, simulators, refusing):
    url, _ = simulators
    sim, stop_refusing = refusing
    before = sim.submissions
    settings = settings_for(env, url)
    async with JobManager(settings) as first:
        row = await first.submit(RequestArgs(prompt=PROMPT, provider="runway"))
        await until_waiting_to_resend(first, row.job_id)
    # That process stopped while the job waited to be resent; the provider never took it.
    stop_refusing()
    async with JobManager(settings) as second:
        done = await second.wait(row.job_id, 30)
    assert done.status == "succeeded", done.error
    assert sim.submissions - before == 1


async def test_a_process_that_lost_the_job_does_not_resend_it(env, simulators, refusing):
    url, _ = simulators
    sim, stop_refusing = refusing
    before = sim.submissions
    settings = settings_for(env, url)
    async with JobManager(settings) as frozen:
        row = await frozen.submit(RequestArgs(prompt=PROMPT, provider="runway"))
        await until_waiting_to_resend(frozen, row.job_id)
        # Meanwhile (this process frozen past its lease) another process took the job over, failed it and let
        # it go; the provider would now accept a submit.
        other = JobStore(settings.index_path)
        error = {"code": "SUBMIT_UNCONFIRMED", "message": "ended by another process", "retryable": False}
        other.update(
            row.job_id,
            None,
            status="failed",
            error=error,
            finished_at=time.time(),
            lease_owner=None,
            lease_expires=None,
        )
        other.close()
        stop_refusing()
        with anyio.fail_after(20):
            while row.job_id in frozen._watching:  # the watcher wakes, finds the job gone and stops
                await anyio.sleep(0.05)
    assert sim.submissions == before  # nothing was sent after the job ended
    final = JobStore(settings.index_path).get(row.job_id)
    assert final.status == "failed" and final.error["message"] == "ended by another process"
