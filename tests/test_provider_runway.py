"""The Runway adapter against its simulator over loopback: tools, wire bodies, prices, errors, cancel,
restart, and the official `runwayml` SDK talking to the simulator unchanged."""

from __future__ import annotations

import base64
import json
import os
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp import Client
from starlette.applications import Starlette
from starlette.routing import Mount

from providers.base import ErrorCode, InvalidRequest, ProviderError, Submission, VideoRequest
from providers.registry import Providers
from providers.runway import MODELS, TEXT_TO_VIDEO_RATIOS, RunwayProvider, failure_error, snapshot
from providers.simulators.common import Simulator, running
from providers.simulators.runway import create_app
from server.app import build_server
from server.catalog import Catalog, RequestArgs
from server.jobs import SUBMIT_RESENDS, JobManager
from server.media import probe
from server.settings import Settings
from tests.runway_sdk import frame_positions, literals, sdk_models

pytestmark = pytest.mark.anyio

KEY = "key_" + "feedface" * 16  # well-formed: key_ and 128 hex digits
SPEED = 300.0  # a simulated minute passes in 0.2 s


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, Simulator]]:
    app = create_app(speed=SPEED)
    with running(Starlette(routes=[Mount("/runway", app=app)])) as url:
        yield url, app.state.sim


@pytest.fixture
def sim(server: tuple[str, Simulator]) -> Simulator:
    """The shared simulator, emptied for each test."""
    simulator = server[1]
    with simulator.lock:
        simulator.jobs.clear()
        simulator.config.clear()
        simulator.polls.clear()
        simulator.submissions = 0
    return simulator


@pytest.fixture
def rw_env(env: dict[str, str], server: tuple[str, Simulator], sim: Simulator) -> dict[str, str]:
    return {
        **env,
        "VIDEOGEN_RUNWAY_BASE_URL": f"{server[0]}/runway",
        "RUNWAYML_API_SECRET": KEY,
        "VIDEOGEN_POLL_SCALE": "0.01",
        "VIDEOGEN_DEFAULT_PROVIDER": "runway",
    }


@pytest.fixture
def rw_settings(rw_env: dict[str, str]) -> Settings:
    return Settings.from_env(rw_env)


@pytest.fixture
def picture(tmp_path: Path) -> Path:
    from PIL import Image

    path = tmp_path / "inputs" / "start.png"
    Image.new("RGB", (512, 288), (30, 120, 200)).save(path)
    return path


def no_key_in(result: Any, key: str = KEY) -> None:
    texts = [getattr(c, "text", "") or "" for c in result.content]
    dumped = json.dumps(result.structured_content or {})
    assert all(key not in text for text in texts) and key not in dumped


def last_payload(sim: Simulator) -> dict[str, Any]:
    return list(sim.jobs.values())[-1].payload


async def generate(settings: Settings, **args: Any) -> Any:
    async with Client(build_server(settings)) as client:
        result = await client.call_tool("generate_video", {"wait_seconds": 20, **args})
    no_key_in(result)
    return result


# -- 1. through the MCP tools ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "size"),
    [
        ({"model": "gen4.5", "duration": 3, "aspect_ratio": "9:16"}, (144, 256)),
        ({"model": "veo3.1_fast", "duration": 4, "resolution": "1080p", "audio": True}, (256, 144)),
    ],
    ids=["gen4.5", "veo3.1_fast"],
)
async def test_text_to_video_through_the_tools(rw_settings: Settings, sim: Simulator, args, size):
    messages: list[str] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        messages.append(message or "")

    async with Client(build_server(rw_settings)) as client:
        result = await client.call_tool(
            "generate_video",
            {"prompt": "a lighthouse in a storm sim:seconds=150", "wait_seconds": 20, **args},
            progress_callback=on_progress,
        )
    no_key_in(result)
    job = result.structured_content
    assert not result.is_error and job["status"] == "succeeded", result.content
    assert job["provider"] == "runway" and job["provider_job_id"] in sim.jobs
    info = probe(job["video"]["path"])
    assert abs(info.duration_seconds - args["duration"]) < 0.2 and (info.width, info.height) == size
    assert job["video"]["url"].startswith(f"{rw_settings.env['VIDEOGEN_RUNWAY_BASE_URL']}/_sim/videos/")
    assert job["cost_is_estimate"] is False  # the task's final `cost`, in credits at $0.01
    assert job["cost"] == pytest.approx({"gen4.5": 0.36, "veo3.1_fast": 0.60}[args["model"]])
    assert sim.submissions == 1 and any("generating (" in m for m in messages), messages


async def test_image_to_video_from_a_local_file_and_an_https_url(rw_settings: Settings, sim: Simulator, picture):
    from_file = await generate(
        rw_settings, prompt="the water ripples", model="gen4_turbo", images=[str(picture)], aspect_ratio="1:1"
    )
    from_url = await generate(
        rw_settings,
        prompt="the camera pulls back",
        model="veo3.1",
        duration=6,
        images=["https://example.com/start.png"],
        end_image=str(picture),
    )
    for result, seconds in ((from_file, 5), (from_url, 6)):
        job = result.structured_content
        assert job["status"] == "succeeded" and job["request"]["mode"] == "image_to_video", result.content
        assert abs(probe(job["video"]["path"]).duration_seconds - seconds) < 0.2
    turbo, veo = (job.payload for job in sim.jobs.values())
    assert turbo["promptImage"] == "data:image/png;base64," + base64.b64encode(picture.read_bytes()).decode()
    assert [frame["position"] for frame in veo["promptImage"]] == ["first", "last"]


async def test_statuses_and_poll_cadence():
    throttled = snapshot({"id": "t", "status": "THROTTLED"})
    assert throttled.status == "queued" and "concurrency" in throttled.message
    assert snapshot({"id": "t", "status": "RUNNING", "progress": 40}).progress == 0.4  # percent, just in case
    assert snapshot({"id": "t", "status": "SOMETHING_NEW"}).status == "running"  # as the SDK: keep waiting
    empty = snapshot({"id": "t", "status": "SUCCEEDED", "output": []})
    assert empty.status == "failed" and empty.error and empty.error.code == ErrorCode.PROVIDER_FAILED
    provider = RunwayProvider({})
    for spec in MODELS:  # 5-10 s (+/-15% jitter) like the SDK's 6 s, 15 s once far past the typical time
        assert 4.25 <= provider.poll_interval(spec, 0) <= 11.5
        assert 12.75 <= provider.poll_interval(spec, 4 * spec.typical_seconds) <= 17.25


# -- 2. the exact wire bodies ----------------------------------------------------------------------

DATA = "<data uri of start.png>"
VIDEO_URL = "https://example.com/in.mp4"
BODIES = [
    (
        {"model": "gen4.5", "duration": 7, "aspect_ratio": "9:16", "seed": 42},
        "text_to_video",
        {"model": "gen4.5", "promptText": "PP", "ratio": "720:1280", "duration": 7, "seed": 42},
    ),
    (
        {"model": "gen4.5", "aspect_ratio": "21:9", "images": ["<file>"]},
        "image_to_video",
        {"model": "gen4.5", "promptText": "PP", "ratio": "1584:672", "duration": 5, "promptImage": DATA},
    ),
    (
        {"model": "gen4_turbo", "duration": 10, "aspect_ratio": "4:3", "images": ["https://example.com/a.webp"]},
        "image_to_video",
        {
            "model": "gen4_turbo",
            "promptText": "PP",
            "ratio": "1104:832",
            "duration": 10,
            "promptImage": "https://example.com/a.webp",
        },
    ),
    (
        {"model": "veo3.1", "duration": 6, "resolution": "1080p", "audio": True, "negative_prompt": "blur", "seed": 1},
        "text_to_video",
        {
            "model": "veo3.1",
            "promptText": "PP",
            "ratio": "1920:1080",
            "duration": 6,
            "seed": 1,
            "audio": True,
            "negativePrompt": "blur",
        },
    ),
    (
        {"model": "veo3.1", "aspect_ratio": "9:16", "images": ["<file>"], "end_image": "https://example.com/z.jpg"},
        "image_to_video",
        {
            "model": "veo3.1",
            "promptText": "PP",
            "ratio": "720:1280",
            "duration": 8,
            "promptImage": [
                {"uri": DATA, "position": "first"},
                {"uri": "https://example.com/z.jpg", "position": "last"},
            ],
            "audio": False,
        },
    ),
    (
        {"model": "veo3.1_fast", "duration": 4},
        "text_to_video",
        {"model": "veo3.1_fast", "promptText": "PP", "ratio": "1280:720", "duration": 4, "audio": False},
    ),
    (
        {
            "model": "veo3.1_fast",
            "aspect_ratio": "9:16",
            "resolution": "1080p",
            "audio": True,
            "images": ["https://example.com/a.png"],
        },
        "image_to_video",
        {
            "model": "veo3.1_fast",
            "promptText": "PP",
            "ratio": "1080:1920",
            "duration": 8,
            "promptImage": "https://example.com/a.png",
            "audio": True,
        },
    ),
    (
        {"model": "gen4_turbo", "duration": 3, "images": ["https://example.com/a.png"]},  # any 2-10 s (SDK)
        "image_to_video",
        {
            "model": "gen4_turbo",
            "promptText": "PP",
            "ratio": "1280:720",
            "duration": 3,
            "promptImage": "https://example.com/a.png",
        },
    ),
    (
        {"model": "seedance2", "duration": 12, "aspect_ratio": "9:16", "resolution": "480p", "audio": True, "seed": 9},
        "text_to_video",
        {"model": "seedance2", "promptText": "PP", "ratio": "496:864", "duration": 12, "seed": 9, "audio": True},
    ),
    (
        {"model": "seedance2", "aspect_ratio": "4:3", "images": ["<file>"], "end_image": "https://example.com/z.jpg"},
        "image_to_video",
        {
            "model": "seedance2",
            "promptText": "PP",
            "ratio": "1112:834",
            "duration": 5,
            "promptImage": [
                {"uri": DATA, "position": "first"},
                {"uri": "https://example.com/z.jpg", "position": "last"},
            ],
            "audio": False,
        },
    ),
    # the other labs' models: how each is told the shape (SHAPES), as its SDK type declares
    (
        {"model": "hailuo3", "aspect_ratio": "21:9", "resolution": "2k"},
        "text_to_video",
        {"model": "hailuo3", "promptText": "PP", "ratio": "21:9", "resolution": "2k", "duration": 5},
    ),
    (
        {"model": "grok_imagine_1_5", "duration": 2, "images": ["https://example.com/a.png"]},
        "image_to_video",
        {
            "model": "grok_imagine_1_5",
            "promptText": "PP",
            "resolution": "720p",
            "duration": 2,
            "promptImage": "https://example.com/a.png",
        },
    ),
    (
        {"model": "happyhorse_1_0", "resolution": "1080p", "images": ["https://example.com/a.png"]},
        "image_to_video",
        {
            "model": "happyhorse_1_0",
            "promptText": "PP",
            "resolution": "1080p",
            "duration": 5,
            "promptImage": "https://example.com/a.png",
        },
    ),
    (
        {"model": "wan3", "resolution": "1080p", "images": ["<file>"], "end_image": "https://example.com/z.jpg"},
        "image_to_video",
        {
            "model": "wan3",
            "promptText": "PP",
            "ratio": "auto_1080p",
            "duration": 5,
            "promptImage": [
                {"uri": DATA, "position": "first"},
                {"uri": "https://example.com/z.jpg", "position": "last"},
            ],
            "audio": False,
        },
    ),
    (
        {"model": "kling3.0_4k", "aspect_ratio": "9:16", "audio": True},
        "text_to_video",
        {"model": "kling3.0_4k", "promptText": "PP", "ratio": "2160:3840", "duration": 5, "audio": True},
    ),
    (
        {"model": "seedance2_5", "aspect_ratio": "16:9", "resolution": "480p"},
        "text_to_video",
        {"model": "seedance2_5", "promptText": "PP", "ratio": "854:480", "duration": 5, "audio": True},
    ),
    (
        {"model": "aleph2", "video": VIDEO_URL, "seed": 3, "duration": 30},  # an https input: quoted at 30 s
        "video_to_video",
        {"model": "aleph2", "promptText": "PP", "videoUri": VIDEO_URL, "seed": 3},
    ),
]


