"""Wireflow (Kling through workflows) against its simulator over loopback: the MCP tools end to end, the
exact graphs each model sends, prices, every error mapping, cancel, a restart mid-job, and the docs' own
client flow (Wireflow has no SDK on PyPI: its official client is the skill's curl + jq script)."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import anyio
import httpx
import pytest
from conftest import PYTHON, ROOT, subprocess_env
from mcp import Client
from starlette.applications import Starlette
from starlette.routing import Mount

from providers.base import ErrorCode, ProviderError, Submission, VideoRequest
from providers.simulators.common import running
from providers.simulators.faults import FaultInjector, FaultPlan
from providers.simulators.wireflow import WireflowSim, create_app
from providers.wireflow import (
    MODELS,
    WireflowProvider,
    build_graph,
    execution_id,
    read_poll,
    saved_workflow,
    video_url,
)
from server.app import build_server
from server.catalog import RequestArgs
from server.jobs import SUBMIT_RESENDS, JobManager
from server.media import probe
from server.settings import Settings

pytestmark = pytest.mark.anyio

KEY = "sk-wf-test-7f3a9c1e5b2d4680aa"
SPEED = 200  # a 60 s simulated run takes 0.3 s


class Served(NamedTuple):
    url: str  # the adapter's base URL: <simulator>/wireflow
    sim: WireflowSim


class _Current:
    """The running test's simulator app, behind one loopback server per module (starting one per test
    would cost more than most tests take)."""

    app: Any = None

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, _Current]]:
    current = _Current()
    with running(Starlette(routes=[Mount("/wireflow", app=current)])) as root:
        yield f"{root}/wireflow", current


@pytest.fixture
def served(server: tuple[str, _Current]) -> Served:
    url, current = server
    current.app = create_app(speed=SPEED)  # a fresh simulator: no jobs, workflows or switches
    return Served(url, current.app.state.sim)


@pytest.fixture
def wf_env(env: dict[str, str], served: Served) -> dict[str, str]:
    return {**env, **configured(served.url)}


def configured(url: str) -> dict[str, str]:
    return {
        "VIDEOGEN_WIREFLOW_BASE_URL": url,
        "WIREFLOW_API_KEY": KEY,
        "VIDEOGEN_POLL_SCALE": "0.01",
        "VIDEOGEN_DEFAULT_PROVIDER": "wireflow",
    }


@pytest.fixture
def wf_settings(wf_env: dict[str, str]) -> Settings:
    return Settings.from_env(wf_env)


def picture(tmp_path: Path, size: tuple[int, int] = (480, 320)) -> Path:
    from PIL import Image

    path = tmp_path / "inputs" / "frame.png"
    Image.new("RGB", size, (30, 120, 200)).save(path)
    return path


def provider(served: Served, tmp_path: Path) -> WireflowProvider:
    env = {"WIREFLOW_API_KEY": KEY, "VIDEOGEN_WIREFLOW_BASE_URL": served.url, "VIDEOGEN_RETRY_SCALE": "0.02"}
    return WireflowProvider(env=env, allowed_dirs=[tmp_path / "inputs"])


def request(**changes: Any) -> VideoRequest:
    fields: dict[str, Any] = {
        "prompt": "a red kite over green hills",
        "provider": "wireflow",
        "model": "kling-2.5-turbo",
        "mode": "text_to_video",
        "duration": 5.0,
        "aspect_ratio": "16:9",
        "resolution": "1080p",
    }
    return VideoRequest(**{**fields, **changes})


def assert_no_key(*results: Any) -> None:
    for result in results:
        texts = [getattr(c, "text", "") or "" for c in getattr(result, "content", [])]
        blob = json.dumps(getattr(result, "structured_content", result), default=str) + "".join(texts)
        assert KEY not in blob and KEY[3:] not in blob


async def generate(settings: Settings, **args: Any) -> dict[str, Any]:
    async with Client(build_server(settings)) as client:
        result = await client.call_tool("generate_video", {"wait_seconds": 20, **args})
    assert_no_key(result)
    assert not result.is_error, result.content
    return result.structured_content


# -- 1. through the MCP tools ------------------------------------------------------------------------
E2E = [
    ("nodeRuns", {"prompt": "a kite", "duration": 5, "aspect_ratio": "16:9"}, None, (256, 144)),
    ("docs", {"prompt": "a kite", "duration": 10, "aspect_ratio": "9:16"}, None, (144, 256)),
    ("nodeStates", {"prompt": "a kite", "model": "kling-2.6-pro", "aspect_ratio": "1:1"}, None, (144, 144)),
    (
        "nodeOutputs",
        {"prompt": "a kite", "model": "kling-2.6-pro", "duration": 10, "aspect_ratio": "9:16", "audio": True},
        "file",
        (144, 256),
    ),
    (
        "nodeRuns",
        {"prompt": "a kite", "resolution": "720p", "aspect_ratio": "1:1"},
        "https://example.com/kite.png",
        (144, 144),
    ),
]


@pytest.mark.parametrize(
    ("shape", "args", "image", "size"), E2E, ids=["t2v", "t2v-docs-poll", "t2v-2.6", "i2v-file", "i2v-url"]
)
async def test_generate_video_end_to_end(wf_settings, served, tmp_path, shape, args, image, size):
    served.sim.config["output_shape"] = shape
    images = {"images": [str(picture(tmp_path)) if image == "file" else image]} if image else {}
    job = await generate(wf_settings, **args, **images)
    assert job["status"] == "succeeded" and job["provider"] == "wireflow", job["message"]
    video = job["video"]
    info = probe(video["path"])
    assert abs(info.duration_seconds - args.get("duration", 5)) < 0.2
    assert (info.width, info.height) == size and Path(video["path"]).parent == wf_settings.output_dir
    (execution,) = served.sim.jobs.values()
    assert job["provider_job_id"] == execution.id and served.sim.submissions == 1
    if image == "file":  # a local file is uploaded once and the graph carries its hosted URL
        (name,) = served.sim.media
        node = next(n for n in execution.payload["nodes"] if n["id"] == "image")
        assert node["data"]["config"]["image"] == f"{served.url}/media/files/{name}"
    elif image:
        assert not served.sim.media


# -- 2. the exact bodies ---------------------------------------------------------------------------
PROMPT_PORT = {"id": "prompt", "type": "TEXT", "label": "Prompt"}
IMAGE_PORT = {"id": "image_url", "type": "IMAGE", "label": "Start frame"}
VIDEO_PORT = {"id": "video", "type": "VIDEO", "label": "Video"}


def prompt_node(text: str) -> dict[str, Any]:
    data = {"label": "Prompt", "nodeType": "input:text", "category": "input", "config": {"prompt": text}}
    return {
        "id": "prompt",
        "type": "basedNode",
        "position": {"x": 100, "y": 100},
        "data": {**data, "outputs": [PROMPT_PORT]},
    }


def image_node(url: str) -> dict[str, Any]:
    data = {
        "label": "Start frame",
        "nodeType": "input:image",
        "category": "input",
        "config": {"image": url, "imageUrl": url},
        "inputType": "image",
        "outputs": [{"id": "image", "type": "IMAGE", "label": "Image"}],
    }
    return {"id": "image", "type": "basedNode", "position": {"x": 100, "y": 500}, "data": data}


def kling_node(node_type: str, label: str, config: dict[str, Any], image: bool) -> dict[str, Any]:
    data = {
        "label": label,
        "nodeType": node_type,
        "category": node_type.split(":")[0],
        "config": config,
        "inputs": [PROMPT_PORT, IMAGE_PORT] if image else [PROMPT_PORT],
        "outputs": [VIDEO_PORT],
    }
    return {"id": "kling", "type": "basedNode", "position": {"x": 620, "y": 250}, "data": data}


PROMPT_EDGE = {
    "id": "prompt-kling",
    "source": "prompt",
    "target": "kling",
    "sourceHandle": "out-prompt",
    "targetHandle": "in-prompt",
}
IMAGE_EDGE = {
    "id": "image-kling",
    "source": "image",
    "target": "kling",
    "sourceHandle": "out-image",
    "targetHandle": "in-image_url",
}
I2V, K16 = "video:kling_video_2_5_i2v", "generate:kling_1_6_pro"  # text to video: I2V with no image
BODIES = [
    # model, mode, resolution, duration, ratio, audio -> nodeType, label, Kling config, credits the sim charges
    (
        "kling-2.5-turbo",
        "text_to_video",
        "1080p",
        5,
        "16:9",
        False,
        I2V,
        "Kling 2.5 Turbo",
        {"duration": 5, "aspect_ratio": "16:9", "model_version": "2.5-pro", "generate_audio": False},
        35,
    ),
    (
        "kling-2.5-turbo",
        "image_to_video",
        "720p",
        10,
        "9:16",
        False,
        I2V,
        "Kling 2.5 Turbo",
        {"duration": 10, "aspect_ratio": "9:16", "model_version": "2.5-standard", "generate_audio": False},
        42,
    ),
    (
        "kling-2.6-pro",
        "text_to_video",
        "1080p",
        10,
        "1:1",
        True,
        I2V,
        "Kling 2.6 Pro",
        {"duration": 10, "aspect_ratio": "1:1", "model_version": "2.6-pro", "generate_audio": True},
        140,
    ),
    (
        "kling-2.6-pro",
        "image_to_video",
        "1080p",
        5,
        "16:9",
        False,
        I2V,
        "Kling 2.6 Pro",
        {"duration": 5, "aspect_ratio": "16:9", "model_version": "2.6-pro", "generate_audio": False},
        35,
    ),
    (
        "kling-1.6-pro",
        "text_to_video",
        "1080p",
        10,
        "9:16",
        False,
        K16,
        "Kling 1.6 Pro",
        {"duration": 10, "aspect_ratio": "9:16"},
        100,
    ),
]


@pytest.mark.parametrize(
    ("model", "mode", "resolution", "duration", "ratio", "audio", "node_type", "label", "config", "credits"),
    BODIES,
    ids=[f"{b[0]}-{b[1]}" for b in BODIES],
)
async def test_request_bodies(
    served, tmp_path, model, mode, resolution, duration, ratio, audio, node_type, label, config, credits
):
    image = "https://example.com/start.png"
    wf = provider(served, tmp_path)
    ask = request(model=model, mode=mode, resolution=resolution, duration=duration, aspect_ratio=ratio, audio=audio)
    ask = ask.model_copy(update={"images": [image] if mode == "image_to_video" else []})
    submission = await wf.submit("job_bodies", ask)
    await wf.aclose()
    i2v = mode == "image_to_video"
    nodes = [prompt_node(ask.prompt), *([image_node(image)] if i2v else []), kling_node(node_type, label, config, i2v)]
    edges = [PROMPT_EDGE, *([IMAGE_EDGE] if i2v else [])]
    execution = served.sim.jobs[submission.ref]
    assert execution.payload == {"nodes": nodes, "edges": edges, "targetNodeId": "kling"}
    # Wireflow's estimate was asked for and recorded; our quote (1 credit = $0.01) is not below it.
    assert execution.extra["credits"] == credits and submission.state["estimated_credits"] == credits
    quote = wf.spec(model).price_for(duration, resolution, audio)[0]
    assert credits / 100 <= quote and served.sim.estimates == 1
    # The saved workflow: the same graph with the job's values blanked; its id is all polling needs.
    saved = served.sim.last_workflow
    assert saved and saved["tags"] == ["mcp-videogen"] and saved["isActive"] is True and saved["edges"] == edges
    assert saved["name"].startswith(f"mcp-videogen: {label}, {mode.replace('_', ' ')} (")
    assert saved["nodes"][0]["data"]["config"] == {"prompt": ""}
    (workflow_id,) = served.sim.workflows
    assert submission.state["workflow_id"] == workflow_id and submission.state["video_node"] == "kling"
    assert submission.state["request_id"].startswith("req_")


async def test_one_workflow_per_shape_saved_again_when_deleted(served, tmp_path):
    wf = provider(served, tmp_path)
    first = await wf.submit("job_a", request())
    second = await wf.submit("job_b", request(duration=10.0, aspect_ratio="1:1", prompt="another"))
    assert served.sim.stats()["workflows"] == 1 and first.state["workflow_id"] == second.state["workflow_id"]
    await wf.submit("job_c", request(mode="image_to_video", images=["https://example.com/a.png"]))
    assert served.sim.stats()["workflows"] == 2
    served.sim.workflows.clear()  # deleted in Wireflow's editor
    again = await wf.submit("job_d", request())
    assert served.sim.stats()["workflows"] == 1 and again.state["workflow_id"] != first.state["workflow_id"]
    await wf.aclose()
    assert served.sim.submissions == 4


@pytest.mark.parametrize("shape", ["executionRuns", "executionId", "data"])
async def test_every_execute_answer_shape(served, tmp_path, shape):
    served.sim.config["execute_shape"] = shape
    wf = provider(served, tmp_path)
    submission = await wf.submit("job_shape", request())
    await wf.aclose()
    assert submission.ref in served.sim.jobs


def test_parses_every_output_shape():
    url = "https://cdn.wireflow.ai/out.mp4"
    shapes = [
        {"status": "COMPLETED", "nodeOutputs": {"kling": {"video": url}}},
        {"status": "COMPLETED", "nodeOutputs": {"kling": {"video": {"url": url}}}},
        {
            "status": "COMPLETED",
            "nodeStates": [
                {"nodeId": "prompt", "outputUrl": "https://x/p.png"},
                {"nodeId": "kling", "outputUrls": [url]},
            ],
        },
        {"data": {"status": "COMPLETED", "finalOutput": {"url": url}}},
        {"data": {"status": "COMPLETED", "nodeResults": {"nodeRuns": [{"nodeId": "kling", "outputUrl": url}]}}},
        # the video node's own output wins over the run's final output
        {"status": "COMPLETED", "nodeOutputs": {"kling": {"video": url}}, "finalOutput": {"url": "https://x/other"}},
    ]
    for body in shapes:
        snapshot = read_poll(body)
        assert snapshot.status == "succeeded" and snapshot.video_url == url, body
    assert video_url({"nodeStates": [{"nodeId": "image", "outputUrl": "https://x/in.png"}]}) is None
    empty = read_poll({"status": "COMPLETED", "nodeStates": []})
    assert empty.status == "failed" and empty.error and empty.error.code is ErrorCode.PROVIDER_FAILED
    assert read_poll({"data": {"status": "RUNNING", "progress": 40}}).progress == 0.4
    assert read_poll({"status": "RUNNING", "nodeStates": [{"nodeId": "kling", "status": "PENDING"}]}).status == "queued"
    assert read_poll({"status": "CANCELLED"}).status == "cancelled"
    failed = read_poll({"status": "FAILED", "error": {"message": "NSFW content detected"}})
    assert failed.error and failed.error.code is ErrorCode.CONTENT_POLICY
    assert (
        execution_id({"workflowId": "w", "batchId": "b", "executionRuns": [{"id": "e1", "status": "RUNNING"}]}) == "e1"
    )
    assert execution_id({"executionId": "e2"}) == "e2" and execution_id({"data": {"executionId": "e3"}}) == "e3"
    assert execution_id({"data": {"id": "a-workflow-not-an-execution"}}) is None


# -- 3. prices -------------------------------------------------------------------------------------
PRICES = [
    # 1 credit = $0.01; quoted high: the Kling/fal.ai price x 1.43 (Wireflow's margin is unpublished).
    # Kling 2.5 Turbo: 50 credits per 5 s at 1080p (Kling: 35), x0.6 at 720p.
    ("kling-2.5-turbo", 5, "1080p", False, 0.50),
    ("kling-2.5-turbo", 10, "1080p", False, 1.00),
    ("kling-2.5-turbo", 5, "720p", False, 0.30),
    ("kling-2.5-turbo", 10, "720p", False, 0.60),
    # Kling 2.6 Pro: 10 credits a second, 20 with audio (Kling: 7 and 14).
    ("kling-2.6-pro", 5, "1080p", False, 0.50),
    ("kling-2.6-pro", 10, "1080p", False, 1.00),
    ("kling-2.6-pro", 5, "1080p", True, 1.00),
    ("kling-2.6-pro", 10, "1080p", True, 2.00),
    # Kling 1.6 Pro: 70 credits per 5 s (Kling: 3.5 units, $0.49).
    ("kling-1.6-pro", 5, "1080p", False, 0.70),
    ("kling-1.6-pro", 10, "1080p", False, 1.40),
]


@pytest.mark.parametrize(("model", "duration", "resolution", "audio", "usd"), PRICES)
async def test_estimate_cost(env, model, duration, resolution, audio, usd):
    args = {"prompt": "x", "model": model, "duration": duration, "resolution": resolution, "audio": audio}
    settings = Settings.from_env({**env, **configured("http://127.0.0.1:9/unused")})  # pricing calls nobody
    async with Client(build_server(settings)) as client:
        cost = (await client.call_tool("estimate_cost", args)).structured_content
    assert cost["provider"] == "wireflow" and cost["model"] == model and cost["configured"] is True
    assert cost["usd"] == pytest.approx(usd) and "credit" in cost["rule"] and "estimate" in cost["rule"]


async def test_list_models_declares_the_kling_nodes(env):
    settings = Settings.from_env({**env, **configured("http://127.0.0.1:9/unused")})
    async with Client(build_server(settings)) as client:
        compact = (await client.call_tool("list_models", {"provider": "wireflow"})).structured_content["models"]
        listed = [
            (await client.call_tool("list_models", {"model": f"wireflow/{m['model']}"})).structured_content["models"][0]
            for m in compact
        ]
    assert [m["model"] for m in listed] == ["kling-2.5-turbo", "kling-2.6-pro", "kling-1.6-pro"]
    for model in listed:
        assert model["durations"] == [5, 10] and model["aspect_ratios"] == ["16:9", "9:16", "1:1"]
    assert [m["audio"] for m in listed] == [False, True, False]
    assert [m["modes"] for m in listed][2] == ["text_to_video"] and listed[0]["is_default"]


# -- 4. errors -------------------------------------------------------------------------------------
ERRORS = [
    # (id, key, sim config, generate_video args, code, retryable, words in the message)
    ("bad-key", "wf-not-a-key-1234567", {}, {}, "AUTH", False, ["rejected", "WIREFLOW_API_KEY", "request id req_"]),
    ("expired-key", "sk-expired-0123456789", {}, {}, "AUTH", False, ["API key has expired", "WIREFLOW_API_KEY"]),
    ("no-credit", KEY, {"credits": 3}, {}, "OUT_OF_CREDIT", False, ["needs 35 credits", "has 3", "Top up"]),
    ("rate-limited", KEY, {"rate_limit_per_min": 0}, {}, "RATE_LIMITED", True, ["0 requests a minute", "retry in"]),
    ("content", KEY, {}, {"prompt": "sim:fail=content"}, "CONTENT_POLICY", False, ["Rephrase", "execution exec_"]),
    ("internal", KEY, {}, {"prompt": "sim:fail=internal"}, "PROVIDER_FAILED", True, ["internal server", "again"]),
    ("small-image", KEY, {}, {"images": "small"}, "INVALID_INPUT", False, ["64x48", "at least 300 px"]),
]


async def listening(progress: float, total: float | None, message: str | None) -> None:
    """A progress callback: the client listens, so the server may wait as long as asked."""


@pytest.mark.parametrize(
    ("key", "config", "args", "code", "retryable", "words"), [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS]
)
async def test_errors_are_mapped(wf_env, served, tmp_path, key, config, args, code, retryable, words):
    served.sim.config.update(config)
    settings = Settings.from_env({**wf_env, "WIREFLOW_API_KEY": key})
    if args.get("images") == "small":
        args = {**args, "images": [str(picture(tmp_path, (64, 48)))]}
    async with Client(build_server(settings)) as client:
        # A progress listener: without one the call would return after 4 s (the wait cap for such clients).
        result = await client.call_tool(
            "generate_video", {"prompt": "a kite", "wait_seconds": 20, **args}, progress_callback=listening
        )
    assert_no_key(result)
    assert key not in json.dumps(result.structured_content) + result.content[0].text
    job = result.structured_content
    assert job["status"] == "failed" and job["error"]["code"] == code, job["error"]
    assert job["error"]["retryable"] is retryable
    assert all(word in job["error"]["message"] for word in words), job["error"]["message"]
    if code == "RATE_LIMITED":
        # Each submit is tried twice (Wireflow's policy), and a refused submit is resent by the engine.
        assert served.sim.throttled == (SUBMIT_RESENDS + 1) * 2


async def test_a_rate_limit_someone_else_used_up_is_waited_out(wf_settings, served, server):
    served.sim.config["rate_limit_per_min"] = 2  # per simulated minute, 0.3 s here
    current, sim = server[1], served.sim
    inner = current.app

    async def used_up_first(scope: dict, receive: Any, send: Any) -> None:
        if not sim.counted:  # another client of the same key has just used up the window
            sim.counted[(KEY, "requests", int(time.time() * SPEED / 60))] = 2
        await inner(scope, receive, send)

    current.app = used_up_first
    job = await generate(wf_settings, prompt="a kite")
    assert job["status"] == "succeeded" and served.sim.throttled >= 1  # met a 429 and waited it out


async def test_every_answer_carries_the_rate_limit_headers_and_a_429_the_documented_body(server):
    current = server[1]
    current.app = create_app(speed=1)  # real minutes: the two requests below share one window
    current.app.state.sim.config["rate_limit_per_min"] = 1
    for attempt in range(3):  # per key: a fresh key is a fresh window, should a minute turn in between
        headers = {"Authorization": f"Bearer sk-rate-{attempt}-0123456789"}
        async with httpx.AsyncClient(base_url=server[0], headers=headers) as http:
            found, refused = await http.get("/workflows/nope"), await http.get("/workflows/nope")
            anonymous = await http.get("/workflows", headers={"Authorization": "Bearer not-a-key"})
        if found.headers["x-ratelimit-reset"] == refused.headers["x-ratelimit-reset"]:
            break
    for answer in (found, anonymous):
        assert answer.status_code in (401, 404) and answer.headers["x-ratelimit-limit"] == "1"
        assert abs(int(answer.headers["x-ratelimit-reset"]) - time.time()) <= 61  # epoch seconds
    assert found.status_code == 404 and found.headers["x-ratelimit-remaining"] == "0"
    assert refused.status_code == 429 and refused.json()["error"].startswith("Rate limit exceeded: 1 requests")
    assert 0 < float(refused.headers["retry-after"]) <= 60  # the rest of the minute, in seconds
    assert refused.headers["x-ratelimit-remaining"] == "0" and refused.headers["x-request-id"]
    retry_after = refused.json()["retryAfter"]  # the docs: an epoch time, as X-RateLimit-Reset
    assert isinstance(retry_after, int) and retry_after == int(refused.headers["x-ratelimit-reset"])


async def test_poll_errors_not_found_and_server_faults(served, tmp_path):
    wf = provider(served, tmp_path)
    ask = request()
    with pytest.raises(ProviderError) as missing:
        await wf.poll(Submission(ref="exec_missing"), ask)
    assert missing.value.code is ErrorCode.NOT_FOUND and "Execution not found" in missing.value.message
    assert "request id req_" in missing.value.message
    submission = await wf.submit("job_500", ask)
    served.sim.config["fail_polls"] = 2  # Wireflow's advice: one retry on a 500, then give up for now
    with pytest.raises(ProviderError) as fault:
        await wf.poll(submission, ask)
    assert fault.value.code is ErrorCode.TRANSIENT and fault.value.retryable and "HTTP 500" in fault.value.message
    served.sim.config["fail_polls"] = 1  # one 500 is absorbed by the retry
    assert (await wf.poll(submission, ask)).status in ("queued", "running", "succeeded")
    await wf.aclose()


async def test_a_job_that_vanishes_fails_not_found(wf_settings, served):
    async with JobManager(wf_settings) as manager:
        row = await manager.submit(RequestArgs(prompt="a kite sim:seconds=200"))
        await wait_for_status(manager, row.job_id, "running")
        served.sim.jobs.clear()  # the execution is gone at Wireflow
        done = await manager.wait(row.job_id, 10)
    assert done.status == "failed" and done.error and done.error["code"] == "NOT_FOUND"
    assert "Execution not found" in done.error["message"] and KEY not in done.error["message"]


async def test_server_faults_while_polling_are_retried(wf_settings, served):
    served.sim.config["fail_polls"] = 3  # one poll fails after its retry; the engine polls again
    job = await generate(wf_settings, prompt="a kite")
    assert job["status"] == "succeeded" and served.sim.config["fail_polls"] == 0


# -- 5. cancel -------------------------------------------------------------------------------------
async def test_cancel_stops_watching_but_says_wireflow_cannot_cancel(wf_settings, served):
    async with Client(build_server(wf_settings)) as client:
        started = await client.call_tool("generate_video", {"prompt": "a kite sim:seconds=400", "wait_seconds": 0})
        job_id = started.structured_content["job_id"]
        status = ""
        with anyio.fail_after(10):
            while status != "running":
                status = (await client.call_tool("get_status", {"job_id": job_id})).structured_content["status"]
        cancelled = await client.call_tool("cancel_job", {"job_id": job_id})
    assert_no_key(started, cancelled)
    job = cancelled.structured_content
    assert job["status"] == "cancelled" and "Wireflow cannot cancel a submitted job" in job["message"]
    assert "may still run there and be charged" in job["message"]
    (execution,) = served.sim.jobs.values()
    assert not execution.cancelled  # nothing was sent: Wireflow documents no cancel endpoint


# -- 6. restart mid-job ----------------------------------------------------------------------------
async def wait_for_status(manager: JobManager, job_id: str, status: str) -> None:
    with anyio.fail_after(10):
        while manager.get(job_id).status != status:
            await manager.wait(job_id, 0.02)


async def test_restart_mid_job_resumes_without_submitting_again(wf_settings, served):
    async with JobManager(wf_settings) as first:
        row = await first.submit(RequestArgs(prompt="a kite sim:seconds=240", duration=5))
        await wait_for_status(first, row.job_id, "running")
    assert served.sim.submissions == 1
    async with JobManager(wf_settings) as second:  # a new process: no workflow cache, only the index
        done = await second.wait(row.job_id, 20)
    assert done.status == "succeeded", done.message
    assert served.sim.submissions == 1 and served.sim.stats()["workflows"] == 1
    assert abs(probe(done.video["path"]).duration_seconds - 5) < 0.2


# -- 7. the docs' own client flow --------------------------------------------------------------------
def test_docs_flow_create_run_poll(served):
    """The requests of references/api.md with a plain HTTP client: save, list inputs, run, poll, download."""
    workflow = {
        "name": "Text to Video",
        "nodes": [
            {
                "id": "text-input-1",
                "type": "basedNode",
                "position": {"x": 100, "y": 200},
                "data": {
                    "label": "Prompt",
                    "nodeType": "input:text",
                    "category": "input",
                    "config": {"prompt": "a cow"},
                },
            },
            {
                "id": "kling-1",
                "type": "basedNode",
                "position": {"x": 900, "y": 200},
                "data": {
                    "label": "Kling 1.6 Pro",
                    "nodeType": "generate:kling_1_6_pro",
                    "category": "generate",
                    "config": {"duration": 5, "aspect_ratio": "9:16"},
                },
            },
        ],
        "edges": [
            {
                "id": "edge-1",
                "source": "text-input-1",
                "target": "kling-1",
                "sourceHandle": "out-prompt",
                "targetHandle": "in-prompt",
            }
        ],
        "isActive": True,
    }
    with httpx.Client(base_url=served.url, headers={"Authorization": f"Bearer {KEY}"}) as http:
        created = http.post("/workflows", json=workflow)
        assert created.status_code == 201 and created.headers["x-request-id"]
        workflow_id = created.json()["data"]["id"]
        inputs = http.get(f"/workflows/{workflow_id}/run").json()["data"]["inputs"]
        assert [i["nodeId"] for i in inputs] == ["text-input-1"]
        started = http.post(f"/workflows/{workflow_id}/run", json={"inputs": {"text-input-1": "a horse"}})
        assert started.status_code == 202 and started.json()["data"]["status"] == "RUNNING"
        execution = started.json()["data"]["executionId"]
        statuses = []
        while not statuses or statuses[-1] == "RUNNING":
            body = http.get(f"/workflows/executions/{execution}/poll").json()["data"]  # the skill's shape
            statuses.append(body["status"])
            time.sleep(0.05)
        assert statuses[-1] == "COMPLETED" and "RUNNING" in statuses
        (kling,) = [run for run in body["nodeResults"]["nodeRuns"] if run["nodeId"] == "kling-1"]
        url = kling["output"]["video"]["url"]
        assert body["finalOutput"]["url"].split("?")[0] == url.split("?")[0]
        video = http.get(url)
        assert video.status_code == 200 and video.content[4:8] == b"ftyp"
        # Graph-lint refusals name the rule and the fix; a missing key is refused with Wireflow's words.
        broken = {**workflow, "edges": [{**workflow["edges"][0], "targetHandle": "in-text"}]}
        linted = http.post("/workflows", json=broken)
        assert linted.status_code == 422 and linted.json()["violations"][0]["rule"] == "bad-target-handle"
        unknown = http.post(
            "/workflows",
            json={
                **workflow,
                "nodes": [*workflow["nodes"][:1], {"id": "x", "data": {"nodeType": "video:kling_video_2_5_i2"}}],
            },
        )
        assert "Did you mean" in json.dumps(unknown.json()["violations"])
        anonymous = httpx.get(f"{served.url}/workflows/{workflow_id}")
        assert anonymous.status_code == 401 and anonymous.json() == {
            "error": "Invalid API key format. Expected: Bearer sk-..."
        }
        assert anonymous.headers["x-request-id"]
        too_big = {**workflow, "nodes": [{"id": f"n{i}", "data": {"nodeType": "input:text"}} for i in range(101)]}
        assert http.post("/workflows", json=too_big).json()["violations"][0]["rule"] == "max-nodes"
    assert served.sim.stats()["submissions"] == 1


@pytest.mark.skipif(not (shutil.which("curl") and shutil.which("jq")), reason="needs curl and jq")
def test_skill_script_style_curl_and_jq(served, tmp_path):
    """What wf.sh does: curl the JSON up, read fields with jq, as the official skill's script."""
    graph = {
        "name": "curl",
        "nodes": [
            {"id": "p", "data": {"nodeType": "input:text", "config": {"prompt": "a fox"}}},
            {"id": "k", "data": {"nodeType": "video:kling_video_2_5_i2v", "config": {"duration": 5}}},
        ],
        "edges": [{"id": "e", "source": "p", "target": "k", "sourceHandle": "out-prompt", "targetHandle": "in-prompt"}],
    }
    body = tmp_path / "workflow.json"
    body.write_text(json.dumps(graph))
    auth = ["-H", f"Authorization: Bearer {KEY}", "-H", "Content-Type: application/json"]

    def curl(*args: str, jq: str) -> str:
        out = subprocess.run(["curl", "-sS", "-L", *auth, *args], capture_output=True, check=True, text=True).stdout
        return subprocess.run(["jq", "-r", jq], input=out, capture_output=True, check=True, text=True).stdout.strip()

    workflow_id = curl("-X", "POST", f"{served.url}/workflows", "--data-binary", f"@{body}", jq=".data.id")
    saved_graph = '{"nodes": [], "edges": []}'  # empty lists: run the saved workflow
    execute = f"{served.url}/workflows/{workflow_id}/execute"
    execution = curl("-X", "POST", execute, "-d", saved_graph, jq=".executionRuns[0].id")
    deadline = time.monotonic() + 10
    while (status := curl(f"{served.url}/workflows/executions/{execution}/poll", jq=".data.status")) == "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert status == "COMPLETED"
    url = curl(
        f"{served.url}/workflows/executions/{execution}/poll",
        jq='.data.nodeResults.nodeRuns[] | select(.nodeId=="k") | .output.video.url',
    )
    assert url.startswith(served.url) and httpx.get(url).content[4:8] == b"ftyp"


