"""The Replicate adapter against its simulator over loopback: the MCP tools end to end, the exact inputs each
model gets, prices, every HTTP error mapping, prediction statuses (aborted and unknown ones too), webhooks
read as polls, cancel, restart, and the token kept out of every message."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp import Client
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

from providers.base import ErrorCode, ProviderError, Submission, VideoRequest
from providers.replicate import (
    MODELS,
    Prediction,
    ReplicateProvider,
    error_for,
    from_schema,
    progress,
    schema_problems,
    snapshot,
    video_url,
)
from providers.simulators.common import Simulator, running
from providers.simulators.replicate import DEFAULT_TOKEN, create_app
from server.app import build_server
from server.catalog import RequestArgs
from server.jobs import JobManager
from server.media import probe
from server.settings import Settings

pytestmark = pytest.mark.anyio

SPEED = 300.0
QUICK = "sim:seconds=20 sim:queue=1"
LONG = "sim:seconds=900"
A = "https://images.example.com/start.png"
B = "https://images.example.com/end.png"


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[str, Simulator]]:
    sub = create_app(speed=SPEED)
    with running(Starlette(routes=[Mount("/replicate", app=sub)])) as url:
        yield f"{url}/replicate", sub.state.sim


@pytest.fixture
def sim(served: tuple[str, Simulator]) -> Simulator:
    sim = served[1]
    sim.config.clear()
    sim.jobs.clear()
    sim.polls.clear()
    sim.submissions = 0
    return sim


@pytest.fixture
def rep_env(env: dict[str, str], served: tuple[str, Simulator], sim: Simulator) -> dict[str, str]:
    return {
        **env,
        "VIDEOGEN_REPLICATE_BASE_URL": served[0],
        "REPLICATE_API_TOKEN": DEFAULT_TOKEN,
        "VIDEOGEN_POLL_SCALE": "0.01",
        "VIDEOGEN_DEFAULT_PROVIDER": "replicate",
    }


@pytest.fixture
def settings(rep_env: dict[str, str]) -> Settings:
    return Settings.from_env(rep_env)


@pytest.fixture
def picture(tmp_path: Path) -> Path:
    from PIL import Image

    path = tmp_path / "inputs" / "frame.png"
    Image.new("RGB", (160, 90), (40, 120, 220)).save(path)
    return path


def no_token(result: Any) -> Any:
    text = json.dumps([c.model_dump(mode="json") for c in result.content]) + json.dumps(result.structured_content)
    assert DEFAULT_TOKEN not in text, text
    return result


async def generate(settings: Settings, **args: Any) -> dict[str, Any]:
    async with Client(build_server(settings)) as client:
        result = no_token(await client.call_tool("generate_video", {"provider": "replicate", **args}))
    assert not result.is_error, result.content
    return result.structured_content


def sim_job(sim: Simulator) -> Any:
    (job,) = sim.jobs.values()
    return job


def request(model: str = "kwaivgi/kling-v2.6", prompt: str = QUICK, **fields: Any) -> VideoRequest:
    values: dict[str, Any] = dict(
        prompt=prompt, provider="replicate", model=model, mode="text_to_video", duration=5, aspect_ratio="16:9",
        resolution="1080p",
    )  # fmt: skip
    return VideoRequest(**(values | fields))


# -- the tools end to end --------------------------------------------------------------------------


async def test_list_models_shows_every_replicate_model(settings: Settings):
    async with Client(build_server(settings)) as client:
        listed = (await client.call_tool("list_models", {"provider": "replicate"})).structured_content
    ids = [m["model"] for m in listed["models"]]
    assert ids == [spec.id for spec in MODELS]
    for spec in MODELS:
        assert spec.price_source == f"https://replicate.com/{spec.id}" and spec.price_checked == "2026-10-06"
        assert len(spec.description) <= 110, spec.id  # one short line: list_models is size-budgeted


async def test_text_to_video_through_the_tools(settings: Settings, sim: Simulator):
    job = await generate(settings, prompt=f"a paper boat {QUICK}", duration=10, aspect_ratio="9:16")
    assert job["status"] == "succeeded" and job["model"] == "kwaivgi/kling-v2.6" and job["cost"] == pytest.approx(0.70)
    info = probe(Path(job["video"]["path"]))
    assert abs(info.duration_seconds - 10) < 0.2 and info.height > info.width
    made = sim_job(sim)
    assert made.payload["input"] == {
        "prompt": f"a paper boat {QUICK}",
        "duration": 10,
        "aspect_ratio": "9:16",
        "generate_audio": False,  # said, because Replicate's default (true) doubles the price
    }
    assert sim.submissions == 1 and sim.polls[made.id] >= 2


async def test_image_to_video_from_a_local_file(settings: Settings, sim: Simulator, picture: Path):
    job = await generate(settings, prompt=f"the sky clears {QUICK}", images=[str(picture)])
    assert job["status"] == "succeeded" and job["request"]["mode"] == "image_to_video"
    sent = sim_job(sim).payload["input"]
    assert sent["start_image"] == "data:image/png;base64," + base64.b64encode(picture.read_bytes()).decode()
    assert "aspect_ratio" not in sent  # the start image sets the shape


# -- exact inputs ------------------------------------------------------------------------------------

BODIES = [
    (
        {"model": "google/veo-3.1-fast", "images": [A], "end_image": B, "resolution": "720p", "audio": True, "seed": 7},
        {"image": A, "last_frame": B, "duration": 8, "resolution": "720p", "generate_audio": True, "seed": 7},
    ),
    (
        {"model": "bytedance/seedance-1-pro", "duration": 12, "aspect_ratio": "21:9"},
        {"duration": 12, "aspect_ratio": "21:9", "resolution": "720p"},
    ),
    (
        {"model": "bytedance/seedance-1-pro", "images": [A], "end_image": B, "resolution": "1080p", "seed": 3},
        {"image": A, "last_frame_image": B, "duration": 5, "resolution": "1080p", "seed": 3},
    ),
    (
        {"model": "wan-video/wan-2.2-t2v-fast", "resolution": "720p", "aspect_ratio": "9:16"},
        {"aspect_ratio": "9:16", "resolution": "720p", "num_frames": 81, "frames_per_second": 16},
    ),
    (
        {"model": "wan-video/wan-2.2-i2v-fast", "images": [A], "end_image": B},
        {
            "image": A,
            "last_image": B,
            "resolution": "480p",
            "num_frames": 81,
            "frames_per_second": 16,
            "interpolate_output": False,
        },
    ),
    (
        {"model": "kwaivgi/kling-v2.6", "negative_prompt": "blur", "audio": True},
        {"duration": 5, "aspect_ratio": "16:9", "generate_audio": True, "negative_prompt": "blur"},
    ),
]


@pytest.mark.parametrize(("args", "expected"), BODIES, ids=[a["model"] for a, _ in BODIES])
async def test_each_model_gets_its_schemas_field_names(settings: Settings, sim: Simulator, args, expected):
    job = await generate(settings, prompt=f"a harbour {QUICK}", **args)
    assert job["status"] == "succeeded", job["error"]
    assert sim_job(sim).payload["input"] == {"prompt": f"a harbour {QUICK}", **expected}


ESTIMATES = [
    ({"model": "kwaivgi/kling-v2.6", "duration": 10, "audio": True}, 1.40),
    ({"model": "google/veo-3.1-fast"}, 0.80),
    ({"model": "google/veo-3.1-fast", "audio": True}, 1.20),
    ({"model": "bytedance/seedance-1-pro"}, 0.30),
    ({"model": "bytedance/seedance-1-pro", "resolution": "1080p"}, 0.75),
    ({"model": "bytedance/seedance-1-pro", "resolution": "480p", "duration": 10}, 0.30),
    ({"model": "wan-video/wan-2.2-t2v-fast", "resolution": "720p"}, 0.10),
    ({"model": "wan-video/wan-2.2-i2v-fast", "images": [A], "resolution": "720p"}, 0.11),
]


@pytest.mark.parametrize(("args", "usd"), ESTIMATES)
async def test_estimate_cost(settings: Settings, sim: Simulator, args, usd):
    async with Client(build_server(settings)) as client:
        cost = await client.call_tool("estimate_cost", {"prompt": "a cat", "provider": "replicate", **args})
    assert cost.structured_content["usd"] == pytest.approx(usd), cost.structured_content
    assert sim.submissions == 0


async def test_a_seed_past_the_models_range_is_refused_before_a_job_exists(settings: Settings, sim: Simulator):
    async with Client(build_server(settings)) as client:
        seed = await client.call_tool(
            "generate_video", {"provider": "replicate", "model": "google/veo-3.1-fast", "prompt": "x", "seed": 2**31}
        )
    assert seed.is_error and "seed must be from 0 to 2147483647" in seed.content[0].text
    assert sim.submissions == 0


# -- errors ----------------------------------------------------------------------------------------------


async def run(rep_env: dict[str, str], req: VideoRequest, **env: str) -> Any:
    provider = ReplicateProvider({**rep_env, **env})
    try:
        submission = await provider.submit("job_1", req)
        return submission, await provider.poll(submission, req)
    finally:
        await provider.aclose()


async def failure(rep_env: dict[str, str], req: VideoRequest | None = None, **env: str) -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        await run(rep_env, req or request(), **env)
    assert DEFAULT_TOKEN not in caught.value.message
    return caught.value


async def test_the_apis_422_names_the_fields(rep_env: dict[str, str], sim: Simulator):
    error = await failure(rep_env, request(duration=7))  # past the catalog, as a stale spec would send it
    assert error.code == ErrorCode.INVALID_INPUT and not error.retryable
    assert "input.duration: duration must be one of the following: 5, 10" in error.message
    assert "Fix the fields named" in error.message and sim.submissions == 0


async def test_rejected_token(rep_env: dict[str, str], sim: Simulator):
    error = await failure(rep_env, REPLICATE_API_TOKEN="r8_" + "0" * 37)
    assert error.code == ErrorCode.AUTH and "REPLICATE_API_TOKEN" in error.message and "r8_000" not in error.message


async def test_out_of_credit(rep_env: dict[str, str], sim: Simulator):
    sim.config["credit"] = False
    error = await failure(rep_env)
    assert error.code == ErrorCode.OUT_OF_CREDIT and "replicate.com/account/billing" in error.message
    assert sim.submissions == 0


async def test_throttling_is_ridden_out_then_reported(rep_env: dict[str, str], sim: Simulator):
    sim.config.update(rate_limit=1, retry_after=0)
    _, snap = await run(rep_env, request())
    assert snap.status in ("queued", "running") and sim.submissions == 1
    sim.config.update(rate_limit=100, retry_after=0)
    error = await failure(rep_env)
    assert error.code == ErrorCode.RATE_LIMITED and error.retryable and "try again" in error.message


async def test_server_errors(rep_env: dict[str, str], sim: Simulator):
    sim.config.update(server_errors=100, error_status=503)
    refused = await failure(rep_env)  # 503 refuses before anything is made: retried, then reported
    assert refused.code == ErrorCode.TRANSIENT and "retry" in refused.message and sim.submissions == 0
    sim.config.update(server_errors=1, error_status=500)
    unsure = await failure(rep_env)  # a 500 may come after the prediction was made: never resent
    assert unsure.code == ErrorCode.SUBMIT_UNCONFIRMED


async def test_unknown_prediction_and_model(rep_env: dict[str, str], sim: Simulator):
    provider = ReplicateProvider(rep_env)
    try:
        with pytest.raises(ProviderError) as gone:
            await provider.poll(Submission(ref="nosuchprediction"), request())
        assert gone.value.code == ErrorCode.NOT_FOUND and "no such prediction" in gone.value.message
    finally:
        await provider.aclose()
    missing = error_for(404, {"title": "Not found", "detail": "Not found", "status": 404}, "/v1/models/a/b/predictions")
    assert missing.code == ErrorCode.NOT_FOUND and "no such model" in missing.message


@pytest.mark.parametrize(
    ("status", "code", "words"),
    [
        (401, ErrorCode.AUTH, "REPLICATE_API_TOKEN"),
        (402, ErrorCode.OUT_OF_CREDIT, "Add credit"),
        (403, ErrorCode.AUTH, "may run this model"),
        (422, ErrorCode.INVALID_INPUT, "Fix the fields"),
        (429, ErrorCode.RATE_LIMITED, "try again"),
        (500, ErrorCode.TRANSIENT, "retry"),
        (409, ErrorCode.INVALID_INPUT, "Fix it"),
    ],
)
def test_error_table(status: int, code: ErrorCode, words: str):
    error = error_for(status, {"title": "T", "detail": "the detail", "status": status}, "/v1/predictions")
    assert error.code == code and words in error.message and "the detail" in error.message
    assert error_for(status, "<html>", "/v1/predictions").code == code  # a proxy's page: same meaning


# -- statuses ------------------------------------------------------------------------------------------------


def test_statuses_in_our_terms():
    def snap(**body: Any) -> Any:
        return snapshot(Prediction.model_validate(body))

    assert snap(status="starting").status == "queued"
    running = snap(status="processing", logs="loading\n 42%|████      | 21/50 [00:21<00:29]")
    assert running.status == "running" and running.progress == pytest.approx(0.42)
    assert snap(status="processing", logs="warming up").progress is None
    assert snap(status="succeeded", output=["not a url", "https://x/y.mp4"]).video_url == "https://x/y.mp4"
    assert snap(status="succeeded", output=None).error.code == ErrorCode.PROVIDER_FAILED
    assert snap(status="canceled").status == "cancelled"
    content = snap(status="failed", error="The input or output was flagged as sensitive. (E005)")
    assert content.error.code == ErrorCode.CONTENT_POLICY and not content.error.retryable
    crash = snap(status="failed", error="CUDA out of memory")
    assert crash.error.code == ErrorCode.PROVIDER_FAILED and crash.error.retryable
    aborted = snap(status="aborted")
    assert aborted.status == "failed" and "before it started" in aborted.message
    assert snap(status="paused-for-maintenance").status == "running"  # a status added later is not an end
    assert snap(status=3, id=["x"]).status == "running"  # wrong types read as absent, not a crash
    assert video_url("https://x/a.mp4") == "https://x/a.mp4" and video_url({"url": "x"}) is None
    assert progress(None) == (None, "")


# -- callbacks -----------------------------------------------------------------------------------------------


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    got: list[dict[str, Any]] = []
    lock = threading.Lock()

    async def hook(request: Request) -> Response:
        with lock:
            got.append(await request.json())
        return Response(status_code=204)

    with running(Starlette(routes=[Route("/cb", hook, methods=["POST"])])) as url:
        yield f"{url}/cb", got


async def test_webhooks_read_as_polls_do(rep_env: dict[str, str], sim: Simulator, receiver):
    url, got = receiver
    provider = ReplicateProvider(rep_env)
    req = request(prompt=f"a kite {QUICK}")
    try:
        submission = await provider.submit("job_cb", req, callback_url=url)
        sent = sim.jobs[submission.ref].payload
        assert sent["webhook"] == url and sent["webhook_events_filter"] == ["start", "completed"]
        deadline = time.monotonic() + 10
        while len(got) < 2:
            assert time.monotonic() < deadline, got
            await anyio.sleep(0.02)
        start, done = (provider.parse_callback(body, submission) for body in got)
        assert start is not None and start.status == "queued"
        assert done is not None and done.status == "succeeded" and done.video_url
        assert httpx.get(done.video_url).headers["content-type"] == "video/mp4"
        other = Submission(ref="another-prediction")
        assert provider.parse_callback(got[1], other) is None and provider.parse_callback({"x": 1}, submission) is None
    finally:
        await provider.aclose()


# -- cancel, restart, cadence --------------------------------------------------------------------------------


async def test_cancel_stops_the_prediction(settings: Settings, sim: Simulator):
    async with JobManager(settings) as manager:
        row = await manager.submit(RequestArgs(prompt=f"never mind {LONG}", provider="replicate"))
        deadline = time.monotonic() + 10
        while not manager.get(row.job_id).provider_ref:
            assert time.monotonic() < deadline
            await anyio.sleep(0.02)
        done = await manager.cancel(row.job_id)
    assert done.status == "cancelled" and "cancelled at Replicate" in done.message
    assert sim_job(sim).cancelled and not list(settings.output_dir.glob("*.mp4"))


async def test_a_prediction_cancelled_elsewhere_and_a_second_cancel(rep_env: dict[str, str], sim: Simulator):
    provider = ReplicateProvider(rep_env)
    req = request(prompt=LONG)
    try:
        submission = await provider.submit("job_c", req)
        sim.jobs[submission.ref].cancelled = True  # cancelled on replicate.com
        assert (await provider.poll(submission, req)).status == "cancelled"
        await provider.cancel(submission, req)  # already over: answered with the prediction, no error
        await provider.cancel(Submission(ref="gone"), req)  # unknown: nothing left to cancel
        assert submission.state["cancelled"] is True
    finally:
        await provider.aclose()


async def test_restart_mid_job_resumes_without_resubmitting(settings: Settings, sim: Simulator):
    async with JobManager(settings) as first:
        row = await first.submit(RequestArgs(prompt="sim:seconds=450 sim:queue=1 a long take", provider="replicate"))
        deadline = time.monotonic() + 10
        while first.get(row.job_id).status != "running":
            assert time.monotonic() < deadline
            await anyio.sleep(0.02)
    async with JobManager(settings) as second:
        done = await second.wait(row.job_id, 20)
    assert done.status == "succeeded", done.error
    assert sim.submissions == 1


def test_declarations():
    provider = ReplicateProvider({"REPLICATE_API_TOKEN": "r8_x"})
    assert provider.base_url == "https://api.replicate.com" and provider.secrets() == ["r8_x"]
    assert ReplicateProvider({"VIDEOGEN_REPLICATE_BASE_URL": "http://h/"}).base_url == "http://h"
    assert provider.supports_cancel and provider.supports_callbacks and not provider.can_reconcile
    spec = provider.spec(provider.default_model)
    assert spec is not None and provider.poll_interval(spec, 0) == 2.0 and provider.poll_interval(spec, 600) == 5.0


# -- any model by owner/name, from its published schema ------------------------------------------------------

HAILUO = "minimax/hailuo-02"


async def test_describe_reads_the_published_schema_once(rep_env: dict[str, str], sim: Simulator):
    provider = ReplicateProvider(rep_env)
    try:
        spec = await provider.describe(HAILUO)
        assert spec is not None and provider.spec(HAILUO) == spec  # now in `models`, for the synchronous catalog
        assert spec.modes == ("text_to_video", "image_to_video") and spec.durations == (6.0, 10.0)
        assert (spec.default_duration, spec.resolutions, spec.default_resolution) == (
            6.0,
            ("512p", "768p", "1080p"),
            "1080p",
        )
        assert spec.end_image and not spec.audio and not spec.seed and not spec.negative_prompt
        assert not spec.priced and "publishes no price" in spec.price.note and spec.price_source.endswith(HAILUO)
        sim.config["tokens"] = ["r8_another"]  # a second read would now be refused: the cache answers
        assert await provider.describe(HAILUO) == spec
        with pytest.raises(ProviderError):  # a model not read yet is asked for, and refused
            await provider.describe("nobody/no-such-model")
    finally:
        await provider.aclose()
    fresh = ReplicateProvider(rep_env)
    try:
        sim.config.clear()
        assert await fresh.describe("nobody/no-such-model") is None  # 404: no such model
        assert await fresh.describe("not an owner/name") is None and await fresh.describe("kwaivgi") is None
        assert await fresh.describe("kwaivgi/kling-v2.6") == fresh.spec("kwaivgi/kling-v2.6")  # curated: no read
    finally:
        await fresh.aclose()


async def test_a_refused_read_is_not_remembered(rep_env: dict[str, str], sim: Simulator):
    provider = ReplicateProvider({**rep_env, "REPLICATE_API_TOKEN": "r8_wrong"})
    try:
        with pytest.raises(ProviderError) as caught:
            await provider.describe(HAILUO)
        assert caught.value.code == ErrorCode.AUTH
        provider.env["REPLICATE_API_TOKEN"] = DEFAULT_TOKEN
        await provider.aclose()  # a new client with the new token
        assert await provider.describe(HAILUO) is not None
    finally:
        await provider.aclose()


async def test_a_described_model_is_validated_and_unpriced_until_approved(rep_env: dict[str, str], sim: Simulator):
    provider = ReplicateProvider(rep_env)
    try:
        await provider.describe(HAILUO)
        with pytest.raises(ProviderError) as bad:
            provider.body(request(HAILUO, duration=7, resolution="1080p"))  # as a stale or hand-made request would be
        assert bad.value.code == ErrorCode.INVALID_INPUT and "duration must be one of 6, 10" in bad.value.message
        with pytest.raises(ProviderError) as unpriced:
            await provider.submit("job_u", request(HAILUO, duration=6, resolution="768p"))
        assert (
            unpriced.value.code == ErrorCode.NEEDS_CONFIRMATION
            and "VIDEOGEN_REPLICATE_UNPRICED" in unpriced.value.message
        )
        assert sim.submissions == 0
    finally:
        await provider.aclose()
    approved = ReplicateProvider({**rep_env, "VIDEOGEN_REPLICATE_UNPRICED": f"someone/else, {HAILUO}"})
    req = request(HAILUO, prompt=f"a heron {QUICK}", mode="image_to_video", duration=10, resolution="768p",
                  images=[A], end_image=B)  # fmt: skip
    try:
        await approved.describe(HAILUO)
        submission = await approved.submit("job_a", req)
        assert sim.jobs[submission.ref].payload["input"] == {
            "prompt": f"a heron {QUICK}", "first_frame_image": A, "last_frame_image": B, "duration": 10,
            "resolution": "768p",
        }  # fmt: skip
        deadline = time.monotonic() + 10
        while (snap := await approved.poll(submission, req)).status != "succeeded":
            assert time.monotonic() < deadline and snap.status in ("queued", "running"), snap
            await anyio.sleep(0.05)
        assert snap.video_url
    finally:
        await approved.aclose()


def test_schemas_our_fields_cannot_map_onto_are_not_offered():
    def model(properties: dict[str, Any], output: Any = None, required: tuple[str, ...] = ()) -> dict[str, Any]:
        schemas = {"Input": {"properties": properties, "required": list(required)}}
        schemas["Output"] = output if output is not None else {"type": "string", "format": "uri"}
        return {"latest_version": {"openapi_schema": {"components": {"schemas": schemas}}}}

    assert from_schema("a/b", model({"image": {"type": "string", "format": "uri"}})) is None  # no prompt
    assert from_schema("a/b", model({"prompt": {"type": "string"}}, {"type": "string"})) is None  # text output
    assert from_schema("a/b", {"latest_version": None}) is None
    listed = from_schema(
        "a/b", model({"prompt": {"type": "string"}}, {"type": "array", "items": {"type": "string", "format": "uri"}})
    )
    assert (
        listed is not None
        and listed[0].modes == ("text_to_video",)
        and "length is the model's own" in listed[0].description
    )
    ranged = from_schema(
        "a/b",
        model(
            {
                "prompt": {"type": "string", "maxLength": 800},
                "image": {"type": "string", "format": "uri"},
                "duration": {"type": "integer", "minimum": 3, "maximum": 6, "default": 4},
                "generate_audio": {"type": "boolean"},
                "seed": {"type": "integer"},
            },
            required=("prompt", "image"),
        ),
    )
    assert ranged is not None
    spec, wire, schema = ranged
    assert spec.modes == ("image_to_video",) and spec.durations == (3.0, 4.0, 5.0, 6.0) and spec.default_duration == 4
    assert spec.audio and spec.seed and spec.max_prompt_chars == 800 and wire.audio == "generate_audio"
    assert schema_problems(schema, {"prompt": "x", "duration": 9, "seed": True, "extra": 1}) == [
        "image is required",
        "duration must be at most 6",
        "seed must be a integer",
        "extra is not an input of this model",
    ]


def test_large_and_webp_local_images_become_small_jpeg_or_png_data_uris(tmp_path: Path):
    import os

    from PIL import Image

    from providers import images

    folder = tmp_path / "inputs"
    folder.mkdir(exist_ok=True)
    noisy = folder / "noisy.png"
    # A photo-like picture (smooth, detailed): about 3 MB as PNG, well under 1 MB as JPEG.
    Image.frombytes("RGB", (200, 150), os.urandom(200 * 150 * 3)).resize((1600, 1200), Image.BICUBIC).save(noisy)
    assert noisy.stat().st_size > 2 * 1024 * 1024
    webp = folder / "small.webp"
    Image.new("RGB", (64, 64), (200, 10, 10)).save(webp)
    provider = ReplicateProvider({}, allowed_dirs=[folder])
    big = provider.image(str(noisy))
    assert big.startswith("data:image/jpeg;base64,") and len(big) < 1024 * 1024
    assert images.image_size(images.decode_data_uri(big)[0])[0] <= 2048
    assert provider.image(str(webp)).startswith("data:image/png;base64,")
    assert provider.image(A) == A


async def test_the_video_is_downloaded_before_replicate_deletes_it(rep_env: dict[str, str], sim: Simulator):
    sim.config["output_ttl"] = 300  # simulated seconds: one real second at this speed (Replicate keeps an hour)
    async with JobManager(Settings.from_env(rep_env)) as manager:
        row = await manager.submit(RequestArgs(prompt=f"a gull {QUICK}", provider="replicate"))
        done = await manager.wait(row.job_id, 20)
    assert done.status == "succeeded" and abs(probe(Path(done.video["path"])).duration_seconds - 5) < 0.2
    job = sim_job(sim)
    url = f"{rep_env['VIDEOGEN_REPLICATE_BASE_URL']}/_sim/videos/{job.id}.mp4"
    deadline = time.monotonic() + 10
    while httpx.get(url).status_code != 404:  # later, the output is gone, as at Replicate
        assert time.monotonic() < deadline
        await anyio.sleep(0.1)
    provider = ReplicateProvider(rep_env)
    try:
        late = await provider.poll(Submission(ref=job.id), request())
    finally:
        await provider.aclose()
    assert late.status == "failed" and late.error is not None and late.error.code == ErrorCode.DOWNLOAD_FAILED
    assert "deleted" in late.message and "Submit it again" in late.message


async def test_a_job_finishes_by_webhook_with_zero_status_polls(tmp_path: Path):
    """`serve` over HTTP with VIDEOGEN_PUBLIC_URL: Replicate's webhook (the prediction, signed) finishes the job."""
    import test_webhooks as hooks

    from providers.simulators import build_app

    app = build_app(speed=100, names=["replicate"])
    sim = app.state.simulators["replicate"]
    with running(app) as sim_url, hooks.serving(tmp_path, sim_url) as url:
        job = await hooks.generate(url, "replicate", "a lighthouse at dusk sim:seconds=5 sim:queue=0")
    assert job["status"] == "succeeded", job
    ref = job["provider_job_id"]
    assert sim.polls[ref] == 0 and sim.callbacks_delivered[ref] >= 1 and sim.downloads[ref] == 1
    sent = sim.jobs[ref].payload
    assert sent["webhook"].startswith(f"{url}/webhooks/{job['job_id']}/")
    assert sent["webhook_events_filter"] == ["start", "completed"]


