"""The fal.ai adapter against its simulator over loopback: the MCP tools end to end, the exact request
bodies, prices, every error mapping, cancel, restart, and the official fal-client on the simulator."""

from __future__ import annotations

import base64
import json
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

from providers.base import ErrorCode, ProviderError, Submission, VideoRequest
from providers.fal import MODELS, FalProvider
from providers.registry import Providers
from providers.simulators.common import Simulator, running
from providers.simulators.fal import create_app
from server.app import build_server
from server.catalog import Catalog, RequestArgs
from server.jobs import SUBMIT_RESENDS, JobManager
from server.media import probe
from server.settings import Settings

pytestmark = pytest.mark.anyio

SPEED = 300.0  # a simulated 90 s job takes 0.3 s
SECRET = "s3cr3t-9f8e7d6c5b4a3210"
KEY = f"fal-test-id-0001:{SECRET}"  # fal keys are "<id>:<secret>"
A = "https://images.example.com/start.png"
B = "https://images.example.com/end.png"
LONG = "sim:seconds=900"  # three real seconds at SPEED: long enough to act on a running job
QUICK = "sim:seconds=15 sim:queue=3"  # where the outcome, not the run, is tested


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[str, Simulator]]:
    """One simulator for the module, mounted under /fal as `mcp-videogen simulate` mounts it."""
    sub = create_app(speed=SPEED)
    with running(Starlette(routes=[Mount("/fal", app=sub)])) as url:
        yield url, sub.state.sim


@pytest.fixture
def sim(served: tuple[str, Simulator]) -> Simulator:
    sim = served[1]
    sim.config.clear()
    sim.config["status_errors"] = True
    sim.jobs.clear()
    sim.polls.clear()
    sim.submissions = 0
    return sim


@pytest.fixture
def fal_env(env: dict[str, str], served: tuple[str, Simulator], sim: Simulator) -> dict[str, str]:
    return {
        **env,
        "VIDEOGEN_FAL_BASE_URL": f"{served[0]}/fal",
        "FAL_KEY": KEY,
        "VIDEOGEN_POLL_SCALE": "0.01",
        "VIDEOGEN_DEFAULT_PROVIDER": "fal",
    }


@pytest.fixture
def fal_settings(fal_env: dict[str, str]) -> Settings:
    return Settings.from_env(fal_env)


@pytest.fixture
def picture(tmp_path: Path) -> Path:
    from PIL import Image

    path = tmp_path / "inputs" / "frame.png"
    Image.new("RGB", (160, 90), (40, 120, 220)).save(path)
    return path


def no_key(result: Any) -> Any:
    """Every tool result, text and structured content alike, must be free of the key."""
    text = json.dumps([c.model_dump(mode="json") for c in result.content]) + json.dumps(result.structured_content)
    assert KEY not in text and SECRET not in text, text
    return result


async def call(client: Client, tool: str, **args: Any) -> Any:
    return no_key(await client.call_tool(tool, args))


async def generate(settings: Settings, **args: Any) -> dict[str, Any]:
    async with Client(build_server(settings)) as client:
        result = await call(client, "generate_video", provider="fal", **args)
    assert not result.is_error, result.content
    return result.structured_content


async def until_running(client: Client, job_id: str) -> None:
    deadline = time.monotonic() + 10
    while (await call(client, "get_status", job_id=job_id)).structured_content["status"] != "running":
        assert time.monotonic() < deadline, "the job never started running"
        await anyio.sleep(0.02)


def sim_job(sim: Simulator) -> Any:
    (job,) = sim.jobs.values()
    return job


# -- the tools end to end --------------------------------------------------------------------------


async def test_list_models_shows_every_fal_model(fal_settings: Settings):
    async with Client(build_server(fal_settings)) as client:
        listed = (await call(client, "list_models", provider="fal")).structured_content
    assert [m["model"] for m in listed["models"]] == [m.id for m in MODELS]
    assert all(m["configured"] for m in listed["models"]) and listed["default_provider"] == "fal"
    assert listed["default_model"] == "fal/kling-2.6-pro"


async def test_text_to_video_through_the_tools(fal_settings: Settings, sim: Simulator):
    job = await generate(fal_settings, prompt="a paper boat on a stormy sea", duration=10, aspect_ratio="9:16")
    assert job["status"] == "succeeded" and job["model"] == "kling-2.6-pro" and job["cost"] == pytest.approx(1.40)
    info = probe(Path(job["video"]["path"]))
    assert abs(info.duration_seconds - 10) < 0.2 and info.height > info.width
    made = sim_job(sim)
    assert made.extra["endpoint"] == "fal-ai/kling-video/v2.6/pro/text-to-video"
    assert made.extra["authorization"] == f"Key {KEY}"
    assert sim.submissions == 1 and sim.polls[made.id] >= 2


async def test_image_to_video_from_a_local_file_and_from_urls(fal_settings: Settings, sim: Simulator, picture: Path):
    local = await generate(fal_settings, prompt="the sky clears", model="veo-3.1", images=[str(picture)], duration=4)
    assert local["status"] == "succeeded" and local["request"]["mode"] == "image_to_video"
    assert abs(probe(Path(local["video"]["path"])).duration_seconds - 4) < 0.2
    sent = sim_job(sim).payload["image_url"]
    assert sent == "data:image/png;base64," + base64.b64encode(picture.read_bytes()).decode()

    sim.jobs.clear()
    urls = await generate(fal_settings, prompt="dolly in", model="luma-ray-2-flash", images=[A], end_image=B)
    assert urls["status"] == "succeeded" and abs(probe(Path(urls["video"]["path"])).duration_seconds - 5) < 0.2
    made = sim_job(sim)
    assert made.extra["endpoint"] == "fal-ai/luma-dream-machine/ray-2-flash/image-to-video"
    assert (made.payload["image_url"], made.payload["end_image_url"]) == (A, B)


NEW_MODELS = [
    ({"model": "kling-3.0-standard", "images": [A], "duration": 3}, "fal-ai/kling-video/v3/standard/image-to-video", 3),
    ({"model": "kling-3.0-pro", "duration": 4, "aspect_ratio": "9:16"}, "fal-ai/kling-video/v3/pro/text-to-video", 4),
    ({"model": "kling-o3-4k", "duration": 6}, "fal-ai/kling-video/o3/4k/text-to-video", 6),
    ({"model": "kling-o3-4k", "images": [A], "end_image": B}, "fal-ai/kling-video/o3/4k/image-to-video", 5),
    ({"model": "wan-2.6-flash", "images": [A], "duration": 10}, "wan/v2.6/image-to-video/flash", 10),
]


