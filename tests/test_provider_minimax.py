"""The MiniMax provider against its simulator on loopback: through the MCP tools and the engine, the wire bodies
(images as data URLs), prices, every base_resp error code, "cannot cancel", the callback reading and the
simulator's URL check (the challenge), and the simulator's own checks (what the MiniMax API refuses)."""

from __future__ import annotations

import base64
import io
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import Client
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from providers.base import ErrorCode, Submission
from providers.minimax import MODELS, PRICES, MiniMaxProvider, base_error, error_for
from providers.simulators.common import Simulator, running
from providers.simulators.minimax import create_app
from server.app import build_server
from server.catalog import RequestArgs
from server.jobs import JobManager
from server.media import probe
from server.settings import Settings

pytestmark = pytest.mark.anyio

KEY = "sk-api-7f3c0ffee-minimax-test-key-never-print"
SPEED = 300.0
QUICK = "sim:seconds=20 sim:queue=1"
START = "https://cdn.example.com/start.png"
END = "https://cdn.example.com/end.jpg"


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[str, Any]]:
    holder: dict[str, Any] = {}

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await holder["app"](scope, receive, send)

    holder["app"] = create_app(speed=SPEED)
    with running(Starlette(routes=[Mount("/minimax", app=app)])) as url:
        yield f"{url}/minimax", holder


@pytest.fixture
def sim(served: tuple[str, Any]) -> Simulator:
    """A fresh simulator for each test behind the module's server."""
    served[1]["app"] = create_app(speed=SPEED)
    return served[1]["app"].state.sim


@pytest.fixture
def base(served: tuple[str, Any], sim: Simulator) -> str:
    return served[0]


@pytest.fixture
def mm_env(env: dict[str, str], base: str) -> dict[str, str]:
    return {
        **env,
        "VIDEOGEN_MINIMAX_BASE_URL": base,
        "MINIMAX_API_KEY": KEY,
        "VIDEOGEN_POLL_SCALE": "0.01",
        "VIDEOGEN_RETRY_SCALE": "0.01",
        "VIDEOGEN_DEFAULT_PROVIDER": "minimax",
    }


@pytest.fixture
def mm_settings(mm_env: dict[str, str]) -> Settings:
    return Settings.from_env(mm_env)


def picture(env: dict[str, str], size: tuple[int, int], name: str = "start.png", fmt: str = "PNG") -> str:
    from PIL import Image

    path = Path(env["VIDEOGEN_ALLOWED_DIRS"]) / f"{size[0]}x{size[1]}-{name}"
    Image.new("RGB", size, (200, 30, 30)).save(path, format=fmt)
    return str(path)


def assert_no_key(result: Any, settings: Settings) -> None:
    texts = " ".join(getattr(c, "text", "") for c in result.content)
    assert KEY not in texts and KEY not in json.dumps(result.structured_content)
    assert all(KEY.encode() not in f.read_bytes() for f in settings.data_dir.rglob("*") if f.is_file())


async def call(settings: Settings, tool: str = "generate_video", **args: Any) -> Any:
    async with Client(build_server(settings)) as client:
        result = await client.call_tool(tool, args)
    assert_no_key(result, settings)
    return result


async def generate(settings: Settings, **args: Any) -> dict[str, Any]:
    result = await call(settings, provider="minimax", wait_seconds=20, **args)
    assert not result.is_error, result.content
    return result.structured_content


# -- the declaration -------------------------------------------------------------------------------------------