def _resolve(env: dict[str, str], **args: Any):
    settings = Settings.from_env(env)
    providers = Providers(settings.env, settings.allowed_dirs)
    return Catalog(providers, settings.allowed_dirs).resolve(RequestArgs(provider="runway", **args))


@pytest.mark.parametrize(("args", "mode", "expected"), BODIES, ids=[f"{b[0]['model']}-{b[1]}" for b in BODIES])
async def test_request_body_per_model_and_mode(rw_env, sim: Simulator, picture: Path, args, mode, expected):
    data = "data:image/png;base64," + base64.b64encode(picture.read_bytes()).decode()
    args = {k: ([str(picture) if i == "<file>" else i for i in v] if k == "images" else v) for k, v in args.items()}
    provider, _, request = _resolve(rw_env, prompt="PP", **args)
    assert request.mode == mode
    submission = await provider.submit("job_body", request)
    await provider.aclose()
    body = sim.jobs[submission.ref].payload
    expected = json.loads(json.dumps(expected).replace(json.dumps(DATA), json.dumps(data)))
    # Compared as JSON text, so 7 and 7.0 differ: Runway wants integer durations.
    assert json.dumps(body, sort_keys=True) == json.dumps(expected, sort_keys=True)
    assert submission.state == {"estimated_credits": sim.jobs[submission.ref].extra["credits"]}


async def test_every_model_is_priced_with_a_source_and_a_date():
    for spec in MODELS:
        assert spec.priced and spec.price_source.startswith("https://"), spec.id
        assert spec.price_checked in ("2026-12-03", "2026-12-04", "2026-12-06"), spec.id
    ids = [m.id for m in MODELS]
    assert ids[:5] == ["gen4.5", "gen4_turbo", "veo3.1", "veo3.1_fast", "seedance2"] and len(ids) == len(set(ids))


@pytest.mark.parametrize(
    ("args", "words"),
    [
        ({"model": "gen4.5", "aspect_ratio": "1:1"}, "16:9 or 9:16"),
        ({"model": "gen4_turbo", "images": ["http://example.com/a.png"]}, "https://"),
        ({"model": "gen4.5", "prompt": "🎬" * 600}, "UTF-16"),  # 600 code points, 1200 UTF-16 units
    ],
)
async def test_refused_before_a_job_exists_what_runway_would_refuse(rw_settings, sim: Simulator, args, words):
    async with Client(build_server(rw_settings)) as client:
        result = await client.call_tool("generate_video", {"prompt": "P", "provider": "runway", **args})
        assert result.is_error and "INVALID_INPUT" in result.content[0].text and words in result.content[0].text
        assert (await client.call_tool("list_jobs", {})).structured_content["jobs"] == []
    assert sim.submissions == 0
    assert TEXT_TO_VIDEO_RATIOS["gen4.5"] == ("16:9", "9:16")


async def test_large_and_gif_images_are_reencoded(rw_env, sim: Simulator, tmp_path: Path):
    from PIL import Image

    noise = tmp_path / "inputs" / "noise.png"  # incompressible: ~5.2 MB as PNG, over Runway's 5 MB data URI cap
    Image.frombytes("RGB", (1300, 1340), os.urandom(1300 * 1340 * 3)).save(noise)
    gif = tmp_path / "inputs" / "one.gif"
    Image.new("RGB", (64, 64), (200, 0, 0)).save(gif)
    provider = RunwayProvider(rw_env, [tmp_path / "inputs"])
    big = provider.image_uri(str(noise))
    assert big.startswith("data:image/jpeg;base64,") and len(big) < 5 * 1024 * 1024
    assert provider.image_uri(str(gif)).startswith("data:image/png;base64,")


# -- 3. prices -------------------------------------------------------------------------------------

URL = "https://example.com/a.png"
PRICES = [
    ({"model": "gen4.5", "duration": 5}, 0.60),
    ({"model": "gen4.5", "duration": 10}, 1.20),
    ({"model": "gen4.5", "duration": 2}, 0.24),
    ({"model": "gen4_turbo", "duration": 5, "images": [URL]}, 0.25),
    ({"model": "gen4_turbo", "duration": 10, "images": [URL]}, 0.50),
    ({"model": "gen4_turbo", "duration": 3, "images": [URL]}, 0.15),
    ({"model": "veo3.1", "duration": 8}, 1.60),
    ({"model": "veo3.1", "duration": 8, "audio": True}, 3.20),
    ({"model": "veo3.1", "duration": 4, "audio": True, "resolution": "1080p"}, 1.60),
    ({"model": "veo3.1_fast", "duration": 8}, 0.80),
    ({"model": "veo3.1_fast", "duration": 6, "audio": True}, 0.90),
    ({"model": "seedance2", "duration": 5}, 1.80),
    ({"model": "seedance2", "duration": 15, "audio": True}, 5.40),
    ({"model": "seedance2", "duration": 4, "resolution": "480p"}, 1.44),
    # Runway's pricing guide (copies): credits/s x seconds / 100
    ({"model": "seedance2", "duration": 5, "resolution": "1080p"}, 40 * 5 / 100),
    ({"model": "seedance2", "duration": 4, "resolution": "4k"}, 150 * 4 / 100),
    ({"model": "seedance2_fast", "duration": 10}, 29 * 10 / 100),
    ({"model": "seedance2_mini", "duration": 4, "resolution": "480p"}, 16 * 4 / 100),
    ({"model": "seedance2_5", "duration": 30, "resolution": "1080p"}, 68 * 30 / 100),
    ({"model": "seedance2_5", "duration": 4, "resolution": "480p"}, 20 * 4 / 100),
    ({"model": "hailuo3", "duration": 10, "resolution": "2k"}, 15 * 10 / 100),
    ({"model": "hailuo3", "duration": 5}, 10 * 5 / 100),
    ({"model": "happyhorse_1_0", "duration": 15, "resolution": "1080p"}, 30 * 15 / 100),
    ({"model": "wan3", "duration": 30, "resolution": "480p"}, 5 * 30 / 100),
    ({"model": "wan3", "duration": 2, "resolution": "1080p"}, 20 * 2 / 100),
    ({"model": "kling3.0_standard", "duration": 15, "audio": True}, 13 * 15 / 100),
    ({"model": "kling3.0_pro", "duration": 3}, 41 * 3 / 100),
    ({"model": "klingO3_pro", "duration": 10, "audio": True}, 41 * 10 / 100),
    ({"model": "kling3.0_4k", "duration": 5}, 45 * 5 / 100),
    ({"model": "klingO3_4k", "duration": 15, "audio": True}, 45 * 15 / 100),
    ({"model": "kling2.5_turbo_pro", "duration": 10, "resolution": "1080p"}, 10 * 10 / 100),
    ({"model": "wan3_prime", "duration": 30, "resolution": "1080p"}, 28 * 30 / 100),
    ({"model": "wan3_prime", "duration": 2, "resolution": "480p"}, 7 * 2 / 100),
    # quoted with the start frame's 1 credit
    ({"model": "grok_imagine_1_5", "duration": 1, "resolution": "480p"}, (10 + 1) / 100),
    ({"model": "grok_imagine_1_5", "duration": 5, "resolution": "720p"}, (16 * 5 + 1) / 100),
    ({"model": "grok_imagine_1_5", "duration": 15, "resolution": "1080p"}, (29 * 15 + 1) / 100),
    ({"model": "gemini_omni_flash", "duration": 10}, (10 * 10 + 1) / 100),
    ({"model": "aleph2", "video": VIDEO_URL}, 28 * 30 / 100),  # by default, the longest input
    ({"model": "h3_max", "duration": 15, "resolution": "480p"}, 5 * 15 / 100),
    ({"model": "h3_max", "duration": 5}, 8 * 5 / 100),  # 768p by default
    ({"model": "grok_imagine_1_5_lite", "duration": 5, "resolution": "480p"}, (2 * 5 + 1) / 100),
    ({"model": "grok_imagine_1_5_lite", "duration": 5, "resolution": "720p"}, (3 * 5 + 1) / 100),
    ({"model": "grok_imagine_1_5_lite", "duration": 15, "resolution": "1080p"}, (14 * 15 + 1) / 100),
    # no per-resolution price found: the top of Runway's 3.4-30 credits/s, and 2 credits for the frames
    ({"model": "gemini_omni_flash_1.1", "duration": 10, "resolution": "360p"}, (30 * 10 + 2) / 100),
    ({"model": "gemini_omni_flash_1.1", "duration": 3, "resolution": "4k"}, (30 * 3 + 2) / 100),
    # no Runway price: 2.5 times fal's ($0.157/s, $0.235/s), in whole credits
    ({"model": "kling_4", "duration": 30}, 40 * 30 / 100),
    ({"model": "kling_4", "duration": 3, "resolution": "1080p"}, 59 * 3 / 100),
]


