"""The DashScope (Alibaba Model Studio Wan) adapter against its simulator over loopback: the tools end to end,
wire bodies, images, each error mapping, task failures, cancel (PENDING only), and what the simulator refuses."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp import Client
from starlette.applications import Starlette
from starlette.routing import Mount

from providers.base import ErrorCode, InvalidRequest, ProviderError, Submission
from providers.dashscope import MODELS, SIZES, Answer, error_for, failure, snapshot
from providers.registry import Providers
from providers.simulators.common import Simulator, running
from providers.simulators.dashscope import ERRORS, create_app
from server.app import build_server
from server.catalog import Catalog, RequestArgs
from server.jobs import JobManager
from server.settings import Settings

pytestmark = pytest.mark.anyio

KEY = "sk-" + "0123456789abcdef" * 2
SPEED = 300.0
QUICK = "sim:seconds=20 sim:queue=1"
SYNTHESIS = "/services/aigc/video-generation/video-synthesis"


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, Simulator]]:
    app = create_app(speed=SPEED)
    with running(Starlette(routes=[Mount("/dashscope", app=app)])) as url:
        yield f"{url}/dashscope", app.state.sim


@pytest.fixture
def sim(server: tuple[str, Simulator]) -> Simulator:
    simulator = server[1]
    with simulator.lock:
        simulator.jobs.clear()
        simulator.config.clear()
        simulator.polls.clear()
        simulator.submissions = 0
    return simulator


@pytest.fixture
def ds_env(env: dict[str, str], server: tuple[str, Simulator], sim: Simulator) -> dict[str, str]:
    return {
        **env,
        "VIDEOGEN_DASHSCOPE_BASE_URL": server[0],
        "DASHSCOPE_API_KEY": KEY,
        "VIDEOGEN_POLL_SCALE": "0.01",
        "VIDEOGEN_DEFAULT_PROVIDER": "dashscope",
    }


def picture(folder: Path, size: tuple[int, int] = (640, 360), fmt: str = "PNG", name: str = "start") -> Path:
    from PIL import Image

    path = folder / f"{name}.{fmt.lower()}"
    Image.new("RGB", size, (30, 120, 200)).save(path, format=fmt)
    return path


def resolve(env: dict[str, str], **args: Any):
    settings = Settings.from_env(env)
    providers = Providers(settings.env, settings.allowed_dirs)
    return Catalog(providers, settings.allowed_dirs).resolve(RequestArgs(provider="dashscope", **args))


def no_key_in(result: Any) -> None:
    texts = [getattr(c, "text", "") or "" for c in result.content]
    assert all(KEY not in t for t in texts) and KEY not in json.dumps(result.structured_content or {})


# -- 1. through the MCP tools ----------------------------------------------------------------------


async def test_text_to_video_through_the_tools(ds_env, sim: Simulator):
    async with Client(build_server(Settings.from_env(ds_env))) as client:
        result = await client.call_tool(
            "generate_video",
            {"prompt": f"a lighthouse in a storm {QUICK}", "model": "wan2.1-t2v-turbo", "resolution": "480p"},
        )
        no_key_in(result)
        job = result.structured_content
        assert job["status"] == "succeeded", job
        (task,) = sim.jobs.values()
        assert task.payload == {
            "model": "wan2.1-t2v-turbo",
            "input": {"prompt": f"a lighthouse in a storm {QUICK}"},
            "parameters": {"duration": 5, "size": "832*480"},
        }
        # The charged cost is the finished task's usage.video_duration times the model's rate.
        rate = next(m for m in MODELS if m.id == "wan2.1-t2v-turbo").price.per_second
        status = (await client.call_tool("get_status", {"job_id": job["job_id"]})).structured_content
        assert status["cost"] == pytest.approx(task.extra["duration"] * rate) and status["cost_is_estimate"] is False


async def test_image_to_video_sends_a_local_file_as_a_data_uri(ds_env, sim: Simulator, tmp_path: Path):
    image = picture(tmp_path / "inputs")
    async with JobManager(Settings.from_env(ds_env)) as manager:
        row = await manager.submit(
            RequestArgs(
                prompt=f"the water ripples {QUICK}",
                provider="dashscope",
                model="wan2.1-i2v-turbo",
                images=[str(image)],
                duration=3,
                resolution="480p",
                seed=7,
                negative_prompt="blur",
            )
        )
        done = await manager.wait(row.job_id, 30)
    assert done.status == "succeeded", done.message
    (task,) = sim.jobs.values()
    sent = task.payload["input"].pop("img_url")
    assert sent == "data:image/png;base64," + base64.b64encode(image.read_bytes()).decode()
    assert task.payload == {
        "model": "wan2.1-i2v-turbo",
        "input": {"prompt": f"the water ripples {QUICK}", "negative_prompt": "blur"},
        "parameters": {"duration": 3, "resolution": "480P", "seed": 7},
    }


async def test_an_image_url_is_passed_as_is(ds_env, sim: Simulator):
    provider, _, request = resolve(ds_env, prompt="p", model="wan2.1-i2v-plus", images=["https://example.com/a.jpg"])
    submission = await provider.submit("job_url", request)
    await provider.aclose()
    assert sim.jobs[submission.ref].payload["input"]["img_url"] == "https://example.com/a.jpg"


SHAPES = [
    (m.id, r, a)
    for m in MODELS
    if "text_to_video" in m.modes
    for r in m.resolutions
    for a in SIZES[r]
    if a in m.aspect_ratios
]


@pytest.mark.parametrize(("model", "resolution", "ratio"), SHAPES, ids=["-".join(shape) for shape in SHAPES])
async def test_every_offered_shape_is_a_size_the_simulator_takes(ds_env, sim: Simulator, model, resolution, ratio):
    provider, _, request = resolve(ds_env, prompt="p", model=model, resolution=resolution, aspect_ratio=ratio)
    submission = await provider.submit("job_shape", request)
    await provider.aclose()
    width, height = (int(n) for n in sim.jobs[submission.ref].payload["parameters"]["size"].split("*"))
    w, h = (int(n) for n in ratio.split(":"))
    assert abs(width / height - w / h) < 0.05  # Wan's sizes are near, not exact (832*480 for 16:9)
    tier = int(resolution[:-1])
    assert abs(width * height / (tier * tier * 16 / 9) - 1) < 0.05  # each shape of a tier has about its pixels


START, END = "https://example.com/start.png", "https://example.com/end.png"
# (model, the tool's arguments, what DashScope gets beyond model and prompt, the charged cost in USD)
NEW_MODELS = [
    (
        "wan2.6-t2v",
        {"resolution": "1080p", "duration": 10, "aspect_ratio": "9:16"},
        {"input": {}, "parameters": {"duration": 10, "size": "1080*1920"}},
        10 * 0.15,
    ),
    (
        "wan2.6-i2v",
        {"images": [START], "duration": 15},
        {"input": {"img_url": START}, "parameters": {"duration": 15, "resolution": "720P"}},
        15 * 0.10,
    ),
    (
        "wan2.6-i2v-flash",
        {"images": [START], "duration": 2, "audio": False},
        {"input": {"img_url": START}, "parameters": {"duration": 2, "resolution": "720P", "audio": False}},
        2 * 0.025,
    ),
    (
        "wan2.6-i2v-flash",
        {"images": [START], "resolution": "1080p"},
        {"input": {"img_url": START}, "parameters": {"duration": 5, "resolution": "1080P", "audio": True}},
        5 * 0.075,
    ),
    (
        "wan2.5-t2v-preview",
        {"resolution": "480p", "duration": 10, "negative_prompt": "blur", "seed": 9},
        {"input": {"negative_prompt": "blur"}, "parameters": {"duration": 10, "size": "832*480", "seed": 9}},
        10 * 0.05,
    ),
    (
        "wan2.5-i2v-preview",
        {"images": [START], "resolution": "1080p"},
        {"input": {"img_url": START}, "parameters": {"duration": 5, "resolution": "1080P"}},
        5 * 0.15,
    ),
    (
        "wan2.2-t2v-plus",
        {"aspect_ratio": "4:3"},
        {"input": {}, "parameters": {"duration": 5, "size": "1632*1248"}},
        5 * 0.10,
    ),
    (
        "wan2.2-i2v-plus",
        {"images": [START], "resolution": "480p"},
        {"input": {"img_url": START}, "parameters": {"duration": 5, "resolution": "480P"}},
        5 * 0.02,
    ),
    (
        "wan2.2-i2v-flash",
        {"images": [START], "resolution": "1080p"},
        {"input": {"img_url": START}, "parameters": {"duration": 5, "resolution": "1080P"}},
        5 * 0.08,
    ),
    (
        "wan2.2-kf2v-flash",
        {"images": [START], "resolution": "480p"},
        {"input": {"first_frame_url": START}, "parameters": {"duration": 5, "resolution": "480P"}},
        5 * 0.02,
    ),
    (
        "wan2.1-kf2v-plus",
        {"images": [START], "end_image": END},
        {
            "input": {"first_frame_url": START, "last_frame_url": END},
            "parameters": {"duration": 5, "resolution": "720P"},
        },
        5 * 0.10,
    ),
]


@pytest.mark.parametrize(
    ("model", "args", "sent", "cost"), NEW_MODELS, ids=[f"{m[0]}-{i}" for i, m in enumerate(NEW_MODELS)]
)
async def test_each_newer_model_through_the_tools(ds_env, sim: Simulator, model, args, sent, cost):
    """The estimate, the body DashScope gets, and the charged cost read from the finished task's usage (Wan 2.5 /
    2.6 answer usage.duration, the others usage.video_duration)."""
    prompt = f"a fox in the snow {QUICK}"
    async with Client(build_server(Settings.from_env(ds_env))) as client:
        estimate = (
            await client.call_tool("estimate_cost", {"prompt": prompt, "model": model, **args})
        ).structured_content
        assert estimate["usd"] == pytest.approx(cost), estimate
        result = await client.call_tool("generate_video", {"prompt": prompt, "model": model, **args})
        no_key_in(result)
        job = result.structured_content
        assert job["status"] == "succeeded", job
        (task,) = sim.jobs.values()
        assert task.payload == {
            "model": model,
            "input": {"prompt": prompt, **sent["input"]},
            "parameters": sent["parameters"],
        }
        status = (await client.call_tool("get_status", {"job_id": job["job_id"]})).structured_content
        assert status["cost"] == pytest.approx(cost) and status["cost_is_estimate"] is False, status


async def test_a_first_and_last_frame_job_goes_to_the_image2video_path(ds_env, sim: Simulator, tmp_path: Path):
    """The SDK sends kf2v models to task image2video; local files go as data URIs, both checked."""
    start, end = picture(tmp_path / "inputs"), picture(tmp_path / "inputs", name="end", fmt="JPEG")
    provider, _, request = resolve(
        ds_env, prompt="p", model="wan2.1-kf2v-plus", images=[str(start)], end_image=str(end)
    )
    assert provider.submit_path_for(request) == "/services/aigc/image2video/video-synthesis"
    submission = await provider.submit("job_kf", request)
    sent = sim.jobs[submission.ref].payload["input"]
    assert sent["first_frame_url"].startswith("data:image/png;base64,")
    assert sent["last_frame_url"].startswith("data:image/jpeg;base64,")
    small = picture(tmp_path / "inputs", (200, 200), name="small")
    _, _, bad = resolve(ds_env, prompt="p", model="wan2.1-kf2v-plus", images=[str(start)], end_image=str(small))
    with pytest.raises(InvalidRequest) as caught:
        await provider.submit("job_kf_small", bad)
    await provider.aclose()
    assert "the end image is 200x200" in caught.value.message and sim.submissions == 1


# -- 2. refused before any call --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "words"),
    [
        ({"model": "wan2.1-t2v-turbo", "resolution": "480p", "aspect_ratio": "4:3"}, "16:9, 9:16, 1:1 only"),
        ({"model": "wan2.1-t2v-plus", "resolution": "480p"}, "480p"),
        ({"model": "wan2.1-t2v-plus", "negative_prompt": "x" * 501}, "first 500"),
        ({"model": "wan2.1-t2v-plus", "seed": 2_147_483_648}, "2147483647"),
        ({"model": "wan2.1-i2v-plus", "duration": 3, "images": ["https://example.com/a.png"]}, "3"),
        ({"model": "wan2.1-t2v-plus", "prompt": "y" * 801}, "800"),
        ({"model": "wan2.6-t2v", "resolution": "480p"}, "720p, 1080p"),
        ({"model": "wan2.6-t2v", "duration": 16}, "15"),
        ({"model": "wan2.6-t2v", "prompt": "y" * 1501}, "1500"),
        ({"model": "wan2.6-t2v", "audio": False}, "always makes its own sound"),
        ({"model": "wan2.6-i2v", "images": [START], "end_image": END}, "end_image"),
        ({"model": "wan2.5-t2v-preview", "duration": 15}, "5, 10"),
        ({"model": "wan2.5-t2v-preview", "resolution": "480p", "aspect_ratio": "3:4"}, "16:9, 9:16, 1:1 only"),
        ({"model": "wan2.5-i2v-preview", "images": [START], "audio": False}, "always makes its own sound"),
        ({"model": "wan2.2-t2v-plus", "resolution": "720p"}, "480p, 1080p"),
        ({"model": "wan2.2-t2v-plus", "audio": True}, "cannot generate audio"),
        ({"model": "wan2.2-i2v-flash", "images": [START], "duration": 10}, "5"),
        ({"model": "wan2.1-kf2v-plus", "images": [START], "end_image": END, "resolution": "480p"}, "720p"),
    ],
    ids=[
        "480p-4:3",
        "plus-480p",
        "negative-501",
        "seed-too-big",
        "plus-3s",
        "prompt-801",
        "wan26-480p",
        "wan26-16s",
        "wan26-prompt-1501",
        "wan26-silent",
        "wan26-i2v-end-image",
        "wan25-15s",
        "wan25-480p-3:4",
        "wan25-i2v-silent",
        "wan22-720p",
        "wan22-audio",
        "wan22-flash-10s",
        "kf2v-480p",
    ],
)
async def test_requests_dashscope_would_refuse_are_refused_first(ds_env, sim: Simulator, args, words):
    fields = {"prompt": "p", **args}
    with pytest.raises(ProviderError) as caught:
        resolve(ds_env, **fields)
    assert caught.value.code == ErrorCode.INVALID_INPUT and words in caught.value.message, caught.value.message
    assert sim.submissions == 0


@pytest.mark.parametrize(
    ("size", "fmt", "words"),
    [((200, 200), "PNG", "240 to 8000 px"), ((8100, 300), "PNG", "240 to 8000 px"), ((640, 360), "GIF", "image/gif")],
    ids=["too-small", "too-large", "gif"],
)
async def test_start_images_dashscope_cannot_take_are_refused(ds_env, sim: Simulator, tmp_path, size, fmt, words):
    """Checked when the job is submitted (estimates never read files), before anything is sent."""
    image = picture(tmp_path / "inputs", size, fmt)
    provider, _, request = resolve(ds_env, prompt="p", model="wan2.1-i2v-turbo", images=[str(image)])
    with pytest.raises(InvalidRequest) as caught:
        await provider.submit("job_image", request)
    await provider.aclose()
    assert words in caught.value.message and sim.submissions == 0


# -- 3. errors -------------------------------------------------------------------------------------


def answer(status: int, code: str, message: str = "said") -> httpx.Response:
    return httpx.Response(status, json={"request_id": "r-1", "code": code, "message": message})


@pytest.mark.parametrize(
    ("code", "expected", "words"),
    [
        ("InvalidApiKey", ErrorCode.AUTH, "DASHSCOPE_API_KEY"),
        ("Arrearage", ErrorCode.OUT_OF_CREDIT, "Top up"),
        ("AccessDenied", ErrorCode.AUTH, "Activate the model"),
        ("Throttling", ErrorCode.RATE_LIMITED, "try again"),
        ("Throttling.RateQuota", ErrorCode.RATE_LIMITED, "try again"),
        ("DataInspectionFailed", ErrorCode.CONTENT_POLICY, "change the prompt"),
        ("InvalidParameter", ErrorCode.INVALID_INPUT, "fix the request"),
        ("InternalError", ErrorCode.TRANSIENT, "try again in a minute"),
        ("ServiceUnavailable", ErrorCode.TRANSIENT, "try again in a minute"),
    ],
)
def test_each_documented_error_code_maps_with_what_to_do(code, expected, words):
    status = ERRORS[code][0]
    error = error_for(answer(status, code, ERRORS[code][1]))
    assert error is not None and error.code == expected and words in error.message, error
    assert code in error.message and error.retryable == (expected in (ErrorCode.RATE_LIMITED, ErrorCode.TRANSIENT))


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"api_keys": ["sk-someone-else"]}, ErrorCode.AUTH),
        ({"arrearage": True}, ErrorCode.OUT_OF_CREDIT),
        ({"errors": ["Throttling.RateQuota"] * 50}, ErrorCode.RATE_LIMITED),
        ({"errors": ["DataInspectionFailed"]}, ErrorCode.CONTENT_POLICY),
        ({"errors": ["AccessDenied"]}, ErrorCode.AUTH),
    ],
    ids=["key", "arrearage", "throttled", "input-moderation", "access-denied"],
)
async def test_submit_refusals_from_the_simulator(ds_env, sim: Simulator, config, expected):
    sim.config.update(config)
    provider, _, request = resolve(ds_env, prompt="p", model="wan2.1-t2v-plus")
    with pytest.raises(ProviderError) as caught:
        await provider.submit("job_err", request)
    await provider.aclose()
    assert caught.value.code == expected and KEY not in caught.value.message
    assert sim.submissions == 0


async def test_a_500_on_submit_is_unconfirmed_not_resent(ds_env, sim: Simulator):
    """A 500 may come after the task was created: sending it again could pay twice."""
    sim.config["errors"] = ["InternalError"]
    provider, _, request = resolve(ds_env, prompt="p", model="wan2.1-t2v-plus")
    with pytest.raises(ProviderError) as caught:
        await provider.submit("job_500", request)
    await provider.aclose()
    assert caught.value.code == ErrorCode.SUBMIT_UNCONFIRMED and sim.config["errors"] == []


@pytest.mark.parametrize(
    ("code", "message", "expected"),
    [
        ("DataInspectionFailed", "Output data may contain inappropriate content.", ErrorCode.CONTENT_POLICY),
        ("InvalidParameter.DataInspection", "The media file is not valid.", ErrorCode.CONTENT_POLICY),
        ("InvalidURL", "Download the media resource timed out.", ErrorCode.INVALID_INPUT),
        ("InternalError", "An internal error has occured.", ErrorCode.PROVIDER_FAILED),
    ],
)
def test_failed_task_codes(code, message, expected):
    info = failure(code, message)
    assert info.code == expected and code in info.message
    assert info.retryable == (expected == ErrorCode.PROVIDER_FAILED)


def test_statuses_in_our_terms():
    def status_of(output: dict[str, Any], usage: dict[str, Any] | None = None):
        return snapshot(Answer.model_validate({"output": {"task_id": "t", **output}, "usage": usage}), 0.1)

    assert status_of({"task_status": "PENDING"}).status == "queued"
    assert status_of({"task_status": "RUNNING"}).status == "running"
    assert status_of({"task_status": "SUSPENDED"}).status == "running"
    done = status_of({"task_status": "SUCCEEDED", "video_url": "https://x/v.mp4"}, {"video_duration": 5})
    assert done.status == "succeeded" and done.video_url == "https://x/v.mp4" and done.charged_usd == pytest.approx(0.5)
    assert status_of({"task_status": "SUCCEEDED"}).error.code == ErrorCode.PROVIDER_FAILED  # no video_url
    assert status_of({"task_status": "CANCELED"}).status == "cancelled"
    lost = status_of({"task_status": "UNKNOWN"})
    assert lost.status == "failed" and lost.error.code == ErrorCode.NOT_FOUND and "24 hours" in lost.message
    assert status_of({"task_status": "SOMETHING_NEW"}).status == "running"


def test_a_wan26_task_is_charged_by_usage_duration():
    """Wan 2.6 bills usage.duration; the SDK's own object shows video_duration 0 beside it, which must not win."""
    output = {"task_id": "t", "task_status": "SUCCEEDED", "video_url": "https://x/v.mp4"}
    usage = {"video_duration": 0, "video_ratio": "", "duration": 10, "output_video_duration": 10, "SR": 1080}
    assert snapshot(Answer.model_validate({"output": output, "usage": usage}), 0.15).charged_usd == pytest.approx(1.5)
    older = {"video_duration": 5, "video_ratio": "832*480", "video_count": 1}
    assert snapshot(Answer.model_validate({"output": output, "usage": older}), 0.1).charged_usd == pytest.approx(0.5)


