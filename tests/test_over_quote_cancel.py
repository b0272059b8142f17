"""A cancel the engine must make (a task Runway priced above our quote) or was asked for, when things go wrong:
the DELETE fails, keeps failing, comes after the task finished, or the submit's answer comes after the lease
was lost. Never a job ended `failed` while its task runs on unwatched, never a paid video thrown away. The
official wire is the Runway simulator's; faults are injected by its fault middleware (`cancel.503`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anyio
import pytest

from providers.simulators import build_app, sample_env
from providers.simulators.common import running
from server.catalog import RequestArgs
from server.jobs import JobManager, common
from server.settings import Settings

pytestmark = pytest.mark.anyio

QUEUED = "sim:queue=600"  # 6 s of real time at speed 100: the cancel finds the task PENDING (refunded)


@pytest.fixture
def runway() -> Iterator[tuple[str, Any, Any]]:
    app = build_app(speed=100, names=["runway"])
    with running(app) as url:
        yield url, app.state.simulators["runway"], app.state.faults["runway"]


def settings_for(env: dict[str, str], url: str, **extra: str) -> Settings:
    return Settings.from_env({**env, **sample_env(url), "VIDEOGEN_POLL_SCALE": "0.01", **extra})


async def until(manager: JobManager, job_id: str, test: Any, seconds: float = 15.0) -> Any:
    with anyio.fail_after(seconds):
        while not test(row := manager.get(job_id)):
            await anyio.sleep(0.02)
    return row


async def test_an_over_quote_task_whose_cancel_fails_is_cancelled_when_runway_takes_it(env, runway):
    url, sim, faults = runway
    sim.config.update(price_factor=1.5, credits=1000)  # 18 credits/s for gen4.5: above our 12
    faults.rates[("cancel", "503")] = 1.0  # every DELETE refused, through the client's own retries
    async with JobManager(settings_for(env, url)) as manager:
        row = await manager.submit(RequestArgs(prompt=f"harbour {QUEUED}", provider="runway", duration=2))
        failing = await until(manager, row.job_id, lambda r: "cancel not done yet" in (r.message or ""))
        assert not failing.terminal and failing.cancel_requested, failing  # not failed, still trying
        faults.rates.clear()
        done = await until(manager, row.job_id, lambda r: r.terminal)
        spent = manager.budget.today()
    assert done.status == "cancelled" and "cancelled at once" in done.message, done
    assert spent == pytest.approx(0.36) == done.cost_estimate  # at Runway's estimate, not our $0.24
    (task,) = sim.jobs.values()
    assert task.extra["deleted"] and sim.config["credits"] == 1000  # cancelled while PENDING: refunded
    assert faults.injected["cancel.503"] >= 2


async def test_a_cancel_that_keeps_failing_is_withdrawn_and_the_paid_video_delivered(env, runway, monkeypatch):
    url, sim, faults = runway
    monkeypatch.setattr(common, "MAX_UNREACHABLE_SECONDS", 0.0)  # give up cancelling after the first failure
    sim.config.update(price_factor=1.5)
    faults.rates[("cancel", "503")] = 1.0
    async with JobManager(settings_for(env, url)) as manager:
        row = await manager.submit(RequestArgs(prompt="harbour sim:seconds=30", provider="runway", duration=2))
        done = await until(manager, row.job_id, lambda r: r.terminal)  # past "could not cancel at Runway"
        spent = manager.budget.today()
    assert done.status == "succeeded" and done.video and not done.cancel_requested, done  # followed, not lost
    assert faults.injected["cancel.503"] >= 2  # tried, tried again, then withdrawn
    assert done.cost_charged == pytest.approx(0.36)  # Runway's charge (2 s x 18 credits), recorded
    (task,) = sim.jobs.values()
    assert not task.extra.get("deleted")
    assert spent == pytest.approx(0.36)  # counted at Runway's charge


async def test_a_cancel_that_comes_after_the_task_finished_delivers_it(env, runway):
    """The person cancels a job whose task Runway has already finished (not yet seen here: the next poll is
    minutes away): the look before the DELETE sees it done, and the paid video is delivered, not deleted."""
    url, sim, _ = runway
    async with JobManager(settings_for(env, url, VIDEOGEN_POLL_SCALE="100")) as manager:
        row = await manager.submit(RequestArgs(prompt="harbour sim:seconds=30 sim:queue=0", provider="runway"))
        ref = (await until(manager, row.job_id, lambda r: r.provider_ref and r.status != "pending")).provider_ref
        with anyio.fail_after(15):
            while sim.jobs[ref].phase()[0] != "succeeded":
                await anyio.sleep(0.02)
        await manager.cancel(row.job_id)
        done = await until(manager, row.job_id, lambda r: r.terminal)
    assert done.status == "succeeded" and done.video, done
    assert not sim.jobs[ref].extra.get("deleted") and not done.cancel_requested


async def test_a_late_answer_for_an_over_quote_task_is_cancelled_there(env, runway):
    """The submit's answer comes after this process lost the job (its lease ran out): nobody will follow the
    task, so the over-quote one is cancelled at once, and the kept message says so."""
    url, sim, _ = runway
    sim.config.update(price_factor=1.5)
    async with JobManager(settings_for(env, url)) as manager:
        update = manager.db.update

        def lease_lost_at_the_id(job_id: str, owner: str | None, **changes: Any) -> bool:
            return False if "provider_ref" in changes else update(job_id, owner, **changes)

        manager.db.update = lease_lost_at_the_id  # type: ignore[method-assign]
        row = await manager.submit(RequestArgs(prompt=f"harbour {QUEUED}", provider="runway", duration=2))
        await until(manager, row.job_id, lambda r: r.provider_ref is not None)
        await anyio.sleep(0.3)  # the handler's last write (the cost) follows the kept id
        kept = manager.get(row.job_id)
        manager.db.update = update  # type: ignore[method-assign]
    (task,) = sim.jobs.values()
    assert kept.provider_ref == task.id and task.extra["deleted"]
    assert kept.cost_estimate == pytest.approx(0.36)  # counted at Runway's estimate, as a followed one is
    assert "cancelled there at once" in kept.message and "36 credits" in kept.message, kept.message


async def test_a_refused_cancel_is_retried_at_the_providers_cadence_and_cancel_job_says_so(env, runway):
    """Runway's cadence is 5-10 s (0.5-1 s here): the cancel is tried again that often, not at every check for
    news (0.2 s here); a person's cancel_job meanwhile answers at once that it is being retried."""
    url, sim, faults = runway
    sim.config.update(price_factor=1.5)
    faults.rates[("cancel", "503")] = 1.0
    async with JobManager(settings_for(env, url, VIDEOGEN_POLL_SCALE="0.1")) as manager:
        row = await manager.submit(RequestArgs(prompt="harbour sim:queue=6000", provider="runway", duration=2))
        await until(manager, row.job_id, lambda r: "cancel not done yet" in (r.message or ""))
        before = faults.injected["cancel.503"]
        await anyio.sleep(3.0)
        sent = faults.injected["cancel.503"] - before  # each try: one DELETE and the client's 3 resends
        with anyio.fail_after(5):  # not the 15 s it waits for a cancel to go through
            answer = await manager.cancel(row.job_id)
    assert 4 <= sent <= 6 * 4, sent  # 3 to 6 tries in 3 s at the cadence; at every news check it would be 15
    assert answer.cancel_requested and "trying again" in answer.message, answer