async def test_an_uncurated_model_runs_through_the_engine_read_from_its_schema(rep_env: dict[str, str], sim: Simulator):
    """The engine's submit reads an id the catalogue does not curate from its published schema (Catalog.prepare),
    then validates, prices (unpriced: $0, refused unless approved) and runs it."""
    settings = Settings.from_env({**rep_env, "VIDEOGEN_REPLICATE_UNPRICED": HAILUO})
    async with JobManager(settings) as manager:
        assert manager.providers.get("replicate").spec(HAILUO) is None  # not curated, not read yet
        row = await manager.submit(RequestArgs(prompt=f"a heron {QUICK}", provider="replicate", model=HAILUO))
        done = await manager.wait(row.job_id, 20)
    assert done.status == "succeeded", done.error
    assert abs(probe(Path(done.video["path"])).duration_seconds - 6) < 0.2  # the schema's default: 6 s
    assert sim_job(sim).payload["input"] == {"prompt": f"a heron {QUICK}", "duration": 6, "resolution": "1080p"}


async def test_a_described_models_job_survives_a_restart(rep_env: dict[str, str], sim: Simulator):
    settings = Settings.from_env({**rep_env, "VIDEOGEN_REPLICATE_UNPRICED": HAILUO})
    async with JobManager(settings) as first:
        await first.providers.get("replicate").describe(HAILUO)
        args = RequestArgs(prompt="sim:seconds=300 sim:queue=1 a long take", provider="replicate", model=HAILUO)
        row = await first.submit(args)
        deadline = time.monotonic() + 10
        while first.get(row.job_id).status != "running":
            assert time.monotonic() < deadline
            await anyio.sleep(0.02)
    async with JobManager(settings) as second:
        done = await second.wait(row.job_id, 20)
    assert done.status == "succeeded", done.message
    assert sim.submissions == 1