@pytest.mark.parametrize(
    ("args", "usd"), PRICES, ids=[f"{a['model']}-{a.get('duration')}-{usd:g}" for a, usd in PRICES]
)
async def test_estimate_cost(rw_settings: Settings, sim: Simulator, args, usd):
    async with Client(build_server(rw_settings)) as client:
        result = await client.call_tool("estimate_cost", {"prompt": "a cat", **args})
    cost = result.structured_content
    assert not result.is_error and cost["provider"] == "runway" and cost["configured"] is True
    assert cost["usd"] == pytest.approx(usd)
    assert sim.submissions == 0


# -- 4. errors -------------------------------------------------------------------------------------


async def failed_with(settings: Settings, code: ErrorCode, *words: str, **args: Any) -> dict[str, Any]:
    result = await generate(settings, **{"prompt": "a quiet harbour", "model": "gen4.5", "duration": 2, **args})
    job = result.structured_content
    assert job["status"] == "failed", job
    assert job["error"]["code"] == code.value, job["error"]
    assert all(word in job["error"]["message"] for word in words), job["error"]["message"]
    return job


async def test_bad_key_is_auth_and_names_the_env_var(rw_env, sim: Simulator):
    secret = "rw-live-S3CRET-value-0000"  # not key_ + 128 hex: Runway answers 401
    settings = Settings.from_env({**rw_env, "RUNWAYML_API_SECRET": secret})
    async with Client(build_server(settings)) as client:
        result = await client.call_tool("generate_video", {"prompt": "x", "duration": 2, "wait_seconds": 20})
    no_key_in(result, secret)
    error = result.structured_content["error"]
    assert error["code"] == "AUTH" and "RUNWAYML_API_SECRET" in error["message"] and "rejected" in error["message"]
    assert error["retryable"] is False and sim.submissions == 0


async def test_out_of_credit(rw_settings: Settings, sim: Simulator):
    sim.config["credits"] = 10  # a 2 s gen4.5 video costs 24 credits
    job = await failed_with(rw_settings, ErrorCode.OUT_OF_CREDIT, "enough credits", "dev.runwayml.com")
    assert job["error"]["retryable"] is False and sim.submissions == 0


async def test_a_task_runway_estimates_above_our_quote_is_cancelled_before_it_runs(rw_settings, sim: Simulator):
    """Runway's create answer says the most the task may charge; above the quote the budget reserved, the engine
    stores the task's id and cancels it at once (refunded: not yet RUNNING); the job says both figures."""
    # Runway charging 18 credits/s for gen4.5, not 12; the task stays queued 900 s of its clock (3 s here), so the
    # cancel finds it PENDING on a loaded machine too
    sim.config.update(price_factor=1.5, credits=1000)
    result = await generate(rw_settings, prompt="a quiet harbour sim:queue=900", model="gen4.5", duration=2)
    job = result.structured_content
    assert job["status"] == "cancelled", job
    assert all(w in job["message"] for w in ("36 credits ($0.36)", "$0.24 quoted", "cancelled at once")), job
    (task,) = sim.jobs.values()
    assert job["provider_job_id"] == task.id and task.extra["deleted"] and task.cancelled
    assert sim.config["credits"] == 1000  # refunded: nothing stays charged at Runway
    assert job["cost"] == pytest.approx(0.36) and job["cost_is_estimate"]  # Runway's: the most a started task keeps
    async with Client(build_server(rw_settings)) as client:  # counted at that, not at our $0.24
        spent = (await client.call_tool("estimate_cost", {"prompt": "P", "duration": 2})).structured_content
    assert spent["budget"]["today_spent_usd"] == pytest.approx(0.36)


@pytest.mark.parametrize(("model", "factor"), [("kling_4", 2.6), ("gemini_omni_flash_1.1", 3.2)])
async def test_a_model_quoted_without_a_runway_price_is_cancelled_when_runway_asks_more(
    rw_settings, sim: Simulator, model: str, factor: float
):
    """Kling 4.0 and Gemini Omni Flash 1.1 have no Runway price we could read: were Runway's real price above
    our high quote (here the simulator's stand-in rate times `factor`), the task is cancelled before it runs."""
    spec = next(s for s in MODELS if s.id == model)
    sim.config.update(price_factor=factor, credits=10_000)
    result = await generate(
        rw_settings, prompt="a quiet harbour sim:queue=900", model=model, duration=spec.durations[0]
    )
    job = result.structured_content
    quote = spec.price_for(spec.durations[0], spec.default_resolution, False)[0]
    assert job["status"] == "cancelled" and f"${quote:.2f} quoted" in job["message"], job
    assert sim.config["credits"] == 10_000  # refunded
    sim.config.update(price_factor=1.0)  # at the simulator's stand-in rate: under the quote, it runs
    result = await generate(rw_settings, prompt="a quiet harbour", model=model, duration=spec.durations[0])
    assert result.structured_content["status"] == "succeeded", result.structured_content


async def test_a_task_estimated_at_our_quote_runs(rw_settings, sim: Simulator):
    sim.config["price_factor"] = 1.0  # Runway's figure equals the quote: not above it
    result = await generate(rw_settings, prompt="a quiet harbour", model="gen4.5", duration=2)
    assert result.structured_content["status"] == "succeeded", result.structured_content
    assert result.structured_content["cost"] == pytest.approx(0.24)


async def test_an_over_quote_task_is_only_marked_at_submit_so_its_id_is_stored_before_the_cancel(rw_env, sim):
    """The adapter does not cancel inside submit (a crash there would lose a live task): it marks the submission,
    and the engine cancels once the id is in the index (see the test above)."""
    from providers.base import CANCEL_AT_ONCE

    sim.config["price_factor"] = 2.0
    provider = RunwayProvider(rw_env)
    _, _, request = _resolve(rw_env, prompt="a quiet harbour", model="gen4.5", duration=2)
    try:
        submission = await provider.submit("job-1", request)
    finally:
        await provider.aclose()
    assert submission.state["estimated_credits"] == 48 and "48 credits" in submission.state[CANCEL_AT_ONCE]
    assert not sim.jobs[submission.ref].extra.get("deleted")


async def test_rate_limit_is_retried_then_fails(rw_settings: Settings, sim: Simulator):
    sim.config["errors"] = [429] * (SUBMIT_RESENDS + 1) * 4  # every attempt of every resend of the submit
    job = await failed_with(rw_settings, ErrorCode.RATE_LIMITED, "HTTP 429", "try again")
    assert job["error"]["retryable"] is True and sim.config["errors"] == [] and sim.submissions == 0


async def test_rate_limit_that_clears_succeeds(rw_settings: Settings, sim: Simulator):
    sim.config["errors"] = [429, 429, 503]  # refusals: a submit may be sent again
    result = await generate(rw_settings, prompt="a quiet harbour", duration=2)
    assert result.structured_content["status"] == "succeeded" and sim.submissions == 1


async def test_content_policy(rw_settings: Settings, sim: Simulator):
    job = await failed_with(
        rw_settings, ErrorCode.CONTENT_POLICY, "SAFETY.INPUT.TEXT", "moderation", prompt="a storm sim:fail=content"
    )
    assert job["error"]["retryable"] is False


async def test_provider_side_invalid_input(rw_settings: Settings, sim: Simulator):
    # Passes our checks (an https URL) but Runway refuses images addressed by IP.
    job = await failed_with(
        rw_settings, ErrorCode.INVALID_INPUT, "HTTP 400", "promptImage", "domain", images=["https://203.0.113.7/a.png"]
    )
    assert job["error"]["retryable"] is False and sim.submissions == 0


async def test_internal_failure_is_retryable_provider_failed(rw_settings: Settings, sim: Simulator):
    job = await failed_with(
        rw_settings, ErrorCode.PROVIDER_FAILED, "INTERNAL.BAD_OUTPUT", "again", prompt="x sim:fail=internal"
    )
    assert job["error"]["retryable"] is True


async def test_server_errors_while_polling_are_transient_and_retried(rw_settings: Settings, sim: Simulator):
    async with Client(build_server(rw_settings)) as client:
        started = await client.call_tool("generate_video", {"prompt": "x sim:queue=30", "wait_seconds": 0})
        job_id = started.structured_content["job_id"]
        await wait_until(lambda: sim.submissions == 1)
        sim.config["errors"] = [502] * 5  # one whole poll (4 attempts) fails, the engine polls again
        done = await client.call_tool("get_status", {"job_id": job_id, "wait_seconds": 20})
    no_key_in(done)
    assert done.structured_content["status"] == "succeeded" and sim.config["errors"] == []


async def test_server_error_on_submit_is_not_resent(rw_settings: Settings, sim: Simulator):
    sim.config["errors"] = [500]
    await failed_with(rw_settings, ErrorCode.SUBMIT_UNCONFIRMED, "HTTP 500", "not re-sent")
    assert sim.config["errors"] == [] and sim.submissions == 0


async def test_task_gone_is_not_found(rw_settings: Settings, sim: Simulator):
    async with Client(build_server(rw_settings)) as client:
        started = await client.call_tool("generate_video", {"prompt": "x sim:queue=600", "wait_seconds": 0})
        job_id = started.structured_content["job_id"]
        await wait_until(lambda: sim.submissions == 1)
        sim.jobs.clear()  # deleted at Runway (or another organisation's task)
        done = await client.call_tool("get_status", {"job_id": job_id, "wait_seconds": 20})
    no_key_in(done)
    error = done.structured_content["error"]
    assert done.structured_content["status"] == "failed" and error["code"] == "NOT_FOUND"
    assert "HTTP 404" in error["message"] and "deleted" in error["message"]


@pytest.mark.parametrize(
    ("code", "ours", "retryable"),
    [
        ("SAFETY.INPUT.IMAGE", ErrorCode.CONTENT_POLICY, False),
        ("SAFETY.OUTPUT.VIDEO", ErrorCode.CONTENT_POLICY, False),
        ("INPUT_PREPROCESSING.SAFETY.TEXT", ErrorCode.CONTENT_POLICY, False),
        ("ASSET.INVALID", ErrorCode.INVALID_INPUT, False),
        ("INPUT_PREPROCESSING.INTERNAL", ErrorCode.PROVIDER_FAILED, True),
        ("INTERNAL", ErrorCode.PROVIDER_FAILED, True),
        ("", ErrorCode.PROVIDER_FAILED, False),
    ],
)
async def test_failure_codes(code: str, ours: ErrorCode, retryable: bool):
    error = failure_error(code, "Something happened.")
    assert (error.code, error.retryable) == (ours, retryable)
    assert "Something happened" in error.message and (code or "no code") in error.message


