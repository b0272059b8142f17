"""The BytePlus ModelArk (Seedance) provider against its simulator on loopback: the MCP tools end to end, wire
bodies, token prices, the charged cost from completion_tokens, each error mapping, callbacks, cancel."""

from __future__ import annotations

import base64
import itertools
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

from providers.base import ErrorCode, ProviderError, Submission, VideoRequest
from providers.byteplus import (
    MODELS,
    RATES,
    SIZES,
    BytePlusProvider,
    Failure,
    Task,
    error_for,
    failure_error,
    snapshot,
    tokens,
)
from providers.simulators.byteplus import create_app
from providers.simulators.common import Simulator, running
from server.app import build_server
from server.catalog import RequestArgs
from server.jobs import JobManager
from server.media import probe
from server.settings import Settings

pytestmark = pytest.mark.anyio

KEY = "ark-7f3c2e9a-TESTKEY-never-print"
SPEED = 300
TASKS = "/api/v3/contents/generations/tasks"
PRO, LITE_T2V, LITE_I2V, PRO_15 = (
    "seedance-1-0-pro-250528",
    "seedance-1-0-lite-t2v-250428",
    "seedance-1-0-lite-i2v-250428",
    "seedance-1-5-pro-251215",
)


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[str, Simulator]]:
    inner = create_app(speed=SPEED)
    with running(Starlette(routes=[Mount("/byteplus", app=inner)])) as url:
        yield f"{url}/byteplus", inner.state.sim


@pytest.fixture
def sim(served: tuple[str, Simulator]) -> Simulator:
    sim = served[1]
    with sim.lock:
        sim.config.clear()
        sim.jobs.clear()
        sim.polls.clear()
        sim.submissions = 0
    return sim


@pytest.fixture
def base(served: tuple[str, Simulator], sim: Simulator) -> str:
    return served[0]


@pytest.fixture
def bp_env(env: dict[str, str], base: str) -> dict[str, str]:
    return {
        **env,
        "VIDEOGEN_BYTEPLUS_BASE_URL": base,
        "ARK_API_KEY": KEY,
        "VIDEOGEN_POLL_SCALE": "0.01",
        "VIDEOGEN_RETRY_SCALE": "0.01",
        "VIDEOGEN_DEFAULT_PROVIDER": "byteplus",
    }


@pytest.fixture
def bp_settings(bp_env: dict[str, str]) -> Settings:
    return Settings.from_env(bp_env)


def png(path: Path, size: tuple[int, int] = (640, 360), colour: tuple[int, int, int] = (200, 30, 30)) -> Path:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, colour).save(path, format="PNG")
    return path


async def call(settings: Settings, tool: str = "generate_video", **args: Any) -> Any:
    async with Client(build_server(settings)) as client:
        result = await client.call_tool(tool, args)
    texts = " ".join(getattr(c, "text", "") for c in result.content)
    assert KEY not in texts and KEY not in json.dumps(result.structured_content)
    assert all(KEY.encode() not in f.read_bytes() for f in settings.data_dir.rglob("*") if f.is_file())
    return result


async def generate(settings: Settings, **args: Any) -> dict[str, Any]:
    result = await call(settings, provider="byteplus", **args)
    assert not result.is_error, result.content
    return result.structured_content


def request(model: str = PRO, **fields: Any) -> VideoRequest:
    values: dict[str, Any] = {
        "prompt": "a cat",
        "provider": "byteplus",
        "model": model,
        "mode": "text_to_video",
        "duration": 5.0,
        "aspect_ratio": "16:9",
        "resolution": "720p",
        **fields,
    }
    return VideoRequest(**values)


# -- through the MCP tools -------------------------------------------------------------------------------


async def test_text_to_video_is_a_probed_mp4_charged_by_its_completion_tokens(bp_settings: Settings, sim: Simulator):
    job = await generate(bp_settings, prompt="sim:seconds=20 a lighthouse in a storm", duration=6, aspect_ratio="9:16")
    assert job["status"] == "succeeded", job
    info = probe(job["video"]["path"])
    assert abs(info.duration_seconds - 6) < 0.2 and info.height > info.width
    payload = sim.jobs[job["provider_job_id"]].payload
    assert payload == {
        "model": PRO,
        "content": [{"type": "text", "text": "sim:seconds=20 a lighthouse in a storm"}],
        "resolution": "1080p",  # the model's default, as BytePlus's
        "ratio": "9:16",
        "duration": 6,
        "watermark": False,
    }
    # 1080p 9:16 is 1088 x 1920: 1088 * 1920 * 24 * 6 / 1024 = 293,760 tokens at $2.5 per million.
    assert (job["cost"], job["cost_is_estimate"]) == (pytest.approx(0.7344), False)