async def test_a_content_failure_ends_the_job_with_content_policy(ds_env, sim: Simulator):
    async with JobManager(Settings.from_env(ds_env)) as manager:
        row = await manager.submit(RequestArgs(prompt=f"x sim:fail=content {QUICK}", provider="dashscope"))
        done = await manager.wait(row.job_id, 30)
    assert done.status == "failed" and done.error["code"] == "CONTENT_POLICY", done.error
    assert "DataInspectionFailed" in done.error["message"]


async def test_a_task_of_another_key_reads_unknown(ds_env, sim: Simulator):
    provider, _, request = resolve(ds_env, prompt=f"p {QUICK}", model="wan2.1-t2v-plus")
    submission = await provider.submit("job_mine", request)
    await provider.aclose()
    other, _, _ = resolve({**ds_env, "DASHSCOPE_API_KEY": "sk-another-account"}, prompt="p")
    seen = await other.poll(Submission(ref=submission.ref), request)
    await other.aclose()
    assert seen.status == "failed" and seen.error.code == ErrorCode.NOT_FOUND


# -- 4. cancel -------------------------------------------------------------------------------------


async def test_cancel_a_pending_task(ds_env, sim: Simulator):
    provider, _, request = resolve(ds_env, prompt="wait sim:queue=600", model="wan2.1-t2v-plus")
    submission = await provider.submit("job_cancel", request)
    await provider.cancel(submission, request)
    seen = await provider.poll(submission, request)
    await provider.aclose()
    assert sim.jobs[submission.ref].cancelled and submission.state["cancelled"] is True
    assert seen.status == "cancelled"