# -- the polling cadence -----------------------------------------------------------------------------
def test_poll_cadence_grows_by_half_up_to_ten_seconds():
    wf = WireflowProvider(env={})
    spec = MODELS[0]
    elapsed, waits = 0.0, []
    for _ in range(10):
        waits.append(wf.poll_interval(spec, elapsed))
        elapsed += waits[-1]
    assert waits[:6] == pytest.approx([1, 1.5, 2.25, 3.375, 5.0625, 7.59375])
    assert waits[6:] == [10.0] * 4  # capped: 6 requests a minute, inside the Free plan's 10


# -- the retry policy --------------------------------------------------------------------------------
def test_retry_policy_retries_once_and_follows_the_retry_scale():
    normal = WireflowProvider(env={}).retry_policy()
    assert (normal.attempts, normal.base_delay, normal.max_delay) == (2, 0.5, 8.0)  # Wireflow: retry a 500 once
    fast = WireflowProvider(env={"VIDEOGEN_RETRY_SCALE": "0.02"}).retry_policy()
    assert fast.attempts == 2 and (fast.base_delay, fast.max_delay) == pytest.approx((0.01, 0.16))
    with pytest.raises(ProviderError) as bad:
        WireflowProvider(env={"VIDEOGEN_RETRY_SCALE": "fast"}).retry_policy()
    assert bad.value.code is ErrorCode.INTERNAL and "VIDEOGEN_RETRY_SCALE" in bad.value.message


