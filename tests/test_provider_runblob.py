"""The runblob (Kling O3) provider against its simulator on loopback: tools, wire bodies, prices, errors,
cancel, restart, and the documentation's own request shapes."""

from __future__ import annotations

import base64
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
from providers.runblob import Created, Generation, RunblobProvider, _snapshot, error_for
from providers.simulators.common import Simulator, running
from providers.simulators.runblob import create_app
from server.app import build_server
from server.catalog import RequestArgs
from server.jobs import SUBMIT_RESENDS, JobManager
from server.media import probe
from server.settings import Settings
from server.store import JobRow

pytestmark = pytest.mark.anyio

KEY = "rb-live-7Hq2TESTKEY9x-never-print"
SPEED = 300  # a 5 s video (about 150 simulated seconds) takes half a second
API = "/v1/kling/o3-video"


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[str, Simulator]]:
    inner = create_app(speed=SPEED)
    with running(Starlette(routes=[Mount("/runblob", app=inner)])) as url:
        yield f"{url}/runblob", inner.state.sim


@pytest.fixture
def sim(served: tuple[str, Simulator]) -> Simulator:
    """The module's simulator, emptied for each test."""
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
def rb_env(env: dict[str, str], base: str) -> dict[str, str]:
    return {
        **env,
        "VIDEOGEN_RUNBLOB_BASE_URL": base,
        "RUNBLOB_API_KEY": KEY,
        "VIDEOGEN_POLL_SCALE": "0.01",
        "VIDEOGEN_DEFAULT_PROVIDER": "runblob",
    }


@pytest.fixture
def rb_settings(rb_env: dict[str, str]) -> Settings:
    return Settings.from_env(rb_env)


def png(path: Path, colour: tuple[int, int, int] = (200, 30, 30), fmt: str = "PNG") -> Path:
    from PIL import Image

    Image.new("RGB", (64, 48), colour).save(path, format=fmt)
    return path


def data_uri(path: Path, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode()}"


def assert_no_key(result: Any, settings: Settings | None = None) -> None:
    texts = " ".join(getattr(c, "text", "") for c in result.content)
    assert KEY not in texts and KEY not in json.dumps(result.structured_content)
    if settings is not None:  # nor in the job index
        assert all(KEY.encode() not in f.read_bytes() for f in settings.data_dir.rglob("*") if f.is_file())


async def call(settings: Settings, tool: str = "generate_video", **args: Any) -> Any:
    async with Client(build_server(settings)) as client:
        result = await client.call_tool(tool, args)
    assert_no_key(result, settings)
    return result


async def generate(settings: Settings, **args: Any) -> dict[str, Any]:
    result = await call(settings, provider="runblob", **args)
    assert not result.is_error, result.content
    return result.structured_content


# -- through the MCP tools ---------------------------------------------------------------------------


async def test_text_to_video_ends_with_a_probed_mp4_and_the_charged_price(rb_settings: Settings, sim: Simulator):
    job = await generate(rb_settings, prompt="a lighthouse in a storm", duration=10, aspect_ratio="9:16")
    assert job["status"] == "succeeded", job
    info = probe(job["video"]["path"])
    assert abs(info.duration_seconds - 10) < 0.2 and info.height > info.width
    assert (job["cost"], job["cost_is_estimate"]) == (0.30, False)  # the price runblob returned
    assert sim.submissions == 1
    payload = sim.jobs[job["provider_job_id"]].payload
    assert payload == {
        "prompt": "a lighthouse in a storm",
        "model": "kling_o3",
        "duration": "10",
        "aspect_ratio": "9:16",
    }