async def test_a_cancel_while_the_finished_video_downloads_changes_nothing(env, runway):
    """The video is done and paid for: cancel_job answers with the job as it is, and the download goes on with
    its waits between tries (before, a cancel request cut them short and the video was lost)."""
    url, _, faults = runway
    faults.rates[("download", "503")] = 1.0  # the first tries fail: the job stays downloading for a while
    async with JobManager(settings_for(env, url)) as manager:
        row = await manager.submit(RequestArgs(prompt="harbour sim:seconds=30 sim:queue=0", provider="runway"))
        await until(manager, row.job_id, lambda r: r.status == "downloading" and faults.injected["download.503"])
        answer = await manager.cancel(row.job_id)
        faults.rates.clear()
        done = await until(manager, row.job_id, lambda r: r.terminal, seconds=30)
    assert answer.status == "downloading" and not answer.cancel_requested, answer
    assert done.status == "succeeded" and done.video, done


async def test_a_cancel_whose_look_first_fails_waits_rather_than_delete_a_finished_video(env, runway):
    """Runway's DELETE deletes a finished task: when the status check before the cancel fails (503), the cancel
    is not sent blind; the check is tried again, sees the task done, and the paid video is delivered."""
    url, sim, faults = runway
    async with JobManager(settings_for(env, url, VIDEOGEN_POLL_SCALE="100")) as manager:
        row = await manager.submit(RequestArgs(prompt="harbour sim:seconds=30 sim:queue=0", provider="runway"))
        ref = (await until(manager, row.job_id, lambda r: r.provider_ref and r.status != "pending")).provider_ref
        with anyio.fail_after(15):
            while sim.jobs[ref].phase()[0] != "succeeded":
                await anyio.sleep(0.02)
        faults.rates[("status", "503")] = 1.0
        answer = await manager.cancel(row.job_id)
        assert "trying again" in answer.message, answer
        faults.rates.clear()
        manager.scheduler.wake(row.job_id)  # its next try is minutes away on this clock
        done = await until(manager, row.job_id, lambda r: r.terminal)
    assert done.status == "succeeded" and done.video, done
    assert not sim.jobs[ref].extra.get("deleted") and faults.injected["cancel.503"] == 0