# -- 8. lost answers: the Idempotency-Key and free saves (issue 13) ------------------------------------
class Lossy:
    """The simulator behind the fault injector (faults.py) for the next `times` requests `method ...path_end`:
    the simulator runs them, then their answers are lost. Records every request's method, path and key."""

    def __init__(self, app: Any, fault: str, method: str, path_end: str, times: int, hang: float):
        self.app, self.method, self.path_end, self.left = app, method, path_end, times
        plan = FaultPlan({f"{'submit' if method == 'POST' else 'status'}.{fault}": 1.0} if fault else {})
        plan.hang_seconds = hang
        self.faulty = FaultInjector(app, plan)
        self.state = app.state
        self.seen: list[tuple[str, str, str | None]] = []

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        path, root = scope.get("path", ""), scope.get("root_path", "")
        path = path[len(root) :] if root and path.startswith(root) else path
        key = dict(scope.get("headers", [])).get(b"idempotency-key")
        self.seen.append((scope.get("method", ""), path, key.decode() if key else None))
        if self.left > 0 and scope.get("method") == self.method and path.endswith(self.path_end):
            self.left -= 1
            return await self.faulty(scope, receive, send)
        return await self.app(scope, receive, send)


def lose_answers(
    server: tuple[str, _Current],
    fault: str = "",
    path_end: str = "",
    times: int = 1,
    method: str = "POST",
    hang: float = 10.0,
) -> Lossy:
    """Serve the test's simulator with answers lost (no `fault`: only record the requests)."""
    current = server[1]
    current.app = lossy = Lossy(current.app, fault, method, path_end, times, hang)
    return lossy


