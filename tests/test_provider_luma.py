"""The Luma provider against its simulator on loopback: through the MCP tools and the engine, the wire bodies,
prices, every error mapping, callbacks through the engine's webhook route, "cannot cancel", and the simulator's
own checks (what the Dream Machine API refuses)."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import Client
from starlette.applications import Starlette
from starlette.routing import Mount

from providers.base import ErrorCode, Submission
from providers.luma import MODELS, OPTIONS, LumaProvider, error_for, failure
from providers.simulators import build_app, sample_env
from providers.simulators.common import Simulator, free_port, running
from providers.simulators.luma import create_app
from server.app import build_server
from server.catalog import RequestArgs
from server.jobs import JobManager
from server.media import probe
from server.settings import Settings

pytestmark = pytest.mark.anyio

KEY = "luma-7f3c0ffee-test-key-never-print"
SPEED = 300.0  # a 5 s ray-2 video (120 simulated seconds) takes under half a second
QUICK = "sim:seconds=20 sim:queue=1"
LOOP = "loop" in OPTIONS  # offered once providers/options.py declares it
START = "https://cdn.example.com/start.png"
END = "https://cdn.example.com/end.jpg"


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[str, Any]]:
    holder: dict[str, Any] = {}

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await holder["app"](scope, receive, send)

    holder["app"] = create_app(speed=SPEED)
    with running(Starlette(routes=[Mount("/luma", app=app)])) as url:
        yield f"{url}/luma", holder


@pytest.fixture
def sim(served: tuple[str, Any]) -> Simulator:
    """A fresh simulator for each test behind the module's server."""
    served[1]["app"] = create_app(speed=SPEED)
    return served[1]["app"].state.sim


@pytest.fixture
def base(served: tuple[str, Any], sim: Simulator) -> str:
    return served[0]


@pytest.fixture
def luma_env(env: dict[str, str], base: str) -> dict[str, str]:
    return {
        **env,
        "VIDEOGEN_LUMA_BASE_URL": base,
        "LUMAAI_API_KEY": KEY,
        "VIDEOGEN_POLL_SCALE": "0.01",
        "VIDEOGEN_RETRY_SCALE": "0.01",
        "VIDEOGEN_DEFAULT_PROVIDER": "luma",
    }


@pytest.fixture
def luma_settings(luma_env: dict[str, str]) -> Settings:
    return Settings.from_env(luma_env)


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
    result = await call(settings, provider="luma", wait_seconds=20, **args)
    assert not result.is_error, result.content
    return result.structured_content


# -- the declaration -------------------------------------------------------------------------------------------


def test_declaration() -> None:
    provider = LumaProvider({"LUMAAI_API_KEY": KEY})
    assert provider.base_url == "https://api.lumalabs.ai/dream-machine/v1"  # the SDK's default base URL
    assert provider.env_vars == ("LUMAAI_API_KEY",) and provider.secrets() == [KEY]
    assert [m.id for m in MODELS] == ["ray-2", "ray-flash-2"]  # the SDK's model literals
    for spec in MODELS:
        assert spec.durations == (5.0, 9.0)  # "5s" | "9s"
        assert set(spec.aspect_ratios) == {"1:1", "16:9", "9:16", "4:3", "3:4", "21:9", "9:21"}
        assert spec.resolutions == ("540p", "720p", "1080p", "4k")
        assert spec.end_image and spec.max_images == 1 and not spec.audio and not spec.seed
        assert spec.price_source.startswith("https://") and spec.price_checked == "2026-12-03"
        assert "third-party" in spec.price.note and "third-party" in spec.description
    assert LumaProvider({}).missing_env() == ["LUMAAI_API_KEY"]