async def test_a_callback_that_comes_while_a_cancel_is_retried_is_what_the_job_follows(env, runway):
    """A callback stored while the provider refuses the cancel is taken (not left to wake the job every 2 s):
    here it says the task failed, and the job ends so, as the provider said."""
    from providers.base import ErrorCode, ProviderErrorInfo, Snapshot

    url, sim, faults = runway
    sim.config.update(price_factor=1.5)
    faults.rates[("cancel", "503")] = 1.0
    async with JobManager(settings_for(env, url)) as manager:
        row = await manager.submit(RequestArgs(prompt=f"harbour {QUEUED}", provider="runway", duration=2))
        await until(manager, row.job_id, lambda r: "cancel not done yet" in (r.message or ""))
        failed = Snapshot(
            status="failed", error=ProviderErrorInfo(code=ErrorCode.CONTENT_POLICY, message="refused by moderation")
        )
        assert manager.db.offer_callback(row.job_id, {"snapshot": failed.model_dump(mode="json")}, lambda _: True)
        manager.scheduler.wake(row.job_id)
        done = await until(manager, row.job_id, lambda r: r.terminal)
        stored = manager.db.get(row.job_id)
    assert done.status == "failed" and done.error["code"] == "CONTENT_POLICY", done
    assert stored.callback is None  # taken


async def test_a_cancel_whose_checks_keep_failing_is_sent_anyway_and_the_job_counted(env, runway, monkeypatch):
    """Runway's status checks fail throughout (503), its DELETE works: once the look-first streak is over the
    cancel is sent anyway, the job ends cancelled with its task id (counted), not failed with the task running."""
    url, sim, faults = runway
    monkeypatch.setattr(common, "MAX_UNREACHABLE_SECONDS", 0.3)
    faults.rates[("status", "503")] = 1.0
    async with JobManager(settings_for(env, url)) as manager:
        row = await manager.submit(RequestArgs(prompt=f"harbour {QUEUED}", provider="runway", duration=2))
        await until(manager, row.job_id, lambda r: r.provider_ref is not None)
        await manager.cancel(row.job_id)
        done = await until(manager, row.job_id, lambda r: r.terminal)
        spent = manager.budget.today()
    assert done.status == "cancelled" and done.provider_ref, done
    assert sim.jobs[done.provider_ref].extra["deleted"]
    assert spent == pytest.approx(0.24)  # a cancelled job Runway had: counted (0.24 for 2 s of gen4.5)


async def test_a_cancel_request_that_slips_in_as_the_video_finishes_does_not_cut_its_download_short(env, runway):
    """The flag lands on a job whose video is downloading (a look already under way): the download clears it,
    and its fresh-link checks wait out a status outage as usual instead of giving up on the first."""
    url, _, faults = runway
    faults.rates[("download", "expired_url")] = 1.0
    async with JobManager(settings_for(env, url)) as manager:
        row = await manager.submit(RequestArgs(prompt="harbour sim:seconds=30 sim:queue=0", provider="runway"))
        await until(
            manager, row.job_id, lambda r: r.status == "downloading" and faults.injected["download.expired_url"]
        )
        faults.rates[("status", "503")] = 1.0
        assert manager.db.update(row.job_id, None, cancel_requested=True)  # as if request_cancel had won the race
        await anyio.sleep(1.0)
        faults.rates.clear()
        done = await until(manager, row.job_id, lambda r: r.terminal, seconds=30)
    assert done.status == "succeeded" and done.video, done