async def test_first_and_last_frames_from_local_files_go_as_data_uris(
    bp_settings: Settings, sim: Simulator, tmp_path: Path
):
    first, last = png(tmp_path / "inputs" / "a.png"), png(tmp_path / "inputs" / "b.png", colour=(0, 90, 200))
    job = await generate(
        bp_settings,
        prompt="sim:seconds=20 the square turns blue",
        model=LITE_I2V,
        resolution="480p",
        images=[str(first)],
        end_image=str(last),
        seed=42,
    )
    assert job["status"] == "succeeded" and job["request"]["mode"] == "image_to_video", job
    payload = sim.jobs[job["provider_job_id"]].payload
    text, start, end = payload["content"]
    assert text == {"type": "text", "text": "sim:seconds=20 the square turns blue"}
    assert (start["role"], end["role"]) == ("first_frame", "last_frame")
    assert base64.b64decode(start["image_url"]["url"].split(",", 1)[1]) == first.read_bytes()
    assert end["image_url"]["url"].startswith("data:image/png;base64,")
    assert (payload["seed"], payload["resolution"], payload["ratio"]) == (42, "480p", "16:9")


async def test_an_image_url_is_passed_on_as_is(bp_env: dict[str, str], sim: Simulator):
    provider = BytePlusProvider(bp_env)
    body = provider.body(request(mode="image_to_video", images=["https://example.com/start.jpg"]))
    assert body["content"][1] == {
        "type": "image_url",
        "image_url": {"url": "https://example.com/start.jpg"},
        "role": "first_frame",
    }


@pytest.mark.parametrize(("audio", "rate"), [(True, 2.4), (False, 1.2)])
async def test_seedance_1_5_always_says_whether_to_make_audio_and_is_charged_at_that_rate(
    bp_settings: Settings, sim: Simulator, audio: bool, rate: float
):
    job = await generate(bp_settings, prompt="sim:seconds=20 waves", model=PRO_15, audio=audio, duration=4)
    assert job["status"] == "succeeded", job
    task = sim.jobs[job["provider_job_id"]]
    assert task.payload["generate_audio"] is audio  # BytePlus's default is true: never left unsaid
    # 720p 16:9 for 1.5 Pro is 1280 x 720: 86,400 tokens for 4 s.
    assert job["cost"] == pytest.approx(round(86_400 * rate / 1e6, 6)) and not job["cost_is_estimate"]


async def test_list_models_shows_the_four_models_with_sources(bp_settings: Settings):
    result = await call(bp_settings, "list_models", provider="byteplus")
    assert not result.is_error, result.content
    text = json.dumps(result.structured_content)
    for spec in MODELS:
        assert spec.id in text
        assert spec.price_source.startswith("https://") and spec.price_checked == "2026-12-03"
        assert len(spec.description) <= 110, spec.description


# -- prices ------------------------------------------------------------------------------------------------


def test_every_estimate_is_the_token_formula_at_the_resolutions_largest_size():
    """For every model, resolution, duration and audio setting: the estimate equals width x height x 24 x seconds /
    1024 tokens at the rate, for the largest output size of that resolution, and is never below any ratio's."""
    for spec in MODELS:
        silent, with_audio = RATES[spec.id]
        for resolution, duration, audio in itertools.product(spec.resolutions, spec.durations, (False, True)):
            if audio and not spec.audio:
                continue
            rate = with_audio if audio else silent
            by_ratio = {r: tokens(w, h, duration) * rate / 1e6 for r, (w, h) in SIZES[spec.id][resolution].items()}
            estimate = spec.price_for(duration, resolution, audio)[0]
            assert estimate == pytest.approx(round(max(by_ratio.values()), 4), abs=1e-9), (spec.id, resolution)
            assert all(estimate >= round(usd, 4) for usd in by_ratio.values())


def test_known_prices_worked_by_hand():
    # 1.0 Pro 1080p 16:9 is 1920 x 1088: 244,800 tokens for 5 s, $0.612 at $2.5 per million.
    assert next(m for m in MODELS if m.id == PRO).price_for(5, "1080p", False)[0] == 0.612
    # 1.0 Lite 720p: 21:9 is the largest (1504 x 640), 112,800 tokens for 5 s at $1.8: $0.20304.
    assert next(m for m in MODELS if m.id == LITE_T2V).price_for(5, "720p", False)[0] == 0.203
    # 1.5 Pro 480p with audio: 16:9 and 21:9 tie at 428,544 px, 100,440 tokens for 10 s at $2.4.
    assert next(m for m in MODELS if m.id == PRO_15).price_for(10, "480p", True)[0] == round(100_440 * 2.4e-6, 4)