async def test_image_to_video_from_a_local_file_and_from_a_url(rb_settings: Settings, sim: Simulator, tmp_path: Path):
    picture = png(tmp_path / "inputs" / "red.png")
    from_file = await generate(
        rb_settings,
        prompt="sim:seconds=30 the red square spins",
        model="kling_o3_pro",
        aspect_ratio="1:1",
        images=[str(picture)],
    )
    from_url = await generate(
        rb_settings, prompt="sim:seconds=30 make it wave", duration=15, images=["https://example.com/character.jpg"]
    )
    for job, seconds in ((from_file, 5), (from_url, 15)):
        assert job["status"] == "succeeded" and job["request"]["mode"] == "image_to_video", job
        assert abs(probe(job["video"]["path"]).duration_seconds - seconds) < 0.2
    assert sim.jobs[from_file["provider_job_id"]].payload["images_base64"] == [data_uri(picture, "image/png")]
    assert sim.jobs[from_url["provider_job_id"]].payload["images_url"] == ["https://example.com/character.jpg"]
    assert (from_file["cost"], from_url["cost"]) == (0.30, 0.45)


async def test_list_models_declares_both_models(rb_settings: Settings):
    compact = (await call(rb_settings, "list_models", provider="runblob")).structured_content["models"]
    models = [
        (await call(rb_settings, "list_models", model=f"runblob/{m['model']}")).structured_content["models"][0]
        for m in compact
    ]
    assert [(m["model"], m["resolutions"], m["is_default"]) for m in models] == [
        ("kling_o3", ["720p"], True),
        ("kling_o3_pro", ["1080p"], False),
    ]
    for model in models:
        assert model["durations"] == [5, 10, 15] and model["aspect_ratios"] == ["16:9", "9:16", "1:1"]
        assert model["max_images"] == 5 and model["end_image"] and not model["audio"] and model["configured"]
        assert "price each accepted video returns" in model["price"] and "quoted high" in model["price"]
        assert model["price_source"] == "https://docs.runblob.io/api-reference/kling/o3-video-generate"
        assert model["price_checked"] == "2026-12-03"


# -- the wire ----------------------------------------------------------------------------------------

BODY_CASES = [(model, kind) for model in ("kling_o3", "kling_o3_pro") for kind in ("text", "files", "urls", "frames")]


@pytest.mark.parametrize(("model", "kind"), BODY_CASES)
async def test_request_body_for_each_model_and_mode(rb_env, sim: Simulator, tmp_path: Path, model: str, kind: str):
    inputs = tmp_path / "inputs"
    files = [png(inputs / "a.png"), png(inputs / "b.jpg", (10, 200, 10), "JPEG")]
    urls = ["https://example.com/a.png", "https://cdn.example.com/b.jpg?sig=1"]
    images = {"text": [], "files": [str(f) for f in files], "urls": urls, "frames": [str(files[0])]}[kind]
    resolution = "1080p" if model.endswith("pro") else "720p"
    request = VideoRequest(
        prompt="two shots of a product",
        provider="runblob",
        model=model,
        mode="image_to_video" if images else "text_to_video",
        duration=15,
        aspect_ratio="1:1",
        resolution=resolution,
        images=images,
        end_image=urls[1] if kind == "frames" else None,  # a file first frame, a URL end frame
    )
    provider = RunblobProvider(rb_env, [inputs])
    try:
        submission = await provider.submit("job_body", request)
    finally:
        await provider.aclose()
    expected: dict[str, Any] = {
        "prompt": "two shots of a product",
        "model": model,
        "duration": "15",
        "aspect_ratio": "1:1",
    }
    if kind == "files":
        expected["images_base64"] = [data_uri(files[0], "image/png"), data_uri(files[1], "image/jpeg")]
    if kind == "urls":
        expected["images_url"] = urls
    if kind == "frames":  # the SDK's first/end frame pair, each the way it was given
        expected.update(first_frame_base64=data_uri(files[0], "image/png"), end_frame_url=urls[1])
    assert sim.jobs[submission.ref].payload == expected
    # The SDK's optional X-Idempotency-Key, our job id (sent; runblob documents no behaviour for it).
    assert sim.jobs[submission.ref].extra["idempotency_key"] == "job_body" and not provider.resubmit_is_safe
    assert submission.charged_usd == (0.90 if model == "kling_o3_pro" else 0.45)