def executes(lossy: Lossy) -> list[str | None]:
    """The Idempotency-Key of every execute the simulator was sent."""
    return [key for method, path, key in lossy.seen if method == "POST" and path.endswith("/execute")]


def test_the_simulator_replays_an_idempotency_key_for_24_hours_per_api_key(served):
    spec, ask = MODELS[0], request()
    run = {**build_graph(spec, ask), "targetNodeId": "kling"}
    served.sim.config["credits"] = 1000

    def execute(http: httpx.Client, workflow_id: str, body: dict = run) -> str | None:
        answer = http.post(f"/workflows/{workflow_id}/execute", json=body, headers={"Idempotency-Key": "key-1"})
        assert answer.status_code == 201, answer.text
        return execution_id(answer.json())

    def client(key: str) -> httpx.Client:
        return httpx.Client(base_url=served.url, headers={"Authorization": f"Bearer {key}"})

    with client(KEY) as http, client("sk-another-account-0042") as other:
        workflow_id = http.post("/workflows", json=saved_workflow(spec, ask)).json()["data"]["id"]
        first = execute(http, workflow_id)
        assert execute(http, workflow_id) == first  # the first answer again: no second run, no second charge
        # "Identical keys within 24 hours replay the original response": the spec names no error for a
        # different body, so the original answer comes back.
        assert execute(http, workflow_id, build_graph(spec, request(prompt="another"))) == first
        assert served.sim.submissions == 1 and served.sim.stats()["replayed"] == 2
        assert served.sim.config["credits"] == 1000 - 35
        second = execute(other, workflow_id)  # keys belong to one API key's owner
        when, *kept = served.sim.replays[(KEY, "key-1")]
        served.sim.replays[(KEY, "key-1")] = (when - 24 * 3600 / SPEED - 1, *kept)  # a simulated day later
        third = execute(http, workflow_id)
    assert len({first, second, third}) == 3 and served.sim.submissions == 3