def test_declaration() -> None:
    provider = MiniMaxProvider({"MINIMAX_API_KEY": KEY})
    assert provider.base_url == "https://api.minimax.io"  # the docs' host (China: api.minimaxi.com, by override)
    china = MiniMaxProvider({"MINIMAX_API_KEY": KEY, "VIDEOGEN_MINIMAX_BASE_URL": "https://api.minimaxi.com/"})
    assert china.base_url == "https://api.minimaxi.com"
    assert provider.env_vars == ("MINIMAX_API_KEY",) and provider.secrets() == [KEY]
    assert MiniMaxProvider({}).missing_env() == ["MINIMAX_API_KEY"]
    assert not provider.supports_cancel and provider.supports_callbacks
    modes = {m.id: m.modes for m in MODELS}
    assert modes == {
        "MiniMax-Hailuo-2.3": ("text_to_video", "image_to_video"),
        "MiniMax-Hailuo-2.3-Fast": ("image_to_video",),  # image to video only
        "MiniMax-Hailuo-02": ("text_to_video", "image_to_video"),
        "T2V-01-Director": ("text_to_video",),
        "T2V-01": ("text_to_video",),
        "I2V-01-Director": ("image_to_video",),
        "I2V-01": ("image_to_video",),
        "I2V-01-live": ("image_to_video",),
    }
    by_id = {m.id: m for m in MODELS}
    assert by_id["MiniMax-Hailuo-02"].resolutions == ("512P", "768P", "1080P")
    assert by_id["MiniMax-Hailuo-2.3"].durations == (6.0, 10.0) and by_id["T2V-01"].durations == (6.0,)
    assert [m.id for m in MODELS if m.end_image] == ["MiniMax-Hailuo-02"]  # first and last frame: 02 only
    for spec in MODELS:
        assert spec.max_prompt_chars == 2000 and spec.default_duration == 6.0
        assert spec.price_source == "https://platform.minimax.io/docs/guides/pricing-paygo"
        assert spec.price_checked == "2026-12-03" and "third parties" in spec.description


LISTED = [(model, r, s, usd) for model, table in PRICES.items() for r, row in table.items() for s, usd in row.items()]


@pytest.mark.parametrize(("model", "resolution", "seconds", "usd"), LISTED)
async def test_estimate_is_the_list_price_or_above_it(
    mm_settings: Settings, sim: Simulator, model: str, resolution: str, seconds: int, usd: float
):
    spec = next(m for m in MODELS if m.id == model)
    args: dict[str, Any] = {"images": [START]} if "text_to_video" not in spec.modes or resolution == "512P" else {}
    result = await call(
        mm_settings,
        "estimate_cost",
        prompt="a cat",
        provider="minimax",
        model=model,
        resolution=resolution,
        duration=seconds,
        **args,
    )
    assert not result.is_error, result.content
    quoted = result.structured_content["usd"]
    if (model, resolution, seconds) == ("MiniMax-Hailuo-02", "512P", 10):
        assert quoted == pytest.approx(0.20) and "quoted high" in spec.price.note  # one factor per resolution
    else:
        assert quoted == pytest.approx(usd)
    assert sim.submissions == 0


# -- through the MCP tools -------------------------------------------------------------------------------------


async def test_text_to_video_ends_with_a_probed_mp4(mm_settings: Settings, sim: Simulator):
    from providers.simulators.common import sample_video

    sample_video(10.0, "16:9")  # rendered before the job (cached), so a busy machine does not outlast the wait
    job = await generate(mm_settings, prompt=f"a lighthouse in a storm [Pan left] {QUICK}", duration=10)
    assert job["status"] == "succeeded", job
    info = probe(job["video"]["path"])
    assert abs(info.duration_seconds - 10) < 0.3 and info.width > info.height
    assert sim.submissions == 1
    assert sim.jobs[job["provider_job_id"]].payload == {
        "model": "MiniMax-Hailuo-2.3",
        "prompt": f"a lighthouse in a storm [Pan left] {QUICK}",
        "duration": 10,
        "resolution": "768P",
    }
    assert sim.downloads[job["provider_job_id"]] == 1