async def test_mixed_image_inputs_are_refused_before_a_job_exists(
    rb_settings: Settings, sim: Simulator, tmp_path: Path
):
    picture = str(png(tmp_path / "inputs" / "a.png"))
    for tool in ("generate_video", "estimate_cost"):
        result = await call(rb_settings, tool, prompt="x", images=[picture, "https://example.com/b.png"])
        assert result.is_error and "INVALID_INPUT" in result.content[0].text and "same way" in result.content[0].text
    listed = await call(rb_settings, "list_jobs")
    assert listed.structured_content["jobs"] == [] and sim.submissions == 0


DOC_EXAMPLES = [  # the request bodies of docs.runblob.io's o3-video examples and webhook guide
    ({"prompt": "A cat walking in a garden"}, "0.1500", "kling-o3-video-5s"),
    (
        {"prompt": "Futuristic city", "duration": "10", "aspect_ratio": "16:9", "model": "kling_o3_pro"},
        "0.6000",
        "kling-o3-video-10s-pro",
    ),
    (
        {
            "prompt": "Make the character wave and smile",
            "images_url": ["https://example.com/character.jpg"],
            "duration": "5",
            "aspect_ratio": "9:16",
            "model": "kling_o3",
        },
        "0.1500",
        "kling-o3-video-5s",
    ),
    ({"prompt": "Product showcase", "duration": "15", "model": "kling_o3_pro"}, "0.9000", "kling-o3-video-15s-pro"),
    (
        {"prompt": "Dragon", "duration": "10", "mode": "pro", "callback_url": "https://your-app.com/webhook/o3-video"},
        "0.6000",
        "kling-o3-video-10s-pro",
    ),
    ({"prompt": "Dragon", "duration": "10", "mode": "std"}, "0.3000", "kling-o3-video-10s"),
]


@pytest.mark.parametrize(("body", "price", "label"), DOC_EXAMPLES)
async def test_the_documented_examples_work_against_the_simulator(base: str, sim, body, price, label):
    async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {KEY}"}) as http:
        created = await http.post(f"{API}/generate", json=body)
        assert created.status_code == 201, created.text
        assert created.json() == {**created.json(), "status": "pending", "price": price}
        status = (await http.get(f"{API}/generations/{created.json()['generation_id']}")).json()
    assert status["model"] == label and status["status"] == "pending" and status["video_url"] is None
    assert status["prompt"] == body["prompt"] and status["generation_id"] == created.json()["generation_id"]


async def test_a_client_written_from_the_docs_generates_polls_and_downloads(base: str, sim: Simulator):
    """No official Python client exists; this is the docs' flow (requests there, httpx here): create, poll with
    the guide's progressive intervals (scaled down), download."""
    async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {KEY}"}) as http:
        created = (await http.post(f"{API}/generate", json={"prompt": "A cat walking in a garden"})).json()
        seen = []
        for delay in [5, 5, 10, 15, 15] + [15] * 40:
            status = (await http.get(f"{API}/generations/{created['generation_id']}")).json()
            seen.append(status["status"])
            if status["status"] in ("completed", "failed"):
                break
            await anyio.sleep(delay / 300)
        video = await http.get(status["video_url"])
    assert seen[0] == "pending" and "processing" in seen and seen[-1] == "completed"
    assert video.headers["content-type"] == "video/mp4" and video.content[4:8] == b"ftyp"
    assert sim.stats()["polls"][created["generation_id"]] == len(seen)