@pytest.mark.parametrize("lost", ["reset", "malformed", "http-500"])
async def test_a_lost_execute_answer_is_asked_again_with_the_same_key(served, server, tmp_path, lost):
    if lost == "http-500":
        served.sim.config["fail_execute"] = 1  # the run starts, then a gateway answers 500
        lossy = lose_answers(server)
    else:
        lossy = lose_answers(server, lost, "/execute")  # the run starts, the answer is cut off or dropped
    wf = provider(served, tmp_path)
    submission = await wf.submit("job_lost_answer", request())
    await wf.aclose()
    assert executes(lossy) == ["job_lost_answer", "job_lost_answer"]  # sent again, under the same key
    assert served.sim.submissions == 1 and served.sim.replayed == 1  # one run: the second answer is a replay
    assert submission.ref in served.sim.jobs


async def test_the_engine_reconciles_an_unconfirmed_run_by_resending_its_key(wf_settings, served, server):
    lossy = lose_answers(server, "malformed", "/execute", times=3)  # submit gives up: SUBMIT_UNCONFIRMED
    async with JobManager(wf_settings) as manager:
        row = await manager.submit(RequestArgs(prompt="a kite sim:seconds=30"))
        done = await manager.wait(row.job_id, 20)
    assert done.status == "succeeded", done.error
    assert executes(lossy) == [row.job_id] * 4  # three cut-off answers, then the engine's reconcile
    assert served.sim.submissions == 1 and served.sim.replayed == 3 and done.provider_ref in served.sim.jobs


