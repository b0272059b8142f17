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
    update = JobStore.update

    def recorded(self: JobStore, job_id: str, owner: str | None, **changes):
        with lock:
            writing.append(1)
        try:
            return update(self, job_id, owner, **changes)
        finally:
            with lock:
                writing.pop()
            finished_after_release.append(released.is_set())

    monkeypatch.setattr(JobStore, "update", recorded)
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