async def test_a_local_image_goes_as_a_data_url_and_frames_as_given(mm_settings: Settings, sim: Simulator):
    gif = picture({"VIDEOGEN_ALLOWED_DIRS": str(mm_settings.allowed_dirs[0])}, (640, 360), "start.gif", "GIF")
    job = await generate(
        mm_settings, prompt=f"the water ripples {QUICK}", model="MiniMax-Hailuo-2.3-Fast", images=[gif]
    )
    assert job["status"] == "succeeded" and job["request"]["mode"] == "image_to_video", job
    sent = sim.jobs[job["provider_job_id"]].payload["first_frame_image"]
    assert sent.startswith("data:image/png;base64,")  # a GIF, which MiniMax does not take, re-encoded as PNG
    from PIL import Image

    assert Image.open(io.BytesIO(base64.b64decode(sent.split(",", 1)[1]))).size == (640, 360)
    both = await generate(
        mm_settings,
        prompt=f"a little girl grows up {QUICK}",
        model="MiniMax-Hailuo-02",
        resolution="1080P",
        images=[START],
        end_image=END,
    )
    payload = sim.jobs[both["provider_job_id"]].payload
    assert both["status"] == "succeeded", both
    assert (payload["first_frame_image"], payload["last_frame_image"], payload["resolution"]) == (START, END, "1080P")


@pytest.mark.parametrize(
    ("args", "words"),
    [
        ({"resolution": "1080P", "duration": 10}, "1080P videos of 6 s only"),
        ({"model": "MiniMax-Hailuo-02", "resolution": "512P"}, "512P videos only from a start image"),
        ({"model": "MiniMax-Hailuo-02", "end_image": END}, "start image"),  # the catalog says it first
        ({"model": "MiniMax-Hailuo-02", "resolution": "512P", "images": [START], "end_image": END}, "not 512P"),
        ({"end_image": END, "images": [START]}, "end_image"),  # Hailuo 2.3 takes no last frame
        ({"model": "MiniMax-Hailuo-2.3-Fast"}, "image"),  # image to video only
        ({"model": "T2V-01", "duration": 10}, "duration"),
        ({"model": "T2V-01", "resolution": "768P"}, "resolution"),
        ({"prompt": "x" * 2001}, "2000"),
    ],
)
async def test_what_minimax_refuses_is_refused_before_any_call(
    mm_settings: Settings, sim: Simulator, args: dict[str, Any], words: str
):
    result = await call(mm_settings, provider="minimax", **{"prompt": "a harbour", **args})
    assert result.is_error, args
    text = result.content[0].text
    assert "INVALID_INPUT" in text and words in text, text
    assert sim.submissions == 0


@pytest.mark.parametrize(
    ("size", "words"), [((200, 150), "short side over 300 px"), ((1200, 400), "between 2:5 and 5:2")]
)
async def test_a_local_image_minimax_cannot_take_fails_before_any_call(
    mm_settings: Settings, sim: Simulator, size: tuple[int, int], words: str
):
    small = picture({"VIDEOGEN_ALLOWED_DIRS": str(mm_settings.allowed_dirs[0])}, size)
    job = await generate(mm_settings, prompt=f"animate it {QUICK}", images=[small])
    assert job["status"] == "failed" and job["error"]["code"] == "INVALID_INPUT", job
    assert words in job["error"]["message"] and sim.submissions == 0


async def test_cancel_is_local_because_minimax_cannot(mm_settings: Settings, sim: Simulator):
    async with JobManager(mm_settings) as manager:
        row = await manager.submit(RequestArgs(prompt="a slow pan sim:queue=600", provider="minimax"))
        deadline = time.monotonic() + 10
        while not manager.get(row.job_id).provider_ref:
            assert time.monotonic() < deadline
            await _sleep()
        done = await manager.cancel(row.job_id)
    assert done.status == "cancelled" and "cannot cancel" in done.message and "charged" in done.message
    (job,) = sim.jobs.values()
    assert not job.cancelled


async def _sleep() -> None:
    import anyio

    await anyio.sleep(0.02)


# -- errors ------------------------------------------------------------------------------------------------------

