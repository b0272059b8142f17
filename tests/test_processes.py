"""The server as a separate process: stdio, kill -9 and restart, two processes on one index."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import anyio
import pytest
from conftest import PYTHON, ROOT, subprocess_env
from mcp import Client, StdioServerParameters

from server.jobs import JobManager
from server.media import verify
from server.settings import Settings

pytestmark = pytest.mark.anyio


def stdio_server(env: dict[str, str], *args: str) -> StdioServerParameters:
    return StdioServerParameters(command=PYTHON, args=["-m", "server", *args], env=subprocess_env(env), cwd=str(ROOT))


def job_status(settings: Settings, job_id: str) -> str | None:
    with sqlite3.connect(settings.index_path) as db:
        row = db.execute("SELECT status FROM jobs WHERE job_id=?", (job_id,)).fetchone()
    return row[0] if row else None


def wait_for_status(settings: Settings, statuses: set[str], timeout: float = 20.0) -> str:
    """Poll the index from outside until some job reaches one of `statuses`; return its id."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with sqlite3.connect(settings.index_path) as db:
                row = db.execute(
                    f"SELECT job_id FROM jobs WHERE status IN ({','.join('?' * len(statuses))})", tuple(statuses)
                ).fetchone()
        except sqlite3.OperationalError:  # the index is not created yet
            row = None
        if row:
            return row[0]
        time.sleep(0.05)
    raise AssertionError(f"no job reached {statuses} in {timeout} s")


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_every_tool_over_stdio(env: dict[str, str], mode: str):
    progress: list[float] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append(value)

    async with Client(stdio_server(env), mode=mode) as client:
        names = {t.name for t in (await client.list_tools()).tools}
        assert names == {"generate_video", "get_status", "list_models", "estimate_cost", "list_jobs", "cancel_job"}
        models = await client.call_tool("list_models", {})
        assert models.structured_content["default_provider"] == "demo"
        cost = await client.call_tool("estimate_cost", {"prompt": "a lighthouse", "duration": 2})
        assert cost.structured_content["usd"] == 0
        result = await client.call_tool(
            "generate_video",
            {"prompt": "a lighthouse at dusk", "duration": 2, "resolution": "360p"},
            progress_callback=on_progress,
        )
        job = result.structured_content
        assert job["status"] == "succeeded", result.content
        status = await client.call_tool("get_status", {"job_id": job["job_id"]})
        assert status.structured_content["video"] == job["video"]
        listed = await client.call_tool("list_jobs", {"limit": 5})
        assert [j["job_id"] for j in listed.structured_content["jobs"]] == [job["job_id"]]
        cancel = await client.call_tool("cancel_job", {"job_id": job["job_id"]})
        assert cancel.structured_content["status"] == "succeeded"  # finished jobs stay as they are
        bad = await client.call_tool("generate_video", {"prompt": "x", "duration": 60})
        assert bad.is_error and "allowed" in bad.content[0].text
    info = verify(Path(job["video"]["path"]))
    assert abs(info.duration_seconds - 2) < 0.1 and (info.width, info.height) == (640, 360)
    assert len(progress) >= 3 and progress[-1] == 100