async def test_a_running_task_cannot_be_cancelled(ds_env, sim: Simulator):
    provider, _, request = resolve(ds_env, prompt="go sim:queue=0 sim:seconds=6000", model="wan2.1-t2v-plus")
    submission = await provider.submit("job_running", request)
    assert (await provider.poll(submission, request)).status == "running"
    with pytest.raises(ProviderError) as caught:
        await provider.cancel(submission, request)
    await provider.aclose()
    assert caught.value.code == ErrorCode.INVALID_INPUT and "only while it is PENDING" in caught.value.message
    assert "charged" in caught.value.message and "UnsupportedOperation" in caught.value.message
    assert not sim.jobs[submission.ref].cancelled


# -- 5. the simulator refuses what DashScope refuses -------------------------------------------------


def post(url: str, body: Any, *, key: str = KEY, asynchronous: bool = True, path: str = SYNTHESIS) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"}
    if asynchronous:
        headers["X-DashScope-Async"] = "enable"
    return httpx.post(f"{url}{path}", json=body, headers=headers)


def png_uri(size: tuple[int, int]) -> str:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", size).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


T2V = {"model": "wan2.1-t2v-turbo", "input": {"prompt": "p"}, "parameters": {"size": "832*480", "duration": 5}}


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"model": "wan9-t2v"}, "Model not exist"),
        ({"input": {}}, "input.prompt"),
        ({"parameters": {"size": "1920*1080"}}, "size"),
        ({"parameters": {"size": "832*480", "duration": 10}}, "duration"),
        ({"parameters": {"seed": -1}}, "seed"),
        ({"model": "wan2.1-i2v-turbo", "parameters": {"resolution": "720P"}}, "img_url"),
        ({"model": "wan2.1-i2v-turbo", "input": {"img_url": "/tmp/a.png"}, "parameters": {}}, "url error"),
        ({"model": "wan2.1-i2v-turbo", "input": {"img_url": png_uri((100, 100))}, "parameters": {}}, "240"),
        (
            {
                "model": "wan2.1-i2v-plus",
                "input": {"img_url": png_uri((640, 360))},
                "parameters": {"resolution": "480P"},
            },
            "resolution",
        ),
    ],
    ids=["model", "no-prompt", "size", "duration", "seed", "no-image", "path", "small-image", "plus-480P"],
)
def test_the_simulator_refuses_invalid_parameters(server, sim: Simulator, change, words):
    body = {**T2V, **change}
    response = post(server[0], body)
    assert response.status_code == 400, response.text
    said = response.json()
    assert said["code"] == "InvalidParameter" and words in said["message"] and said["request_id"]
    assert sim.submissions == 0


