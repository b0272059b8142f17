"""No store call blocks the event loop: while another process holds the index's write lock, a job's write waits
(in a worker thread) and a tool call that needs no write (list_models) answers meanwhile. And many jobs at once
on a rate-limited provider (Wireflow's 10 executions a minute per key): the queued submits wait their turn,
none fails, and its polls are spread to fit the plan's requests a minute."""

from __future__ import annotations

import sqlite3
import threading
import time
from typing import Any

import anyio
import pytest
from mcp import Client

from server.app import build_server
from server.settings import Settings
from server.store import JobStore

pytestmark = pytest.mark.anyio
FAST = {"resolution": "360p", "duration": 1}


async def test_a_write_waiting_for_the_lock_holds_up_no_tool_call(env, monkeypatch):
    # Writes wait up to 30 s for the lock (no StoreError meanwhile); the demo job writes at every 10 % step.
    settings = Settings.from_env({**env, "VIDEOGEN_STORE_BUSY_SECONDS": "30", "VIDEOGEN_DEMO_LATENCY": "3"})
    lock = threading.Lock()
    writing: list[int] = []  # the writes under way, whichever thread makes them
    finished_after_release: list[bool] = []
    released = threading.Event()

    def recording(write):
        def recorded(self: JobStore, *args, **kwargs):
            with lock:
                writing.append(1)
            try:
                return write(self, *args, **kwargs)
            finally:
                with lock:
                    writing.pop()
                finished_after_release.append(released.is_set())

        return recorded

    # Whichever write meets the lock first (a progress update, or the housekeeping's lease renewal, which
    # then holds the one writer slot the update waits for) counts.
    for name in ("update", "renew", "hold", "release"):
        monkeypatch.setattr(JobStore, name, recording(getattr(JobStore, name)))
    async with Client(build_server(settings)) as client:
        started = await client.call_tool("generate_video", {"prompt": "under the lock", "wait_seconds": 0, **FAST})
        job_id = started.structured_content["job_id"]
        other = sqlite3.connect(settings.index_path, isolation_level=None)
        with anyio.fail_after(20):
            while other.execute("SELECT status FROM jobs").fetchone()[0] != "running":
                await anyio.sleep(0.01)
        other.execute("BEGIN EXCLUSIVE")
        try:
            with anyio.fail_after(20):
                while not writing:  # the job's next write meets the lock and waits
                    await anyio.sleep(0.01)
            answer = await client.call_tool("list_models", {})
            still_writing = bool(writing)  # read on the event loop right after the answer
            status = await client.call_tool("get_status", {"job_id": job_id})  # reads wait for no writer
        finally:
            released.set()
            other.execute("COMMIT")
            other.close()
        done = await client.call_tool("get_status", {"job_id": job_id, "wait_seconds": 20})
    assert not answer.is_error and not status.is_error, (answer.content, status.content)
    assert still_writing, "list_models answered only once no write was waiting"
    assert any(finished_after_release), "the waiting write ended before the lock was released"
    assert done.structured_content["status"] == "succeeded", done.content


async def test_on_postgresql_no_store_call_runs_on_the_event_loop(env, postgres_url, monkeypatch):
    """Every PostgreSQL call (reads too) is a network round trip: each runs in a worker thread, through a job's
    whole life and every tool that reads the index."""
    from server.store_pg import PostgresJobStore

    settings = Settings.from_env({**env, "VIDEOGEN_DATABASE_URL": postgres_url})
    calls: list[tuple[str, int]] = []
    for name in (
        "query insert get twin by_idempotency_key list update request_cancel offer_callback take_callback "
        "claim hold renew release orphans"
    ).split():
        original = getattr(PostgresJobStore, name)

        def recorded(self, *args, _name=name, _original=original, **kwargs):
            calls.append((_name, threading.get_ident()))
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(PostgresJobStore, name, recorded)
    loop_thread = threading.get_ident()
    async with Client(build_server(settings)) as client:
        done = await client.call_tool("generate_video", {"prompt": "off the loop", "wait_seconds": 20, **FAST})
        assert done.structured_content["status"] == "succeeded", done.content
        job_id = done.structured_content["job_id"]
        for tool, args in [
            ("get_status", {"job_id": job_id}),
            ("list_jobs", {}),
            ("estimate_cost", {"prompt": "p", **FAST}),
            ("generate_video", {"prompt": "off the loop", "wait_seconds": 0, **FAST}),  # its twin: a read
            ("cancel_job", {"job_id": job_id}),
        ]:
            answer = await client.call_tool(tool, args)
            assert not answer.is_error, (tool, answer.content)
        await client.read_resource(f"videogen://jobs/{job_id}")
        await client.read_resource("videogen://jobs")
    names = {name for name, _ in calls}
    assert {"insert", "get", "update", "list", "release", "query", "orphans", "renew"} <= names, names
    on_loop = sorted({name for name, thread in calls if thread == loop_thread})
    assert on_loop == [], f"called on the event loop: {on_loop}"