SIM_REFUSALS = [  # the documented error answers
    ({}, {"prompt": "x"}, 401, "Missing credentials"),
    ({"Authorization": "Token abc"}, {"prompt": "x"}, 401, "Missing credentials"),
    (None, {"prompt": "x", "duration": "7"}, 400, "INVALID_DURATION"),
    (None, {"prompt": "x", "duration": 5}, 422, "string_type"),
    (None, {"prompt": "x", "model": "kling_o4"}, 400, "INVALID_MODEL"),
    (None, {"prompt": "x", "mode": "turbo"}, 400, "INVALID_MODEL"),
    (None, {"prompt": "x", "images_url": ["https://e.com/a.png"] * 6}, 400, "TOO_MANY_IMAGES"),
    (None, {"prompt": "x", "images_url": ["https://e.com/a"], "images_base64": ["AAAA"]}, 400, "MIXED_IMAGE_INPUTS"),
    (None, {"duration": "5"}, 422, "Field required"),
    (None, {"prompt": "x" * 2501}, 422, "string_too_long"),
    (None, {"prompt": "x", "aspect_ratio": "4:3"}, 422, "'16:9', '9:16' or '1:1'"),
    (None, {"prompt": "x", "keep_original_sound": "yes"}, 422, "bool_type"),
    (None, {"prompt": "x", "prefer_multi_shots": "yes"}, 422, "bool_type"),
    (None, {"prompt": "x", "first_frame_url": ["https://e.com/a.png"]}, 422, "string_type"),
    # The SDK: a first frame needs an end frame and the other way round (the code is assumed).
    (None, {"prompt": "x", "first_frame_url": "https://e.com/a.png"}, 400, "INVALID_PARAMETERS"),
    (None, {"prompt": "x", "end_frame_base64": "AAAA"}, 400, "given together"),
    (
        None,
        {
            "prompt": "x",
            "first_frame_url": "https://e.com/a",
            "first_frame_base64": "AAAA",
            "end_frame_url": "https://e",
        },
        400,
        "not both",
    ),
]


@pytest.mark.parametrize(("headers", "body", "status", "expected"), SIM_REFUSALS)
async def test_the_simulator_refuses_as_documented(base: str, sim: Simulator, headers, body, status, expected):
    headers = {"Authorization": f"Bearer {KEY}"} if headers is None else headers
    async with httpx.AsyncClient(base_url=base, headers=headers) as http:
        answer = await http.post(f"{API}/generate", json=body)
    assert answer.status_code == status and expected in answer.text, answer.text
    assert sim.submissions == 0


async def test_the_simulator_hides_other_keys_generations_and_enforces_the_15_minute_limit(base: str, sim):
    async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {KEY}"}) as http:
        created = (await http.post(f"{API}/generate", json={"prompt": "sim:seconds=2000 a long take"})).json()
        mine = await http.get(f"{API}/generations/{created['generation_id']}")
        theirs = await http.get(f"{API}/generations/{created['generation_id']}", headers={"Authorization": "Bearer x"})
        missing = await http.get(f"{API}/generations/nope")
    assert mine.status_code == 200
    assert theirs.status_code == missing.status_code == 404 and "GENERATION_NOT_FOUND" in missing.text
    job = sim.jobs[created["generation_id"]]
    assert job.fail == "timeout" and abs(job.queue_seconds + job.run_seconds - 900 / SPEED) < 1e-6


# -- prices ------------------------------------------------------------------------------------------

PRICES = [  # $0.15 per 5 s standard (the docs' example price), pro twice that
    ("kling_o3", 5, 0.15),
    ("kling_o3", 10, 0.30),
    ("kling_o3", 15, 0.45),
    ("kling_o3_pro", 5, 0.30),
    ("kling_o3_pro", 10, 0.60),
    ("kling_o3_pro", 15, 0.90),
]


@pytest.mark.parametrize(("model", "duration", "usd"), PRICES)
async def test_estimate_cost(rb_settings: Settings, model: str, duration: int, usd: float):
    cost = (await call(rb_settings, "estimate_cost", prompt="x", model=model, duration=duration)).structured_content
    assert cost["provider"] == "runblob" and cost["model"] == model and cost["configured"]
    assert cost["usd"] == pytest.approx(usd) and cost["breakdown"] == [{"item": f"{duration} s video", "usd": usd}]