# The per-video figures quoted from Luma's list price: ComfyUI's API-node price rows (ray-2 540p 5 s $0.40 ...
# 4k 9 s $11.47; ray-flash-2 4k 5 s $2.19, 9 s $3.94) and a project citing lumalabs.ai/api/pricing at 720p
# (ray-2 $0.70-0.71 / $1.27, ray-flash-2 $0.24 / $0.44).
QUOTED = [
    ("ray-2", "540p", 5, 0.40),
    ("ray-2", "540p", 9, 0.72),
    ("ray-2", "720p", 5, 0.71),
    ("ray-2", "720p", 9, 1.27),
    ("ray-2", "1080p", 5, 1.59),
    ("ray-2", "1080p", 9, 2.87),
    ("ray-2", "4k", 5, 6.37),
    ("ray-2", "4k", 9, 11.47),
    ("ray-flash-2", "720p", 5, 0.24),
    ("ray-flash-2", "720p", 9, 0.44),
    ("ray-flash-2", "4k", 5, 2.19),
    ("ray-flash-2", "4k", 9, 3.94),
]


@pytest.mark.parametrize(("model", "resolution", "seconds", "usd"), QUOTED)
async def test_estimate_matches_the_quoted_list_prices(
    luma_settings: Settings, sim: Simulator, model: str, resolution: str, seconds: int, usd: float
):
    result = await call(
        luma_settings,
        "estimate_cost",
        prompt="a cat",
        provider="luma",
        model=model,
        resolution=resolution,
        duration=seconds,
        aspect_ratio="21:9",  # the price does not depend on the ratio
    )
    assert not result.is_error, result.content
    assert round(result.structured_content["usd"], 2) == usd
    assert sim.submissions == 0


# -- through the MCP tools -------------------------------------------------------------------------------------


async def test_text_to_video_ends_with_a_probed_mp4(luma_settings: Settings, sim: Simulator):
    job = await generate(luma_settings, prompt=f"a lighthouse in a storm {QUICK}", duration=9, aspect_ratio="9:16")
    assert job["status"] == "succeeded", job
    info = probe(job["video"]["path"])
    assert abs(info.duration_seconds - 9) < 0.3 and info.height > info.width
    assert sim.submissions == 1
    assert sim.jobs[job["provider_job_id"]].payload == {
        "model": "ray-2",
        "prompt": f"a lighthouse in a storm {QUICK}",
        "aspect_ratio": "9:16",
        "duration": "9s",
        "resolution": "720p",
    }


async def test_start_and_end_frames_and_loop_are_sent_as_keyframes(luma_settings: Settings, sim: Simulator):
    job = await generate(
        luma_settings,
        prompt=f"the sun rises {QUICK}",
        model="ray-flash-2",
        resolution="1080p",
        images=[START],
        end_image=END,
        **({"options": {"loop": True}} if LOOP else {}),
    )
    assert job["status"] == "succeeded" and job["request"]["mode"] == "image_to_video", job
    payload = sim.jobs[job["provider_job_id"]].payload
    assert payload["keyframes"] == {"frame0": {"type": "image", "url": START}, "frame1": {"type": "image", "url": END}}
    assert (payload["model"], payload["resolution"]) == ("ray-flash-2", "1080p")
    assert payload.get("loop") is (True if LOOP else None)


async def test_images_that_are_not_https_urls_are_refused_before_any_call(
    luma_settings: Settings, sim: Simulator, tmp_path: Path
):
    from PIL import Image

    picture = tmp_path / "inputs" / "red.png"
    Image.new("RGB", (64, 48), (200, 30, 30)).save(picture)
    encoded = "data:image/png;base64," + base64.b64encode(picture.read_bytes()).decode()
    for images in ([str(picture)], [encoded], ["http://cdn.example.com/a.png"]):
        result = await call(luma_settings, provider="luma", prompt="animate it", images=images)
        assert result.is_error, images
        text = result.content[0].text
        assert "https URL" in text and "INVALID_INPUT" in text, text
    refused = await call(luma_settings, provider="luma", prompt="x", images=[START], options={"loop": "yes"})
    # Until the tools' typed options take `loop`, it is refused by name rather than dropped.
    assert refused.is_error and "loop" in refused.content[0].text
    assert sim.submissions == 0