async def test_estimate_cost_needs_no_call(bp_settings: Settings, sim: Simulator):
    result = await call(bp_settings, "estimate_cost", prompt="x", model=PRO, resolution="720p", duration=10)
    assert result.structured_content["usd"] == round(tokens(1504, 640, 10) * 2.5e-6, 4)
    assert sim.submissions == 0


# -- errors ---------------------------------------------------------------------------------------------------


def answer(status: int, code: str, message: str = "something", method: str = "POST") -> httpx.Response:
    body = {"error": {"code": code, "message": message, "param": "", "type": "BadRequest"}}
    return httpx.Response(status, json=body, request=httpx.Request(method, f"https://ark.example{TASKS}"))


@pytest.mark.parametrize(
    ("status", "code", "ours", "words"),
    [
        (400, "InvalidParameter", ErrorCode.INVALID_INPUT, ("rejected", "InvalidParameter")),
        (400, "MissingParameter", ErrorCode.INVALID_INPUT, ("MissingParameter",)),
        (400, "InputTextSensitiveContentDetected", ErrorCode.CONTENT_POLICY, ("change the prompt",)),
        (400, "InputImageSensitiveContentDetected", ErrorCode.CONTENT_POLICY, ("change the prompt or the image",)),
        (401, "AuthenticationError", ErrorCode.AUTH, ("ARK_API_KEY", "region")),
        (403, "AccountOverdueError", ErrorCode.OUT_OF_CREDIT, ("top up", "billing")),
        (403, "AccessDenied", ErrorCode.AUTH, ("activate", "ARK_API_KEY")),
        (404, "InvalidEndpointOrModel.NotFound", ErrorCode.NOT_FOUND, ("activated",)),
        (429, "RateLimitExceeded.EndpointRPMExceeded", ErrorCode.RATE_LIMITED, ("try again",)),
        (500, "InternalServiceError", ErrorCode.TRANSIENT, ("try again",)),
    ],
)
def test_each_documented_error_code_maps_to_ours_with_what_to_do(
    status: int, code: str, ours: ErrorCode, words: tuple[str, ...]
):
    error = error_for(answer(status, code))
    assert error is not None and error.code == ours, (code, error and error.message)
    assert all(word.lower() in error.message.lower() for word in words), error.message
    assert error.retryable == (ours in (ErrorCode.RATE_LIMITED, ErrorCode.TRANSIENT))


@pytest.mark.parametrize(
    ("code", "ours"),
    [
        ("OutputVideoSensitiveContentDetected", ErrorCode.CONTENT_POLICY),
        ("InputImageSensitiveContentDetected", ErrorCode.CONTENT_POLICY),
        ("InvalidParameter", ErrorCode.INVALID_INPUT),
        ("InternalServiceError", ErrorCode.PROVIDER_FAILED),
        ("", ErrorCode.PROVIDER_FAILED),
    ],
)
def test_a_failed_tasks_error_maps_to_ours(code: str, ours: ErrorCode):
    info = failure_error(Failure(code=code, message="why"))
    assert info.code == ours and (code in info.message) and info.retryable == (ours == ErrorCode.PROVIDER_FAILED)


async def test_the_simulators_refusals_reach_the_agent_before_any_task(bp_settings: Settings, sim: Simulator, tmp_path):
    small = png(tmp_path / "inputs" / "small.png", (200, 150))
    result = await call(bp_settings, provider="byteplus", prompt="x", images=[str(small)], wait_seconds=10)
    job = result.structured_content
    assert job["status"] == "failed" and job["error"]["code"] == "INVALID_INPUT", job
    assert "InvalidParameter" in job["error"]["message"] and "300-6000 px" in job["error"]["message"]
    assert sim.submissions == 0


async def test_an_expired_task_is_a_timeout_and_charges_nothing(bp_settings: Settings, sim: Simulator):
    job = await generate(bp_settings, prompt="sim:fail=expired sim:seconds=10 x")
    assert job["status"] == "failed" and job["error"]["code"] == "TIMED_OUT", job
    assert "execution_expires_after" in job["error"]["message"] and job["error"]["retryable"]


def test_an_answer_that_is_not_a_task_is_transient_and_a_success_without_url_waits():
    with pytest.raises(ProviderError) as caught:
        snapshot(Task.model_validate({"status": "succeeded", "content": {}}), False)
    assert caught.value.code == ErrorCode.TRANSIENT
    odd = snapshot(Task.model_validate({"status": "paused"}), False)
    assert odd.status == "running" and "paused" in odd.message


# -- callbacks -----------------------------------------------------------------------------------------------


