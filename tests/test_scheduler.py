"""The one scheduler: every followed job is an entry in one timer queue, looked at when due, a bounded number at
once; wake-ups (callbacks, cancels) move a job to the front; late jobs are polled less often, never more; a
poll that changes nothing worth telling is not written to the index."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterator

import anyio
import pytest

from providers.simulators import build_app, sample_env
from providers.simulators.common import running
from server.catalog import RequestArgs
from server.jobs import Followed, JobManager, Scheduler, common
from server.settings import Settings

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def simulators() -> Iterator[tuple[str, dict]]:
    app = build_app(speed=100)  # with VIDEOGEN_POLL_SCALE=0.01: the providers' cadences, 100 times faster
    with running(app) as url:
        yield url, app.state.simulators


def followed(job_id: str) -> Followed:
    return Followed(job_id, None, None, None, None, lambda: 0.0, False)  # type: ignore[arg-type]


# -- the queue alone ------------------------------------------------------------------------------
async def test_jobs_are_looked_at_in_due_order_a_bounded_number_at_once():
    looked: list[str] = []
    running_now = peak = 0

    async def step(job: Followed) -> float | None:
        nonlocal running_now, peak
        running_now += 1
        peak = max(peak, running_now)
        looked.append(job.job_id)
        await anyio.sleep(0.01)
        running_now -= 1
        return None

    scheduler = Scheduler(step, concurrency=3)
    now = time.monotonic()
    for n in range(12):
        scheduler.add(followed(f"j{n:02}"), now - n * 0.001)  # all due; the later added, the sooner due
    async with anyio.create_task_group() as tg:
        tg.start_soon(scheduler.run, tg)
        with anyio.fail_after(10):
            while len(looked) < 12 or len(scheduler):
                await anyio.sleep(0.01)
        tg.cancel_scope.cancel()
    assert looked == [f"j{n:02}" for n in reversed(range(12))]
    assert peak == 3


async def test_a_wake_moves_a_job_to_the_front_and_one_during_a_look_repeats_it_at_once():
    looks: Counter[str] = Counter()
    in_look = anyio.Event()

    async def step(job: Followed) -> float | None:
        looks[job.job_id] += 1
        if job.job_id == "busy" and looks["busy"] == 1:
            in_look.set()
            await anyio.sleep(0.05)
        return time.monotonic() + 3600  # next look in an hour

    scheduler = Scheduler(step)
    async with anyio.create_task_group() as tg:
        tg.start_soon(scheduler.run, tg)
        scheduler.add(followed("idle"), time.monotonic() + 3600)
        scheduler.add(followed("busy"), time.monotonic())
        with anyio.fail_after(10):
            await in_look.wait()
            scheduler.wake("busy")  # during its look: looked at again right after it
            scheduler.wake("idle")  # due in an hour: looked at now
            while looks["busy"] < 2 or looks["idle"] < 1:
                await anyio.sleep(0.01)
        await anyio.sleep(0.1)
        tg.cancel_scope.cancel()
    assert looks == {"busy": 2, "idle": 1}  # and nothing more: the next looks are an hour away


# -- the engine ---------------------------------------------------------------------------------
async def test_followed_jobs_cost_no_task_each_and_progress_creep_is_not_written(env, simulators):
    url, sims = simulators
    settings = Settings.from_env({**env, **sample_env(url), "VIDEOGEN_POLL_SCALE": "0.01"})
    async with JobManager(settings) as manager:
        writes: Counter[str] = Counter()
        update = manager.db.update

        def counted(job_id: str, owner: str | None, **changes):
            writes[job_id] += 1
            return update(job_id, owner, **changes)

        manager.db.update = counted  # counts the engine's writes, then writes them
        tasks_before = len(asyncio.all_tasks())
        rows = [
            await manager.submit(RequestArgs(prompt=f"long {n} sim:seconds=36000 sim:queue=0", provider="runway"))
            for n in range(40)
        ]
        with anyio.fail_after(30):
            while any(manager.get(r.job_id).status != "running" for r in rows):
                await anyio.sleep(0.05)
        polled_from = {r.job_id: sims["runway"].polls[manager.get(r.job_id).provider_ref] for r in rows}
        writes_from = dict(writes)
        await anyio.sleep(1.5)  # 150 s of Runway's clock: a poll every 5-7 s, progress creeping 0.4 point
        tasks = len(asyncio.all_tasks()) - tasks_before
        polls = sum(sims["runway"].polls[manager.get(r.job_id).provider_ref] - polled_from[r.job_id] for r in rows)
        written = sum(writes[r.job_id] - writes_from[r.job_id] for r in rows)
    assert tasks < 10, f"{tasks} more tasks for 40 followed jobs"  # a coroutine per job would be 40 or more
    assert polls >= 40 * 5, polls  # they were followed meanwhile (at most 24 polls each at Runway's cadence)
    assert written <= 40, f"{written} writes for {polls} polls that only crept"


async def test_a_cancel_wakes_a_job_due_much_later(env, simulators):
    url, sims = simulators
    # fal's cadence of 2-5 s is 200-500 s here: without a wake-up the cancel would be seen minutes later.
    settings = Settings.from_env({**env, **sample_env(url), "VIDEOGEN_POLL_SCALE": "100"})
    async with JobManager(settings) as manager:
        row = await manager.submit(RequestArgs(prompt="to cancel sim:seconds=36000 sim:queue=0", provider="fal"))
        with anyio.fail_after(30):
            while manager.get(row.job_id).status == "pending":
                await anyio.sleep(0.02)
            row = await manager.cancel(row.job_id)
    assert row.status == "cancelled" and sims["fal"].jobs[row.provider_ref].cancelled


def test_a_job_far_past_its_usual_time_is_polled_less_often_never_more(env):
    manager = JobManager(Settings.from_env(env))
    provider = manager.providers.get("fal")
    spec = provider.spec(provider.default_model)
    typical = spec.typical_seconds
    for waited in (0, 10, typical, 2 * typical, 3 * typical, 5 * typical, 30 * typical, 1000 * typical):
        cadence, ours = provider.poll_interval(spec, waited), manager._interval(provider, spec, waited)
        assert ours >= cadence  # never more often than the provider's cadence
        assert ours <= max(cadence, common.LATE_MAX_INTERVAL)  # and capped: completion is still seen soon
    assert manager._interval(provider, spec, 2 * typical) == provider.poll_interval(spec, 2 * typical)
    assert manager._interval(provider, spec, 1000 * typical) == common.LATE_MAX_INTERVAL