ERRORS = [
    ({"api_keys": ["sk-someone-else"]}, "", ErrorCode.AUTH, ["2049", "MINIMAX_API_KEY", "api.minimaxi.com"], 0),
    ({"balance_usd": 0.1}, "", ErrorCode.OUT_OF_CREDIT, ["1008", "insufficient balance", "Recharge"], 0),
    ({"errors": [1002] * 1000}, "", ErrorCode.RATE_LIMITED, ["1002", "rate limit", "try again"], 0),
    ({"errors": [1033] * 1000}, "", ErrorCode.TRANSIENT, ["1033", "system error", "try again"], 0),
    ({"http_errors": [503] * 1000}, "", ErrorCode.TRANSIENT, ["HTTP 503", "try again"], 0),
    ({"errors": [2013]}, "", ErrorCode.INVALID_INPUT, ["2013", "invalid params", "fix the request"], 0),
    ({"errors": [1001]}, "", ErrorCode.SUBMIT_UNCONFIRMED, ["1001", "request timeout", "may exist"], 0),
    ({"errors": [2038]}, "", ErrorCode.AUTH, ["2038", "real-name verification", "MINIMAX_API_KEY"], 0),
    ({}, "sim:fail=content", ErrorCode.CONTENT_POLICY, ["1026", "input new_sensitive", "change the prompt"], 0),
    ({}, "sim:fail=output", ErrorCode.CONTENT_POLICY, ["1027", "generated video", "change the prompt"], 1),
    ({}, "sim:fail=internal", ErrorCode.PROVIDER_FAILED, ["no reason given", "submitting it again"], 1),
]


@pytest.mark.parametrize(
    ("switches", "directive", "code", "words", "created"), ERRORS, ids=[f"{e[2].value}-{e[1] or e[0]}" for e in ERRORS]
)
async def test_errors_through_the_tools(
    mm_settings: Settings,
    sim: Simulator,
    switches: dict,
    directive: str,
    code: ErrorCode,
    words: list[str],
    created: int,
):
    sim.config.update(switches)
    job = await generate(mm_settings, prompt=f"a harbour {directive} {QUICK}")
    assert job["status"] == "failed" and job["error"]["code"] == code.value, job
    for word in words:
        assert word.lower() in job["error"]["message"].lower(), job["error"]["message"]
    assert sim.submissions == created


async def test_an_error_while_polling_is_read_from_base_resp(mm_settings: Settings, sim: Simulator):
    async with JobManager(mm_settings) as manager:
        row = await manager.submit(RequestArgs(prompt="a slow pan sim:queue=600", provider="minimax"))
        deadline = time.monotonic() + 10
        while not manager.get(row.job_id).provider_ref:
            assert time.monotonic() < deadline
            await _sleep()
        sim.config["api_keys"] = ["sk-the-key-was-revoked"]  # the next status check answers 2049
        done = await manager.wait(row.job_id, 20)
    assert done.status == "failed" and done.error["code"] == "AUTH", (done.status, done.error)
    assert "MINIMAX_API_KEY" in done.error["message"] and KEY not in done.error["message"]


async def test_a_submit_answered_without_a_task_id_is_unconfirmed(env: dict[str, str]):
    async def create(_: Request) -> JSONResponse:
        return JSONResponse({"base_resp": {"status_code": 0, "status_msg": "success"}})

    app = Starlette(routes=[Route("/v1/video_generation", create, methods=["POST"])])
    with running(app) as url:
        provider = MiniMaxProvider({"MINIMAX_API_KEY": KEY, "VIDEOGEN_MINIMAX_BASE_URL": url})
        request = await _request(provider)
        with pytest.raises(Exception) as caught:
            await provider.submit("job-1", request)
        await provider.aclose()
    assert getattr(caught.value, "code", None) == ErrorCode.SUBMIT_UNCONFIRMED and "task_id" in str(caught.value)