async def test_the_callback_url_is_sent_and_the_simulator_posts_the_task(base: str, sim: Simulator):
    got: list[dict[str, Any]] = []

    async def receiver(scope: Any, receive: Any, send: Any) -> None:
        message = await receive()
        got.append(json.loads(message.get("body") or b"{}"))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    provider = BytePlusProvider({"ARK_API_KEY": KEY, "VIDEOGEN_BYTEPLUS_BASE_URL": base})
    with running(receiver) as hook:
        submission = await provider.submit("job_1", request(prompt="sim:seconds=10 sim:queue=1 x"), f"{hook}/cb")
        assert sim.jobs[submission.ref].payload["callback_url"] == f"{hook}/cb"
        for _ in range(300):
            if got and got[-1]["status"] == "succeeded":
                break
            await anyio.sleep(0.02)
    await provider.aclose()
    statuses = [body["status"] for body in got]
    assert statuses[0] == "queued" and statuses[-1] == "succeeded" and "running" in statuses
    done = provider.parse_callback(got[-1], submission)
    assert done is not None and done.status == "succeeded" and done.video_url == got[-1]["content"]["video_url"]
    assert done.charged_usd == pytest.approx(round(got[-1]["usage"]["completion_tokens"] * 2.5e-6, 6))
    assert provider.parse_callback({**got[-1], "id": "cgt-another"}, submission) is None
    assert provider.parse_callback({"status": ["not", "a", "status"]}, submission) is None  # a poll will tell


# -- cancel ------------------------------------------------------------------------------------------------


async def test_cancel_cancels_a_queued_task_at_byteplus(bp_settings: Settings, sim: Simulator):
    async with JobManager(bp_settings) as manager:
        row = await manager.submit(RequestArgs(prompt="never mind sim:queue=600", provider="byteplus"))
        for _ in range(500):
            if manager.get(row.job_id).provider_ref:
                break
            await anyio.sleep(0.01)
        done = await manager.cancel(row.job_id)
    assert done.status == "cancelled" and "cancelled at BytePlus" in done.message, done.message
    (task,) = sim.jobs.values()
    assert task.cancelled


async def test_a_running_task_cannot_be_cancelled_and_a_finished_one_is_deleted(base: str, sim: Simulator):
    provider = BytePlusProvider({"ARK_API_KEY": KEY, "VIDEOGEN_BYTEPLUS_BASE_URL": base})
    running_one = await provider.submit("job_r", request(prompt="sim:queue=0 sim:seconds=6000 x"))
    with pytest.raises(ProviderError) as caught:
        await provider.cancel(running_one, request())
    assert caught.value.code == ErrorCode.INVALID_INPUT and "only while it is queued" in caught.value.message
    assert "charged" in caught.value.message and not sim.jobs[running_one.ref].cancelled
    finished = await provider.submit("job_f", request(prompt="sim:queue=0 sim:seconds=1 x"))
    await anyio.sleep(0.05)
    assert (await provider.poll(finished, request())).status == "succeeded"
    await provider.cancel(finished, request())  # deletes the record: later reads are 404
    assert finished.state["cancelled"] and sim.jobs[finished.ref].extra["deleted"]
    assert (await provider.poll(finished, request())).status == "cancelled"
    with pytest.raises(ProviderError) as gone:
        await provider.poll(Submission(ref=finished.ref), request())
    assert gone.value.code == ErrorCode.NOT_FOUND
    await provider.aclose()


async def test_not_configured_without_ark_api_key(base: str):
    provider = BytePlusProvider({"VIDEOGEN_BYTEPLUS_BASE_URL": base})
    assert not provider.configured() and provider.missing_env() == ["ARK_API_KEY"]
    with pytest.raises(ProviderError) as caught:
        await provider.submit("job_x", request())
    assert caught.value.code == ErrorCode.NOT_CONFIGURED and "ARK_API_KEY" in caught.value.message


async def test_a_job_served_over_http_finishes_by_callback_with_zero_status_polls(tmp_path: Path):
    """`serve` over HTTP with VIDEOGEN_PUBLIC_URL: BytePlus gets the job's callback URL, POSTs the task at each
    status change, and the job finishes (and downloads) without one status poll."""
    from test_webhooks import QUICK, SPEED, generate, serving

    from providers.simulators import build_app

    app = build_app(speed=SPEED, names=["byteplus"])
    with running(app) as sim_url, serving(tmp_path, sim_url) as url:
        job = await generate(url, "byteplus", f"a lighthouse at dusk {QUICK}")
    sim = app.state.simulators["byteplus"]
    ref = job["provider_job_id"]
    assert job["status"] == "succeeded", job
    assert sim.polls[ref] == 0 and sim.callbacks_delivered[ref] >= 1 and sim.downloads[ref] == 1
    assert sim.jobs[ref].extra["callback_url"].startswith(f"{url}/webhooks/{job['job_id']}/")
    assert job["cost"] and not job["cost_is_estimate"]  # the callback's completion_tokens priced it
