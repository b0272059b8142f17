"""Provider callbacks instead of polling: `mcp-videogen serve` over HTTP with VIDEOGEN_PUBLIC_URL gives fal, Kling
and runblob jobs a per-job callback URL; the simulators call it back and jobs finish with zero status polls.

The simulators run in this process (so their counters can be read); the server is a real subprocess reached
with the MCP SDK's streamable HTTP client, and the simulators call it back over loopback.
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import httpx
import pytest
import test_transports as transports
from mcp import Client

from providers.base import ErrorCode, Submission
from providers.fal import FalProvider
from providers.kling import KlingProvider
from providers.runblob import RunblobProvider
from providers.simulators import build_app, sample_env
from providers.simulators.common import free_port, running
from server.catalog import RequestArgs
from server.jobs import JobManager
from server.settings import Settings, SettingsError

pytestmark = pytest.mark.anyio

SPEED = 100  # simulated seconds per real second (the servers here poll on a slower clock: callbacks come first)
QUICK = "sim:seconds=5 sim:queue=0"  # done long before the first safety-net poll is due
TOKEN = "t0ken-" + "7" * 32


@pytest.fixture(scope="module")
def simulators() -> Iterator[tuple[str, dict[str, Any]]]:
    app = build_app(speed=SPEED)
    with running(app) as url:
        yield url, app.state.simulators


@contextmanager
def serving(tmp: Path, sim_url: str, *, public: bool = True, port: int | None = None, **extra: str) -> Iterator[str]:
    """`python -m server serve --transport streamable-http` on its own index, logging to tmp/server.log."""
    port = port or free_port()
    env = {
        "VIDEOGEN_DATA_DIR": str(tmp / "data"),
        "VIDEOGEN_OUTPUT_DIR": str(tmp / "videos"),
        "VIDEOGEN_ALLOWED_DIRS": str(tmp),
        "VIDEOGEN_HEARTBEAT_SECONDS": "0.2",
        "VIDEOGEN_RETRY_SCALE": "0.02",
        "VIDEOGEN_STUCK_SECONDS": "1000000",
        "VIDEOGEN_DEMO_LATENCY": "0.3",
        **sample_env(sim_url),
        # The first safety-net poll comes at the model's usual time on this clock (3.6 s for fal's Kling 2.6):
        # far after a callback, even on a busy machine.
        "VIDEOGEN_POLL_SCALE": "0.03",
        **({"VIDEOGEN_PUBLIC_URL": f"http://127.0.0.1:{port}"} if public else {}),
        **extra,
    }
    with transports.serving(env, "streamable-http", port=port, log=tmp / "server.log") as url:
        yield url


@pytest.fixture(scope="module")
def server(simulators, tmp_path_factory) -> Iterator[tuple[str, Path]]:
    """One callback-receiving server for the tests that need nothing special."""
    tmp = tmp_path_factory.mktemp("webhooks")
    with serving(tmp, simulators[0]) as url:
        yield url, tmp


def index_row(tmp: Path, job_id: str) -> dict[str, Any]:
    with sqlite3.connect(tmp / "data" / "jobs.sqlite3") as db:
        db.row_factory = sqlite3.Row
        return dict(db.execute("SELECT * FROM jobs WHERE job_id=?", (job_id,)).fetchone())


async def generate(url: str, provider: str, prompt: str, wait: float = 20, **auth: str) -> dict[str, Any]:
    """The job after up to `wait` seconds: without a progress token the server answers within 4 s
    (NO_PROGRESS_WAIT_SECONDS), so an unfinished job is long-polled with get_status, as an agent would."""
    deadline = time.monotonic() + wait
    client = Client(f"{url}/mcp") if not auth else _authorized(url, auth["token"])
    async with client:
        result = await client.call_tool(
            "generate_video", {"prompt": prompt, "provider": provider, "wait_seconds": wait}
        )
        assert not result.is_error, result.content
        job = result.structured_content
        while job["status"] not in ("succeeded", "failed", "cancelled") and time.monotonic() < deadline:
            left = max(0.0, deadline - time.monotonic())
            job = (
                await client.call_tool("get_status", {"job_id": job["job_id"], "wait_seconds": left})
            ).structured_content
    return job


def _authorized(url: str, token: str) -> Client:
    from mcp.client.streamable_http import streamable_http_client
    from mcp.shared._httpx_utils import create_mcp_http_client

    headers = {"Authorization": f"Bearer {token}"}
    return Client(streamable_http_client(f"{url}/mcp", http_client=create_mcp_http_client(headers=headers)))


async def status(url: str, job_id: str, wait: float = 0) -> dict[str, Any]:
    async with Client(f"{url}/mcp") as client:
        result = await client.call_tool("get_status", {"job_id": job_id, "wait_seconds": wait})
    return result.structured_content


async def submitted(url: str, job: dict[str, Any]) -> dict[str, Any]:
    """The job once the provider has it (generate_video with wait 0 may return before the submit)."""
    deadline = time.monotonic() + 10
    while not job["provider_job_id"]:
        assert time.monotonic() < deadline, job
        time.sleep(0.02)
        job = await status(url, job["job_id"])
    return job


def delivered_lines(tmp: Path, job_id: str) -> int:
    return (tmp / "server.log").read_text().count(f"job {job_id} delivered")


# -- end to end ------------------------------------------------------------------------------------


@pytest.mark.parametrize("provider", ["fal", "kling", "runblob"])
async def test_a_job_finishes_by_callback_with_zero_status_polls(simulators, server, provider):
    url, tmp = server
    sim = simulators[1][provider]
    job = await generate(url, provider, f"a lighthouse at dusk {QUICK}")
    assert job["status"] == "succeeded", job
    ref = job["provider_job_id"]
    assert sim.polls[ref] == 0, dict(sim.polls)
    assert sim.callbacks_delivered[ref] >= 1 and sim.downloads[ref] == 1
    assert Path(job["video"]["path"]).stat().st_size == job["video"]["size_bytes"] > 0
    # The URL the provider got carries a token whose hash (only) is in the index.
    hook = sim.jobs[ref].extra["callback_url"]
    assert hook.startswith(f"{url}/webhooks/{job['job_id']}/")
    token = hook.rsplit("/", 1)[1]
    row = index_row(tmp, job["job_id"])
    assert row["callback_token_sha256"] == hashlib.sha256(token.encode()).hexdigest()
    assert token.encode() not in (tmp / "data" / "jobs.sqlite3").read_bytes()


@pytest.mark.parametrize("provider", ["fal", "kling", "runblob"])
async def test_a_provider_side_failure_arrives_by_callback(simulators, server, provider):
    url, _ = server
    sim = simulators[1][provider]
    job = await generate(url, provider, f"something forbidden sim:fail=content {QUICK}")
    assert job["status"] == "failed" and job["error"]["code"] == ErrorCode.CONTENT_POLICY.value, job
    assert sim.polls[job["provider_job_id"]] == 0
    assert sim.callbacks_delivered[job["provider_job_id"]] >= 1


async def test_a_wrong_token_or_unknown_job_gets_404_and_changes_nothing(simulators, server):
    url, tmp = server
    sim = simulators[1]["runblob"]
    job = await submitted(url, await generate(url, "runblob", "a slow pan sim:seconds=300 sim:queue=0", wait=0))
    before = index_row(tmp, job["job_id"])
    failed = {"generation_id": job["provider_job_id"], "status": "failed", "message": "CONTENT_POLICY_VIOLATION"}
    answers = [
        httpx.post(f"{url}/webhooks/{job['job_id']}/{'x' * 43}", json=failed),
        httpx.post(f"{url}/webhooks/{job['job_id']}/", json=failed),
        httpx.post(f"{url}/webhooks/job_0000000000000000/{'x' * 43}", json=failed),
    ]
    assert [a.status_code for a in answers] == [404, 404, 404]
    assert answers[0].json() == answers[2].json()  # an unknown job and a wrong token look the same
    after = index_row(tmp, job["job_id"])
    assert after["callback"] is None and after["error"] is None and after["status"] == before["status"]
    # The right token with a body that is not JSON is refused and changes nothing either.
    hook = _hook(sim, job)
    assert httpx.post(hook, content=b"not json", headers={"Content-Type": "application/json"}).status_code == 400
    assert httpx.post(hook, content=b"x" * (1024 * 1024 + 1)).status_code == 413
    assert index_row(tmp, job["job_id"])["callback"] is None
    done = await status(url, job["job_id"], wait=20)
    assert done["status"] == "succeeded", done


def _hook(sim: Any, job: dict[str, Any], timeout: float = 5) -> str:
    deadline = time.monotonic() + timeout
    while "callback_url" not in sim.jobs[job["provider_job_id"]].extra:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    return sim.jobs[job["provider_job_id"]].extra["callback_url"]


def unsigned(job: dict) -> dict:
    """A Job without its signed links, which every answer over HTTP makes afresh."""
    video = {k: v for k, v in (job.get("video") or {}).items() if k not in ("download_url", "thumbnail_url")}
    return {**job, "video": video or None}


@pytest.mark.parametrize("provider", ["fal", "kling", "runblob"])
async def test_a_replayed_callback_is_idempotent(simulators, server, provider):
    url, tmp = server
    sim = simulators[1][provider]
    job = await generate(url, provider, f"a paper boat {QUICK}")
    assert job["status"] == "succeeded"
    ref = job["provider_job_id"]
    sent = sim.jobs[ref].extra["callbacks_sent"]
    for body in [*sent, *sent]:  # every callback again, twice: the final one and, for Kling, an older state
        assert httpx.post(_hook(sim, job), json=body).status_code == 200
    again = await status(url, job["job_id"])
    assert unsigned(again) == unsigned(job)  # the same job; only its download links are fresh (a new expiry)
    assert sim.downloads[ref] == 1 and delivered_lines(tmp, job["job_id"]) == 1
    assert index_row(tmp, job["job_id"])["callback"] is None


async def test_an_older_state_arriving_late_changes_nothing(simulators, server):
    url, tmp = server
    sim = simulators[1]["kling"]
    job = await submitted(url, await generate(url, "kling", "a long take sim:seconds=100000 sim:queue=0", wait=0))
    hook = _hook(sim, job)
    ref = job["provider_job_id"]
    deadline = time.monotonic() + 10
    while (await status(url, job["job_id"]))["status"] != "running":  # Kling's processing callback
        assert time.monotonic() < deadline
        time.sleep(0.05)
    older = {"task_id": ref, "task_status": "submitted", "task_status_msg": "", "task_result": {}}
    before = index_row(tmp, job["job_id"])
    assert httpx.post(hook, json=older).json()["message"] == "already known"
    assert index_row(tmp, job["job_id"]) == before
    sim.jobs[ref].run_seconds = 0.001  # let it finish now
    done = await status(url, job["job_id"], wait=20)
    assert done["status"] == "succeeded"


async def test_an_unreadable_fal_result_is_fetched_with_one_poll(simulators, server):
    url, _ = server
    sim = simulators[1]["fal"]
    sim.config["webhook_payload_error"] = True
    try:
        job = await generate(url, "fal", f"a kite {QUICK}")
    finally:
        sim.config.pop("webhook_payload_error")
    assert job["status"] == "succeeded"
    ref = job["provider_job_id"]
    assert sim.jobs[ref].extra["callbacks_sent"][0]["payload"] is None
    assert sim.polls[ref] >= 1  # payload null: the status and result are read once the callback says done


@pytest.mark.parametrize("provider", ["runway", "wireflow", "demo"])
async def test_providers_without_callbacks_never_get_a_url(simulators, server, provider):
    url, tmp = server
    job = await generate(url, provider, f"a red fox {QUICK}")
    assert job["status"] == "succeeded", job
    assert index_row(tmp, job["job_id"])["callback_token_sha256"] is None
    if provider != "demo":
        sim = simulators[1][provider]
        payload = str(sim.jobs[job["provider_job_id"]].payload).lower()
        assert "webhook" not in payload and "callback" not in payload and "/webhooks/" not in payload


async def test_without_a_public_url_jobs_are_polled_as_before(simulators, tmp_path):
    sims = simulators[1]
    with serving(tmp_path, simulators[0], public=False) as url:
        job = await generate(url, "kling", f"a quiet harbour {QUICK}")
        assert httpx.post(f"{url}/webhooks/{job['job_id']}/{'x' * 43}", json={}).status_code == 404
    assert job["status"] == "succeeded"
    ref = job["provider_job_id"]
    assert "callback_url" not in sims["kling"].jobs[ref].payload and sims["kling"].callbacks[ref] == 0
    assert sims["kling"].polls[ref] >= 1
    assert index_row(tmp_path, job["job_id"])["callback_token_sha256"] is None


async def test_the_webhook_route_needs_no_bearer_token_but_mcp_still_does(simulators, tmp_path):
    sims = simulators[1]
    with serving(tmp_path, simulators[0], VIDEOGEN_AUTH_TOKEN=TOKEN) as url:
        assert httpx.get(f"{url}/mcp").status_code == 401
        assert httpx.post(f"{url}/webhooks", json={}).status_code == 401  # only the /webhooks/ prefix is open
        assert httpx.post(f"{url}/webhooks/job_x/{'x' * 43}", json={}).status_code == 404
        job = await generate(url, "runblob", f"a night train {QUICK}", token=TOKEN)
    assert job["status"] == "succeeded", job
    ref = job["provider_job_id"]
    assert sims["runblob"].polls[ref] == 0 and sims["runblob"].callbacks_delivered[ref] >= 1


async def test_the_callback_url_survives_a_restart(simulators, tmp_path):
    sim = simulators[1]["runblob"]
    port = free_port()
    with serving(tmp_path, simulators[0], port=port) as url:
        job = await submitted(url, await generate(url, "runblob", "an endless road sim:seconds=100000 sim:queue=0", 0))
        _hook(sim, job)
    with serving(tmp_path, simulators[0], port=port) as url:
        # The provider finishes while the new process runs (and not by runblob's 15-minute limit).
        sim.jobs[job["provider_job_id"]].run_seconds, sim.jobs[job["provider_job_id"]].fail = 0.001, None
        done = await status(url, job["job_id"], wait=20)
    assert done["status"] == "succeeded", done
    assert f"job {job['job_id']}: callback from runblob (Kling O3): succeeded" in (tmp_path / "server.log").read_text()


# -- in one process: who may advertise a URL, and callbacks received by another process ---------------


async def test_engines_that_serve_no_webhook_route_never_advertise_a_url(simulators, env):
    """stdio and the CLI (JobManager without callbacks=True) give no URL, even with VIDEOGEN_PUBLIC_URL set."""
    url, sims = simulators
    settings = Settings.from_env(
        {**env, **sample_env(url), "VIDEOGEN_POLL_SCALE": "0.01", "VIDEOGEN_PUBLIC_URL": "https://hooks.example"}
    )
    async with JobManager(settings) as manager:
        assert not manager.callbacks
        row = await manager.submit(RequestArgs(prompt=f"a cat {QUICK}", provider="kling"))
        row = await manager.wait(row.job_id, 20)
    assert row.status == "succeeded" and row.callback_token_sha256 is None
    assert "callback_url" not in sims["kling"].jobs[row.provider_ref].payload
    no_public = Settings.from_env({**env, **sample_env(url)})
    async with JobManager(no_public, callbacks=True) as manager:
        assert not manager.callbacks  # nothing to advertise without a public URL


async def test_a_callback_received_by_another_process_is_used_instead_of_a_poll(simulators, env):
    """The HTTP process stores the callback in the shared index; the process watching the job (here one
    without callbacks, as after a takeover) finds it at its next look, within one poll interval."""
    url, sims = simulators
    sim = sims["runblob"]
    base = {**env, **sample_env(url), "VIDEOGEN_POLL_SCALE": "0.01"}
    served = Settings.from_env({**base, "VIDEOGEN_PUBLIC_URL": "http://127.0.0.1:9"})  # nobody listens there
    async with JobManager(served, callbacks=True) as first:
        row = await first.submit(RequestArgs(prompt="forever sim:seconds=800 sim:queue=0", provider="runblob"))
        while not (row := first.get(row.job_id)).provider_ref:
            await anyio.sleep(0.02)
    token = sim.jobs[row.provider_ref].extra["callback_url"].rsplit("/", 1)[1]
    finished = sim.create({}, prompt="sim:seconds=0.001 sim:queue=0")  # any finished video will do
    video = f"{url}/runblob/_sim/videos/{finished.id}.mp4"
    async with JobManager(Settings.from_env(base)) as watcher, JobManager(served, callbacks=True, resume=False) as web:
        assert web.callback_job(row.job_id, "wrong") is None
        received = web.callback_job(row.job_id, token)
        assert received is not None
        body = {"generation_id": row.provider_ref, "status": "completed", "video_url": video, "model": "m"}
        assert await web.receive_callback(received, body)
        assert not await web.receive_callback(received, body)  # a repeat while the first waits: nothing new
        done = await watcher.wait(row.job_id, 20)
    assert done.status == "succeeded" and done.video["url"] == video
    assert sim.jobs[row.provider_ref].phase()[0] == "running"  # so the news came from the callback


async def test_a_callback_that_beats_the_following_is_used_at_once(simulators, env):
    """A callback received after the provider took the job but before this process began following it (a loaded
    machine: the submit's reply is still being stored) wakes nobody; the first look must take it at once,
    not at the first safety-net poll, which on this clock is minutes away. (Seen in CI with MiniMax.)"""
    url, sims = simulators
    sim = sims["runblob"]
    finished = sim.create({}, prompt="sim:seconds=0.001 sim:queue=0")
    video = f"{url}/runblob/_sim/videos/{finished.id}.mp4"
    settings = Settings.from_env({**env, **sample_env(url), "VIDEOGEN_PUBLIC_URL": "http://127.0.0.1:9"})
    assert settings.poll_scale == 1  # the safety-net poll comes at the model's usual time: far past this test
    async with JobManager(settings, callbacks=True) as engine:
        submit = engine._ensure_submitted

        async def submit_then_called_back(row, provider, spec, request):  # type: ignore[no-untyped-def]
            submission = await submit(row, provider, spec, request)
            assert submission is not None
            body = {"generation_id": submission.ref, "status": "completed", "video_url": video, "model": "m"}
            assert await engine.receive_callback(engine.get(row.job_id), body)
            return submission

        engine._ensure_submitted = submit_then_called_back  # type: ignore[method-assign]
        row = await engine.submit(RequestArgs(prompt="forever sim:seconds=800 sim:queue=0", provider="runblob"))
        done = await engine.wait(row.job_id, 10)
    assert done.status == "succeeded" and done.video["url"] == video, done
    assert sim.polls[done.provider_ref] == 0  # the callback said it all


async def test_a_late_running_callback_never_cancels_the_poll_a_success_asked_for(simulators, env):
    """Callbacks come in any order. A success that names no video asks for a poll; a "processing" callback that
    arrives after it must not replace that request, or the finished job waits for the safety-net poll (minutes
    on this clock). (Seen in CI with MiniMax, whose success names only a file id.)"""
    url, sims = simulators
    sim = sims["runblob"]
    settings = Settings.from_env({**env, **sample_env(url), "VIDEOGEN_PUBLIC_URL": "http://127.0.0.1:9"})
    async with JobManager(settings, callbacks=True) as engine:
        row = await engine.submit(RequestArgs(prompt="quick sim:seconds=0.5 sim:queue=0", provider="runblob"))
        while not (row := engine.get(row.job_id)).provider_ref:
            await anyio.sleep(0.02)
        await anyio.sleep(0.3)  # the first look is done: the job waits for news or its safety-net poll
        base = {"generation_id": row.provider_ref, "model": "m", "message": None}
        success, running = {**base, "status": "completed", "video_url": None}, {**base, "status": "processing"}
        async with anyio.create_task_group() as tg:  # both arrive before the watcher looks
            tg.start_soon(engine.receive_callback, row, success)
            await anyio.lowlevel.checkpoint()
            tg.start_soon(engine.receive_callback, row, running)
        done = await engine.wait(row.job_id, 10)
    assert done.status == "succeeded", done
    assert sim.polls[row.provider_ref] == 1  # the one poll the success asked for


# -- the adapters read each documented callback shape ----------------------------------------------


def test_fal_reads_its_webhooks():
    fal = FalProvider({"FAL_KEY": "k"})
    sub = Submission(ref="req-1", state={})
    base = {"request_id": "req-1", "gateway_request_id": "req-1"}
    video = {"url": "https://v3.fal.media/files/out.mp4", "content_type": "video/mp4", "file_size": 10}
    done = fal.parse_callback({**base, "status": "OK", "payload": {"video": video}}, sub)
    assert done is not None and done.status == "succeeded" and done.video_url == video["url"]
    # fal could not serialise the result: only a poll can read it.
    unreadable = {**base, "status": "OK", "payload": None, "payload_error": "Response payload is not JSON serializable"}
    assert fal.parse_callback(unreadable, sub) is None
    assert fal.parse_callback({**base, "status": "OK", "payload": {"images": []}}, sub) is None
    content = {"detail": [{"loc": ["body", "prompt"], "msg": "flagged", "type": "content_policy_violation"}]}
    refused = fal.parse_callback(
        {**base, "status": "ERROR", "error": "Invalid status code: 422", "payload": content}, sub
    )
    assert refused is not None and refused.status == "failed" and refused.error.code == ErrorCode.CONTENT_POLICY
    invalid = {"detail": [{"loc": ["body", "duration"], "msg": "Input should be '5' or '10'", "type": "literal_error"}]}
    rejected = fal.parse_callback(
        {**base, "status": "ERROR", "error": "Invalid status code: 422", "payload": invalid}, sub
    )
    assert rejected is not None and rejected.error.code == ErrorCode.INVALID_INPUT and "duration" in rejected.message
    crashed = {"detail": "Internal server error", "error_type": "internal_server_error"}
    failed = fal.parse_callback(
        {**base, "status": "ERROR", "error": "Invalid status code: 500", "payload": crashed}, sub
    )
    assert failed is not None and failed.error.code == ErrorCode.PROVIDER_FAILED and failed.error.retryable
    stopped = {"detail": "Request cancelled by the client.", "error_type": "request_cancelled"}
    assert fal.parse_callback({**base, "status": "ERROR", "payload": stopped}, sub).status == "cancelled"
    assert fal.parse_callback({**base, "status": "ERROR", "payload": None, "payload_error": "x"}, sub) is None
    assert fal.parse_callback({**base, "request_id": "req-2", "status": "OK", "payload": {"video": video}}, sub) is None
    assert fal.parse_callback({**base, "status": "IN_PROGRESS"}, sub) is None


def test_kling_reads_its_callbacks():
    kling = KlingProvider({"KLING_ACCESS_KEY": "a", "KLING_SECRET_KEY": "s"})
    sub = Submission(ref="8612", state={"endpoint": "text2video"})
    base = {"task_id": "8612", "task_info": {"external_task_id": "job_1"}, "created_at": 1, "updated_at": 2}
    assert kling.parse_callback({**base, "task_status": "submitted"}, sub).status == "queued"
    assert kling.parse_callback({**base, "task_status": "processing", "task_status_msg": ""}, sub).status == "running"
    result = {"videos": [{"id": "v", "url": "https://cdn.klingai.com/v.mp4", "duration": "5"}]}
    done = kling.parse_callback({**base, "task_status": "succeed", "task_result": result}, sub)
    assert done.status == "succeeded" and done.video_url == "https://cdn.klingai.com/v.mp4"
    risky = "Failure to pass the risk control system"
    refused = kling.parse_callback({**base, "task_status": "failed", "task_status_msg": risky}, sub)
    assert refused.status == "failed" and refused.error.code == ErrorCode.CONTENT_POLICY
    broken = kling.parse_callback({**base, "task_status": "failed", "task_status_msg": "internal error"}, sub)
    assert broken.error.code == ErrorCode.PROVIDER_FAILED and broken.error.retryable
    assert (
        kling.parse_callback({**base, "task_id": "9999", "task_status": "succeed", "task_result": result}, sub) is None
    )
    assert kling.parse_callback({"code": 0}, sub) is None
    # A callback may beat the submit's reply: without our reference yet, it is read all the same.
    assert kling.parse_callback({**base, "task_status": "processing"}, Submission(ref="")).status == "running"


def test_runblob_reads_its_webhooks():
    runblob = RunblobProvider({"RUNBLOB_API_KEY": "k"})
    sub = Submission(ref="gen-1", charged_usd=0.15)
    base = {"generation_id": "gen-1", "model": "kling-o3-video-5s"}
    done = runblob.parse_callback(
        {**base, "status": "completed", "video_url": "https://cdn/x.mp4", "message": None}, sub
    )
    assert done.status == "succeeded" and done.video_url == "https://cdn/x.mp4" and done.charged_usd == 0.15
    expected = {
        "CONTENT_POLICY_VIOLATION": (ErrorCode.CONTENT_POLICY, False),
        "IMAGE_INACCESSIBLE": (ErrorCode.INVALID_INPUT, False),
        "INVALID_IMAGE": (ErrorCode.INVALID_INPUT, False),
        "TIMEOUT": (ErrorCode.TIMED_OUT, True),
        "SOMETHING_NEW": (ErrorCode.PROVIDER_FAILED, True),
    }
    for message, (code, retryable) in expected.items():
        failed = runblob.parse_callback({**base, "status": "failed", "video_url": None, "message": message}, sub)
        assert failed.status == "failed" and (failed.error.code, failed.error.retryable) == (code, retryable), message
        assert message in failed.message or code == ErrorCode.PROVIDER_FAILED
    assert runblob.parse_callback({**base, "status": "completed", "video_url": None}, sub) is None  # poll for it
    assert (
        runblob.parse_callback({**base, "generation_id": "gen-2", "status": "completed", "video_url": "u"}, sub) is None
    )


# -- settings --------------------------------------------------------------------------------------


def test_the_public_url_is_checked(env):
    assert Settings.from_env({**env, "VIDEOGEN_PUBLIC_URL": "https://videogen.example.com/"}).public_url == (
        "https://videogen.example.com"
    )
    assert Settings.from_env(env).public_url is None
    for bad in ("videogen.example.com", "ftp://x.example", "https://x.example/?a=1", "https://"):
        with pytest.raises(SettingsError, match="VIDEOGEN_PUBLIC_URL"):
            Settings.from_env({**env, "VIDEOGEN_PUBLIC_URL": bad})
