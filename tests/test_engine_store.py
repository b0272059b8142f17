"""No store call blocks the event loop: while another process holds the index's write lock, a job's write waits
(in a worker thread) and a tool call that needs no write (list_models) answers meanwhile."""

from __future__ import annotations

import sqlite3
import threading

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