# -- 5. cancel -------------------------------------------------------------------------------------


async def test_cancel_cancels_the_runway_task(rw_settings: Settings, sim: Simulator):
    async with Client(build_server(rw_settings)) as client:
        started = await client.call_tool("generate_video", {"prompt": "never mind sim:queue=600", "wait_seconds": 0})
        job_id = started.structured_content["job_id"]
        await wait_until(lambda: sim.submissions == 1)
        await wait_until(lambda: bool(sim.polls))
        cancelled = await client.call_tool("cancel_job", {"job_id": job_id})
    no_key_in(cancelled)
    job = cancelled.structured_content
    assert job["status"] == "cancelled" and "cancelled at Runway" in job["message"]
    (task,) = sim.jobs.values()
    assert task.cancelled and task.extra["deleted"]


# -- 6. restart mid-job ----------------------------------------------------------------------------


async def test_restart_resumes_without_submitting_again(rw_settings: Settings, sim: Simulator):
    args = RequestArgs(prompt="a slow pan sim:seconds=200", provider="runway", model="gen4.5", duration=2)
    async with JobManager(rw_settings) as first:
        row = await first.submit(args)
        await wait_until(lambda: first.get(row.job_id).status == "running")
    async with JobManager(rw_settings) as second:
        done = await second.wait(row.job_id, 20)
    assert done.status == "succeeded", done.error
    assert sim.submissions == 1 and abs(probe(done.video["path"]).duration_seconds - 2) < 0.2


# -- 7. the official SDK against the simulator -----------------------------------------------------


async def test_official_sdk_talks_to_the_simulator(server: tuple[str, Simulator], sim: Simulator):
    import runwayml

    client = runwayml.AsyncRunwayML(api_key=KEY, base_url=f"{server[0]}/runway", max_retries=0)
    async with client:
        created = await client.text_to_video.create(
            model="gen4.5", prompt_text="a red fox in snow", ratio="1280:720", duration=5, seed=3
        )
        first = await client.tasks.retrieve(created.id)
        assert first.status in ("PENDING", "RUNNING") and first.id == created.id
        with anyio.fail_after(10):
            task = first
            while task.status != "SUCCEEDED":
                await anyio.sleep(0.05)
                task = await client.tasks.retrieve(created.id)
        assert task.cost.credits == 60
        video = httpx.get(task.output[0])
        assert video.status_code == 200 and video.content[4:8] == b"ftyp"

        frames = await client.image_to_video.create(
            model="veo3.1",
            prompt_image=[
                {"uri": "https://example.com/a.png", "position": "first"},
                {"uri": "https://example.com/b.png", "position": "last"},
            ],
            ratio="720:1280",
            duration=4,
            audio=False,
        )
        await client.tasks.delete(frames.id)
        with pytest.raises(runwayml.NotFoundError):  # "Aborted and deleted tasks will not be able to be fetched"
            await client.tasks.retrieve(frames.id)

        with pytest.raises(runwayml.BadRequestError) as bad:
            await client.text_to_video.create(model="gen4.5", prompt_text="x", ratio="16:9", duration=5)
        assert bad.value.body["issues"][0]["path"] == ["ratio"]
        with pytest.raises(runwayml.NotFoundError):
            await client.tasks.retrieve("00000000-0000-0000-0000-000000000000")
    wrong = runwayml.AsyncRunwayML(api_key="key_nope", base_url=f"{server[0]}/runway", max_retries=0)
    async with wrong:
        with pytest.raises(runwayml.AuthenticationError):
            await wrong.tasks.retrieve(created.id)
    assert sim.submissions == 2


async def test_simulator_requires_the_version_header(server: tuple[str, Simulator], sim: Simulator):
    async with httpx.AsyncClient(base_url=f"{server[0]}/runway") as http:
        body = {"model": "gen4.5", "promptText": "x", "ratio": "1280:720", "duration": 5}
        missing = await http.post("/v1/text_to_video", json=body, headers={"Authorization": f"Bearer {KEY}"})
        unknown = await http.post(
            "/v1/text_to_video",
            json={**body, "model": "gen3a_turbo"},  # removed from the API in 2026-06
            headers={"Authorization": f"Bearer {KEY}", "X-Runway-Version": "2024-11-06"},
        )
    assert missing.status_code == 400 and "X-Runway-Version" in missing.json()["error"]
    assert unknown.status_code == 400 and unknown.json()["issues"][0]["path"] == ["model"]
    assert sim.submissions == 0


# -- 8. fidelity: models, refunds, deletes, charges (issue 9) ---------------------------------------


async def test_veo3_is_gone_from_the_adapter_and_the_simulator(rw_settings: Settings, server, sim: Simulator):
    # veo3 left the API spec in SDK 5.14.0 (and never took a seed).
    async with Client(build_server(rw_settings)) as client:
        result = await client.call_tool("generate_video", {"prompt": "P", "provider": "runway", "model": "veo3"})
    assert result.is_error and "unknown model 'veo3'" in result.content[0].text
    body = {"model": "veo3", "promptText": "x", "ratio": "1280:720", "duration": 8}
    answer = await _post(server, "/v1/text_to_video", body)
    assert answer.status_code == 400 and answer.json()["issues"][0]["path"] == ["model"]
    assert "'seedance2'" in answer.json()["issues"][0]["message"] and sim.submissions == 0


@pytest.mark.parametrize(
    ("endpoint", "body", "path"),
    [
        ("text_to_video", {"model": "seedance2", "promptText": "x", "duration": 3}, ["duration"]),  # 4 to 15
        ("text_to_video", {"model": "seedance2", "promptText": "x", "ratio": "1584:672"}, ["ratio"]),
        ("text_to_video", {"model": "seedance2", "promptText": "x", "negativePrompt": "blur"}, []),  # not a field
        ("image_to_video", {"model": "seedance2", "promptImage": URL, "references": [{"uri": URL}]}, []),  # t2v only
        ("text_to_video", {"model": "seedance2", "promptText": "x", "references": [{"uri": URL}] * 10}, ["references"]),
        (
            "image_to_video",
            {"model": "seedance2", "promptImage": [{"uri": URL, "position": "first"}, {"uri": URL}]},
            ["promptImage"],  # keyframes and references cannot be mixed
        ),
        ("text_to_video", {"model": "veo3.1", "promptText": "x", "ratio": "1280:720", "duration": 5}, ["duration"]),
        (
            "image_to_video",
            {"model": "gen4_turbo", "promptImage": URL, "ratio": "1280:720", "duration": 11},
            ["duration"],
        ),
        (
            "image_to_video",
            {
                "model": "gen4.5",
                "promptText": "x",
                "ratio": "1280:720",
                "duration": 5,
                "promptImage": URL,
                "audio": True,
            },
            [],  # gen4.5 has no audio field
        ),
    ],
)
async def test_simulator_refuses_what_the_sdk_types_do_not_allow(server, sim: Simulator, endpoint, body, path):
    answer = await _post(server, f"/v1/{endpoint}", body)
    assert answer.status_code == 400, answer.json()
    assert [issue["path"] for issue in answer.json()["issues"]] == [path] and sim.submissions == 0


async def test_simulator_accepts_what_the_sdk_types_allow(server, sim: Simulator):
    bodies = [  # seedance2's 4K sizes, "auto" length and reference images; gen4_turbo's 7 s
        ("text_to_video", {"model": "seedance2", "promptText": "x", "ratio": "3840:2160", "duration": "auto"}),
        ("text_to_video", {"model": "seedance2", "promptText": "x", "references": [{"uri": URL}] * 9}),  # up to 9
        ("image_to_video", {"model": "seedance2", "promptImage": [{"uri": URL}, {"uri": URL}], "seed": 4}),
        ("image_to_video", {"model": "gen4_turbo", "promptImage": URL, "ratio": "960:960", "duration": 7}),
        (
            "image_to_video",
            {"model": "gen4.5", "promptText": "x", "promptImage": URL, "ratio": "1584:672", "duration": 2},
        ),
    ]
    for endpoint, body in bodies:
        answer = await _post(server, f"/v1/{endpoint}", body)
        assert answer.status_code == 200, (body, answer.json())
    # "auto" is billed at the longest (15 s) up front (4K: 150 credits/s), seedance2 defaults to 5 s; gen4_turbo
    # 7 s at 5 credits/s.
    assert [job.extra["credits"] for job in sim.jobs.values()] == [15 * 150, 5 * 36, 5 * 36, 7 * 5, 2 * 12]


async def test_refunds_as_runway_documents_them(server, sim: Simulator):
    """SAFETY.INPUT.* is not refunded, other failures are; a cancel refunds only a task not yet RUNNING; a
    deleted task is gone (404)."""
    sim.config["credits"] = 1000

    async def task(prompt: str) -> str:
        body = {"model": "gen4.5", "promptText": prompt, "ratio": "1280:720", "duration": 5}  # 60 credits
        answer = await _post(server, "/v1/text_to_video", body)
        assert answer.status_code == 200, answer.json()
        return answer.json()["id"]

    blocked, broken = await task("x sim:fail=content sim:queue=0"), await task("x sim:fail=internal sim:queue=0")
    waiting, running = await task("x sim:queue=600"), await task("x sim:queue=0 sim:seconds=6000")
    assert sim.config["credits"] == 1000 - 4 * 60
    await wait_until(lambda: all(sim.jobs[t].phase()[0] == "failed" for t in (blocked, broken)))
    blocked_task, broken_task = (await _get(server, blocked)).json(), (await _get(server, broken)).json()
    assert (blocked_task["failureCode"], blocked_task["cost"]) == ("SAFETY.INPUT.TEXT", {"credits": 60})
    assert (broken_task["failureCode"], broken_task["cost"]) == ("INTERNAL.BAD_OUTPUT", {"credits": 0})
    assert (await _get(server, running)).json()["status"] == "RUNNING"
    for gone in (waiting, running, blocked):
        assert (await _delete(server, gone)).status_code == 204
        assert (await _get(server, gone)).status_code == 404  # not CANCELLED: the task is gone
    assert (await _delete(server, waiting)).status_code == 404
    # Refunded: the internal failure and the task cancelled while PENDING; charged: the blocked input and the
    # task cancelled while RUNNING.
    assert sim.config["credits"] == 1000 - 2 * 60