@pytest.mark.parametrize("lost", ["reset", "malformed"])
async def test_a_lost_answer_to_saving_the_workflow_is_retried(served, server, tmp_path, lost):
    lossy = lose_answers(server, lost, "/workflows")  # saved, but the answer (the workflow id) is lost
    wf = provider(served, tmp_path)
    submission = await wf.submit("job_lost_save", request())
    await wf.aclose()
    (workflow_id,) = served.sim.workflows  # found again by its name: no spare copy in the account
    assert submission.state["workflow_id"] == workflow_id and submission.ref in served.sim.jobs
    assert [p for m, p, _ in lossy.seen if m == "POST" and p == "/workflows"] == ["/workflows"]
    assert served.sim.submissions == 1


async def test_every_job_succeeds_once_under_refusals_resets_and_cut_off_answers(wf_env, served, server, tmp_path):
    plan = FaultPlan("429=0.2,503=0.1,reset=0.1,malformed=0.1", seed=7, speed=SPEED)
    current = server[1]
    current.app = FaultInjector(current.app, plan)
    image = str(picture(tmp_path))
    models = ["kling-2.5-turbo", "kling-2.6-pro", "kling-1.6-pro"]
    asks = [
        RequestArgs(
            prompt=f"kite {n} sim:seconds=30",
            model=models[n % 3],
            images=[image] if n % 3 == 0 else None,
            duration=10 if n % 2 else 5,
        )
        for n in range(12)
    ]
    async with JobManager(Settings.from_env(wf_env)) as manager:
        rows = [await manager.submit(ask) for ask in asks]
        with anyio.fail_after(60):
            done = [await manager.wait(row.job_id, 60) for row in rows]
    assert [r.status for r in done] == ["succeeded"] * len(rows), [r.error for r in done if r.error]
    refs = [r.provider_ref for r in done]
    assert len(set(refs)) == len(rows) and set(refs) == set(served.sim.jobs)  # one run per job, none orphaned
    assert served.sim.submissions == len(rows)
    # The faults did hit: answers lost after the simulator ran the request, executes among them.
    assert plan.injected["submit.reset"] + plan.injected["submit.malformed"] >= 3, plan.injected
    assert served.sim.replayed >= 1, plan.injected