KEYFRAMES = "/services/aigc/image2video/video-synthesis"
IMAGE = png_uri((640, 360))
T26 = {"model": "wan2.6-t2v", "input": {"prompt": "p"}, "parameters": {"size": "1280*720"}}
I26F = {"model": "wan2.6-i2v-flash", "input": {"prompt": "p", "img_url": IMAGE}, "parameters": {}}
KF = {"model": "wan2.1-kf2v-plus", "input": {"prompt": "p", "first_frame_url": IMAGE, "last_frame_url": IMAGE}}


@pytest.mark.parametrize(
    ("body", "path", "words"),
    [
        ({**T26, "parameters": {"size": "832*480"}}, SYNTHESIS, "size"),
        ({**T26, "parameters": {"duration": 16}}, SYNTHESIS, "duration"),
        ({**T26, "parameters": {"duration": 1}}, SYNTHESIS, "duration"),
        ({**T26, "parameters": {"audio": False}}, SYNTHESIS, "parameters.audio is not supported"),
        ({**T26, "parameters": {"shot_type": "triple"}}, SYNTHESIS, "shot_type"),
        ({**T26, "input": {"prompt": "p", "audio_url": "/tmp/a.mp3"}}, SYNTHESIS, "url error"),
        ({**T2V, "input": {"prompt": "p", "audio_url": "https://x/a.mp3"}}, SYNTHESIS, "audio_url is not supported"),
        ({**T2V, "parameters": {"shot_type": "multi"}}, SYNTHESIS, "shot_type is not supported"),
        ({**I26F, "parameters": {"audio": "no"}}, SYNTHESIS, "parameters.audio must be a boolean"),
        ({**I26F, "parameters": {"resolution": "480P"}}, SYNTHESIS, "resolution"),
        ({"model": "wan2.5-t2v-preview", "input": {"prompt": "p"}, "parameters": {"duration": 15}}, SYNTHESIS, "5, 10"),
        (
            {
                "model": "wan2.5-i2v-preview",
                "input": {"prompt": "p", "img_url": IMAGE},
                "parameters": {"shot_type": "multi"},
            },
            SYNTHESIS,
            "shot_type is not supported",
        ),
        ({"model": "wan2.2-t2v-plus", "input": {"prompt": "p"}, "parameters": {"size": "1280*720"}}, SYNTHESIS, "size"),
        (
            {"model": "wan2.2-i2v-flash", "input": {"prompt": "p", "img_url": IMAGE}, "parameters": {"audio": True}},
            SYNTHESIS,
            "parameters.audio is not supported",
        ),
        (KF, SYNTHESIS, "Model not exist"),
        (T26, KEYFRAMES, "Model not exist"),
        ({**KF, "input": {"prompt": "p", "last_frame_url": IMAGE}}, KEYFRAMES, "first_frame_url"),
        ({**KF, "input": {**KF["input"], "last_frame_url": png_uri((300, 300))}}, KEYFRAMES, "between 360 and 2000"),
        ({**KF, "parameters": {"resolution": "1080P"}}, KEYFRAMES, "resolution"),
    ],
    ids=[
        "wan26-480p-size",
        "wan26-16s",
        "wan26-1s",
        "wan26-audio-switch",
        "wan26-shot-type",
        "wan26-audio-path",
        "wan21-audio-url",
        "wan21-shot-type",
        "flash-audio-string",
        "flash-480P",
        "wan25-15s",
        "wan25-shot-type",
        "wan22-720p",
        "wan22-flash-audio",
        "kf2v-wrong-path",
        "t2v-on-kf2v-path",
        "kf2v-no-first-frame",
        "kf2v-small-last-frame",
        "kf2v-1080P",
    ],
)
def test_the_simulator_refuses_what_each_newer_model_does_not_take(server, sim: Simulator, body, path, words):
    response = post(server[0], body, path=path)
    assert response.status_code == 400, response.text
    said = response.json()
    assert said["code"] == "InvalidParameter" and words in said["message"], said
    assert sim.submissions == 0