async def test_poll_after_our_own_cancel_reads_cancelled(rw_env, sim: Simulator):
    provider, _, request = _resolve(rw_env, prompt="x sim:queue=600", model="gen4.5", duration=2)
    submission = await provider.submit("job_cancel", request)
    await provider.cancel(submission, request)
    assert submission.state["cancelled"] is True  # the engine stores the state after a cancel
    after = await provider.poll(submission, request)  # Runway answers 404 for a cancelled task
    assert after.status == "cancelled" and "does not refund" in after.message
    other = await provider.submit("job_other", request)
    sim.jobs[other.ref].extra["deleted"] = True  # gone without our cancel: still a clear NOT_FOUND
    with pytest.raises(ProviderError) as gone:
        await provider.poll(other, request)
    await provider.aclose()
    assert gone.value.code == ErrorCode.NOT_FOUND


async def test_every_terminal_status_records_the_charge(rw_env, sim: Simulator):
    # Through the simulator: a finished task and a failure whose input moderation refused (not refunded).
    provider, _, request = _resolve(rw_env, prompt="x sim:queue=0 sim:seconds=1", model="gen4.5", duration=3)
    done = await provider.submit("job_done", request)
    blocked_request = request.model_copy(update={"prompt": "x sim:fail=content sim:queue=0 sim:seconds=1"})
    blocked = await provider.submit("job_blocked", blocked_request)
    await wait_until(lambda: all(sim.jobs[s.ref].phase()[0] in ("succeeded", "failed") for s in (done, blocked)))
    finished, refused = await provider.poll(done, request), await provider.poll(blocked, blocked_request)
    await provider.aclose()
    assert (finished.status, finished.charged_usd) == ("succeeded", 0.36)
    assert (refused.status, refused.charged_usd) == ("failed", 0.36) and refused.error.code == ErrorCode.CONTENT_POLICY
    # Each status as Runway's task type has it (cost.credits: int, 0 when refunded).
    for status, extra, ours in [
        ("SUCCEEDED", {"output": ["https://x/v.mp4"]}, "succeeded"),
        ("FAILED", {"failure": "Blocked.", "failureCode": "SAFETY.INPUT.IMAGE"}, "failed"),
        ("FAILED", {"failure": "Oops.", "failureCode": "INTERNAL"}, "failed"),
        ("CANCELLED", {}, "cancelled"),
    ]:
        for credits in (0, 45):
            read = snapshot({"id": "t", "status": status, "cost": {"credits": credits}, **extra})
            assert (read.status, read.charged_usd) == (ours, credits / 100), (status, credits)
    assert (
        snapshot({"id": "t", "status": "RUNNING", "progress": 0.5, "estimatedCost": {"credits": 9}}).charged_usd is None
    )


async def test_a_charged_failure_counts_as_spent(rw_settings: Settings, sim: Simulator):
    # Runway keeps the credits of a task its input moderation refused; the job must say what was charged.
    job = await failed_with(
        rw_settings, ErrorCode.CONTENT_POLICY, "SAFETY.INPUT.TEXT", prompt="a storm sim:fail=content"
    )
    assert job["cost_is_estimate"] is False and job["cost"] == pytest.approx(0.24)


async def test_answers_are_read_tolerantly_with_the_same_error_paths(rw_env, sim: Simulator):
    from providers.runway import CreatedTask, Task

    read = Task.model_validate({"id": 7, "status": "FAILED", "failure": None, "failureCode": None, "new": [1]})
    assert (read.id, read.failure, read.failure_code) == ("7", "", "")  # extra fields ignored, nulls read as empty
    assert snapshot({"status": "RUNNING", "progress": "half"}).progress is None
    assert (
        CreatedTask.model_validate({"id": "t1", "estimatedCost": {"credits": 60}, "x": 1}).estimated_cost.credits == 60
    )
    for body in (["not", "a", "task"], {"status": "SUCCEEDED", "output": "https://not-a-list"}):
        with pytest.raises(ProviderError) as bad:
            snapshot(body)
        assert bad.value.code == ErrorCode.TRANSIENT

    async def answer(body: Any) -> Submission:
        from starlette.responses import JSONResponse
        from starlette.routing import Route

        async def created(_: Any) -> JSONResponse:
            return JSONResponse(body)

        app = Starlette(routes=[Route("/v1/text_to_video", created, methods=["POST"])])
        with running(app) as url:
            provider, _, request = _resolve({**rw_env, "VIDEOGEN_RUNWAY_BASE_URL": url}, prompt="x", duration=2)
            try:
                return await provider.submit("job_odd", request)
            finally:
                await provider.aclose()

    assert (await answer({"id": "t9", "estimatedCost": {"credits": 24}})).state == {"estimated_credits": 24}
    assert (await answer({"id": "t9", "estimatedCost": None})).state == {}
    for odd in ({"estimatedCost": {"credits": 24}}, {"id": ""}, {"id": None}, [1, 2], {"id": {"nested": 1}}):
        with pytest.raises(ProviderError) as unconfirmed:
            await answer(odd)
        assert unconfirmed.value.code == ErrorCode.SUBMIT_UNCONFIRMED, odd


async def test_seedance2_prompt_limit_is_its_own(rw_env, sim: Simulator):
    long = "a slow pan across the harbour " * 100  # 3000 characters: over gen4.5's 1000, under seedance2's 3500
    _, spec, request = _resolve(rw_env, prompt=long, model="seedance2", duration=4)
    assert spec.max_prompt_chars == 3500 and request.prompt == long.strip()
    with pytest.raises(InvalidRequest, match="1000"):
        _resolve(rw_env, prompt=long, model="gen4.5", duration=4)
    with pytest.raises(InvalidRequest, match="UTF-16"):
        _resolve(rw_env, prompt="🎬" * 1800, model="seedance2", duration=4)  # 3600 UTF-16 units


async def test_official_sdk_runs_a_third_party_model(server, sim: Simulator):
    import runwayml

    client = runwayml.RunwayML(api_key=KEY, base_url=f"{server[0]}/runway", max_retries=0)
    with client:
        created = client.text_to_video.create(
            model="seedance2", prompt_text="a paper boat sim:seconds=30", ratio="1280:720", duration=5, audio=True
        )
        assert created.id in sim.jobs
        task = client.tasks.retrieve(created.id)  # polled here: the SDK's own wait loop sleeps 6 s a round
        deadline = time.monotonic() + 10
        while task.status in ("PENDING", "THROTTLED", "RUNNING") and time.monotonic() < deadline:
            time.sleep(0.05)
            task = client.tasks.retrieve(created.id)
        assert task.status == "SUCCEEDED" and task.cost.credits == 5 * 36
        assert httpx.get(task.output[0]).content[4:8] == b"ftyp"
        with pytest.raises(runwayml.BadRequestError) as bad:  # not one of seedance2's Literal ratios
            client.text_to_video.create(model="seedance2", prompt_text="x", ratio="1584:672", duration=5)
        assert bad.value.status_code == 400 and bad.value.body["issues"][0]["path"] == ["ratio"]
        with pytest.raises(runwayml.BadRequestError) as frames:  # a last frame alone
            client.image_to_video.create(model="seedance2", prompt_image=[{"uri": URL, "position": "last"}])
        assert frames.value.body["issues"][0]["path"] == ["promptImage"]
    assert sim.submissions == 1


async def _post(server: tuple[str, Simulator], path: str, body: Any) -> httpx.Response:
    async with httpx.AsyncClient(base_url=f"{server[0]}/runway", headers=HEADERS) as http:
        return await http.post(path, json=body)


async def _get(server: tuple[str, Simulator], task_id: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=f"{server[0]}/runway", headers=HEADERS) as http:
        return await http.get(f"/v1/tasks/{task_id}")


async def _delete(server: tuple[str, Simulator], task_id: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=f"{server[0]}/runway", headers=HEADERS) as http:
        return await http.delete(f"/v1/tasks/{task_id}")


HEADERS = {"Authorization": f"Bearer {KEY}", "X-Runway-Version": "2024-11-06"}