@pytest.mark.parametrize(("args", "endpoint", "seconds"), NEW_MODELS, ids=[e for _, e, _ in NEW_MODELS])
async def test_the_new_endpoints_through_the_tools(fal_settings: Settings, sim: Simulator, args, endpoint, seconds):
    async with Client(build_server(fal_settings)) as client:
        quoted = (await call(client, "estimate_cost", prompt="x", provider="fal", **args)).structured_content
    job = await generate(fal_settings, prompt="a lantern in the fog", **args)
    assert job["status"] == "succeeded" and job["model"] == args["model"], job
    assert job["cost"] == pytest.approx(quoted["usd"])
    made = sim_job(sim)
    assert made.extra["endpoint"] == endpoint and made.extra["ignored"] == []
    info = probe(Path(job["video"]["path"]))
    assert abs(info.duration_seconds - seconds) < 0.2
    assert (info.height > info.width) is (args.get("aspect_ratio") == "9:16")


# -- exact request bodies --------------------------------------------------------------------------

LOCAL = "<local png>"
BODIES = [
    (
        {"model": "kling-2.6-pro", "duration": 10, "aspect_ratio": "9:16", "negative_prompt": "blur"},
        "fal-ai/kling-video/v2.6/pro/text-to-video",
        {"duration": "10", "aspect_ratio": "9:16", "generate_audio": True, "negative_prompt": "blur", "cfg_scale": 0.5},
    ),
    (
        {"model": "kling-2.6-pro", "images": [A], "end_image": B, "audio": False},
        "fal-ai/kling-video/v2.6/pro/image-to-video",
        {"start_image_url": A, "end_image_url": B, "duration": "5", "generate_audio": False},  # no cfg_scale here
    ),
    (
        {"model": "kling-2.5-turbo-pro", "images": [A], "end_image": B, "duration": 10},
        "fal-ai/kling-video/v2.5-turbo/pro/image-to-video",
        {"image_url": A, "tail_image_url": B, "duration": "10", "cfg_scale": 0.5},
    ),
    (
        {
            "model": "veo-3.1",
            "duration": 6,
            "aspect_ratio": "9:16",
            "resolution": "1080p",
            "audio": False,
            "seed": 42,
            "negative_prompt": "text",
        },
        "fal-ai/veo3.1",
        {
            "duration": "6s",
            "aspect_ratio": "9:16",
            "resolution": "1080p",
            "generate_audio": False,
            "negative_prompt": "text",
            "seed": 42,
        },
    ),
    (
        {"model": "veo-3.1", "images": [LOCAL]},
        "fal-ai/veo3.1/image-to-video",
        {"image_url": LOCAL, "duration": "8s", "aspect_ratio": "16:9", "resolution": "720p", "generate_audio": True},
    ),
    (
        {"model": "veo-3.1", "images": [A], "end_image": B},
        "fal-ai/veo3.1/first-last-frame-to-video",
        {
            "first_frame_url": A,
            "last_frame_url": B,
            "duration": "8s",
            "aspect_ratio": "16:9",
            "resolution": "720p",
            "generate_audio": True,
        },
    ),
    (
        {"model": "veo-3.1-fast", "images": [A], "end_image": B, "duration": 4, "audio": False},
        "fal-ai/veo3.1/fast/first-last-frame-to-video",
        {
            "first_frame_url": A,
            "last_frame_url": B,
            "duration": "4s",
            "aspect_ratio": "16:9",
            "resolution": "720p",
            "generate_audio": False,
        },
    ),
    (
        {"model": "veo-3.1-fast", "aspect_ratio": "9:16", "resolution": "1080p", "seed": 1},
        "fal-ai/veo3.1/fast",
        {"duration": "8s", "aspect_ratio": "9:16", "resolution": "1080p", "generate_audio": True, "seed": 1},
    ),
    (
        {"model": "wan-2.5", "duration": 10, "aspect_ratio": "1:1", "resolution": "720p", "seed": 7},
        "fal-ai/wan-25-preview/text-to-video",
        {"duration": "10", "aspect_ratio": "1:1", "resolution": "720p", "seed": 7},
    ),
    (
        {"model": "wan-2.5", "images": [A], "resolution": "480p", "negative_prompt": "blur"},
        "fal-ai/wan-25-preview/image-to-video",
        {"image_url": A, "duration": "5", "resolution": "480p", "negative_prompt": "blur"},
    ),
    ({"model": "hailuo-02", "duration": 10}, "fal-ai/minimax/hailuo-02/standard/text-to-video", {"duration": "10"}),
    (
        {"model": "hailuo-02", "images": [A], "end_image": B, "resolution": "512p"},
        "fal-ai/minimax/hailuo-02/standard/image-to-video",
        {"image_url": A, "end_image_url": B, "duration": "6", "resolution": "512P"},
    ),
    (
        {"model": "luma-ray-2-flash", "aspect_ratio": "21:9", "resolution": "1080p", "duration": 9},
        "fal-ai/luma-dream-machine/ray-2-flash",
        {"duration": "9s", "aspect_ratio": "21:9", "resolution": "1080p"},
    ),
    (
        {"model": "luma-ray-2-flash", "images": [A], "end_image": B, "aspect_ratio": "9:16"},
        "fal-ai/luma-dream-machine/ray-2-flash/image-to-video",
        {"image_url": A, "end_image_url": B, "duration": "5s", "aspect_ratio": "9:16", "resolution": "540p"},
    ),
    (
        {"model": "pika-2.2", "aspect_ratio": "4:5", "resolution": "1080p", "duration": 10, "seed": 3},
        "fal-ai/pika/v2.2/text-to-video",
        {"duration": 10, "aspect_ratio": "4:5", "resolution": "1080p", "seed": 3},
    ),
    (
        {"model": "pika-2.2", "images": [A], "negative_prompt": "rain"},
        "fal-ai/pika/v2.2/image-to-video",
        {"image_url": A, "duration": 5, "resolution": "720p", "negative_prompt": "rain"},
    ),
    (
        {"model": "pixverse-v5", "aspect_ratio": "3:4", "resolution": "360p", "duration": 8},
        "fal-ai/pixverse/v5/text-to-video",
        {"duration": "8", "aspect_ratio": "3:4", "resolution": "360p"},
    ),
    (
        {"model": "pixverse-v5", "images": [A], "resolution": "1080p", "seed": 9},
        "fal-ai/pixverse/v5/image-to-video",
        {"image_url": A, "duration": "5", "resolution": "1080p", "seed": 9},
    ),
    (
        {"model": "wan-2.5"},  # the default resolution is asked for, never fal's 1080p default
        "fal-ai/wan-25-preview/text-to-video",
        {"duration": "5", "aspect_ratio": "16:9", "resolution": "720p"},
    ),
    (
        {"model": "kling-3.0-standard", "duration": 12, "aspect_ratio": "1:1", "audio": False},
        "fal-ai/kling-video/v3/standard/text-to-video",
        {"duration": "12", "aspect_ratio": "1:1", "generate_audio": False, "cfg_scale": 0.5},
    ),
    (
        {"model": "kling-3.0-pro", "images": [A], "end_image": B, "duration": 3, "negative_prompt": "haze"},
        "fal-ai/kling-video/v3/pro/image-to-video",
        {
            "start_image_url": A,
            "end_image_url": B,
            "duration": "3",
            "generate_audio": True,
            "negative_prompt": "haze",
            "cfg_scale": 0.5,
        },
    ),
    (
        {"model": "kling-o3-standard", "duration": 15, "aspect_ratio": "9:16"},
        "fal-ai/kling-video/o3/standard/text-to-video",
        {"duration": "15", "aspect_ratio": "9:16", "generate_audio": False},
    ),
    (
        {"model": "kling-o3-standard", "images": [A], "end_image": B, "audio": True},
        "fal-ai/kling-video/o3/standard/image-to-video",
        {"image_url": A, "end_image_url": B, "duration": "5", "generate_audio": True},
    ),
    (
        {"model": "wan-2.7", "duration": 2, "aspect_ratio": "4:3", "resolution": "1080p", "seed": 2**31 - 1},
        "fal-ai/wan/v2.7/text-to-video",
        {"duration": 2, "aspect_ratio": "4:3", "resolution": "1080p", "seed": 2**31 - 1},
    ),
    (
        {"model": "wan-2.7", "images": [A], "end_image": B, "negative_prompt": "n" * 500},
        "fal-ai/wan/v2.7/image-to-video",
        {"image_url": A, "end_image_url": B, "duration": 5, "resolution": "720p", "negative_prompt": "n" * 500},
    ),
    ({"model": "hailuo-2.3", "duration": 10}, "fal-ai/minimax/hailuo-2.3/standard/text-to-video", {"duration": "10"}),
    (
        {"model": "hailuo-2.3", "images": [A]},
        "fal-ai/minimax/hailuo-2.3/standard/image-to-video",
        {"image_url": A, "duration": "6"},
    ),
    (
        {"model": "ltx-2.3", "duration": 10, "aspect_ratio": "9:16", "resolution": "2160p", "audio": False},
        "fal-ai/ltx-2.3/text-to-video",
        {"duration": 10, "aspect_ratio": "9:16", "resolution": "2160p", "generate_audio": False},
    ),
    (
        {"model": "ltx-2.3", "images": [A], "end_image": B},
        "fal-ai/ltx-2.3/image-to-video",
        {"image_url": A, "end_image_url": B, "duration": 6, "resolution": "1080p", "generate_audio": True},
    ),
    (
        {"model": "seedance-2.0", "duration": 15, "aspect_ratio": "9:16"},
        "bytedance/seedance-2.0/text-to-video",
        {"duration": "15", "aspect_ratio": "9:16", "resolution": "720p", "generate_audio": True},
    ),
    (
        {"model": "seedance-2.0", "images": [A], "end_image": B, "audio": False},
        "bytedance/seedance-2.0/image-to-video",
        {"image_url": A, "end_image_url": B, "duration": "5", "resolution": "720p", "generate_audio": False},
    ),
    (
        {"model": "kling-3.0-standard", "images": [A], "end_image": B, "duration": 8, "options": {"cfg_scale": 0.7}},
        "fal-ai/kling-video/v3/standard/image-to-video",
        {"start_image_url": A, "end_image_url": B, "duration": "8", "generate_audio": True, "cfg_scale": 0.7},
    ),
    (
        {"model": "kling-3.0-pro", "duration": 15, "aspect_ratio": "9:16", "audio": False, "negative_prompt": "haze"},
        "fal-ai/kling-video/v3/pro/text-to-video",
        {
            "duration": "15",
            "aspect_ratio": "9:16",
            "generate_audio": False,
            "negative_prompt": "haze",
            "cfg_scale": 0.5,
        },
    ),
    (
        {"model": "kling-o3-4k", "duration": 3, "aspect_ratio": "1:1", "audio": True},
        "fal-ai/kling-video/o3/4k/text-to-video",
        {"duration": "3", "aspect_ratio": "1:1", "generate_audio": True},
    ),
    (
        {"model": "kling-o3-4k", "images": [A], "end_image": B},
        "fal-ai/kling-video/o3/4k/image-to-video",
        {"image_url": A, "end_image_url": B, "duration": "5", "generate_audio": False},
    ),
    (
        {"model": "wan-2.6-flash", "images": [LOCAL]},  # 720p asked for, never fal's 1080p default
        "wan/v2.6/image-to-video/flash",
        {"image_url": LOCAL, "duration": "5", "resolution": "720p", "generate_audio": True},
    ),
    (
        {
            "model": "wan-2.6-flash",
            "images": [A],
            "duration": 15,
            "resolution": "1080p",
            "audio": False,
            "seed": 11,
            "negative_prompt": "n" * 500,
        },
        "wan/v2.6/image-to-video/flash",
        {
            "image_url": A,
            "duration": "15",
            "resolution": "1080p",
            "generate_audio": False,
            "negative_prompt": "n" * 500,
            "seed": 11,
        },
    ),
    (
        {"model": "pixverse-v5.5", "duration": 10, "aspect_ratio": "1:1", "resolution": "540p"},
        "fal-ai/pixverse/v5.5/text-to-video",
        {"duration": "10", "aspect_ratio": "1:1", "resolution": "540p", "generate_audio_switch": False},
    ),
    (
        {"model": "pixverse-v6", "images": [A], "duration": 13, "resolution": "1080p", "seed": 4},
        "fal-ai/pixverse/v6/image-to-video",
        {"image_url": A, "duration": 13, "resolution": "1080p", "seed": 4, "generate_audio_switch": False},
    ),
]