async def test_kill_9_mid_job_then_restart_finishes_it(env: dict[str, str]):
    env = {**env, "VIDEOGEN_DEMO_LATENCY": "2.5", "VIDEOGEN_LEASE_SECONDS": "30"}
    settings = Settings.from_env(env)
    worker = subprocess.Popen(
        [PYTHON, "-m", "server", "generate", "a phoenix rising", "--duration", "1", "--resolution", "360p", "--json"],
        env=subprocess_env(env),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        job_id = wait_for_status(settings, {"running"})
    finally:
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait()
    assert job_status(settings, job_id) == "running"
    # The dead process's lease would hold for 30 s; a restarted server sees its holder is gone and takes over.
    started = time.monotonic()
    async with JobManager(settings) as manager:
        row = await manager.wait(job_id, 20)
    assert row.status == "succeeded", row.message
    assert time.monotonic() - started < 10
    verify(Path(row.video["path"]))
    assert not list(settings.output_dir.glob("*.part"))


async def test_restart_over_stdio_resumes_and_get_status_answers(env: dict[str, str]):
    env = {**env, "VIDEOGEN_DEMO_LATENCY": "2"}
    async with Client(stdio_server(env)) as client:
        started = await client.call_tool(
            "generate_video", {"prompt": "resume me", "duration": 1, "resolution": "360p", "wait_seconds": 0}
        )
        job_id = started.structured_content["job_id"]
    # That server process has exited with the job unfinished; a new one resumes it.
    async with Client(stdio_server(env)) as client:
        done = await client.call_tool("get_status", {"job_id": job_id, "wait_seconds": 20})
    assert done.structured_content["status"] == "succeeded"


def test_two_processes_on_one_index_split_the_work(env: dict[str, str]):
    """Jobs left unwatched are adopted by two servers at once; each job is delivered by exactly one."""
    env = {**env, "VIDEOGEN_DEMO_LATENCY": "1", "VIDEOGEN_LEASE_SECONDS": "2"}
    settings = Settings.from_env(env)
    job_ids = []
    for n in range(6):
        out = subprocess.run(
            [
                PYTHON,
                "-m",
                "server",
                "generate",
                f"job {n}",
                "--duration",
                "1",
                "--resolution",
                "360p",
                "--no-wait",
                "--json",
            ],
            env=subprocess_env(env),
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        job_ids.append(json.loads(out.stdout)["job_id"])
    # Two watchers start together on the same index (as two desktop clients might).
    watchers = [
        subprocess.Popen(
            [PYTHON, "-m", "server", "--debug", "status", job_ids[-1], "--wait", "30"],
            env=subprocess_env(env),
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    logs = []
    for w in watchers:
        _, err = w.communicate(timeout=60)
        logs.append(err)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(job_status(settings, j) != "succeeded" for j in job_ids):
        time.sleep(0.2)  # the last job a watcher waited on may finish before the others
        if all(w.poll() is not None for w in watchers):
            break
    delivered = {j: [i for i, log in enumerate(logs) if f"job {j} delivered" in log] for j in job_ids}
    finished = [j for j in job_ids if job_status(settings, j) == "succeeded"]
    # Every finished job was delivered by exactly one process, and no job was delivered twice.
    assert all(len(delivered[j]) == 1 for j in finished), delivered
    assert all(len(v) <= 1 for v in delivered.values()), delivered
    # Each finished job's own file is there. (A watcher that stopped mid-delivery may have left a complete
    # file for a job another process then finished: it rewrites the same name atomically.)
    assert all(Path(r["path"]).is_file() for r in _videos(settings, finished))
    assert job_ids[-1] in finished


def _videos(settings: Settings, job_ids: list[str]) -> list[dict]:
    with sqlite3.connect(settings.index_path) as db:
        rows = db.execute(
            f"SELECT video FROM jobs WHERE job_id IN ({','.join('?' * len(job_ids))})", job_ids
        ).fetchall()
    return [json.loads(v) for (v,) in rows]


async def test_wait_sees_jobs_finished_by_another_process(env: dict[str, str]):
    """A process that does not watch a job still follows it through the shared index."""
    env = {**env, "VIDEOGEN_DEMO_LATENCY": "1"}
    settings = Settings.from_env(env)
    async with JobManager(settings) as owner, JobManager(settings, resume=False) as observer:
        from server.catalog import RequestArgs

        row = await owner.submit(RequestArgs(prompt="observed", duration=1, resolution="360p"))
        seen: list[str] = []

        async def on_update(r) -> None:
            seen.append(r.status)

        with anyio.fail_after(20):
            final = await observer.wait(row.job_id, 20, on_update)
    assert final.status == "succeeded" and "running" in seen