async def wait_until(condition, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await anyio.sleep(0.01)


# -- 9. the catalogue and the simulator against the official SDK's declarations (runwayml 5.24 types) ----


def _requests(spec: Any) -> Iterator[VideoRequest]:
    """Every request shape the catalogue lets through for a model: each mode, aspect ratio and resolution, with
    and without audio, an end frame, a seed and a negative prompt where offered."""
    modes = [*spec.modes, *(["video_to_video"] if spec.video else [])]
    for mode in modes:
        ratios = (
            TEXT_TO_VIDEO_RATIOS.get(spec.id, spec.aspect_ratios) if mode == "text_to_video" else spec.aspect_ratios
        )
        for ratio in ratios:
            for resolution in spec.resolutions:
                for extras in (False, True):
                    yield VideoRequest(
                        prompt="a cat",
                        provider="runway",
                        model=spec.id,
                        mode=mode,
                        duration=spec.durations[-1 if extras else 0],
                        aspect_ratio=ratio,
                        resolution=resolution,
                        images=["https://example.com/a.png"] if mode == "image_to_video" else [],
                        end_image="https://example.com/b.png"
                        if mode == "image_to_video" and extras and spec.end_image
                        else None,
                        video=VIDEO_URL if mode == "video_to_video" else None,
                        seed=7 if extras and spec.seed else None,
                        negative_prompt="blur" if extras and spec.negative_prompt else None,
                        audio=extras and spec.audio,
                    )


def _sdk_refuses(body: dict[str, Any], declared: dict[str, tuple[Any, bool]]) -> list[str]:
    """What the SDK's TypedDict would not take in a body: unknown fields, missing required ones, values outside
    a Literal, a frame position it does not declare."""
    import typing

    wrong = [f"unknown field {k}" for k in body if k not in declared and k != "model"]
    wrong += [f"missing {k}" for k, (_, required) in declared.items() if required and k not in body]
    for key, value in body.items():
        if key not in declared or key == "model":
            continue
        allowed = [v for v in literals(declared[key][0]) if not isinstance(v, bool)]
        if key == "promptImage":
            items = [a for a in typing.get_args(declared[key][0]) if a is not str]
            if isinstance(value, list) and typing.get_args(items[0]) != (object,):  # hailuo3, wan3: items untyped
                positions = frame_positions(declared[key][0])[0]
                wrong += [f"position {i['position']}" for i in value if i["position"] not in positions]
        elif key == "duration":
            base = [a for a in typing.get_args(declared[key][0]) or (declared[key][0],) if a is int]
            if not base and value not in allowed:
                wrong.append(f"duration {value}")
        elif allowed and value not in allowed:
            wrong.append(f"{key}={value!r} (allowed {allowed})")
    return wrong


async def test_every_body_the_adapter_builds_is_one_the_official_sdk_declares(rw_env):
    """For every model, mode, shape, resolution and option the catalogue offers, the body we would send fits the
    SDK's *_create_params type for that model and endpoint (fields, required ones, literals, frame positions)."""
    sdk = sdk_models()
    provider = RunwayProvider(rw_env)
    for spec in MODELS:
        for request in _requests(spec):
            declared = sdk[request.mode].get(spec.id)
            assert declared is not None, f"{spec.id} is offered for {request.mode} but the SDK does not declare it"
            body = provider.body(request)
            assert not _sdk_refuses(body, declared), (spec.id, request.mode, body, _sdk_refuses(body, declared))
            assert isinstance(body.get("duration", 0), int)


async def test_catalogue_offers_only_what_the_official_sdk_declares_and_names_the_rest():
    """Every SDK text/image/video-to-video model is either offered or listed as left out for want of a price."""
    from providers.runway import UNPRICED_MODELS

    sdk = sdk_models()
    offered = {spec.id for spec in MODELS}
    declared = set(sdk["text_to_video"]) | set(sdk["image_to_video"]) | set(sdk["video_to_video"])
    assert not offered & set(UNPRICED_MODELS)
    assert declared - offered == set(UNPRICED_MODELS), (
        "the SDK's model list changed: price and add the new ones, or list them in UNPRICED_MODELS",
        declared - offered ^ set(UNPRICED_MODELS),
    )


# -- 10. video to video (issue 9 item 2): seedance2's POST /v1/video_to_video with `video` -------------------


def _clip(path: Path, seconds: float = 1.0, size: tuple[int, int] = (1280, 720), fps: int = 12) -> Path:
    """A real H.264 MP4 (PyAV), Runway's smallest input size by default (720p: its seedance2 minimum)."""
    from providers.demo import render_video

    path.parent.mkdir(parents=True, exist_ok=True)
    render_video(path, prompt="input", duration=seconds, width=size[0], height=size[1], seed=2, fps=fps)
    return path


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    return _clip(tmp_path / "inputs" / "input.mp4")


async def test_video_to_video_through_the_tools_from_a_local_mp4(rw_settings: Settings, sim: Simulator, clip: Path):
    async with Client(build_server(rw_settings)) as client:
        estimate = await client.call_tool(
            "estimate_cost", {"prompt": "make it snow", "model": "seedance2", "video": str(clip), "duration": 5}
        )
        listed = await client.call_tool("list_models", {"provider": "runway", "mode": "video_to_video"})
    assert not estimate.is_error and estimate.structured_content["usd"] == pytest.approx(1.80)  # 5 s x 36 credits
    assert [m["model"] for m in listed.structured_content["models"]] == ["seedance2", "aleph2"], listed.content

    result = await generate(
        rw_settings, prompt="make it snow sim:seconds=150", model="seedance2", video=str(clip), duration=5
    )
    job = result.structured_content
    assert not result.is_error and job["status"] == "succeeded", result.content
    assert job["request"]["mode"] == "video_to_video" and job["request"]["video"] == str(clip)
    info = probe(job["video"]["path"])  # a real MP4 came back, of the asked length and shape
    assert abs(info.duration_seconds - 5) < 0.2 and info.width / info.height == pytest.approx(16 / 9, abs=0.02)
    assert job["cost"] == pytest.approx(1.80) and job["cost_is_estimate"] is False
    body = last_payload(sim)
    assert body == {
        "model": "seedance2",
        "promptText": "make it snow sim:seconds=150",
        "ratio": "1280:720",
        "duration": 5,
        "promptVideo": "data:video/mp4;base64," + base64.b64encode(clip.read_bytes()).decode(),
        "audio": False,
    }
    assert sim.submissions == 1


async def test_a_local_input_video_sets_the_duration_and_aspect_ratio_left_out(
    rw_settings: Settings, sim: Simulator, tmp_path: Path
):
    """seedance2 edits a 6.2 s portrait clip: without duration or aspect_ratio the job takes the input's (7 s, the
    shortest length covering it; 9:16), quoted and charged as such; estimate_cost agrees; given values win."""
    portrait = _clip(tmp_path / "inputs" / "portrait.mp4", seconds=6.2, size=(720, 1280))
    args = {"prompt": "make it snow", "model": "seedance2", "video": str(portrait)}
    async with Client(build_server(rw_settings)) as client:
        estimate = (await client.call_tool("estimate_cost", args)).structured_content
        given = (await client.call_tool("estimate_cost", {**args, "duration": 4})).structured_content
    assert estimate["usd"] == pytest.approx(7 * 36 / 100) and given["usd"] == pytest.approx(4 * 36 / 100)
    result = await generate(rw_settings, **args)
    job = result.structured_content
    assert job["status"] == "succeeded", result.content
    assert (job["request"]["duration"], job["request"]["aspect_ratio"]) == (7, "9:16")
    assert last_payload(sim)["ratio"] == "720:1280" and last_payload(sim)["duration"] == 7
    assert job["cost"] == pytest.approx(7 * 36 / 100)
    info = probe(job["video"]["path"])
    assert abs(info.duration_seconds - 7) < 0.2 and info.width < info.height


async def test_aleph2_is_quoted_for_a_local_inputs_length_by_default(rw_settings: Settings, sim: Simulator, tmp_path):
    """Aleph 2 bills every second of its input: a local 3 s clip is quoted and charged 3 x 28 credits without a
    duration; an https video, whose length cannot be read, keeps the default of 30 s."""
    three = _clip(tmp_path / "inputs" / "three.mp4", seconds=3.0)
    async with Client(build_server(rw_settings)) as client:
        local = await client.call_tool("estimate_cost", {"prompt": "P", "model": "aleph2", "video": str(three)})
        remote = await client.call_tool("estimate_cost", {"prompt": "P", "model": "aleph2", "video": VIDEO_URL})
    assert local.structured_content["usd"] == pytest.approx(0.84), local.content
    assert remote.structured_content["usd"] == pytest.approx(30 * 0.28), remote.content
    result = await generate(rw_settings, prompt="make it snow", model="aleph2", video=str(three))
    assert result.structured_content["status"] == "succeeded", result.content
    assert result.structured_content["cost"] == pytest.approx(0.84)


async def test_an_unreadable_input_video_is_refused_by_the_estimate_too(rw_settings: Settings, tmp_path: Path):
    fake = tmp_path / "inputs" / "fake.mp4"
    fake.parent.mkdir(parents=True, exist_ok=True)
    fake.write_bytes(b"not a video at all" * 100)
    async with Client(build_server(rw_settings)) as client:
        result = await client.call_tool("estimate_cost", {"prompt": "P", "model": "seedance2", "video": str(fake)})
    assert result.is_error and "MP4, MOV or WebM" in result.content[0].text, result.content


async def test_a_data_uri_video_is_kept_as_a_file_not_in_the_index_or_the_results(
    rw_settings: Settings, sim: Simulator, clip: Path
):
    """A video sent inline is megabytes: it is stored in the data folder like an inline image, so the job's row
    and every job result name the file (the first version put the whole data URI in both)."""
    inline = "data:video/mp4;base64," + base64.b64encode(clip.read_bytes()).decode()
    result = await generate(
        rw_settings, prompt="make it rain sim:seconds=150", model="seedance2", video=inline, duration=5
    )
    job = result.structured_content
    assert not result.is_error and job["status"] == "succeeded", result.content
    kept = Path(job["request"]["video"])
    assert kept.parent.resolve() == (rw_settings.data_dir / "inputs").resolve() and kept.suffix == ".mp4"
    assert len(result.content[0].text) < 16_000 and "base64" not in result.content[0].text
    assert last_payload(sim)["promptVideo"] == inline  # Runway still gets the video inline
    assert not list((rw_settings.data_dir / "inputs").glob(f"{job['job_id']}_*"))  # dropped once the job ended
    with sqlite3.connect(rw_settings.index_path) as db:
        (stored,) = db.execute("SELECT request FROM jobs WHERE job_id=?", (job["job_id"],)).fetchone()
    assert "base64" not in stored and len(stored) < 2_000


async def test_video_to_video_sends_an_https_url_as_is(rw_env, sim: Simulator):
    provider, _, request = _resolve(
        rw_env, prompt="P", model="seedance2", video=VIDEO_URL, duration=6, seed=9, aspect_ratio="9:16", audio=True
    )
    assert request.mode == "video_to_video" and provider.submit_path_for(request) == "/v1/video_to_video"
    submission = await provider.submit("job_v2v", request)
    await provider.aclose()
    assert sim.jobs[submission.ref].payload == {
        "model": "seedance2",
        "promptText": "P",
        "ratio": "720:1280",
        "duration": 6,
        "promptVideo": VIDEO_URL,
        "seed": 9,
        "audio": True,
    }
    assert sim.jobs[submission.ref].extra["credits"] == 6 * 36


def _big_file(path: Path, size: int) -> Path:
    """A file of `size` bytes that starts like an MP4 (sparse: nothing is written past the header)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        f.write(b"\x00\x00\x00\x20ftypisom")
        f.truncate(size)
    return path


def _refusals(tmp: Path) -> list[tuple[dict[str, Any], tuple[str, ...]]]:
    from PIL import Image

    from providers.runway import MAX_VIDEO_FILE_BYTES

    inputs = tmp / "inputs"
    inputs.mkdir(parents=True, exist_ok=True)
    png = inputs / "frame.mp4"  # named like a video, a PNG by its bytes
    Image.new("RGB", (64, 64)).save(png, format="PNG")
    outside = _clip(tmp / "elsewhere" / "secret.mp4", size=(64, 64))
    small = _clip(inputs / "small.mp4", size=(320, 180))
    long = _clip(inputs / "long.mp4", seconds=16, size=(720, 720), fps=1)
    big = _big_file(inputs / "big.mp4", MAX_VIDEO_FILE_BYTES + 1)
    # 4 MB: under the docs' 16 MB for a data URI, over the SDK's 5MB once encoded (5.3 MB): refused
    data_uri_4mb = (
        "data:video/mp4;base64," + base64.b64encode(b"\x00\x00\x00\x20ftypisom".ljust(4_000_000, b"\0")).decode()
    )
    seedance = {"model": "seedance2"}
    return [
        ({"model": "gen4.5", "video": VIDEO_URL}, ("does not take an input video", "runway/seedance2")),
        ({"model": "seedance2", "video": VIDEO_URL, "images": [URL]}, ("without images", "remove images")),
        ({**seedance, "video": "http://example.com/in.mp4"}, ("scheme 'http:'", "video URLs must be https://,")),
        ({**seedance, "video": "https://example.com:0x50/in.mp4"}, ("malformed", "video URLs must be https://,")),
        *(
            ({**seedance, "video": f"https://{host}/in.mp4"}, ("public domain name", "not an IP address"))
            for host in ("192.0.2.1", "1.2.3.4.", "0x7f000001", "2130706433", "127.1", "[::1]", "localhost")
        ),
        ({**seedance, "video": "https://cdn.localhost./in.mp4"}, ("public domain name",)),
        ({**seedance, "video": "ftp://example.com/in.mp4"}, ("video scheme 'ftp:' is not supported",)),
        ({**seedance, "video": str(big)}, ("at most 3.7 MB for runway/seedance2", "https URL")),
        ({**seedance, "video": data_uri_4mb}, ("at most 3.7 MB for runway/seedance2", "https URL")),
        ({**seedance, "video": str(png)}, ("not an MP4, MOV or WebM video",)),
        ({**seedance, "video": "data:image/png;base64,iVBORw0KGgo="}, ("not a video", "data:video/mp4")),
        ({**seedance, "video": str(outside)}, ("outside the folders this server may read", "VIDEOGEN_ALLOWED_DIRS")),
        ({**seedance, "video": str(inputs / "missing.mp4")}, ("video file not found",)),
        ({**seedance, "video": str(small)}, ("320x180", "at least 720 pixels")),
        ({**seedance, "video": str(long)}, ("16.0 s long", "at most 15 s")),
    ]


async def test_every_bad_video_is_refused_before_a_job_exists(rw_settings, sim: Simulator, tmp_path: Path):
    cases = _refusals(tmp_path)
    async with Client(build_server(rw_settings)) as client:
        for args, words in cases:
            result = await client.call_tool("generate_video", {"prompt": "P", "provider": "runway", **args})
            text = result.content[0].text
            assert result.is_error and "INVALID_INPUT" in text and all(w in text for w in words), (args, text)
            assert "ftypisom" not in text  # never the file's contents
        assert (await client.call_tool("list_jobs", {})).structured_content["jobs"] == []
    assert sim.submissions == 0


async def test_a_video_only_model_refuses_a_request_without_a_video(rw_env, clip: Path):
    settings = Settings.from_env(rw_env)
    providers = Providers(settings.env, settings.allowed_dirs)
    runway = providers.get("runway")
    seedance = runway.spec("seedance2")
    assert seedance is not None and seedance.video
    runway.models = (seedance.model_copy(update={"modes": ()}),)  # as a video-to-video-only model declares
    catalog = Catalog(providers, settings.allowed_dirs)
    with pytest.raises(InvalidRequest, match="video-to-video only; pass an input video in video"):
        catalog.resolve(RequestArgs(provider="runway", model="seedance2", prompt="P"))
    with pytest.raises(InvalidRequest, match="video-to-video only"):
        catalog.resolve(RequestArgs(provider="runway", model="seedance2", prompt="P", images=[URL]))
    *_, request = catalog.resolve(RequestArgs(provider="runway", model="seedance2", prompt="P", video=str(clip)))
    assert request.mode == "video_to_video"


async def test_a_file_past_runways_data_uri_limit_is_refused_at_submit_too(rw_env, sim: Simulator, tmp_path: Path):
    """The adapter's own guard (for a request made before the file grew): a clear error naming the URL way."""
    from providers.base import VideoRequest
    from providers.runway import MAX_VIDEO_FILE_BYTES

    assert MAX_VIDEO_FILE_BYTES < 4_000_000  # 4 MB is 5.3 MB as a data URI: over the SDK's 5MB
    big = _big_file(tmp_path / "inputs" / "grown.mp4", 4_000_000)
    provider = RunwayProvider(Settings.from_env(rw_env).env, [tmp_path / "inputs"])
    request = VideoRequest(
        prompt="P", provider="runway", model="seedance2", mode="video_to_video", duration=5, aspect_ratio="16:9",
        resolution="720p", video=str(big),
    )  # fmt: skip
    with pytest.raises(InvalidRequest, match=r"at most 3\.7 MB for Runway.*https URL"):
        await provider.submit("job_big", request)
    await provider.aclose()
    assert sim.submissions == 0


async def test_official_sdk_video_to_video_against_the_simulator(server, sim: Simulator, clip: Path):
    import runwayml

    data = "data:video/mp4;base64," + base64.b64encode(clip.read_bytes()).decode()
    client = runwayml.AsyncRunwayML(api_key=KEY, base_url=f"{server[0]}/runway", max_retries=0)
    async with client:
        created = await client.video_to_video.create(
            model="seedance2", prompt_video=data, prompt_text="make it night", ratio="1280:720", duration=4, seed=1
        )
        with anyio.fail_after(10):
            task = await client.tasks.retrieve(created.id)
            while task.status != "SUCCEEDED":
                await anyio.sleep(0.05)
                task = await client.tasks.retrieve(created.id)
        assert task.cost is not None and task.cost.credits == 4 * 36
        video = httpx.get(task.output[0])
        assert video.status_code == 200 and video.content[4:8] == b"ftyp"
        with pytest.raises(runwayml.BadRequestError) as bad:  # a size seedance2 does not make
            await client.video_to_video.create(model="seedance2", prompt_video=VIDEO_URL, ratio="1584:672")
        assert bad.value.body["issues"][0]["path"] == ["ratio"]
    assert sim.submissions == 1


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"model": "seedance2", "promptText": "x"}, ["promptVideo"]),  # the video is required
        ({"model": "seedance2", "promptVideo": "http://example.com/in.mp4"}, ["promptVideo"]),  # https only
        ({"model": "seedance2", "promptVideo": "https://192.0.2.1/in.mp4"}, ["promptVideo"]),  # a domain, not an IP
        ({"model": "seedance2", "promptVideo": "data:image/png;base64,AAAA"}, ["promptVideo"]),  # not a video
        ({"model": "seedance2", "promptVideo": VIDEO_URL, "ratio": "1584:672"}, ["ratio"]),
        ({"model": "seedance2", "promptVideo": VIDEO_URL, "duration": 16}, ["duration"]),
        ({"model": "seedance2", "promptVideo": VIDEO_URL, "negativePrompt": "x"}, []),  # not a field
        ({"model": "seedance2", "promptVideo": VIDEO_URL, "promptImage": URL}, []),  # image_to_video's field
        ({"model": "seedance2", "videoUri": VIDEO_URL}, ["promptVideo"]),  # aleph2's name for it
        ({"model": "gen4.5", "promptVideo": VIDEO_URL}, ["model"]),  # not a video_to_video model
    ],
)
async def test_simulator_refuses_what_video_to_video_does_not_take(server, sim: Simulator, body, path):
    answer = await _post(server, "/v1/video_to_video", body)
    assert answer.status_code == 400, answer.json()
    assert path in [issue["path"] for issue in answer.json()["issues"]] and sim.submissions == 0