@pytest.mark.parametrize(
    ("args", "endpoint", "body"), BODIES, ids=[endpoint.removeprefix("fal-ai/") for _, endpoint, _ in BODIES]
)
async def test_request_body(fal_settings: Settings, sim: Simulator, picture: Path, args, endpoint, body):
    data_uri = "data:image/png;base64," + base64.b64encode(picture.read_bytes()).decode()
    args = {**args, "images": [str(picture) if i == LOCAL else i for i in args.get("images", [])]}
    body = {"prompt": "a lighthouse at dusk", **{k: data_uri if v == LOCAL else v for k, v in body.items()}}
    providers = Providers(fal_settings.env, fal_settings.allowed_dirs)
    provider, _, request = Catalog(providers, fal_settings.allowed_dirs).resolve(
        RequestArgs(prompt="a lighthouse at dusk", provider="fal", **args)
    )
    try:
        submission = await provider.submit("job_body", request)
    finally:
        await providers.aclose()
    made = sim.jobs[submission.ref]
    assert made.extra["endpoint"] == endpoint
    # JSON text, so "5" vs 5 vs 5.0 and True vs 1 all count.
    assert json.dumps(made.payload, sort_keys=True) == json.dumps(body, sort_keys=True)
    assert made.extra["ignored"] == []  # fal would drop a field its schema lacks without a word: we send none
    app = "/".join(endpoint.split("/")[:2])
    assert submission.state["status_url"].endswith(f"/fal/{app}/requests/{submission.ref}/status")


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        ({"model": "hailuo-02", "resolution": "512P"}, "768P only"),
        ({"model": "pixverse-v5", "resolution": "1080p", "duration": 8}, "5 s only"),
        ({"model": "pixverse-v5.5", "resolution": "1080p", "duration": 10}, "5 or 8 s only"),
        # 1025 characters, 2049 bytes: under any character limit, over PixVerse's byte limit.
        ({"model": "pixverse-v5", "prompt": "é" * 1024 + "a"}, "prompt is 2049 bytes in UTF-8"),
        ({"model": "pixverse-v6", "negative_prompt": "日" * 683}, "negative_prompt is 2049 bytes"),
        ({"model": "wan-2.5", "negative_prompt": "n" * 501}, "at most 500"),
        ({"model": "wan-2.7", "negative_prompt": "n" * 501}, "at most 500"),
        ({"model": "wan-2.6-flash", "images": [A], "negative_prompt": "n" * 501}, "at most 500"),
        ({"model": "wan-2.7", "seed": 2**31}, "allowed: 0 to 2147483647"),
        (
            {"model": "kling-2.6-pro", "images": [A], "options": {"cfg_scale": 0.3}},
            "takes cfg_scale in text-to-video only",
        ),
    ],
)
async def test_limits_across_fields_are_refused_before_a_job_exists(
    fal_settings: Settings, sim: Simulator, args, reason
):
    async with Client(build_server(fal_settings)) as client:
        for tool in ("generate_video", "estimate_cost"):
            result = await call(client, tool, **{"prompt": "x", "provider": "fal", **args})
            assert result.is_error and "INVALID_INPUT" in result.content[0].text and reason in result.content[0].text
        assert (await call(client, "list_jobs")).structured_content["jobs"] == []
    assert sim.submissions == 0