@pytest.mark.parametrize(
    ("body", "path"),
    [
        (
            {
                **T26,
                "input": {"prompt": "p", "audio_url": "https://x/a.mp3"},
                "parameters": {"size": "1920*1080", "duration": 15, "shot_type": "multi", "prompt_extend": True},
            },
            SYNTHESIS,
        ),
        ({**I26F, "parameters": {"audio": False, "resolution": "1080P", "duration": 2}}, SYNTHESIS),
        ({**KF, "parameters": {"resolution": "720P", "duration": 5, "watermark": True}}, KEYFRAMES),
        ({**KF, "input": {"prompt": "p", "first_frame_url": IMAGE}}, KEYFRAMES),  # the last frame is optional
        ({"model": "wan2.2-kf2v-flash", **{k: v for k, v in KF.items() if k != "model"}}, KEYFRAMES),
        ({**I26F, "input": {**I26F["input"], "img_url": png_uri((3000, 240))}}, SYNTHESIS),  # 240-8000 px
    ],
    ids=["wan26-everything", "flash-silent", "kf2v", "kf2v-first-frame-only", "kf2v-flash", "wide-start-image"],
)
def test_the_simulator_takes_what_each_newer_model_documents(server, sim: Simulator, body, path):
    response = post(server[0], body, path=path)
    assert response.status_code == 200 and response.json()["output"]["task_status"] == "PENDING", response.text
    assert sim.submissions == 1