# -- the catalogue: search, the schema cache ----------------------------------------------------------


def test_the_official_sdk_searches_the_simulated_catalogue(served: tuple[str, Simulator], sim: Simulator):
    """replicate 1.0.x models.search sends QUERY /v1/models with the words as a text/plain body."""
    import replicate

    client = replicate.Client(api_token=DEFAULT_TOKEN, base_url=served[0])
    page = client.models.search("hailuo")
    assert [f"{m.owner}/{m.name}" for m in page.results] == [HAILUO]
    assert page.results[0].latest_version is not None  # a Model as the SDK reads it, schema and all
    with pytest.raises(replicate.exceptions.ReplicateError) as refused:
        replicate.Client(api_token="r8_not-a-token", base_url=served[0]).models.search("hailuo")
    assert refused.value.status == 401


def test_the_search_api_answers_as_documented(served: tuple[str, Simulator], sim: Simulator):
    """GET /v1/search?query=&limit= (replicate-python-beta SearchResponse): {query, models: [{model, metadata}],
    collections, pages}; 401 without a token, 400 without a query or with a limit outside 1-50."""
    auth = {"Authorization": f"Bearer {DEFAULT_TOKEN}"}
    found = httpx.get(f"{served[0]}/v1/search", params={"query": "video"}, headers=auth)
    assert found.status_code == 200 and set(found.json()) == {"query", "models", "collections", "pages"}
    names = [f"{hit['model']['owner']}/{hit['model']['name']}" for hit in found.json()["models"]]
    assert HAILUO in names and "black-forest-labs/flux-dev" not in names  # tagged image, not video
    assert set(found.json()["models"][0]["metadata"]) == {"generated_description", "score", "tags"}
    assert httpx.get(f"{served[0]}/v1/search", params={"query": "video"}).status_code == 401
    assert httpx.get(f"{served[0]}/v1/search", headers=auth).status_code == 400
    assert httpx.get(f"{served[0]}/v1/search", params={"query": "x", "limit": 99}, headers=auth).status_code == 400