# -- prices --------------------------------------------------------------------------------------

PRICES = [
    ({"model": "kling-2.6-pro"}, 0.70),  # 5 s x $0.14 (audio is on by default)
    ({"model": "kling-2.6-pro", "duration": 10, "audio": False}, 0.70),
    ({"model": "kling-2.6-pro", "duration": 10}, 1.40),
    ({"model": "kling-2.5-turbo-pro", "images": [A]}, 0.35),
    ({"model": "kling-2.5-turbo-pro", "images": [A], "duration": 10}, 0.70),  # 0.35 + 5 x 0.07
    ({"model": "kling-3.0-standard"}, 0.63),  # 5 s x $0.126 with audio
    ({"model": "kling-3.0-standard", "duration": 15, "audio": False}, 1.26),  # 15 x $0.084
    ({"model": "kling-3.0-pro", "images": [A]}, 1.68),  # 5 x $0.336: the higher of fal's two figures
    ({"model": "kling-3.0-pro", "images": [A], "audio": False, "duration": 10}, 2.24),
    ({"model": "kling-o3-standard"}, 0.42),  # 5 x $0.084, audio off by default
    # Kling 3.0's other halves, at the rates of their pages: standard $0.084/$0.126, pro $0.224/$0.336 (the higher).
    ({"model": "kling-3.0-standard", "images": [A]}, 5 * 0.126),
    ({"model": "kling-3.0-standard", "images": [A], "audio": False, "duration": 12}, 12 * 0.084),
    ({"model": "kling-3.0-pro"}, 5 * 0.336),
    ({"model": "kling-3.0-pro", "audio": False, "duration": 15}, 15 * 0.224),
    # Kling O3 4K: fal's "$0.42 per second"; with audio (unstated) x 4/3, O3 Standard's $0.112 / $0.084.
    ({"model": "kling-o3-4k"}, 5 * 0.42),
    ({"model": "kling-o3-4k", "images": [A], "audio": True, "duration": 15}, 15 * 0.42 * 0.112 / 0.084),
    # Wan 2.6 Flash: $0.05/s at 720p, $0.075/s at 1080p with audio (on by default); silent half that.
    ({"model": "wan-2.6-flash", "images": [A]}, 5 * 0.05),
    ({"model": "wan-2.6-flash", "images": [A], "duration": 15, "resolution": "1080p"}, 15 * 0.075),
    ({"model": "wan-2.6-flash", "images": [A], "duration": 10, "audio": False}, 10 * 0.05 / 2),
    ({"model": "wan-2.6-flash", "images": [A], "resolution": "1080p", "audio": False}, 5 * 0.075 / 2),
    ({"model": "kling-o3-standard", "images": [A], "audio": True, "duration": 15}, 1.68),
    ({"model": "veo-3.1"}, 3.20),  # 8 s x $0.40 with audio
    ({"model": "veo-3.1", "duration": 4, "audio": False}, 0.80),
    ({"model": "veo-3.1-fast"}, 1.20),  # 8 s x $0.15 with audio
    ({"model": "veo-3.1-fast", "duration": 6, "audio": False, "resolution": "1080p"}, 0.60),
    ({"model": "wan-2.5"}, 0.50),  # 5 s x $0.10 at the default 720p
    ({"model": "wan-2.5", "resolution": "480p"}, 0.25),
    ({"model": "wan-2.5", "resolution": "1080p"}, 0.75),  # $0.15/s: what the old flat $0.05/s quoted at $0.25
    ({"model": "wan-2.5", "duration": 10, "resolution": "1080p"}, 1.50),
    ({"model": "wan-2.7"}, 0.50),
    ({"model": "wan-2.7", "duration": 15, "resolution": "1080p"}, 2.25),
    ({"model": "hailuo-02"}, 0.27),
    ({"model": "hailuo-02", "duration": 10}, 0.45),
    ({"model": "hailuo-02", "images": [A], "resolution": "512P"}, 6 * 0.02),  # fal's "roughly $0.017/s", rounded up
    ({"model": "hailuo-2.3"}, 0.28),
    ({"model": "hailuo-2.3", "images": [A], "duration": 10}, 0.56),
    ({"model": "luma-ray-2-flash"}, 0.20),
    ({"model": "luma-ray-2-flash", "duration": 9, "resolution": "720p"}, 0.80),
    ({"model": "luma-ray-2-flash", "resolution": "1080p"}, 0.80),
    ({"model": "luma-ray-2-flash", "duration": 9, "resolution": "1080p"}, 1.60),
    ({"model": "ltx-2.3"}, 0.48),  # 6 s x $0.08
    ({"model": "ltx-2.3", "duration": 10, "resolution": "2160p"}, 3.20),
    ({"model": "seedance-2.0"}, 1.517),  # 5 s x $0.3034
    ({"model": "seedance-2.0", "duration": 15, "audio": False}, 4.551),
    ({"model": "pika-2.2"}, 0.20),
    ({"model": "pika-2.2", "resolution": "1080p"}, 0.45),
    ({"model": "pika-2.2", "duration": 10, "resolution": "1080p"}, 0.90),
    ({"model": "pixverse-v5", "resolution": "540p"}, 0.35),
    ({"model": "pixverse-v5"}, 0.45),
    ({"model": "pixverse-v5", "resolution": "1080p"}, 0.80),
    ({"model": "pixverse-v5", "duration": 8, "resolution": "360p"}, 0.70),
    ({"model": "pixverse-v5.5", "duration": 10}, 0.99),  # 2.2 x $0.45
    ({"model": "pixverse-v5.5", "duration": 8, "resolution": "1080p"}, 1.60),
    ({"model": "pixverse-v6"}, 0.225),  # 5 s x $0.045 at 720p
    ({"model": "pixverse-v6", "resolution": "360p", "duration": 1}, 0.025),
    ({"model": "pixverse-v6", "resolution": "540p", "duration": 10}, 0.35),
    ({"model": "pixverse-v6", "resolution": "1080p", "duration": 15}, 1.35),
]