async def test_cancel_is_local_because_luma_cannot(luma_settings: Settings, sim: Simulator):
    async with JobManager(luma_settings) as manager:
        row = await manager.submit(RequestArgs(prompt="a slow pan sim:queue=600", provider="luma"))
        deadline = time.monotonic() + 10
        while not manager.get(row.job_id).provider_ref:
            assert time.monotonic() < deadline
            await _sleep()
        done = await manager.cancel(row.job_id)
    assert done.status == "cancelled" and "cannot cancel" in done.message and "charged" in done.message
    (job,) = sim.jobs.values()
    assert not job.cancelled and not job.extra.get("deleted")  # no DELETE was sent: it would not stop the charge


async def _sleep() -> None:
    import anyio

    await anyio.sleep(0.02)


# -- errors ------------------------------------------------------------------------------------------------------

ERRORS = [
    ({"api_keys": ["luma-someone-else"]}, "", ErrorCode.AUTH, ["LUMAAI_API_KEY", "lumalabs.ai/dream-machine/api/keys"]),
    ({"balance_cents": 50}, "", ErrorCode.OUT_OF_CREDIT, ["HTTP 402", "Insufficient credits", "ray-flash-2"]),
    ({"errors": [429] * 1000}, "", ErrorCode.RATE_LIMITED, ["HTTP 429", "try again"]),
    ({"errors": [503] * 1000}, "", ErrorCode.TRANSIENT, ["HTTP 503", "try again"]),
    ({"errors": [400]}, "", ErrorCode.INVALID_INPUT, ["HTTP 400", "Bad request", "fix the request"]),
    ({}, "sim:fail=content", ErrorCode.CONTENT_POLICY, ["moderation", "advanced moderation failed"]),
    ({}, "sim:fail=internal", ErrorCode.PROVIDER_FAILED, ["Internal server error", "submitting again"]),
]


@pytest.mark.parametrize(("switches", "directive", "code", "words"), ERRORS, ids=[e[2].value for e in ERRORS])
async def test_errors_through_the_tools(
    luma_settings: Settings, sim: Simulator, switches: dict, directive: str, code: ErrorCode, words: list[str]
):
    sim.config.update(switches)
    job = await generate(luma_settings, prompt=f"a harbour {directive} {QUICK}")
    assert job["status"] == "failed" and job["error"]["code"] == code.value, job
    for word in words:
        assert word.lower() in job["error"]["message"].lower(), job["error"]["message"]
    assert sim.submissions == (1 if code in (ErrorCode.CONTENT_POLICY, ErrorCode.PROVIDER_FAILED) else 0)


def _response(status: int, body: Any) -> httpx.Response:
    return httpx.Response(status, json=body, request=httpx.Request("POST", "https://x/generations/video"))


@pytest.mark.parametrize(
    ("status", "body", "code", "shown"),
    [
        (400, {"detail": "400: Duration is not supported in Ray 1.6 API"}, ErrorCode.INVALID_INPUT, "Duration is not"),
        (400, {"detail": "400: Insufficient credits"}, ErrorCode.OUT_OF_CREDIT, "Insufficient credits"),
        (402, {"detail": "Payment required"}, ErrorCode.OUT_OF_CREDIT, "Payment required"),
        (
            422,
            {"detail": [{"type": "literal_error", "loc": ["body", "model"], "msg": "Input should be 'ray-2'"}]},
            ErrorCode.INVALID_INPUT,
            "model: Input should be 'ray-2'",
        ),
        (401, {"detail": "Invalid API key"}, ErrorCode.AUTH, "LUMAAI_API_KEY"),
        (403, {"detail": "Not authenticated"}, ErrorCode.AUTH, "LUMAAI_API_KEY"),
        (404, {"detail": "Generation not found"}, ErrorCode.NOT_FOUND, "deleted"),
        (429, {"detail": "Too many requests"}, ErrorCode.RATE_LIMITED, "Wait and try again"),
        (500, "<html>oops</html>", ErrorCode.TRANSIENT, "HTTP 500"),
    ],
)
def test_each_error_answer_maps_to_its_code(status: int, body: Any, code: ErrorCode, shown: str):
    error = error_for(_response(status, body))
    assert error is not None and error.code == code and shown in error.message, error
    assert "400: " not in error.message  # FastAPI's status prefix is dropped
    assert KEY not in error.message