async def _request(provider: MiniMaxProvider) -> Any:
    from providers.base import VideoRequest

    return VideoRequest(
        prompt="a cat",
        provider="minimax",
        model="MiniMax-Hailuo-2.3",
        mode="text_to_video",
        duration=6,
        aspect_ratio="16:9",
        resolution="768P",
    )


@pytest.mark.parametrize(
    ("code", "during", "expected", "shown"),
    [
        (1000, "submit", ErrorCode.TRANSIENT, "try again"),
        (1001, "poll", ErrorCode.TRANSIENT, "try again"),
        (1001, "submit", ErrorCode.SUBMIT_UNCONFIRMED, "may exist and be charged"),
        (1002, "submit", ErrorCode.RATE_LIMITED, "Wait a minute"),
        (1004, "submit", ErrorCode.AUTH, "MINIMAX_API_KEY"),
        (1008, "submit", ErrorCode.OUT_OF_CREDIT, "Recharge"),
        (1024, "poll", ErrorCode.TRANSIENT, "try again"),
        (1026, "submit", ErrorCode.CONTENT_POLICY, "change the prompt"),
        (1027, "poll", ErrorCode.CONTENT_POLICY, "generated video"),
        (1033, "submit", ErrorCode.TRANSIENT, "try again"),
        (1039, "submit", ErrorCode.RATE_LIMITED, "try again"),
        (1041, "submit", ErrorCode.RATE_LIMITED, "try again"),
        (1042, "submit", ErrorCode.INVALID_INPUT, "invisible characters"),
        (2013, "submit", ErrorCode.INVALID_INPUT, "fix the request"),
        (2013, "poll", ErrorCode.NOT_FOUND, "another API key"),
        (2013, "retrieve", ErrorCode.NOT_FOUND, "file"),
        (2038, "submit", ErrorCode.AUTH, "real-name verification"),
        (2049, "poll", ErrorCode.AUTH, "api.minimaxi.com"),
        (2056, "submit", ErrorCode.OUT_OF_CREDIT, "pay-as-you-go key"),
        (9999, "submit", ErrorCode.INVALID_INPUT, "errorcode"),
        (9999, "poll", ErrorCode.PROVIDER_FAILED, "9999"),
    ],
)
def test_each_base_resp_code_maps_to_its_error(code: int, during: str, expected: ErrorCode, shown: str):
    error = base_error(code, "the platform's words", during, trace="0a1b2c")
    assert error.code == expected and shown in error.message, error.message
    assert f"({code}: the platform's words)" in error.message and "Trace-Id 0a1b2c" in error.message
    assert error.retryable == (expected in (ErrorCode.RATE_LIMITED, ErrorCode.TRANSIENT))


@pytest.mark.parametrize(
    ("status", "body", "code", "shown"),
    [
        (401, {"error": "unauthorized"}, ErrorCode.AUTH, "MINIMAX_API_KEY"),
        (429, "<html>slow down</html>", ErrorCode.RATE_LIMITED, "try again"),
        (502, {"base_resp": {"status_code": 1033, "status_msg": "system error"}}, ErrorCode.TRANSIENT, "1033"),
        (500, "oops", ErrorCode.TRANSIENT, "HTTP 500"),
    ],
)
def test_each_http_error_maps_to_its_code(status: int, body: Any, code: ErrorCode, shown: str):
    request = httpx.Request("POST", "https://api.minimax.io/v1/video_generation")
    response = httpx.Response(status, json=body, request=request)
    error = error_for(response)
    assert error is not None and error.code == code and shown in error.message, error
    assert error_for(httpx.Response(404, json={}, request=request)) is None  # left to the shared default


# -- callbacks ---------------------------------------------------------------------------------------------------