@pytest.mark.parametrize(("args", "usd"), PRICES, ids=[f"{a['model']}-{usd}" for a, usd in PRICES])
async def test_estimate_cost(fal_settings: Settings, sim: Simulator, args, usd):
    async with Client(build_server(fal_settings)) as client:
        cost = (await call(client, "estimate_cost", prompt="x", provider="fal", **args)).structured_content
    assert cost["usd"] == pytest.approx(usd, abs=5e-4) and cost["configured"] and cost["model"] == args["model"]
    assert sim.submissions == 0


# -- errors ----------------------------------------------------------------------------------------


async def failed(settings: Settings, code: ErrorCode, **args: Any) -> dict[str, Any]:
    job = await generate(settings, **{"prompt": "a quiet harbour", **args})
    assert job["status"] == "failed", job
    assert job["error"]["code"] == code.value, job["error"]
    return job["error"]


async def test_rejected_key(fal_settings: Settings, sim: Simulator):
    sim.config["key"] = "fal-other-id:another-secret-0000"
    error = await failed(fal_settings, ErrorCode.AUTH)
    assert "FAL_KEY" in error["message"] and not error["retryable"]
    assert sim.submissions == 0


async def test_out_of_credit(fal_settings: Settings, sim: Simulator):
    sim.config["balance"] = 0
    error = await failed(fal_settings, ErrorCode.OUT_OF_CREDIT)
    assert "Exhausted balance" in error["message"] and "fal.ai/dashboard/billing" in error["message"]


async def test_rate_limited_submit_is_retried_then_gives_up(fal_settings: Settings, sim: Simulator):
    tries = (SUBMIT_RESENDS + 1) * 4  # the engine's resends x the shared client's attempts
    sim.config.update(rate_limit=tries + 6, retry_after=0.01, on="POST")
    error = await failed(fal_settings, ErrorCode.RATE_LIMITED)
    assert "rate limiting" in error["message"] and error["retryable"]
    assert sim.config["rate_limit"] == 6 and sim.submissions == 0  # every try refused, none accepted


async def test_rate_limit_that_clears_is_ridden_out(fal_settings: Settings, sim: Simulator):
    sim.config.update(rate_limit=2, retry_after=0.01)
    job = await generate(fal_settings, prompt=f"patience {QUICK}", model="pika-2.2")
    assert job["status"] == "succeeded" and sim.submissions == 1


@pytest.mark.parametrize("status_errors", [True, False], ids=["status-error", "result-error"])
async def test_content_policy(fal_settings: Settings, sim: Simulator, status_errors: bool):
    sim.config["status_errors"] = status_errors  # the verdict in the status, or only in the result
    error = await failed(fal_settings, ErrorCode.CONTENT_POLICY, prompt=f"sim:fail=content {QUICK} forbidden things")
    assert "flagged by a content checker" in error["message"] and "Change the prompt" in error["message"]
    assert not error["retryable"]


@pytest.mark.parametrize("status_errors", [True, False], ids=["status-error", "result-error"])
async def test_model_failure(fal_settings: Settings, sim: Simulator, status_errors: bool):
    sim.config["status_errors"] = status_errors
    error = await failed(fal_settings, ErrorCode.PROVIDER_FAILED, prompt=f"sim:fail=internal {QUICK}")
    assert "Internal server error" in error["message"] and "internal_server_error" in error["message"]
    assert error["retryable"]  # fal already retried its runners; submitting again may work


async def test_provider_side_validation_and_unknown_endpoint(fal_env: dict[str, str], sim: Simulator):
    provider = FalProvider(fal_env)
    bad = VideoRequest(
        prompt="x",
        provider="fal",
        model="kling-2.6-pro",
        mode="text_to_video",
        duration=7,  # the catalog would refuse this; here it reaches fal, which answers 422
        aspect_ratio="4:3",
        resolution="1080p",
    )
    try:
        with pytest.raises(ProviderError) as caught:
            await provider.submit("job_bad", bad)
        assert caught.value.code == ErrorCode.INVALID_INPUT and not caught.value.retryable
        assert "duration: Input should be '5' or '10'" in caught.value.message
        assert "aspect_ratio: Input should be '16:9', '9:16' or '1:1'" in caught.value.message
        with pytest.raises(ProviderError) as caught:
            await provider.http.request("POST", "/fal-ai/retired-model", json={"prompt": "x"})
        assert caught.value.code == ErrorCode.NOT_FOUND and "no model endpoint at" in caught.value.message
        assert KEY not in caught.value.message and SECRET not in caught.value.message
    finally:
        await provider.aclose()
    assert sim.submissions == 0


