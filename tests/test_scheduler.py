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


async def test_a_provider_holds_at_most_its_share_of_the_workers_and_the_others_are_not_stalled():
    """Ten jobs of a provider whose looks hang, then three of another: the first provider holds 2 of the 4
    workers, never more, and the other's jobs are looked at meanwhile; released, the parked ones follow."""
    from types import SimpleNamespace

    release = anyio.Event()
    looked: list[str] = []
    holding = peak = 0

    async def step(job: Followed) -> float | None:
        nonlocal holding, peak
        looked.append(job.job_id)
        if job.provider.name == "hangs":
            holding += 1
            peak = max(peak, holding)
            await release.wait()
            holding -= 1
        return None

    def of(provider: str, job_id: str) -> Followed:
        job = followed(job_id)
        job.provider = SimpleNamespace(name=provider)  # type: ignore[assignment]
        return job

    scheduler = Scheduler(step, concurrency=4, per_provider=2)
    async with anyio.create_task_group() as tg:
        tg.start_soon(scheduler.run, tg)
        now = time.monotonic()
        for n in range(10):
            scheduler.add(of("hangs", f"h{n}"), now)
        await anyio.sleep(0.05)
        for n in range(3):
            scheduler.add(of("fine", f"f{n}"), time.monotonic())
        with anyio.fail_after(10):
            while sum(j.startswith("f") for j in looked) < 3:
                await anyio.sleep(0.01)
        assert holding == 2 and sum(j.startswith("h") for j in looked) == 2, looked
        release.set()
        with anyio.fail_after(10):
            while len(scheduler):
                await anyio.sleep(0.01)
        tg.cancel_scope.cancel()
    assert peak == 2 and sorted(looked) == sorted([f"h{n}" for n in range(10)] + ["f0", "f1", "f2"])


def _lane_job(provider: str, job_id: str) -> Followed:
    from types import SimpleNamespace

    job = followed(job_id)
    job.provider = SimpleNamespace(name=provider)  # type: ignore[assignment]
    return job


async def test_a_providers_waiting_jobs_are_looked_at_in_the_order_due_a_woken_one_first():
    """One worker for the provider: its jobs wait their turn in the order they came due (none due later takes a
    freed place first, though other workers were idle), and one woken while waiting (a cancel) goes next."""
    looked: list[str] = []
    first_started = anyio.Event()

    async def step(job: Followed) -> float | None:
        looked.append(job.job_id)
        first_started.set()
        await anyio.sleep(0.02)
        return None

    scheduler = Scheduler(step, concurrency=4, per_provider=1)
    async with anyio.create_task_group() as tg:
        tg.start_soon(scheduler.run, tg)
        now = time.monotonic()
        for n in range(12):
            scheduler.add(_lane_job("p", f"p{n:02}"), now + n * 0.001)
        with anyio.fail_after(10):
            await first_started.wait()
            await anyio.sleep(0.005)  # the others came due and wait
            scheduler.wake("p11")
            while len(scheduler):
                await anyio.sleep(0.01)
        tg.cancel_scope.cancel()
    assert looked[:2] == ["p00", "p11"], looked  # the woken one right after the look under way
    assert looked[2:] == [f"p{n:02}" for n in range(1, 11)], looked  # the rest in the order due