# -- errors ------------------------------------------------------------------------------------------


async def failed(settings: Settings, prompt: str = "a quiet harbour", **args: Any) -> dict[str, Any]:
    job = await generate(settings, prompt=prompt, **args)
    assert job["status"] == "failed", job
    return job["error"]


async def test_a_rejected_key_fails_the_job_with_auth(rb_settings: Settings, sim: Simulator):
    sim.config["api_keys"] = ["rb-live-someone-else"]
    error = await failed(rb_settings)
    assert error["code"] == "AUTH" and not error["retryable"]
    assert "RUNBLOB_API_KEY" in error["message"] and "rejected" in error["message"]


async def test_out_of_credit_in_both_documented_bodies(rb_settings: Settings, sim: Simulator):
    sim.config["credits"] = 0.0
    for _ in range(2):  # the simulator alternates {"detail": ...} and {"success": false, "message": ...}
        error = await failed(rb_settings)
        assert error["code"] == "OUT_OF_CREDIT" and "top up" in error["message"]
    assert sim.submissions == 0


async def test_rate_limited_submits_are_retried_then_fail(rb_settings: Settings, sim: Simulator):
    tries = (SUBMIT_RESENDS + 1) * 4  # the engine's resends x the shared client's attempts
    sim.config.update(submit_faults=[429] * (tries + 1), retry_after=0)
    error = await failed(rb_settings)
    assert error["code"] == "RATE_LIMITED" and error["retryable"] and "try again" in error["message"]
    assert sim.config["submit_faults"] == [429]  # every try refused, then it gave up
    assert sim.submissions == 0


async def test_rate_limited_submits_succeed_once_the_limit_clears(rb_settings: Settings, sim: Simulator):
    sim.config.update(submit_faults=[429, 503], retry_after=0)
    job = await generate(rb_settings, prompt="sim:seconds=30 patience")
    assert job["status"] == "succeeded" and sim.submissions == 1


async def test_a_500_on_submit_is_never_sent_twice(rb_settings: Settings, sim: Simulator):
    sim.config["submit_faults"] = [500, 500]
    error = await failed(rb_settings)
    assert error["code"] == "SUBMIT_UNCONFIRMED" and "not re-sent" in error["message"]
    assert sim.config["submit_faults"] == [500]


async def test_server_errors_while_polling_are_retried(rb_settings: Settings, sim: Simulator):
    sim.config.update(status_faults=[500, 503], retry_after=0)
    job = await generate(rb_settings, prompt="sim:seconds=30 a steady hand")
    assert job["status"] == "succeeded" and sim.config["status_faults"] == []
    assert sim.submissions == 1


GENERATION_FAILURES = [
    ("content", "CONTENT_POLICY", False, "CONTENT_POLICY_VIOLATION"),
    ("image", "INVALID_INPUT", False, "JPEG, PNG, GIF or WebP"),
    ("inaccessible", "INVALID_INPUT", False, "https URLs"),
    ("timeout", "TIMED_OUT", True, "refunded"),
    ("internal", "PROVIDER_FAILED", True, "trying again may work"),
]


@pytest.mark.parametrize(("directive", "code", "retryable", "says"), GENERATION_FAILURES)
async def test_failed_generations(rb_settings: Settings, sim: Simulator, directive, code, retryable, says):
    error = await failed(rb_settings, prompt=f"sim:fail={directive} sim:seconds=20 a cat")
    assert (error["code"], error["retryable"]) == (code, retryable) and says in error["message"], error