async def test_simulator_video_data_uris_are_limited_at_5_mb_like_images(server, sim: Simulator, clip: Path):
    """The SDK says 5MB for a video data URI, the docs 16 MB: the simulator holds the limit both allow."""

    def uri(mime: str, data: bytes) -> str:
        return f"data:{mime};base64," + base64.b64encode(data).decode()

    under = await _post(
        server, "/v1/video_to_video", {"model": "seedance2", "promptVideo": uri("video/mp4", clip.read_bytes())}
    )
    big = b"\x00\x00\x00\x20ftypisom".ljust(4 << 20, b"\0")  # 5.3 MB encoded
    over = await _post(server, "/v1/video_to_video", {"model": "seedance2", "promptVideo": uri("video/mp4", big)})
    image = {"model": "seedance2", "promptImage": uri("image/png", b"\0" * (4 << 20))}
    assert under.status_code == 200, under.json()
    assert over.status_code == 400 and "under 5MB" in over.json()["issues"][0]["message"]
    refused = await _post(server, "/v1/image_to_video", image)
    assert refused.status_code == 400 and "under 5MB" in refused.json()["issues"][0]["message"]


async def test_simulator_refuses_seedance2_input_videos_runway_documents_it_refuses(server, sim: Simulator, tmp_path):
    """Straight to the simulator, no adapter in between: rw-api-reference's "VTV input requirements: max 15
    seconds, max 32 MB, min 720p", and only MP4, QuickTime and WebM data URIs."""
    from tests.test_images import make_video

    def body(path: Path, mime: str = "video/mp4") -> dict[str, Any]:
        return {
            "model": "seedance2",
            "promptVideo": f"data:{mime};base64," + base64.b64encode(path.read_bytes()).decode(),
        }

    small = _clip(tmp_path / "small.mp4", size=(1280, 718))
    long = _clip(tmp_path / "long.mp4", seconds=16, size=(720, 720), fps=1)
    mkv = make_video(tmp_path / "clip.mkv", "matroska", size=(1280, 720))
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00\x00\x00\x20ftypisom" + b"\x00" * 64)
    for sent, words in (
        (body(small), "too low (1280x718): the minimum is 720p"),
        (body(long), "too long (16.0 seconds): the maximum is 15 seconds"),
        (body(mkv, "video/x-matroska"), "must be MP4, QuickTime (MOV) or WebM"),
        (body(junk), "could not be read"),
    ):
        answer = await _post(server, "/v1/video_to_video", sent)
        assert answer.status_code == 400, (words, answer.json())
        issue = answer.json()["issues"][0]
        assert issue["path"] == ["promptVideo"] and words in issue["message"], (words, issue)
    ok = await _post(
        server, "/v1/video_to_video", body(_clip(tmp_path / "ok.mov", seconds=15, size=(720, 1280), fps=1))
    )
    assert ok.status_code == 200, ok.json()
    assert sim.submissions == 1