async def test_request_fal_no_longer_knows(fal_settings: Settings, sim: Simulator):
    async with Client(build_server(fal_settings)) as client:
        job = (await call(client, "generate_video", prompt=LONG, model="pika-2.2", wait_seconds=0)).structured_content
        await until_running(client, job["job_id"])
        sim.jobs.clear()
        done = (await call(client, "get_status", job_id=job["job_id"], wait_seconds=10)).structured_content
    assert done["status"] == "failed" and done["error"]["code"] == "NOT_FOUND"
    assert "Submit the video again" in done["error"]["message"]


async def test_status_server_errors_are_retried(fal_settings: Settings, sim: Simulator):
    sim.config.update(server_errors=1, error_status=502, on="GET")
    job = await generate(fal_settings, prompt=f"through the storm {QUICK}", model="wan-2.5")
    assert job["status"] == "succeeded" and sim.config["server_errors"] == 0


async def test_status_server_error_fal_calls_final(fal_settings: Settings, sim: Simulator):
    sim.config.update(server_errors=100, error_status=500, retryable=False, on="GET")
    error = await failed(fal_settings, ErrorCode.PROVIDER_FAILED)
    assert "retrying will not help" in error["message"]


@pytest.mark.parametrize(
    ("status", "outcome"), [(503, "succeeded"), (500, "SUBMIT_UNCONFIRMED")], ids=["refused", "unknown"]
)
async def test_submit_server_errors(fal_settings: Settings, sim: Simulator, status: int, outcome: str):
    # 503: fal refused the work, so sending it again is safe; 500: it may have been taken (and billed).
    sim.config.update(server_errors=1, error_status=status, on="POST")
    job = await generate(fal_settings, prompt=f"once only {QUICK}", model="hailuo-02")
    assert (job["error"] or {}).get("code", job["status"]) == outcome
    assert sim.submissions == (1 if status == 503 else 0)


async def test_status_urls_on_another_host_get_no_key(fal_env: dict[str, str]):
    answer = {
        "request_id": "r1",
        **{f"{k}_url": f"https://attacker.example/fal-ai/x/requests/r1/{k}" for k in ("status", "response", "cancel")},
    }
    provider = FalProvider({**fal_env, "VIDEOGEN_FAL_BASE_URL": "https://queue.fal.run"})
    options = provider.http_options()
    options["transport"] = httpx.MockTransport(lambda _: httpx.Response(200, json=answer))
    provider.http_options = lambda: options  # the adapter's own client, answered by a mock
    request = VideoRequest(
        prompt="x",
        provider="fal",
        model="wan-2.5",
        mode="text_to_video",
        duration=5,
        aspect_ratio="16:9",
        resolution="720p",
    )
    with pytest.raises(ProviderError) as caught:
        await provider.submit("job_x", request)
    assert "another host (attacker.example)" in caught.value.message and "FAL_KEY was not sent" in caught.value.message
    await provider.aclose()


# -- cancel ----------------------------------------------------------------------------------------


async def test_cancel_stops_the_job_at_fal(fal_settings: Settings, sim: Simulator):
    async with Client(build_server(fal_settings)) as client:
        job = (await call(client, "generate_video", prompt=LONG, model="veo-3.1", wait_seconds=0)).structured_content
        await until_running(client, job["job_id"])
        cancelled = (await call(client, "cancel_job", job_id=job["job_id"])).structured_content
    assert cancelled["status"] == "cancelled" and "cancelled at fal.ai" in cancelled["message"]
    made = sim_job(sim)
    assert made.cancelled and made.phase()[0] == "cancelled"
    assert not list(fal_settings.output_dir.glob("*.mp4"))


@pytest.mark.parametrize("status_errors", [True, False], ids=["status-error", "result-error"])
async def test_a_cancelled_request_reads_as_cancelled(fal_env: dict[str, str], sim: Simulator, status_errors: bool):
    sim.config["status_errors"] = status_errors
    provider = FalProvider(fal_env)
    request = VideoRequest(
        prompt=LONG, provider="fal", model="luma-ray-2-flash", mode="text_to_video", duration=5, aspect_ratio="16:9",
        resolution="540p",
    )  # fmt: skip
    try:
        submission = await provider.submit("job_c", request)
        await provider.cancel(submission, request)
        assert submission.state["cancel"] == "CANCELLATION_REQUESTED"
        assert (await provider.poll(submission, request)).status == "cancelled"
        await provider.cancel(submission, request)  # a second cancel: ALREADY_COMPLETED, not an error
        assert submission.state["cancel"] == "ALREADY_COMPLETED"
        gone = Submission(ref="x", state={**submission.state, "status_url": submission.state["status_url"] + "x"})
        with pytest.raises(ProviderError) as caught:
            await provider.poll(gone, request)
        assert caught.value.code == ErrorCode.NOT_FOUND
    finally:
        await provider.aclose()


# -- restart and cadence -------------------------------------------------------------------------


async def test_restart_mid_job_resumes_without_resubmitting(fal_settings: Settings, sim: Simulator):
    async with JobManager(fal_settings) as first:
        row = await first.submit(RequestArgs(prompt="sim:seconds=450 a long take", provider="fal", model="pika-2.2"))
        deadline = time.monotonic() + 10
        while first.get(row.job_id).status != "running":
            assert time.monotonic() < deadline
            await anyio.sleep(0.02)
    # The process "stopped" with the job running at fal; a new one picks it up from the index.
    async with JobManager(fal_settings) as second:
        done = await second.wait(row.job_id, 20)
    assert done.status == "succeeded", done.error
    assert abs(probe(Path(done.video["path"])).duration_seconds - 5) < 0.2
    assert sim.submissions == 1


def test_poll_cadence_fits_fal_queue_jobs():
    provider = FalProvider({})
    spec = provider.spec("kling-2.6-pro")
    assert spec is not None
    intervals = [provider.poll_interval(spec, t) for t in (0, 30, 90, 600)]
    assert intervals == sorted(intervals) and intervals[0] == 2.0 and intervals[-1] == 5.0


# -- the official client -------------------------------------------------------------------------