@pytest.mark.parametrize("when", ["after_submit", "in_flight"])
async def test_kill_9_mid_submit_then_a_restart_runs_it_once(wf_env, served, server, when):
    """The worker dies once the run exists: with its id in hand but not stored (the crash point), or while the
    execute's answer is still on its way. The restarted engine resends the key and gets the run back."""
    extra = {"VIDEOGEN_CRASH_AT": "after_submit"} if when == "after_submit" else {}
    if when == "in_flight":
        lose_answers(server, "timeout", "/execute", hang=10)  # the run starts; its answer hangs
    worker = subprocess.Popen(
        [PYTHON, "-m", "server", "generate", "a kite sim:seconds=30", "--provider", "wireflow", "--json"],
        env=subprocess_env({**wf_env, **extra}),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while when == "in_flight" and served.sim.submissions == 0:
            assert time.monotonic() < deadline and worker.poll() is None, worker.stderr.read()[-2000:]
            time.sleep(0.02)
        if when == "in_flight":
            worker.send_signal(signal.SIGKILL)
        assert worker.wait(timeout=60) == -signal.SIGKILL, worker.stderr.read()[-2000:]
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    assert served.sim.submissions == 1
    async with JobManager(Settings.from_env(wf_env)) as manager:
        (row,) = manager.db.list(None, 10)
        done = await manager.wait(row.job_id, 30)
    assert done.status == "succeeded", done.error
    assert served.sim.submissions == 1 and served.sim.replayed == 1 and done.provider_ref in served.sim.jobs
    assert served.sim.stats()["workflows"] == 1  # the new process found the saved workflow by its name


async def test_a_run_caught_mid_submit_longer_ago_than_the_key_lives_is_not_resent(wf_settings, served):
    """Past Wireflow's 24 h replay window the same key could start (and bill) a second run: fail, never resend."""
    async with JobManager(wf_settings, resume=False) as first:
        first._start_watching = lambda *_, **__: None  # accepted, never sent
        row = await first.submit(RequestArgs(prompt="a kite sim:seconds=30"))
        # As if the process died mid-submit a day ago: the submit started, no answer was stored.
        first.db.update(row.job_id, None, submit_started_at=time.time() - 24 * 3600 * wf_settings.poll_scale)
    async with JobManager(wf_settings) as second:
        done = await second.wait(row.job_id, 20)
    assert done.status == "failed" and done.error["code"] == "SUBMIT_UNCONFIRMED", done.error
    assert served.sim.submissions == 0 and served.sim.replayed == 0