def test_minimax_reads_its_status_updates():
    mm = MiniMaxProvider({"MINIMAX_API_KEY": KEY})
    sub = Submission(ref="106916112212032")
    ok = {"status_code": 0, "status_msg": "success"}
    assert mm.parse_callback({"challenge": "abc"}, sub) is None  # the URL check, not an update
    running_ = mm.parse_callback({"task_id": sub.ref, "status": "processing", "base_resp": ok}, sub)
    assert running_ is not None and running_.status == "running"
    # A success names a file_id, not a URL: a poll fetches the URL.
    assert mm.parse_callback({"task_id": sub.ref, "status": "success", "file_id": "2052", "base_resp": ok}, sub) is None
    failed = mm.parse_callback({"task_id": sub.ref, "status": "failed", "base_resp": ok}, sub)
    assert failed is not None and failed.status == "failed" and failed.error.code == ErrorCode.PROVIDER_FAILED
    flagged = {"status_code": 1027, "status_msg": "output new_sensitive"}
    refused = mm.parse_callback({"task_id": sub.ref, "status": "Fail", "base_resp": flagged}, sub)
    assert refused is not None and refused.error.code == ErrorCode.CONTENT_POLICY
    assert mm.parse_callback({"task_id": "other", "status": "processing", "base_resp": ok}, sub) is None
    assert mm.parse_callback({"task_id": sub.ref, "status": "Exploding"}, sub) is None
    assert mm.parse_callback({"base_resp": ok}, sub) is None


@pytest.mark.parametrize("echo", [True, False])
def test_the_simulator_checks_the_callback_url_with_a_challenge(base: str, sim: Simulator, echo: bool):
    received: list[dict[str, Any]] = []

    async def receiver(request: Request) -> JSONResponse:
        body = await request.json()
        received.append(body)
        if "challenge" in body:
            return JSONResponse({"challenge": body["challenge"] if echo else "something else"})
        return JSONResponse({"status": "success"})

    with running(Starlette(routes=[Route("/get_callback", receiver, methods=["POST"])])) as url:
        created = _post(
            base, {"model": "T2V-01", "prompt": "sim:seconds=2 sim:queue=1", "callback_url": f"{url}/get_callback"}
        )
        assert created.json()["base_resp"]["status_code"] == 0
        (job,) = sim.jobs.values()
        deadline = time.monotonic() + 15
        while (
            job.phase()[0] != "succeeded"
            or "callback_verified" not in job.extra
            or (echo and sim.callbacks_delivered[job.id] < 2)
        ):
            assert time.monotonic() < deadline, (job.extra, received)
            time.sleep(0.02)
        if not echo:
            time.sleep(0.3)  # nothing more comes
    assert received[0] == {"challenge": job.extra["challenge"]}
    assert job.extra["callback_verified"] is echo
    updates = sorted(body["status"] for body in received[1:])  # each update is sent on its own: any order
    assert updates == (["processing", "success"] if echo else [])
    assert [body["status"] for body in job.extra.get("callbacks_sent", [])] == updates
    if echo:
        done = next(body for body in received[1:] if body["status"] == "success")  # updates come in any order
        assert done["file_id"] == job.extra["file_id"] and done["task_id"] == job.id


# -- the simulator refuses what the MiniMax API refuses ------------------------------------------------------------


def _post(base: str, body: Any, key: str | None = KEY) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.post(f"{base}/v1/video_generation", json=body, headers=headers)


def _data_url(size: tuple[int, int], fmt: str = "PNG") -> str:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", size, (1, 2, 3)).save(out, format=fmt)
    return f"data:image/{fmt.lower()};base64," + base64.b64encode(out.getvalue()).decode()