async def test_search_keeps_video_models_only(rep_env: dict[str, str], sim: Simulator):
    provider = ReplicateProvider(rep_env)
    try:
        assert await provider.search("flux") == []  # an image model: a Cog output is "a URL" either way
        assert HAILUO in await provider.search("hailuo")
        broken = ReplicateProvider({**rep_env, "REPLICATE_API_TOKEN": "r8_not-a-token"})
        with pytest.raises(ProviderError) as failed:
            await broken.search("hailuo")
        assert failed.value.code == ErrorCode.AUTH and "model search failed" in failed.value.message
        assert "REPLICATE_API_TOKEN" in failed.value.message
        await broken.aclose()
    finally:
        await provider.aclose()


async def test_a_described_schema_is_read_again_after_its_ttl_and_kept_when_replicate_fails(
    rep_env: dict[str, str], sim: Simulator, monkeypatch: pytest.MonkeyPatch
):
    provider = ReplicateProvider(rep_env)
    try:
        first = await provider.describe(HAILUO)
        monkeypatch.setattr(ReplicateProvider, "describe_ttl", 0.0)
        sim.config.update(tokens=["r8_someone-else"])  # Replicate now refuses our token
        assert await provider.describe(HAILUO) == first  # stale, but known: kept
        fresh = ReplicateProvider(rep_env)
        with pytest.raises(ProviderError) as failed:
            await fresh.describe(HAILUO)
        message = failed.value.message
        assert message.startswith(f"Could not read the published schema of {HAILUO} from Replicate"), message
        assert "Nothing was started" in message and "curated" in message
        await fresh.aclose()
    finally:
        await provider.aclose()