def test_failure_reasons():
    assert failure("400: prompt not allowed because advanced moderation failed").code == ErrorCode.CONTENT_POLICY
    broken = failure("Job failed")
    assert broken.code == ErrorCode.PROVIDER_FAILED and broken.retryable and "Job failed" in broken.message
    assert "no failure_reason given" in failure("").message


# -- callbacks ---------------------------------------------------------------------------------------------------


def test_luma_reads_its_callbacks():
    luma = LumaProvider({"LUMAAI_API_KEY": KEY})
    sub = Submission(ref="gen-1")
    base = {"id": "gen-1", "generation_type": "video", "model": "ray-2", "created_at": "2026-12-03T08:00:00.000Z"}
    assert luma.parse_callback({**base, "state": "dreaming", "assets": None}, sub).status == "running"
    video = "https://storage.cdn-luma.com/dream_machine/gen-1/video.mp4"
    done = luma.parse_callback({**base, "state": "completed", "assets": {"video": video}}, sub)
    assert done.status == "succeeded" and done.video_url == video
    reason = "Prompt not allowed because advanced moderation failed"
    refused = luma.parse_callback({**base, "state": "failed", "failure_reason": reason}, sub)
    assert refused.status == "failed" and refused.error.code == ErrorCode.CONTENT_POLICY
    assert luma.parse_callback({**base, "state": "completed", "assets": {"video": None}}, sub) is None  # poll
    assert luma.parse_callback({**base, "id": "gen-2", "state": "completed", "assets": {"video": video}}, sub) is None
    assert luma.parse_callback({"detail": "x"}, sub) is None
    # Before the submit's reply is stored, a callback is read all the same (the per-job token vouches for it).
    assert luma.parse_callback({**base, "state": "dreaming"}, Submission(ref="")).status == "running"


@pytest.fixture(scope="module")
def every_sim() -> Iterator[tuple[str, Any]]:
    app = build_app(speed=100, names=["luma"])
    with running(app) as url:
        yield url, app.state.simulators["luma"]


@pytest.mark.parametrize(("directive", "status"), [("", "succeeded"), ("sim:fail=content", "failed")])
async def test_a_job_ends_by_callback_through_the_webhook_route_with_zero_polls(
    every_sim: tuple[str, Simulator], env: dict[str, str], tmp_path: Path, directive: str, status: str
):
    import test_transports as transports

    url, luma_sim = every_sim
    port = free_port()
    server_env = {
        **env,
        **sample_env(url),
        "VIDEOGEN_POLL_SCALE": "0.05",  # the first safety-net poll comes long after the callbacks
        "VIDEOGEN_PUBLIC_URL": f"http://127.0.0.1:{port}",
    }
    with transports.serving(server_env, "streamable-http", port=port) as served:
        async with Client(f"{served}/mcp") as client:
            result = await client.call_tool(
                "generate_video",
                {
                    "prompt": f"a lighthouse {directive} sim:seconds=5 sim:queue=0",
                    "provider": "luma",
                    "wait_seconds": 20,
                },
            )
    job = result.structured_content
    assert job["status"] == status, job
    ref = job["provider_job_id"]
    assert luma_sim.polls[ref] == 0 and luma_sim.callbacks_delivered[ref] >= 2  # dreaming, then the end
    assert luma_sim.jobs[ref].extra["callback_url"].startswith(f"http://127.0.0.1:{port}/webhooks/{job['job_id']}/")
    sent = [body["state"] for body in luma_sim.jobs[ref].extra["callbacks_sent"]]
    assert sent == ["dreaming", "completed" if status == "succeeded" else "failed"]
    if status == "failed":
        assert job["error"]["code"] == ErrorCode.CONTENT_POLICY.value
    else:
        assert luma_sim.downloads[ref] == 1 and Path(job["video"]["path"]).stat().st_size > 0


