"""No second job from a client that gave up: an identical generate_video request without an idempotency key,
while its twin runs or soon after it succeeded, returns the twin (marked `deduplicated`) instead of submitting
and paying again; atomically, also across connections and processes on one index. A failed or cancelled twin,
a different request, a new idempotency key, or VIDEOGEN_DEDUPE_SECONDS=0 make a new job."""

from __future__ import annotations

import base64
import io
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from providers.registry import Providers
from providers.simulators.common import Simulator, running
from providers.simulators.runway import create_app
from server.catalog import Catalog, RequestArgs
from server.jobs import JobManager, dedupe_note
from server.settings import Settings, SettingsError
from server.store import JobRow, JobStore

pytestmark = pytest.mark.anyio

FAST = {"resolution": "360p", "duration": 1}
KEY = "key_" + "feedface" * 16  # a well-formed Runway key, for the simulator


def data_uri(colour: tuple[int, int, int] = (20, 120, 220)) -> str:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def stored_inputs(settings: Settings) -> list[str]:
    return sorted(p.name for p in (settings.data_dir / "inputs").iterdir())


# -- against the Runway simulator: what the provider saw --------------------------------------------


@pytest.fixture(scope="module")
def runway() -> Iterator[tuple[str, Simulator]]:
    app = create_app(speed=300.0)  # a simulated minute passes in 0.2 s
    with running(Starlette(routes=[Mount("/runway", app=app)])) as url:
        yield f"{url}/runway", app.state.sim


@pytest.fixture
def rw_env(env: dict[str, str], runway: tuple[str, Simulator]) -> dict[str, str]:
    return {**env, "VIDEOGEN_RUNWAY_BASE_URL": runway[0], "RUNWAYML_API_SECRET": KEY, "VIDEOGEN_POLL_SCALE": "0.01"}


async def test_a_retry_while_the_job_runs_and_after_it_succeeded_gets_that_job_submitted_and_charged_once(
    rw_env, runway
):
    sim = runway[1]
    args = RequestArgs(prompt="a lighthouse at dusk sim:seconds=300 sim:queue=0", provider="runway", model="gen4.5")
    cost = Catalog(Providers(rw_env, []), []).estimate(args).usd
    # Room for one job only: a retry charged again would be refused OVER_BUDGET.
    settings = Settings.from_env({**rw_env, "VIDEOGEN_DAILY_BUDGET": f"{cost * 1.5:.2f}"})
    before = sim.submissions
    async with JobManager(settings) as manager:
        first = await manager.submit(args)
        again = await manager.submit(args)  # the client gave up and called again
        assert not first.deduplicated
        assert again.job_id == first.job_id and again.deduplicated and not again.terminal
        done = await manager.wait(first.job_id, 30)
        assert done.status == "succeeded", done.error
        later = await manager.submit(args)  # just after it succeeded: still that job, with its video
        assert later.job_id == first.job_id and later.deduplicated and later.video == done.video
        assert [r.job_id for r in manager.db.list()] == [first.job_id]
    assert sim.submissions - before == 1


async def test_a_failed_twin_does_not_dedupe(rw_env, runway):
    sim = runway[1]
    args = RequestArgs(prompt="a storm sim:fail=internal sim:seconds=10 sim:queue=0", provider="runway")
    before = sim.submissions
    async with JobManager(Settings.from_env(rw_env)) as manager:
        first = await manager.wait((await manager.submit(args)).job_id, 30)
        assert first.status == "failed"
        retry = await manager.submit(args)  # the agent tries again: a new job, really submitted
        assert retry.job_id != first.job_id and not retry.deduplicated
        again = await manager.submit(args)  # while the retry runs, its twin is the retry
        assert again.job_id == retry.job_id and again.deduplicated
        await manager.wait(retry.job_id, 30)
    assert sim.submissions - before == 2


# -- with the demo provider ------------------------------------------------------------------------------


async def test_a_cancelled_twin_does_not_dedupe(settings):
    args = RequestArgs(prompt="cancel me", **FAST)
    async with JobManager(settings) as manager:
        first = await manager.submit(args)
        manager.db.request_cancel(first.job_id)  # being cancelled (not finished yet) counts as cancelled
        retry = await manager.submit(args)
        assert retry.job_id != first.job_id and not retry.deduplicated
        assert (await manager.cancel(first.job_id)).status == "cancelled"
        assert (await manager.submit(args)).job_id == retry.job_id  # the retry is the twin now
        assert len(manager.db.list()) == 2
        await manager.wait(retry.job_id, 20)


async def test_after_the_window_an_identical_request_makes_a_new_job(env):
    settings = Settings.from_env({**env, "VIDEOGEN_DEDUPE_SECONDS": "1"})
    args = RequestArgs(prompt="window", **FAST)
    async with JobManager(settings) as manager:
        first = await manager.submit(args)
        assert (await manager.submit(args)).deduplicated  # while it runs, however long that takes
        first = await manager.wait(first.job_id, 20)
        assert first.status == "succeeded" and first.finished_at is not None
        while time.time() <= first.finished_at + 1.05:  # the window is counted from when it finished
            await anyio.sleep(0.1)
        second = await manager.submit(args)
        assert second.job_id != first.job_id and not second.deduplicated
        await manager.wait(second.job_id, 20)