@pytest.mark.parametrize(
    ("body", "path", "usage"),
    [
        (
            {**T26, "input": {"prompt": QUICK}},
            SYNTHESIS,
            {"duration": 5, "input_video_duration": 0, "output_video_duration": 5, "video_count": 1, "SR": 720}
            | {"size": "1280*720"},
        ),
        (
            {**I26F, "input": {"prompt": QUICK, "img_url": IMAGE}, "parameters": {"duration": 3}},
            SYNTHESIS,
            {"duration": 3, "input_video_duration": 0, "output_video_duration": 3, "video_count": 1, "SR": 1080},
        ),
        (
            {"model": "wan2.5-t2v-preview", "input": {"prompt": QUICK}, "parameters": {"size": "832*480"}},
            SYNTHESIS,
            {"video_duration": 5, "video_ratio": "832*480", "video_count": 1},
        ),
        (
            {**KF, "input": {**KF["input"], "prompt": QUICK}},
            KEYFRAMES,
            {"video_duration": 5, "video_count": 1} | {"video_ratio": "standard"},
        ),
        (
            {"model": "wan2.2-kf2v-flash", "input": {**KF["input"], "prompt": QUICK}},
            KEYFRAMES,
            {"video_duration": 5, "video_count": 1, "SR": 720},
        ),
    ],
    ids=["wan26-t2v", "wan26-i2v-flash", "wan25", "wan21-kf2v", "wan22-kf2v"],
)
def test_the_simulator_answers_each_models_usage(server, sim: Simulator, body, path, usage):
    """The references' usage per model: Wan 2.6 bills duration (size only for text), older ones video_duration."""
    import time

    task_id = post(server[0], body, path=path).json()["output"]["task_id"]
    for _ in range(200):
        answer = httpx.get(f"{server[0]}/tasks/{task_id}", headers={"Authorization": f"Bearer {KEY}"}).json()
        if answer["output"]["task_status"] == "SUCCEEDED":
            break
        time.sleep(0.02)
    assert answer["output"]["task_status"] == "SUCCEEDED" and answer["usage"] == usage, answer