async def test_official_fal_client_talks_to_the_simulator(
    served: tuple[str, Simulator], sim: Simulator, monkeypatch: pytest.MonkeyPatch
):
    import fal_client
    import fal_client.client as fal_module

    # The client builds submit URLs from QUEUE_URL_FORMAT (https://queue.fal.run/); then follows the
    # URLs the queue returns, exactly as with fal itself.
    monkeypatch.setattr(fal_module, "QUEUE_URL_FORMAT", f"{served[0]}/fal/")
    sim.config["key"] = KEY
    client = fal_client.AsyncClient(key=KEY)
    endpoint = "fal-ai/kling-video/v2.6/pro/text-to-video"

    handle = await client.submit(endpoint, arguments={"prompt": "sim:queue=150 a red kite", "duration": "5"})
    seen = [type(status).__name__ async for status in handle.iter_events(with_logs=True, interval=0.02)]
    assert seen[0] == "Queued" and "InProgress" in seen and seen[-1] == "Completed"
    output = await handle.get()
    assert output["video"]["content_type"] == "video/mp4" and output["video"]["file_size"] > 0
    async with httpx.AsyncClient() as http:
        video = (await http.get(output["video"]["url"])).content
    assert video[4:8] == b"ftyp" and len(video) == output["video"]["file_size"]

    with pytest.raises(fal_module.FalClientHTTPError) as caught:
        await client.submit(endpoint, arguments={"prompt": "x", "duration": "7"})
    assert caught.value.status_code == 422 and caught.value.message[0]["loc"] == ["body", "duration"]

    running_handle = await client.submit(endpoint, arguments={"prompt": LONG})
    await running_handle.cancel()
    status = await running_handle.status()
    assert isinstance(status, fal_client.Completed) and status.error_type == "client_cancelled"

    with pytest.raises(fal_module.FalClientHTTPError) as caught:
        await fal_client.AsyncClient(key="fal-wrong-id:wrong-secret").submit(endpoint, arguments={"prompt": "x"})
    assert caught.value.status_code == 401


# -- fal's request errors and cancellation -------------------------------------------------------


@pytest.mark.parametrize("status_errors", [True, False], ids=["status-error", "result-error"])
@pytest.mark.parametrize("kind", ["runner_server_error", "startup_timeout", "runner_connection_timeout"])
async def test_runner_failures_are_worth_retrying(fal_settings: Settings, sim: Simulator, kind: str, status_errors):
    # fal's request errors: the runner, not the input, failed (and fal does not bill 5xx); a new submit may work.
    sim.config["status_errors"] = status_errors
    error = await failed(fal_settings, ErrorCode.PROVIDER_FAILED, prompt=f"sim:fail={kind} {QUICK}")
    assert kind in error["message"] and "Submitting again may work" in error["message"]
    assert error["retryable"]


@pytest.mark.parametrize("status_errors", [True, False], ids=["status-error", "result-error"])
async def test_a_request_cancelled_elsewhere_reads_as_cancelled(fal_settings: Settings, sim: Simulator, status_errors):
    # Cancelled from fal's dashboard or another client: fal's error_type client_cancelled (HTTP 499), not a failure.
    sim.config["status_errors"] = status_errors
    async with Client(build_server(fal_settings)) as client:
        job = (await call(client, "generate_video", prompt=LONG, model="pika-2.2", wait_seconds=0)).structured_content
        await until_running(client, job["job_id"])
        sim_job(sim).cancelled = True
        done = (await call(client, "get_status", job_id=job["job_id"], wait_seconds=10)).structured_content
    assert done["status"] == "cancelled" and done["error"] is None, done


# -- fal's answers, read tolerantly ----------------------------------------------------------------


def answered(fal_env: dict[str, str], reply: Any) -> FalProvider:
    """The adapter with its own HTTP client, answered by `reply(request)` instead of a network."""
    provider = FalProvider({**fal_env, "VIDEOGEN_FAL_BASE_URL": "https://queue.fal.run"})
    options = provider.http_options()
    options["transport"] = httpx.MockTransport(reply)
    provider.http_options = lambda: options
    return provider


WAN = VideoRequest(
    prompt="x",
    provider="fal",
    model="wan-2.5",
    mode="text_to_video",
    duration=5,
    aspect_ratio="16:9",
    resolution="720p",
)
URLS = {
    f"{k}_url": f"https://queue.fal.run/fal-ai/wan-25-preview/requests/7/{k}" for k in ("status", "response", "cancel")
}


@pytest.mark.parametrize(
    ("status", "expect"),
    [
        ({"status": "IN_QUEUE", "queue_position": "three"}, ("queued", None, None)),  # a wrong type reads as absent
        ({"status": "IN_QUEUE", "queue_position": 2}, ("queued", 2, None)),
        (
            {"status": "IN_PROGRESS", "logs": ["junk", {"message": 5}, {"message": "Generating video: 40%"}]},
            ("running", None, 0.4),
        ),
        ({"status": "IN_PROGRESS", "logs": "not a list"}, ("running", None, None)),
    ],
)
async def test_status_answers_are_read_tolerantly(fal_env: dict[str, str], status, expect):
    provider = answered(fal_env, lambda _: httpx.Response(200, json=status))
    try:
        snap = await provider.poll(Submission(ref="7", state=URLS), WAN)
    finally:
        await provider.aclose()
    assert (snap.status, snap.queue_position, snap.progress) == expect


@pytest.mark.parametrize(
    ("status", "result", "reason"),
    [
        ({"status": 7}, None, "unknown request status"),
        ({"status": "COMPLETED"}, {"video": "not-a-file"}, "no video URL"),
        ({"status": "COMPLETED"}, {"video": {"url": None}}, "no video URL"),
    ],
)
async def test_answers_that_say_nothing_are_read_again(fal_env: dict[str, str], status, result, reason):
    def reply(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=status if request.url.path.endswith("/status") else result)

    provider = answered(fal_env, reply)
    try:
        with pytest.raises(ProviderError) as caught:
            await provider.poll(Submission(ref="7", state=URLS), WAN)
    finally:
        await provider.aclose()
    assert caught.value.code == ErrorCode.TRANSIENT and reason in caught.value.message