async def test_dedupe_seconds_zero_turns_it_off(env):
    settings = Settings.from_env({**env, "VIDEOGEN_DEDUPE_SECONDS": "0"})
    args = RequestArgs(prompt="twice on purpose", **FAST)
    async with JobManager(settings) as manager:
        first, second = await manager.submit(args), await manager.submit(args)
        assert first.job_id != second.job_id and not second.deduplicated
        for row in (first, second):
            await manager.wait(row.job_id, 20)
    async with JobManager(Settings.from_env(env)) as manager:  # the default: the newest twin is returned
        third = await manager.submit(args)
        assert third.job_id == second.job_id and third.deduplicated
        assert len(manager.db.list()) == 2


async def test_a_different_request_makes_a_new_job(settings):
    base = {"prompt": "a red fox", **FAST}
    async with JobManager(settings) as manager:
        first = await manager.submit(RequestArgs(**base))
        same = await manager.submit(RequestArgs(**{**base, "prompt": "  a red fox "}))  # normalized: the same
        assert same.job_id == first.job_id and same.deduplicated
        variants = [
            RequestArgs(**{**base, "duration": 2}),
            RequestArgs(**base, seed=7),
            RequestArgs(**base, images=[data_uri()]),
            RequestArgs(**{**base, "prompt": "a red fox, at night"}),
        ]
        rows = [await manager.submit(v) for v in variants]
        assert len({first.job_id, *(r.job_id for r in rows)}) == 5 and not any(r.deduplicated for r in rows)
        for row in (first, *rows):
            await manager.wait(row.job_id, 20)


async def test_an_idempotency_key_asks_for_a_new_variation(settings):
    args = RequestArgs(prompt="a paper boat", **FAST)
    async with JobManager(settings) as manager:
        plain = await manager.submit(args)
        keyed = await manager.submit(args, idempotency_key="variation-2")  # an explicit new one while plain runs
        assert keyed.job_id != plain.job_id and not keyed.deduplicated
        assert (await manager.submit(args, idempotency_key="variation-2")).job_id == keyed.job_id  # as before
        third = await manager.submit(args, idempotency_key="variation-3")
        assert len({plain.job_id, keyed.job_id, third.job_id}) == 3
        # Without a key, the newest identical job is the twin.
        retry = await manager.submit(args)
        assert retry.job_id == third.job_id and retry.deduplicated
        assert len(manager.db.list()) == 3
        for row in (plain, keyed, third):
            await manager.wait(row.job_id, 20)


async def test_eight_identical_submits_at_once_make_one_job(settings):
    args = RequestArgs(prompt="all at once", **FAST)
    rows: list[JobRow] = []

    async def one() -> None:
        rows.append(await manager.submit(args))

    async with JobManager(settings) as manager:
        async with anyio.create_task_group() as tg:
            for _ in range(8):
                tg.start_soon(one)
        assert len({r.job_id for r in rows}) == 1 and sum(not r.deduplicated for r in rows) == 1
        assert len(manager.db.list()) == 1
        await manager.wait(rows[0].job_id, 20)


async def test_a_deduplicated_request_keeps_no_input_files(settings):
    image = data_uri()
    args = RequestArgs(prompt="from a picture", images=[image], **FAST)
    async with JobManager(settings) as manager:
        first = await manager.submit(args)
        kept = stored_inputs(settings)
        assert len(kept) == 1 and kept[0].startswith(first.job_id)
        again = await manager.submit(args)
        assert again.job_id == first.job_id and again.deduplicated
        assert stored_inputs(settings) == kept  # the retry stored nothing of its own
        assert (await manager.wait(first.job_id, 20)).status == "succeeded"
    assert stored_inputs(settings) == []


async def test_a_twin_inserted_by_another_process_after_the_first_look_still_wins(settings, monkeypatch):
    """Another process inserts the identical job just after this one looked (the race the insert's own
    transaction closes): this request gets that job, and the image it had stored already is deleted."""
    args = RequestArgs(prompt="a photo finish", images=[data_uri()], **FAST)
    other = JobStore(settings.index_path)
    async with JobManager(settings) as manager:
        looked = manager.db.twin

        def look_then_lose_the_race(request_sha256: str, since: float) -> JobRow | None:
            found = looked(request_sha256, since)
            now = time.time()
            # Held by a live process elsewhere (a lease far ahead), so this engine leaves it alone.
            twin = JobRow("job_other", "running", "demo", "demo-v1", {"prompt": "a photo finish"}, now, now)
            twin.request_sha256, twin.lease_owner, twin.lease_expires = request_sha256, "elsewhere:1:x", now + 3600
            other.insert(twin)
            return found

        monkeypatch.setattr(manager.db, "twin", look_then_lose_the_race)
        row = await manager.submit(args)
        assert row.job_id == "job_other" and row.deduplicated
        assert [r.job_id for r in manager.db.list()] == ["job_other"]
        assert stored_inputs(settings) == []
    other.close()