# -- the simulator refuses what the Dream Machine API refuses ------------------------------------------------------


def _post(base: str, body: Any, key: str = KEY) -> httpx.Response:
    return httpx.post(f"{base}/generations/video", json=body, headers={"Authorization": f"Bearer {key}"})


@pytest.mark.parametrize(
    ("body", "status", "where"),
    [
        ({"prompt": "x"}, 422, ["body", "model"]),
        ({"model": "ray-9", "prompt": "x"}, 422, ["body", "model"]),
        ({"model": "ray-2", "aspect_ratio": "2:1"}, 422, ["body", "aspect_ratio"]),
        ({"model": "ray-2", "loop": "yes"}, 422, ["body", "loop"]),
        ({"model": "ray-2", "keyframes": {"frame0": {"type": "video", "url": START}}}, 422, None),
        ({"model": "ray-2", "keyframes": {"frame0": {"type": "image"}}}, 422, ["body", "keyframes", "frame0", "url"]),
        ({"model": "ray-2", "duration": "7s"}, 400, None),
        ({"model": "ray-2", "duration": 5}, 422, ["body", "duration"]),
        ({"model": "ray-2", "resolution": "2k"}, 400, None),
        ({"model": "ray-2", "keyframes": {"frame0": {"type": "image", "url": "data:image/png;base64,AA"}}}, 400, None),
        ({"model": "ray-2", "keyframes": {"frame0": {"type": "generation", "id": "nope"}}}, 400, None),
    ],
)
def test_the_simulator_validates_like_luma(base: str, sim: Simulator, body: dict, status: int, where: list | None):
    response = _post(base, body)
    assert response.status_code == status, response.text
    detail = response.json()["detail"]
    if status == 400:
        assert isinstance(detail, str) and detail.startswith("400: ")
    else:
        assert isinstance(detail, list) and (where is None or detail[0]["loc"] == where), detail
    assert sim.submissions == 0


def test_the_simulator_answers_keys_lists_deletes_and_credits(base: str, sim: Simulator):
    assert _post(base, {"model": "ray-2"}, key="sk-not-luma").status_code == 401
    headers = {"Authorization": f"Bearer {KEY}"}
    created = _post(base, {"model": "ray-flash-2", "prompt": "sim:seconds=1 sim:queue=0", "resolution": "540p"})
    assert created.status_code == 201 and created.json()["state"] == "queued"
    first = created.json()["id"]
    deadline = time.monotonic() + 5
    while httpx.get(f"{base}/generations/{first}", headers=headers).json()["state"] != "completed":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    extended = _post(base, {"model": "ray-2", "keyframes": {"frame0": {"type": "generation", "id": first}}})
    assert extended.status_code == 201  # a completed generation extends
    listed = httpx.get(f"{base}/generations", params={"limit": 1}, headers=headers).json()
    assert (listed["count"], listed["has_more"]) == (1, True) and listed["generations"][0]["id"] == extended.json()[
        "id"
    ]
    other = httpx.get(f"{base}/generations/{first}", headers={"Authorization": "Bearer luma-another-key"})
    assert other.status_code == 404  # another key's generation
    assert httpx.delete(f"{base}/generations/{first}", headers=headers).status_code == 204
    assert httpx.get(f"{base}/generations/{first}", headers=headers).status_code == 404
    sim.config["balance_cents"] = 123.0
    assert httpx.get(f"{base}/credits", headers=headers).json() == {"credit_balance": 123.0}
    priced = _post(base, {"model": "ray-flash-2", "resolution": "540p"})  # 960x540x24x5 px at $0.0022/Mpx
    assert priced.status_code == 201 and sim.config["balance_cents"] == pytest.approx(123.0 - 13.68576)