@pytest.mark.parametrize(
    ("answer", "ref"),
    [({"request_id": 123, **URLS}, "123"), ({"request_id": "r-1", **URLS, "queue_position": "x"}, "r-1")],
)
async def test_submit_answers_are_read_tolerantly(fal_env: dict[str, str], answer, ref):
    provider = answered(fal_env, lambda _: httpx.Response(200, json=answer))
    try:
        assert (await provider.submit("job_t", WAN)).ref == ref
        provider_bad = answered(fal_env, lambda _: httpx.Response(200, json={**answer, "status_url": 5}))
        with pytest.raises(ProviderError) as caught:
            await provider_bad.submit("job_t", WAN)
        assert caught.value.code == ErrorCode.SUBMIT_UNCONFIRMED and not caught.value.retryable
        said = caught.value.message  # the one "no id" error (Provider.no_id), with fal's words
        assert "sent no request id and status URLs" in said and "fal.ai's request history" in said, said
        await provider_bad.aclose()
    finally:
        await provider.aclose()


# -- the catalogue: published schemas, the Platform API's search and prices ----------------------------------

KLING_21 = "fal-ai/kling-video/v2.1/standard/text-to-video"


def test_the_simulated_catalogue_answers_as_fal_documents_it(served: tuple[str, Simulator], sim: Simulator):
    """fal.ai/api/openapi/queue/openapi.json (public), api.fal.ai/v1/models (key optional) and
    /v1/models/pricing (Key auth): the shapes of fal's docs and Platform API OpenAPI, and their errors."""
    root = f"{served[0]}/fal"
    auth = {"Authorization": f"Key {KEY}"}
    document = httpx.get(f"{root}/api/openapi/queue/openapi.json", params={"endpoint_id": KLING_21}).json()
    assert document["info"]["x-fal-metadata"]["category"] == "text-to-video"
    assert {f"/{KLING_21}", f"/{KLING_21}/requests/{{request_id}}"} <= set(document["paths"])
    missing = httpx.get(f"{root}/api/openapi/queue/openapi.json", params={"endpoint_id": "fal-ai/none"})
    assert missing.status_code == 404
    prices = httpx.get(f"{root}/v1/models/pricing", params={"endpoint_id": KLING_21}, headers=auth).json()
    assert prices == {
        "prices": [{"endpoint_id": KLING_21, "unit_price": 0.05, "unit": "second", "currency": "USD"}],
        "next_cursor": None,
        "has_more": False,
    }
    for headers, status, kind in (({}, 401, "authorization_error"), ({"Authorization": KEY}, 401, None)):
        refused = httpx.get(f"{root}/v1/models/pricing", params={"endpoint_id": KLING_21}, headers=headers)
        assert refused.status_code == status and refused.json()["error"]["type"] == (kind or "authorization_error")
    unknown = httpx.get(f"{root}/v1/models/pricing", params={"endpoint_id": "fal-ai/none"}, headers=auth)
    assert unknown.status_code == 404 and unknown.json() == {
        "error": {"type": "not_found", "message": "Resource not found"}
    }
    assert httpx.get(f"{root}/v1/models/pricing", headers=auth).status_code == 400  # endpoint_id is required
    found = httpx.get(f"{root}/v1/models", params={"q": "kling 2.1", "category": "text-to-video"}).json()
    assert [m["endpoint_id"] for m in found["models"]] == [KLING_21] and found["has_more"] is False
    assert {"display_name", "category", "description", "status"} <= set(found["models"][0]["metadata"])
    assert (
        httpx.get(f"{root}/v1/models", params={"q": "kling"}, headers={"Authorization": "Bearer x"}).status_code == 401
    )
    expanded = httpx.get(f"{root}/v1/models", params={"endpoint_id": KLING_21, "expand": "openapi-3.0"}).json()
    assert expanded["models"][0]["openapi"]["openapi"] == "3.0.4"


@pytest.mark.parametrize(
    ("unit", "price", "rule", "estimate"),
    [
        ("second", 0.05, "$0.050/s", False),
        ("video_second", 0.05, "$0.050/s", False),
        ("5 seconds", 0.25, "$0.050/s", False),
        ("video", 0.20, "$0.20 for 5 s, $0.40 for 10 s", True),  # longer videos quoted in proportion
        ("image", 0.025, None, None),  # not a unit a video can be priced in
        ("gpu-second", 0.001, None, None),
    ],
)
def test_fals_billing_units_become_a_price_rule_or_none(unit: str, price: float, rule: str | None, estimate: Any):
    from providers.fal import PriceEntry, _rule

    spec = MODELS[0].model_copy(update={"durations": (5.0, 10.0), "resolutions": ("720p",), "audio": False})
    made, why = _rule(PriceEntry(endpoint_id="x/y", unit_price=price, unit=unit, currency="USD"), spec, True)
    if rule is None:
        assert made is None and unit in why
        return
    assert made is not None and made.describe(with_note=False) == rule
    assert made.note.startswith("estimate") is estimate
    euro, why = _rule(PriceEntry(endpoint_id="x/y", unit_price=price, unit=unit, currency="EUR"), spec, True)
    assert euro is None and "EUR" in why


async def test_a_failed_catalogue_search_is_named_and_the_curated_models_still_listed(
    fal_settings: Settings, sim: Simulator
):
    async with Client(build_server(fal_settings)) as client:
        sim.config["key"] = "fal-other-id:another-secret"  # the Platform API now refuses our key: 401
        result = await call(client, "list_models", provider="fal", search="seedance")
    listing = result.structured_content
    assert [row["model"] for row in listing["models"]] == ["seedance-2.0"]
    assert "fal.ai's catalogue could not be searched" in listing["note"] and "FAL_KEY" in listing["note"]


async def test_the_official_client_runs_a_catalogue_endpoint_and_meets_its_schema(
    served: tuple[str, Simulator], sim: Simulator, monkeypatch: pytest.MonkeyPatch
):
    """fal-client (unchanged but for its queue host) on an endpoint the adapter declares nothing for: the
    simulator's queue takes it as the published schema says, and refuses what that schema refuses."""
    import fal_client
    import fal_client.client as fal_module

    monkeypatch.setattr(fal_module, "QUEUE_URL_FORMAT", f"{served[0]}/fal/")
    client = fal_client.AsyncClient(key=KEY)
    handle = await client.submit(KLING_21, arguments={"prompt": "sim:seconds=15 a kite", "duration": "10"})
    output = await handle.get()
    assert output["video"]["content_type"] == "video/mp4"
    assert sim_job(sim).extra["endpoint"] == KLING_21 and sim_job(sim).extra["duration"] == 10.0
    with pytest.raises(fal_client.client.FalClientHTTPError) as refused:
        await client.submit(KLING_21, arguments={"prompt": "x", "cfg_scale": 3})
    assert refused.value.status_code == 422
    assert refused.value.response.json()["detail"][0]["loc"] == ["body", "cfg_scale"]