async def test_on_postgresql_a_write_waiting_for_a_row_lock_holds_up_no_tool_call(env, postgres_url):
    """Another replica holds the job's row locked: the job's write waits for it (in a worker thread) while
    list_models and get_status (which reads past the lock) answer."""
    import psycopg

    settings = Settings.from_env(
        {
            **env,
            "VIDEOGEN_DATABASE_URL": postgres_url,
            "VIDEOGEN_STORE_BUSY_SECONDS": "30",
            "VIDEOGEN_DEMO_LATENCY": "3",
        }
    )
    async with Client(build_server(settings)) as client:
        started = await client.call_tool("generate_video", {"prompt": "under the lock", "wait_seconds": 0, **FAST})
        job_id = started.structured_content["job_id"]
        with psycopg.connect(postgres_url) as other:
            with anyio.fail_after(20):
                while other.execute("SELECT status FROM jobs").fetchone()[0] != "running":
                    other.rollback()
                    await anyio.sleep(0.01)
            other.execute("SELECT * FROM jobs WHERE job_id=%s FOR UPDATE", (job_id,))
            locked_at = other.execute("SELECT updated_at FROM jobs").fetchone()[0]
            await anyio.sleep(0.6)  # the job's next progress write meets the lock and waits
            answer = await client.call_tool("list_models", {})
            status = await client.call_tool("get_status", {"job_id": job_id})
            assert status.structured_content["status"] == "running"
            other.rollback()
        done = await client.call_tool("get_status", {"job_id": job_id, "wait_seconds": 20})
    assert not answer.is_error and not status.is_error, (answer.content, status.content)
    assert done.structured_content["status"] == "succeeded", done.content
    assert locked_at is not None


# -- many jobs on a rate-limited provider -----------------------------------------------------------
WIREFLOW_SPEED = 240  # a simulated minute (Wireflow's rate-limit window) is 0.25 s
WIREFLOW_KEY = "sk-wf-test-7f3a9c1e5b2d4680aa"


async def test_more_wireflow_runs_than_its_executions_allow_all_wait_their_turn_and_none_fails(env):
    """Twelve jobs at once on a key allowed one execution a (simulated) minute: they run one window after
    another and every job succeeds (none waits past the engine's resends and fails RATE_LIMITED)."""
    from providers.simulators import create_app
    from providers.simulators.common import running
    from server.catalog import RequestArgs
    from server.jobs import JobManager

    app = create_app("wireflow", speed=WIREFLOW_SPEED)
    app.state.sim.config["executions_per_min"] = 1
    with running(app) as root:
        settings = Settings.from_env(
            {
                **env,
                "VIDEOGEN_WIREFLOW_BASE_URL": root,
                "WIREFLOW_API_KEY": WIREFLOW_KEY,
                "VIDEOGEN_POLL_SCALE": str(1 / WIREFLOW_SPEED),
            }
        )
        async with JobManager(settings) as manager:
            rows = []

            async def submit(n: int) -> None:
                rows.append(await manager.submit(RequestArgs(prompt=f"kite {n} sim:seconds=5", provider="wireflow")))

            async with anyio.create_task_group() as tg:
                for n in range(12):
                    tg.start_soon(submit, n)
            with anyio.fail_after(120):
                ended = [await manager.wait(row.job_id, 120) for row in rows]
    assert [row.status for row in ended] == ["succeeded"] * 12, [row.message for row in ended]


async def test_a_refused_wireflow_request_waits_its_turn_again_instead_of_failing():
    """A 429 proves Wireflow did nothing: the adapter waits for its next turn under the limit and sends it again
    (20 refusals in a row here: someone else spending the key's windows), instead of raising RATE_LIMITED after
    the HTTP client's one unpaced resend (which met the next window's first run, and the next...). A plan that
    allows nothing (X-RateLimit-Limit 0) is refused after one more try, as before."""
    from providers import wireflow
    from providers.base import ErrorCode, ProviderError

    provider = wireflow.WireflowProvider({"WIREFLOW_API_KEY": WIREFLOW_KEY})
    limit = provider.limits["executions"]
    turns: list[int] = []
    acquire = limit.acquire

    async def counted() -> None:
        turns.append(1)
        await acquire()

    limit.acquire = counted  # type: ignore[method-assign]
    answers = ["refused"] * 20 + ["answer"]

    class Stub:
        async def request(self, method: str, path: str, **options: Any) -> Any:
            if answers.pop(0) == "refused":
                raise ProviderError(ErrorCode.RATE_LIMITED, "Wireflow rate limit reached", retry_after=0.0)
            return "the answer"

    provider._http = Stub()
    provider._observe = lambda response: None  # type: ignore[method-assign]
    assert await provider._send("POST", "/workflows/wf_1/execute") == "the answer"
    assert len(turns) == 21  # every resend took its turn under the limit
    answers[:] = ["refused"] * 40
    with pytest.raises(ProviderError, match="another client may be spending the same key"):
        await provider._send("POST", "/workflows/wf_1/execute")
    assert len(answers) == 40 - wireflow.MAX_REFUSALS
    limit.limit = 0
    answers[:] = ["refused"] * 5
    with pytest.raises(ProviderError) as refused:
        await provider._send("POST", "/workflows/wf_1/execute")
    assert refused.value.code is ErrorCode.RATE_LIMITED and len(answers) == 3


def test_wireflow_polls_are_spread_to_fit_the_plans_requests_a_minute():
    """Wireflow's cadence (at most 10 s) for a few jobs; with more jobs than the plan's requests a minute can
    poll at that cadence, all the polls together take POLL_SHARE of the limit, whatever the job count."""
    from providers import wireflow

    provider = wireflow.WireflowProvider({"WIREFLOW_API_KEY": WIREFLOW_KEY})
    spec = provider.spec(provider.default_model)
    assert provider.poll_interval(spec, 600) == 10.0  # no answer has told the limit yet
    provider.limits["requests"].limit = 200
    provider._polled = {f"exec_{n}": time.monotonic() for n in range(10)}
    assert provider.poll_interval(spec, 600) == 10.0  # 10 jobs at 10 s: 60 a minute, within 150
    provider._polled = {f"exec_{n}": time.monotonic() for n in range(900)}
    provider._pruned_at = time.monotonic()  # (pruning would keep them all: just polled)
    interval = provider.poll_interval(spec, 600)
    assert 900 * 60 / interval == pytest.approx(wireflow.POLL_SHARE * 200)
    assert 429 not in provider.retry_policy().retry_statuses  # resent in turn by the adapter, not the client