def test_identical_inserts_from_separate_connections_make_one_job(tmp_path: Path):
    """Eight connections to one index (as eight processes would have) insert the same request at once."""
    path = tmp_path / "jobs.sqlite3"
    JobStore(path).close()
    start = threading.Barrier(8)
    results: list[JobRow] = []

    def racer(n: int) -> None:
        store = JobStore(path)
        now = time.time()
        row = JobRow(
            job_id=f"job_{n}",
            status="pending",
            provider="demo",
            model="demo-v1",
            request={"prompt": "p"},
            created_at=now,
            updated_at=now,
            request_sha256="same",
        )
        start.wait()
        try:
            results.append(store.insert(row, dedupe_since=now - 600))
        finally:
            store.close()

    threads = [threading.Thread(target=racer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(results) == 8 and len({r.job_id for r in results}) == 1
    assert sum(not r.deduplicated for r in results) == 1
    store = JobStore(path)
    assert len(store.list()) == 1
    store.close()


def test_two_managers_on_one_index_make_one_job_and_keep_no_stray_inputs(env):
    """Two engines (as two server processes would be), each with its own connection and event loop, race
    four identical image-to-video submits each; the data-URI image each stored before losing is deleted."""
    settings = Settings.from_env(env)
    args = RequestArgs(prompt="two processes", images=[data_uri((200, 40, 40))], **FAST)
    start = threading.Barrier(2)
    rows: list[JobRow] = []
    finished: list[JobRow] = []

    async def engine() -> None:
        async with JobManager(settings) as manager:
            mine: list[JobRow] = []

            async def one() -> None:
                mine.append(await manager.submit(args))

            start.wait(30)
            async with anyio.create_task_group() as tg:
                for _ in range(4):
                    tg.start_soon(one)
            rows.extend(mine)
            finished.append(await manager.wait(mine[0].job_id, 30))  # the owner stays until it is done

    threads = [threading.Thread(target=anyio.run, args=(engine,)) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(rows) == 8 and len({r.job_id for r in rows}) == 1
    assert sum(not r.deduplicated for r in rows) == 1
    assert [r.status for r in finished] == ["succeeded", "succeeded"]
    store = JobStore(settings.index_path)
    assert len(store.list()) == 1
    store.close()
    assert stored_inputs(settings) == []


# -- the pieces ------------------------------------------------------------------------------------------


async def test_the_twin_a_request_would_get_can_be_looked_up_without_writing(env):
    """What the spend question uses to spare the person a request that will cost nothing."""
    args = RequestArgs(prompt="ask once", **FAST)
    async with JobManager(Settings.from_env(env)) as manager:
        assert manager.twin(args) is None and manager.db.list() == []
        first = await manager.submit(args)
        found = manager.twin(RequestArgs(prompt=" ask once ", **FAST))
        assert found is not None and found.job_id == first.job_id and found.deduplicated
        assert manager.twin(RequestArgs(prompt="ask once", seed=1, **FAST)) is None
        await manager.wait(first.job_id, 20)
    async with JobManager(Settings.from_env({**env, "VIDEOGEN_DEDUPE_SECONDS": "0"})) as manager:
        assert manager.twin(args) is None


def test_the_setting(env):
    assert Settings.from_env(env).dedupe_seconds == 600
    assert Settings.from_env({**env, "VIDEOGEN_DEDUPE_SECONDS": "30"}).dedupe_seconds == 30
    with pytest.raises(SettingsError, match="VIDEOGEN_DEDUPE_SECONDS"):
        Settings.from_env({**env, "VIDEOGEN_DEDUPE_SECONDS": "ten minutes"})
    with pytest.raises(SettingsError, match="at least 0"):
        Settings.from_env({**env, "VIDEOGEN_DEDUPE_SECONDS": "-1"})


def test_the_twin_lookup_uses_an_index(tmp_path: Path):
    store = JobStore(tmp_path / "jobs.sqlite3")
    plan = store.query(
        "EXPLAIN QUERY PLAN SELECT * FROM jobs WHERE request_sha256=? ORDER BY created_at DESC LIMIT 1", ("x",)
    )
    assert any("jobs_by_request" in row["detail"] for row in plan), [tuple(r) for r in plan]
    store.close()


def test_the_note_tells_the_agent_how_to_ask_for_a_new_variation():
    now = time.time()
    row = JobRow("job_1", "running", "demo", "demo-v1", {}, created_at=now - 42, updated_at=now)
    note = dedupe_note(row)
    assert "job_1" in note and "new idempotency_key" in note
    assert re.search(r"started 4\d s ago", note)  # 42, or a little more on a slow machine