async def test_woken_waiting_jobs_go_in_the_order_woken_and_a_cancelled_look_loses_no_job():
    looked: list[str] = []
    started = anyio.Event()

    async def step(job: Followed) -> float | None:
        looked.append(job.job_id)
        started.set()
        await anyio.sleep(0.02)
        return None

    scheduler = Scheduler(step, concurrency=3, per_provider=1)
    async with anyio.create_task_group() as tg:
        tg.start_soon(scheduler.run, tg)
        for n in range(8):
            scheduler.add(_lane_job("p", f"p{n}"), time.monotonic())
        with anyio.fail_after(10):
            await started.wait()
            await anyio.sleep(0.005)
            for n in (5, 3, 7):  # three cancels, in this order
                scheduler.wake(f"p{n}")
            while len(scheduler):
                await anyio.sleep(0.01)
        tg.cancel_scope.cancel()
    assert looked == ["p0", "p5", "p3", "p7", "p1", "p2", "p4", "p6"], looked

    # A look cancelled while others wait (the engine stopping): its place is freed, and no waiting job is left
    # marked busy for a worker that will never look at it.
    hang = anyio.Event()

    async def hangs(job: Followed) -> float | None:
        await hang.wait()
        return None

    scheduler = Scheduler(hangs, concurrency=2, per_provider=1)
    jobs = [_lane_job("p", f"q{n}") for n in range(3)]
    async with anyio.create_task_group() as tg:
        tg.start_soon(scheduler.run, tg)
        for job in jobs:
            scheduler.add(job, time.monotonic())
        await anyio.sleep(0.05)
        tg.cancel_scope.cancel()
    assert scheduler._looking["p"] == 0 and not any(j.busy for j in jobs[1:]), scheduler._looking


async def test_a_provider_whose_status_checks_hang_does_not_stall_another_providers_jobs(env):
    """70 Runway jobs whose status checks all hang (the simulator answers after 8 s) would fill all 64 workers;
    held to their share, a fal job submitted behind them is followed to the end meanwhile."""
    app = build_app(speed=100, names=["runway", "fal"])
    hung = app.state.faults["runway"]
    hung.hang_seconds = 8.0
    hung.rates[("status", "timeout")] = 1.0
    with running(app) as url:
        settings = Settings.from_env({**env, **sample_env(url), "VIDEOGEN_POLL_SCALE": "0.01"})
        async with JobManager(settings) as manager:
            for n in range(70):
                await manager.submit(RequestArgs(prompt=f"hangs {n} sim:queue=0", provider="runway"))
            with anyio.fail_after(20):  # every worker Runway may hold is in a status check that hangs
                while hung.injected["status.timeout"] < common.POLL_PER_PROVIDER:
                    await anyio.sleep(0.02)
            row = await manager.submit(RequestArgs(prompt="quick sim:seconds=1 sim:queue=0", provider="fal"))
            with anyio.fail_after(6):  # a hung check ends after 8 s: the fal job did not wait for one
                while not manager.get(row.job_id).terminal:
                    await anyio.sleep(0.02)
            done = manager.get(row.job_id)
            hanging = hung.injected["status.timeout"]
    assert done.status == "succeeded", done
    assert hanging == common.POLL_PER_PROVIDER  # no more Runway checks started while those hung


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


async def test_jobs_due_within_the_slack_share_one_timer_wake_up_and_none_is_looked_at_early():
    looked: dict[str, float] = {}

    async def step(job: Followed) -> float | None:
        looked[job.job_id] = time.monotonic()
        return None

    scheduler = Scheduler(step, slack=0.2)
    async with anyio.create_task_group() as tg:
        tg.start_soon(scheduler.run, tg)
        await anyio.sleep(0.05)  # the timer sleeps: nothing is queued
        start = time.monotonic()
        due = {f"j{n}": start + 0.3 + n * 0.02 for n in range(5)}  # due within 0.1 s of each other
        for job_id, at in due.items():
            scheduler.add(followed(job_id), at)
        with anyio.fail_after(10):
            while len(looked) < 5:
                await anyio.sleep(0.01)
        tg.cancel_scope.cancel()
    assert all(looked[job_id] >= at for job_id, at in due.items())  # never before it is due
    assert max(looked.values()) - min(looked.values()) < 0.05  # one wake-up took them all
    assert max(looked[j] - at for j, at in due.items()) < 0.2 + 0.5  # late by the slack at most (and a busy machine)


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
        await anyio.sleep(0.05)  # the scheduler's workers (a fixed pool) have started
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