GOOD = _data_url((640, 360))


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"prompt": "x"}, "model is required"),
        ({"model": "Hailuo-9", "prompt": "x"}, "not support"),
        ({"model": "MiniMax-Hailuo-2.3"}, "prompt is required"),
        ({"model": "MiniMax-Hailuo-2.3", "prompt": "x" * 2001}, "2000"),
        ({"model": "MiniMax-Hailuo-2.3-Fast", "prompt": "x"}, "first_frame_image is required"),
        ({"model": "I2V-01", "prompt": "x"}, "first_frame_image is required"),
        ({"model": "T2V-01", "prompt": "x", "first_frame_image": GOOD}, "does not take first_frame_image"),
        ({"model": "MiniMax-Hailuo-2.3", "prompt": "x", "first_frame_image": GOOD, "last_frame_image": GOOD}, "last"),
        ({"model": "MiniMax-Hailuo-02", "prompt": "x", "last_frame_image": GOOD}, "first_frame_image is required"),
        ({"model": "MiniMax-Hailuo-2.3", "prompt": "x", "resolution": "512P"}, "resolution 512P not support"),
        ({"model": "MiniMax-Hailuo-02", "prompt": "x", "resolution": "512P"}, "512P"),
        (
            {"model": "MiniMax-Hailuo-02", "resolution": "512P", "first_frame_image": GOOD, "last_frame_image": GOOD},
            "512P",
        ),
        ({"model": "T2V-01", "prompt": "x", "resolution": "768P"}, "not support"),
        ({"model": "MiniMax-Hailuo-2.3", "prompt": "x", "resolution": "1080P", "duration": 10}, "1080P"),
        ({"model": "MiniMax-Hailuo-2.3", "prompt": "x", "duration": 5}, "duration 5 not support"),
        ({"model": "MiniMax-Hailuo-2.3", "prompt": "x", "duration": "6"}, "integer"),
        ({"model": "T2V-01", "prompt": "x", "duration": 10}, "duration 10 not support"),
        ({"model": "MiniMax-Hailuo-2.3", "prompt": "x", "prompt_optimizer": "yes"}, "boolean"),
        ({"model": "I2V-01", "first_frame_image": "ftp://example.com/a.png"}, "public URL"),
        ({"model": "I2V-01", "first_frame_image": _data_url((200, 150))}, "300px"),
        ({"model": "I2V-01", "first_frame_image": _data_url((1200, 400))}, "2:5 and 5:2"),
        ({"model": "I2V-01", "first_frame_image": _data_url((640, 360), "GIF")}, "JPG"),
        ({"model": "I2V-01", "first_frame_image": "data:image/png;base64,%%%"}, "base64"),
        ({"model": "S2V-01", "prompt": "x"}, "subject_reference"),
        ({"model": "S2V-01", "subject_reference": [{"type": "style", "image": [START]}]}, "character"),
    ],
)
def test_the_simulator_validates_like_minimax(base: str, sim: Simulator, body: dict, words: str):
    answer = _post(base, body)
    assert answer.status_code == 200, answer.text  # MiniMax's errors come in base_resp
    resp = answer.json()["base_resp"]
    assert resp["status_code"] == 2013 and words in resp["status_msg"], resp
    assert sim.submissions == 0