def test_the_simulator_takes_only_async_calls_and_known_keys(server, sim: Simulator):
    sync = post(server[0], T2V, asynchronous=False)
    assert sync.status_code == 403 and sync.json()["code"] == "AccessDenied"
    bad = post(server[0], T2V, key="not-a-key")
    assert bad.status_code == 401 and bad.json()["code"] == "InvalidApiKey"
    ok = post(server[0], {**T2V, "input": {"prompt": "p", "extend_prompt": True}})  # the SDK adds extend_prompt
    assert ok.status_code == 200 and ok.json()["output"]["task_status"] == "PENDING"
    assert sim.submissions == 1


async def test_cancel_job_on_a_running_task_says_it_runs_on_and_is_charged(ds_env, sim: Simulator):
    async with JobManager(Settings.from_env(ds_env)) as manager:
        row = await manager.submit(RequestArgs(prompt="go sim:queue=0 sim:seconds=6000", provider="dashscope"))
        for _ in range(3000):
            if manager.get(row.job_id).status == "running":
                break
            await anyio.sleep(0.01)
        done = await manager.cancel(row.job_id)
        (task,) = sim.jobs.values()
        # DashScope refuses: the task runs on and is charged, so the job is followed to the end, not dropped.
        assert not task.cancelled and done.status == "running" and not done.cancel_requested, done
        assert "only while it is PENDING" in done.message and "Still watching" in done.message, done.message
        assert row.job_id in manager._watching
