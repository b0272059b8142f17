"""kill -9 at every phase of a job, then a restart: every job ends right, nothing is paid for twice, and a
half-written file is never the result.

A worker process (`mcp-videogen generate`) is killed at an exact phase (VIDEOGEN_CRASH_AT, see
server/crash.py, or while its submit is held open by the simulator), then a new engine on the same index
takes the job over (the dead holder's lease is recognised at once) and the outcome is checked against the
simulator's own job table.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import PYTHON, ROOT, subprocess_env

from providers.simulators import build_app, sample_env
from providers.simulators.common import running
from server.jobs import JobManager
from server.media import verify
from server.settings import Settings

pytestmark = pytest.mark.anyio
PROMPT = "a crash test dummy sim:seconds=30 sim:queue=0"


@pytest.fixture(scope="module")
def simulators() -> Iterator[tuple[str, object]]:
    # Submits are held open on request (the "during submit" phase): a hung answer after the job is made.
    app = build_app(speed=100)
    with running(app) as url:
        yield url, app


def crash_env(env: dict[str, str], url: str) -> dict[str, str]:
    return {**env, **sample_env(url), "VIDEOGEN_POLL_SCALE": "0.01", "VIDEOGEN_LEASE_SECONDS": "60"}


def start_worker(env: dict[str, str], provider: str, crash_at: str | None = None) -> subprocess.Popen:
    extra = {"VIDEOGEN_CRASH_AT": crash_at} if crash_at else {}
    return subprocess.Popen(
        [PYTHON, "-m", "server", "generate", PROMPT, "--provider", provider, "--json"],
        env=subprocess_env({**env, **extra}),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


async def restart_and_finish(settings: Settings) -> list:
    async with JobManager(settings) as manager:
        rows = manager.db.list(None, 10)
        assert len(rows) == 1, rows
        return [await manager.wait(rows[0].job_id, 30)]


# phase -> the outcome per provider: Kling can find a job by our id, Runway cannot.
CASES = [
    ("before_submit", "runway", "succeeded", 1),
    ("before_submit", "kling", "succeeded", 1),
    ("after_submit", "runway", "SUBMIT_UNCONFIRMED", 1),
    ("after_submit", "kling", "succeeded", 1),
    ("after_store", "runway", "succeeded", 1),
    ("after_store", "kling", "succeeded", 1),
    ("mid_download", "runway", "succeeded", 1),
    ("mid_download", "kling", "succeeded", 1),
]


@pytest.mark.parametrize(("phase", "provider", "outcome", "submissions"), CASES)
async def test_kill_9_at_a_phase_then_restart(env, simulators, phase, provider, outcome, submissions):
    url, app = simulators
    sim = app.state.simulators[provider]
    before = sim.submissions
    env = crash_env(env, url)
    worker = start_worker(env, provider, phase)
    assert worker.wait(timeout=60) == -signal.SIGKILL, worker.stderr.read()[-2000:]
    settings = Settings.from_env(env)
    if phase == "mid_download":  # the crash left a half-written file that must never become the result
        assert list(settings.output_dir.glob("*.part")) and not list(settings.output_dir.glob("*.mp4"))
    [row] = await restart_and_finish(settings)
    assert (row.status if row.status == "succeeded" else row.error["code"]) == outcome, row
    assert sim.submissions - before == submissions  # never sent twice
    if row.status == "succeeded":
        info = verify(Path(row.video["path"]))
        assert info.size_bytes == row.video["size_bytes"]
        assert not list(settings.output_dir.glob("*.part"))
    else:
        assert "may have been created and charged" in row.error["message"] or "may have reached" in row.error["message"]


async def test_kill_9_once_an_over_quote_task_is_stored_then_restart_cancels_it(env, simulators):
    """Runway priced the task above our quote: the id and the cancel request were stored in one write, so the
    process that takes over after kill -9 cancels it at Runway rather than letting it run unreserved."""
    url, app = simulators
    sim = app.state.simulators["runway"]
    before = sim.submissions
    sim.config["price_factor"] = 2.0
    try:
        env = crash_env(env, url)
        worker = start_worker(env, "runway", "after_store")
        assert worker.wait(timeout=60) == -signal.SIGKILL, worker.stderr.read()[-2000:]
    finally:
        sim.config.pop("price_factor", None)
    [row] = await restart_and_finish(Settings.from_env(env))
    assert row.status == "cancelled" and "cancelled at once" in row.message, row
    task = sim.jobs[row.provider_ref]
    assert task.cancelled and task.extra["deleted"] and sim.submissions - before == 1


@pytest.mark.parametrize(("provider", "outcome"), [("kling", "cancelled"), ("runway", "SUBMIT_UNCONFIRMED")])
async def test_kill_9_after_the_submit_then_a_cancel_request_looks_the_job_up_first(env, simulators, provider, outcome):
    """The provider has the job, its id was never stored, and the person cancels before the restart: the job is
    looked up (Kling finds it by our id; its id is stored, then it is cancelled as asked and counted), or fails
    SUBMIT_UNCONFIRMED (Runway cannot look up), never "cancelled before submission; nothing was charged"."""
    from server.store import JobStore

    url, app = simulators
    sim = app.state.simulators[provider]
    before = sim.submissions
    env = crash_env(env, url)
    worker = start_worker(env, provider, "after_submit")
    assert worker.wait(timeout=60) == -signal.SIGKILL, worker.stderr.read()[-2000:]
    settings = Settings.from_env(env)
    store = JobStore(settings.index_path)
    [pending] = store.list(None, 10)
    store.request_cancel(pending.job_id)
    store.close()
    [row] = await restart_and_finish(settings)
    assert (row.status if row.status != "failed" else row.error["code"]) == outcome, row
    assert "before submission" not in (row.message or ""), row
    assert sim.submissions - before == 1  # looked up, never sent again
    if provider == "kling":
        assert row.provider_ref in sim.jobs  # found by our id, and kept: the person can find it at Kling


@pytest.mark.parametrize(("provider", "outcome"), [("kling", "succeeded"), ("runblob", "SUBMIT_UNCONFIRMED")])
async def test_kill_9_while_the_submit_is_in_flight(env, simulators, provider, outcome):
    """The provider made the job but the answer is still on its way when the process dies."""
    url, app = simulators
    sim = app.state.simulators[provider]
    plan = app.state.faults[provider]
    before = sim.submissions
    plan.rates[("submit", "timeout")], plan.hang_seconds = 1.0, 30.0
    try:
        env = crash_env(env, url)
        worker = start_worker(env, provider)
        deadline = time.monotonic() + 30
        while sim.submissions == before:  # the provider has it; its answer hangs
            assert time.monotonic() < deadline and worker.poll() is None
            time.sleep(0.02)
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait()
    finally:
        del plan.rates[("submit", "timeout")]
    [row] = await restart_and_finish(Settings.from_env(env))
    assert (row.status if row.status == "succeeded" else row.error["code"]) == outcome, row
    assert sim.submissions - before == 1


async def test_kill_9_while_polling_then_restart(env, simulators):
    url, app = simulators
    sim = app.state.simulators["runway"]
    before = sim.submissions
    env = crash_env(env, url)
    worker = start_worker(env, "runway")
    settings = Settings.from_env(env)
    deadline = time.monotonic() + 30
    while True:  # wait until the job is being polled at the provider
        rows = [] if not settings.index_path.exists() else _statuses(settings)
        if rows and rows[0] in ("queued", "running"):
            break
        assert time.monotonic() < deadline and worker.poll() is None
        time.sleep(0.02)
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait()
    [row] = await restart_and_finish(settings)
    assert row.status == "succeeded" and sim.submissions - before == 1


def _statuses(settings: Settings) -> list[str]:
    import sqlite3

    try:
        with sqlite3.connect(settings.index_path) as db:
            return [r[0] for r in db.execute("SELECT status FROM jobs")]
    except sqlite3.OperationalError:
        return []


def test_the_crash_points_are_the_documented_ones():
    from server.crash import POINTS

    assert {phase for phase, *_ in CASES} == set(POINTS)  # every crash point is exercised above