def test_the_simulator_answers_keys_tasks_and_files(base: str, sim: Simulator):
    assert _post(base, {"model": "T2V-01", "prompt": "x"}, key=None).json()["base_resp"]["status_code"] == 1004
    assert _post(base, {"model": "T2V-01", "prompt": "x"}, key="not-a-key").json()["base_resp"]["status_code"] == 2049
    created = _post(base, {"model": "I2V-01-live", "first_frame_image": GOOD, "prompt": "sim:seconds=1 sim:queue=0"})
    task_id = created.json()["task_id"]
    headers = {"Authorization": f"Bearer {KEY}"}
    deadline = time.monotonic() + 5
    while True:
        status = httpx.get(f"{base}/v1/query/video_generation", params={"task_id": task_id}, headers=headers).json()
        if status["status"] == "Success":
            break
        assert status["status"] in ("Preparing", "Queueing", "Processing") and time.monotonic() < deadline
        time.sleep(0.02)
    assert (status["video_width"], status["video_height"]) == (1280, 720) and status["file_id"]
    other = {"Authorization": "Bearer sk-another-account"}
    query = f"{base}/v1/query/video_generation"
    assert httpx.get(query, params={"task_id": task_id}, headers=other).json()["base_resp"]["status_code"] == 2013
    retrieve = f"{base}/v1/files/retrieve"
    file = httpx.get(retrieve, params={"file_id": status["file_id"]}, headers=headers).json()["file"]
    assert file["purpose"] == "video_generation" and file["file_id"] == int(status["file_id"])
    assert httpx.get(file["download_url"]).content[4:8] == b"ftyp"  # an MP4
    missing = httpx.get(retrieve, params={"file_id": "1"}, headers=headers).json()
    assert missing["base_resp"]["status_code"] == 2013
    sim.config["balance_usd"] = 0.5
    assert _post(base, {"model": "T2V-01", "prompt": "x"}).json()["base_resp"]["status_code"] == 0  # $0.43
    assert sim.config["balance_usd"] == pytest.approx(0.07)
    assert _post(base, {"model": "T2V-01", "prompt": "x"}).json()["base_resp"]["status_code"] == 1008


def test_minimaxs_own_options_go_on_the_wire_and_are_checked():
    """prompt_optimizer and fast_pretreatment, once the tools' typed options declare them (providers/options.py)."""
    from providers.base import InvalidRequest, VideoRequest

    mm = MiniMaxProvider({"MINIMAX_API_KEY": KEY})
    fields: dict[str, Any] = {
        "prompt": "a cat",
        "provider": "minimax",
        "model": "MiniMax-Hailuo-02",
        "mode": "text_to_video",
        "duration": 6,
        "aspect_ratio": "16:9",
        "resolution": "768P",
    }
    chosen = VideoRequest(**fields, options={"prompt_optimizer": False, "fast_pretreatment": True})
    mm.check(chosen)
    assert mm.body(chosen) == {
        "model": "MiniMax-Hailuo-02",
        "prompt": "a cat",
        "duration": 6,
        "resolution": "768P",
        "prompt_optimizer": False,
        "fast_pretreatment": True,
    }
    assert "prompt_optimizer" not in mm.body(VideoRequest(**fields))  # unset: MiniMax's default (true)
    with pytest.raises(InvalidRequest, match="prompt_optimizer must be true or false"):
        mm.check(VideoRequest(**fields, options={"prompt_optimizer": "no"}))


async def test_a_job_ends_by_callback_once_the_webhook_route_echoes_the_challenge(
    base: str, sim: Simulator, mm_env: dict[str, str], tmp_path: Path
):
    import test_transports as transports

    from providers.simulators.common import free_port

    port = free_port()
    server_env = {
        **mm_env,
        "VIDEOGEN_POLL_SCALE": "1",  # the first safety-net poll comes minutes after the callbacks, however loaded
        "VIDEOGEN_PUBLIC_URL": f"http://127.0.0.1:{port}",
    }
    log = tmp_path / "server.log"
    with transports.serving(server_env, "streamable-http", port=port, log=log) as served:
        async with Client(f"{served}/mcp") as client:
            result = await client.call_tool(
                "generate_video", {"prompt": f"a lighthouse {QUICK}", "provider": "minimax", "wait_seconds": 20}
            )
    job = result.structured_content
    ref = job["provider_job_id"]
    said = [line for line in log.read_text().splitlines() if job["job_id"] in line or "callback" in line]
    assert job["status"] == "succeeded", (job["status"], sim.callbacks_delivered, sim.polls, said[-30:])
    assert sim.jobs[ref].extra["callback_verified"] is True  # the challenge came back as sent
    # The success names a file id, not a URL: it asks for the one poll that reads the download link.
    assert sim.polls[ref] == 1 and sim.callbacks_delivered[ref] >= 2
    assert sim.downloads[ref] == 1 and Path(job["video"]["path"]).stat().st_size > 0