async def test_a_base64_image_runblob_cannot_read_fails_the_generation(base: str, sim: Simulator):
    provider = RunblobProvider({"RUNBLOB_API_KEY": KEY, "VIDEOGEN_RUNBLOB_BASE_URL": base})
    async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {KEY}"}) as http:
        body = {"prompt": "x", "images_base64": ["data:image/png;base64," + base64.b64encode(b"not an image").decode()]}
        created = (await http.post(f"{API}/generate", json=body)).json()
    request = VideoRequest(
        prompt="x", provider="runblob", model="kling_o3", mode="text_to_video", duration=5, aspect_ratio="16:9",
        resolution="720p",
    )  # fmt: skip
    try:
        for _ in range(100):
            snapshot = await provider.poll(Submission(ref=created["generation_id"]), request)
            if snapshot.status == "failed":
                break
            await anyio.sleep(0.02)
    finally:
        await provider.aclose()
    assert snapshot.error and snapshot.error.code == ErrorCode.INVALID_INPUT and "INVALID_IMAGE" in snapshot.message


PROVIDER_SIDE = [  # requests the catalog would refuse, sent anyway to see runblob's own answer
    ({"duration": 7}, "INVALID_INPUT", ["HTTP 400", "INVALID_DURATION", "5, 10 or 15 seconds"]),
    ({"model": "kling_o4"}, "INVALID_INPUT", ["HTTP 400", "kling_o3 or kling_o3_pro"]),
    ({"prompt": "x" * 3000}, "INVALID_INPUT", ["HTTP 422", "prompt: String should have at most 2500 characters"]),
    ({"images": ["https://e.com/a.png"] * 6}, "INVALID_INPUT", ["TOO_MANY_IMAGES", "at most 5 images"]),
]


@pytest.mark.parametrize(("changes", "code", "says"), PROVIDER_SIDE)
async def test_provider_side_refusals(rb_env, sim: Simulator, changes, code, says):
    fields: dict[str, Any] = {
        "prompt": "x",
        "provider": "runblob",
        "model": "kling_o3",
        "mode": "text_to_video",
        "duration": 5,
        "aspect_ratio": "16:9",
        "resolution": "720p",
    }
    provider = RunblobProvider(rb_env)
    try:
        with pytest.raises(ProviderError) as caught:
            await provider.submit("job_x", VideoRequest(**{**fields, **changes}))
    finally:
        await provider.aclose()
    assert caught.value.code.value == code and not caught.value.retryable
    assert all(part in caught.value.message for part in says), caught.value.message
    assert KEY not in caught.value.message


async def test_an_unknown_generation_is_not_found(rb_env, sim: Simulator):
    provider = RunblobProvider(rb_env)
    request = VideoRequest(
        prompt="x", provider="runblob", model="kling_o3", mode="text_to_video", duration=5, aspect_ratio="16:9",
        resolution="720p",
    )  # fmt: skip
    try:
        with pytest.raises(ProviderError) as caught:
            await provider.poll(Submission(ref="550e8400-e29b-41d4-a716-446655440000"), request)
    finally:
        await provider.aclose()
    assert caught.value.code == ErrorCode.NOT_FOUND and not caught.value.retryable
    assert "550e8400-e29b-41d4-a716-446655440000" in caught.value.message
    assert "GENERATION_NOT_FOUND" in caught.value.message


MAPPED = [  # (status, body, code, retryable, words in the message)
    (401, {"detail": "Invalid API key"}, "AUTH", False, ["RUNBLOB_API_KEY", "Invalid API key"]),
    (402, {"detail": "INSUFFICIENT_CREDITS"}, "OUT_OF_CREDIT", False, ["INSUFFICIENT_CREDITS", "top up"]),
    (402, {"success": False, "message": "INSUFFICIENT_CREDITS"}, "OUT_OF_CREDIT", False, ["top up"]),
    (404, {"detail": "Generation not found"}, "NOT_FOUND", False, ["GENERATION_NOT_FOUND", "gen-1"]),
    (400, {"detail": "Cannot provide both images_base64 and images_url"}, "INVALID_INPUT", False, ["Cannot provide"]),
    (400, {"detail": "MIXED_IMAGE_INPUTS"}, "INVALID_INPUT", False, ["MIXED_IMAGE_INPUTS", "same way"]),
    (400, {"detail": "Validation error: prompt is required"}, "INVALID_INPUT", False, ["prompt is required"]),
    (
        422,
        {"detail": [{"loc": ["body", "duration"], "msg": "Input should be a valid string"}]},
        "INVALID_INPUT",
        False,
        ["duration: Input should be a valid string"],
    ),
    (429, {"detail": "Rate limit exceeded"}, "RATE_LIMITED", True, ["rate limiting"]),
    (500, {"detail": "Internal server error"}, "TRANSIENT", True, ["HTTP 500", "try again"]),
    (503, "<html>maintenance</html>", "TRANSIENT", True, ["HTTP 503"]),
]