async def test_an_upper_case_https_video_url_is_sent_in_lower_case(rw_env, sim: Simulator):
    """Runway (and the simulator) compare the scheme as written: HTTPS:// would be refused."""
    provider, _, request = _resolve(rw_env, prompt="P", model="seedance2", video="HTTPS://example.com/in.mp4")
    submission = await provider.submit("job_upper", request)
    await provider.aclose()
    assert sim.jobs[submission.ref].payload["promptVideo"] == VIDEO_URL


# -- 11. the models Runway sells from other labs, and Aleph 2, through the tools (issue 9 item 2) -----------

# Runway's charge for each sample (credits), from its pricing guide as copied (the Kling figures are the ones
# measured or resold: the guide has none), worked out here, not read from the simulator.
CHARGES = {
    ("seedance2_fast", "text_to_video"): 29 * 4,
    ("seedance2_mini", "text_to_video"): 16 * 4,
    ("seedance2_5", "text_to_video"): 30 * 4,
    ("seedance2_5", "image_to_video"): 30 * 4,
    ("hailuo3", "text_to_video"): 10 * 5,
    ("grok_imagine_1_5", "text_to_video"): 16 * 1,
    ("grok_imagine_1_5", "image_to_video"): 16 * 1 + 1,  # the start frame costs 1 credit
    ("happyhorse_1_0", "text_to_video"): 15 * 3,
    ("gemini_omni_flash", "text_to_video"): 10 * 3,
    ("gemini_omni_flash", "image_to_video"): 10 * 3 + 1,
    ("wan3", "text_to_video"): 10 * 2,
    ("wan3", "image_to_video"): 10 * 2,
    ("kling3.0_standard", "text_to_video"): 13 * 3,
    ("kling3.0_standard", "image_to_video"): 13 * 3,
    ("kling3.0_pro", "text_to_video"): 17 * 3,
    ("kling3.0_4k", "text_to_video"): 44 * 3,
    ("klingO3_standard", "text_to_video"): 12 * 3,
    ("klingO3_pro", "text_to_video"): 14 * 3,
    ("klingO3_4k", "text_to_video"): 44 * 3,
    ("kling2.5_turbo_pro", "text_to_video"): 9.8 * 5,  # Kling's list price: no Runway figure was found
    ("kling2.5_turbo_pro", "image_to_video"): 9.8 * 5,
    ("wan3_prime", "text_to_video"): 14 * 2,
    ("aleph2", "video_to_video"): 28 * 2,  # 28/s of a 2 s input (its shortest), 56 at least
    ("h3_max", "text_to_video"): 8 * 5,  # 768p, its default
    ("h3_max", "image_to_video"): 8 * 5,
    ("grok_imagine_1_5_lite", "text_to_video"): 3 * 1,
    ("grok_imagine_1_5_lite", "image_to_video"): 3 * 1 + 1,
    # Gemini 1.1 and Kling 4: no Runway price found; the simulator charges integrators' 720p figure (10/s, +1 per
    # image) and fal's Kling 4.0 price in whole credits (16/s at 720p), below the quotes (30/s, 40/s)
    ("gemini_omni_flash_1.1", "text_to_video"): 10 * 3,
    ("gemini_omni_flash_1.1", "image_to_video"): 10 * 3 + 1,
    ("kling_4", "text_to_video"): 16 * 3,
    ("kling_4", "image_to_video"): 16 * 3,
}


@pytest.mark.parametrize(("model", "mode"), list(CHARGES), ids=[f"{m}-{mode}" for m, mode in CHARGES])
async def test_each_model_runs_through_the_tools_and_records_runways_charge(
    rw_settings: Settings, sim: Simulator, picture: Path, clip: Path, model: str, mode: str
):
    spec = next(s for s in MODELS if s.id == model)
    args: dict[str, Any] = {"prompt": "a lighthouse at dusk", "model": model, "duration": spec.durations[0]}
    if mode == "image_to_video":
        args["images"] = [str(picture)]
        if spec.end_image:
            args["end_image"] = str(picture)
    elif mode == "video_to_video":
        args["video"] = str(_clip(clip.parent / "two.mp4", seconds=2.0))
    result = await generate(rw_settings, **args)
    job = result.structured_content
    assert not result.is_error and job["status"] == "succeeded", result.content
    assert job["request"]["mode"] == mode and sim.submissions == 1
    assert job["cost_is_estimate"] is False and job["cost"] == pytest.approx(CHARGES[model, mode] / 100)
    assert job["cost"] <= spec.price_for(spec.durations[0], spec.default_resolution, spec.default_audio)[0] + 1e-9
    seconds = 2.0 if mode == "video_to_video" else spec.durations[0]  # Aleph 2's output is as long as its input
    assert abs(probe(job["video"]["path"]).duration_seconds - seconds) < 0.2


async def test_aleph2_refuses_an_input_longer_than_the_duration_it_is_quoted_at(rw_settings, sim, tmp_path: Path):
    longer = _clip(tmp_path / "inputs" / "long.mp4", seconds=3.0)
    short = _clip(tmp_path / "inputs" / "short.mp4", seconds=1.0)
    async with Client(build_server(rw_settings)) as client:
        result = await client.call_tool(
            "generate_video", {"prompt": "make it snow", "model": "aleph2", "video": str(longer), "duration": 2}
        )
        too_short = await client.call_tool("generate_video", {"prompt": "P", "model": "aleph2", "video": str(short)})
        by_url = await client.call_tool(
            "estimate_cost", {"prompt": "P", "model": "aleph2", "video": VIDEO_URL, "duration": 10}
        )
    assert result.is_error and "3.0 s long" in result.content[0].text and "duration=3" in result.content[0].text
    assert too_short.is_error and "at least 2 s" in too_short.content[0].text, too_short.content
    assert by_url.is_error and "duration=30" in by_url.content[0].text, by_url.content  # its length is unknown
    assert sim.submissions == 0


async def test_no_body_the_adapter_builds_costs_more_than_its_quote(rw_env):
    """Every request shape of every model (as _requests makes them, with https inputs, which the simulator takes
    as its longest input), priced by the simulator's Runway rates, is at most the quote reserved for it."""
    from providers.simulators import runway as simulated

    provider = RunwayProvider(rw_env)
    for spec in MODELS:
        for request in _requests(spec):
            if spec.id in ("aleph2",) and request.duration < 30:
                continue  # refused before a job exists (an https input must be quoted at 30 s)
            body = provider.body(request)
            assert not simulated.validate(request.mode, body), (spec.id, body, simulated.validate(request.mode, body))
            quote = spec.price_for(request.duration, request.resolution, request.audio)[0]
            assert simulated.task_credits(body, request.mode) <= round(quote * 100, 6), (spec.id, body, quote)


@pytest.mark.parametrize(
    ("model", "start", "end", "words"),
    [
        ("h3_max", (320, 180), None, ("images[0] is 320x180", "at least 256 pixels on both sides")),
        ("h3_max", (512, 288), (255, 400), ("end_image is 255x400", "at least 256 pixels on both sides")),
        ("grok_imagine_1_5_lite", (1000, 300), None, ("images[0] is 1000x300", "3.33", "0.4 to 2.5")),
        ("grok_imagine_1_5", (100, 300), None, ("images[0] is 100x300", "0.33", "0.4 to 2.5")),
    ],
)
async def test_an_image_the_model_refuses_is_refused_before_anything_is_spent(
    rw_settings: Settings, sim: Simulator, tmp_path: Path, model: str, start: Any, end: Any, words: Any
):
    """IMAGE_RULES (the SDK's docstrings): H3 Max at least 256 px on both sides, Grok Imagine 1.5 / Lite a
    width / height of 0.4 to 2.5; a local file or data URI is measured in check(), so neither estimate_cost nor
    generate_video reaches Runway."""
    from PIL import Image

    def saved(name: str, size: tuple[int, int]) -> str:
        path = tmp_path / "inputs" / name
        Image.new("RGB", size, (30, 120, 200)).save(path)
        return str(path)

    args: dict[str, Any] = {"prompt": "a lighthouse at dusk", "model": model, "images": [saved("a.png", start)]}
    if end:
        args["end_image"] = saved("b.png", end)
    result = await generate(rw_settings, **args)
    text = result.content[0].text
    assert result.is_error and "INVALID_INPUT" in text and all(w in text for w in words), text
    async with Client(build_server(rw_settings)) as client:
        estimate = await client.call_tool("estimate_cost", args)
    assert estimate.is_error and all(w in estimate.content[0].text for w in words), estimate.content
    assert sim.submissions == 0
    data_uri = "data:image/png;base64," + base64.b64encode(Path(args["images"][0]).read_bytes()).decode()
    result = await generate(rw_settings, **{**args, "images": [data_uri]})
    assert result.is_error and words[-1] in result.content[0].text and sim.submissions == 0


async def test_an_https_image_is_left_to_runway_and_the_rules_are_the_simulators(rw_settings: Settings, sim):
    """An https image cannot be measured here: it goes to Runway, which judges it. The adapter's rules are the
    simulator's (both from the SDK's docstrings)."""
    from providers.runway import IMAGE_RULES
    from providers.simulators import runway as simulated

    async with Client(build_server(rw_settings)) as client:
        estimate = await client.call_tool(
            "estimate_cost", {"prompt": "a cat", "model": "h3_max", "images": ["https://example.com/tiny.png"]}
        )
    assert not estimate.is_error, estimate.content
    simulated_rules = {
        m: (rules.image_min_side, rules.image_ratio)
        for m, rules in simulated.MODELS.items()
        if rules.image_min_side or rules.image_ratio
    }
    assert {m: (r.min_side, r.ratio) for m, r in IMAGE_RULES.items()} == simulated_rules


@pytest.mark.parametrize("model", ["happyhorse_1_0", "kling3.0_pro", "klingO3_standard", "kling_4"])
async def test_a_one_character_prompt_is_refused_where_runway_wants_two(rw_settings, sim: Simulator, model):
    async with Client(build_server(rw_settings)) as client:
        result = await client.call_tool("generate_video", {"prompt": "x", "provider": "runway", "model": model})
    assert result.is_error and "at least 2 characters" in result.content[0].text, result.content
    assert sim.submissions == 0


async def test_the_simulator_refuses_a_prompt_shorter_than_runway_takes(server, sim: Simulator):
    answer = await _post(
        server, "/v1/text_to_video", {"model": "happyhorse_1_0", "promptText": "x", "ratio": "1280:720"}
    )
    assert answer.status_code == 400 and answer.json()["issues"][0]["path"] == ["promptText"], answer.json()