async def test_a_look_reads_the_row_only_when_woken_or_now_and_then(env, simulators):
    """A followed job's row is kept between looks: 30 jobs polled for a while cost a few row reads, not one a
    poll; a callback or a cancel request still reaches the job at once (it is woken)."""
    url, sims = simulators
    settings = Settings.from_env({**env, **sample_env(url), "VIDEOGEN_POLL_SCALE": "0.01"})
    async with JobManager(settings) as manager:
        rows = [
            await manager.submit(RequestArgs(prompt=f"long {n} sim:seconds=36000 sim:queue=0", provider="fal"))
            for n in range(30)
        ]
        ids = {r.job_id for r in rows}
        with anyio.fail_after(30):
            while any(manager.get(r.job_id).status != "running" for r in rows):
                await anyio.sleep(0.05)
        refs = [manager.get(r.job_id).provider_ref for r in rows]
        reads: Counter[str] = Counter()
        get = manager.db.get

        def counted(job_id: str):
            if job_id in ids:
                reads[job_id] += 1
            return get(job_id)

        manager.db.get = counted  # type: ignore[method-assign]
        polled_from = [sims["fal"].polls[ref] for ref in refs]
        await anyio.sleep(1.5)  # 150 s of fal's clock: a poll every 5 s
        polls = sum(sims["fal"].polls[ref] - before for ref, before in zip(refs, polled_from, strict=True))
        read = sum(reads.values())
        cancelled = await manager.cancel(rows[0].job_id)  # woken: its row is read, the cancel acted on
    assert polls >= 30 * 3, polls  # 30 a job at fal's cadence; fewer on a busy machine
    # One a poll before; now at most one a job when its row is due to be read again (ROW_CHECK_SECONDS is 3 s
    # here, counted from its first look), twice on a slow machine.
    assert read <= 2 * 30 and read < polls / 2, f"{read} row reads for {polls} polls"
    assert cancelled.status == "cancelled" and sims["fal"].jobs[cancelled.provider_ref].cancelled


async def test_a_cancel_requested_through_another_process_is_seen_by_the_watcher(env, simulators):
    """Another process (here a second engine on the same index that does not watch the job) stores a cancel
    request; the watcher finds it by its periodic query for news, not by reading every row at every look."""
    url, sims = simulators
    # Rows are read back every 30 s here: the cancel is seen well before, by the query for news (every 0.2 s).
    base = {**env, **sample_env(url), "VIDEOGEN_POLL_SCALE": "0.1"}
    async with JobManager(Settings.from_env(base)) as watcher:
        row = await watcher.submit(RequestArgs(prompt="cancel me sim:seconds=36000 sim:queue=0", provider="fal"))
        with anyio.fail_after(30):
            while watcher.get(row.job_id).status != "running":
                await anyio.sleep(0.02)
        async with JobManager(Settings.from_env(base), resume=False) as other:
            asked = await other.cancel(row.job_id)  # the watcher holds the lease: only the request is stored
            assert asked.cancel_requested and asked.status == "running"
        with anyio.fail_after(15):
            while not (done := watcher.get(row.job_id)).terminal:
                await anyio.sleep(0.02)
    assert done.status == "cancelled" and sims["fal"].jobs[done.provider_ref].cancelled


async def test_the_engines_timer_slack_is_on_the_poll_clock(env):
    """Production waits up to TIMER_SLACK (0.2 s) to take due jobs together; a compressed test clock
    compresses the slack with its cadences, so a poll is never late by more than a sliver of its interval."""
    for scale, slack in ((1.0, common.TIMER_SLACK), (0.01, common.TIMER_SLACK * 0.01), (5.0, common.TIMER_SLACK)):
        manager = JobManager(Settings.from_env({**env, "VIDEOGEN_POLL_SCALE": str(scale)}))
        assert manager.scheduler._slack == pytest.approx(slack), scale