@pytest.mark.parametrize(("status", "body", "code", "retryable", "says"), MAPPED)
def test_error_mapping(status, body, code, retryable, says):
    request = httpx.Request("GET", "https://platform.runblob.io/v1/kling/o3-video/generations/gen-1")
    content = {"json": body} if isinstance(body, dict) else {"text": body}
    error = error_for(httpx.Response(status, request=request, **content))
    assert error is not None and (error.code.value, error.retryable) == (code, retryable)
    assert all(part in error.message for part in says), error.message


# -- cancel and restart ------------------------------------------------------------------------------


async def test_cancel_stops_watching_and_says_runblob_cannot_cancel(rb_settings: Settings, sim: Simulator):
    async with Client(build_server(rb_settings)) as client:
        started = await client.call_tool(
            "generate_video", {"prompt": "sim:seconds=3000 endless", "provider": "runblob", "wait_seconds": 0}
        )
        job_id = started.structured_content["job_id"]
        for _ in range(200):
            job = (await client.call_tool("get_status", {"job_id": job_id})).structured_content
            if job["status"] != "pending":
                break
            await anyio.sleep(0.01)
        cancelled = await client.call_tool("cancel_job", {"job_id": job_id})
    assert_no_key(cancelled, rb_settings)
    job = cancelled.structured_content
    assert job["status"] == "cancelled" and "cannot cancel" in job["message"] and "charged" in job["message"]
    assert sim.jobs[job["provider_job_id"]].phase()[0] in ("queued", "running")  # still running at runblob


async def test_a_restart_resumes_the_job_without_submitting_again(rb_settings: Settings, sim: Simulator):
    generating = anyio.Event()

    async def watch(row: JobRow) -> None:
        if row.status == "running":
            generating.set()

    async with JobManager(rb_settings) as first:
        first.listeners.append(watch)
        row = await first.submit(RequestArgs(prompt="sim:seconds=240 a slow pan", provider="runblob", duration=10))
        with anyio.fail_after(10):
            await generating.wait()
        assert first.get(row.job_id).status == "running"
    async with JobManager(rb_settings) as second:
        done = await second.wait(row.job_id, 20)
    assert done.status == "succeeded", done.error
    assert abs(probe(done.video["path"]).duration_seconds - 10) < 0.2
    assert sim.submissions == 1


def test_polling_follows_the_guides_progressive_intervals():
    provider = RunblobProvider({})
    spec = provider.spec("kling_o3")
    assert [provider.poll_interval(spec, t) for t in (0, 9, 10, 19, 20, 300, 900)] == [5, 5, 10, 10, 15, 15, 15]
    assert provider.spec("kling_o3_pro").typical_seconds > spec.typical_seconds


# -- first and end frames, multi-shot ---------------------------------------------------------------------


async def test_an_end_frame_goes_with_exactly_one_first_frame(rb_settings: Settings, sim: Simulator, tmp_path: Path):
    first, other = png(tmp_path / "inputs" / "a.png"), png(tmp_path / "inputs" / "b.png", (0, 0, 200))
    end = "https://example.com/end.png"
    result = await call(rb_settings, "estimate_cost", prompt="x", images=[str(first), str(other)], end_image=end)
    assert result.is_error and "exactly one image" in result.content[0].text
    job = await generate(rb_settings, prompt="sim:seconds=30 from red to blue", images=[str(first)], end_image=end)
    assert job["status"] == "succeeded", job
    payload = sim.jobs[job["provider_job_id"]].payload
    assert payload["first_frame_base64"] == data_uri(first, "image/png") and payload["end_frame_url"] == end
    assert "images_base64" not in payload and "images_url" not in payload


# -- the failure reason: the status's description, the webhook's message ----------------------------------


async def test_the_status_has_no_message_and_gives_the_reason_in_description(base: str, sim: Simulator):
    async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {KEY}"}) as http:
        created = (await http.post(f"{API}/generate", json={"prompt": "sim:fail=content sim:seconds=5 x"})).json()
        with anyio.fail_after(10):
            while (status := (await http.get(f"{API}/generations/{created['generation_id']}")).json())[
                "status"
            ] != "failed":
                await anyio.sleep(0.02)
    assert "message" not in status and status["description"] == "CONTENT_POLICY_VIOLATION", status


REASONS = [  # (what runblob sent, our code, retryable, words in the message)
    ({"description": "CONTENT_POLICY_VIOLATION"}, ErrorCode.CONTENT_POLICY, False, ["CONTENT_POLICY_VIOLATION"]),
    ({"description": "Invalid image: the file is corrupted"}, ErrorCode.INVALID_INPUT, False, ["INVALID_IMAGE"]),
    ({"description": "content policy violation"}, ErrorCode.CONTENT_POLICY, False, ["change the prompt"]),
    ({"message": "INVALID_IMAGE"}, ErrorCode.INVALID_INPUT, False, ["JPEG, PNG"]),  # the webhook's field
    ({"error": {"message": "CONTENT_POLICY_VIOLATION"}}, ErrorCode.CONTENT_POLICY, False, ["content policy"]),
    ({"description": "TIMEOUT"}, ErrorCode.TIMED_OUT, True, ["refunded"]),
    ({"description": "GPU fell over"}, ErrorCode.PROVIDER_FAILED, True, ["GPU fell over", "may work"]),
    ({}, ErrorCode.PROVIDER_FAILED, True, ["gave no reason"]),
    ({"description": 7}, ErrorCode.PROVIDER_FAILED, True, ["(7)"]),
]


@pytest.mark.parametrize(("given", "code", "retryable", "says"), REASONS)
def test_failure_reasons(given: dict, code: ErrorCode, retryable: bool, says: list[str]):
    snapshot = _snapshot(Generation.model_validate({"status": "failed", **given}), Submission(ref="g"))
    assert snapshot.status == "failed" and snapshot.error is not None
    assert (snapshot.error.code, snapshot.error.retryable) == (code, retryable)
    assert all(w in snapshot.error.message for w in says), snapshot.error.message


def test_the_webhook_reads_like_the_status():
    provider = RunblobProvider({})
    body = {"generation_id": "g", "status": "failed", "video_url": None, "model": "kling-o3-video-5s"}
    snapshot = provider.parse_callback({**body, "message": "CONTENT_POLICY_VIOLATION"}, Submission(ref="g"))
    assert snapshot and snapshot.error and snapshot.error.code == ErrorCode.CONTENT_POLICY
    assert provider.parse_callback({**body, "generation_id": "other"}, Submission(ref="g")) is None


def test_answers_of_odd_shapes_take_the_error_paths():
    assert Created.model_validate({"generation_id": 12, "price": "n/a"}).generation_id == "12"
    assert Created.model_validate({"generation_id": ["x"], "price": 0.15}).generation_id is None
    with pytest.raises(ProviderError) as caught:  # completed without a usable video_url: ask again later
        _snapshot(Generation.model_validate({"status": "completed", "video_url": ["x"]}), Submission(ref="g"))
    assert caught.value.code == ErrorCode.TRANSIENT
    assert _snapshot(Generation.model_validate({"status": {"odd": 1}}), Submission(ref="g")).status == "running"
