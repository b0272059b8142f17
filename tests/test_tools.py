"""Every tool through the MCP SDK's own Client, in-process, in both protocol eras."""

from __future__ import annotations

import base64
import sqlite3
from pathlib import Path

import pytest
from mcp import Client

from providers.demo import DemoProvider
from server import app
from server.app import build_server
from server.media import probe
from server.settings import Settings

pytestmark = pytest.mark.anyio
MODES = ["auto", "legacy"]
FAST = {"resolution": "360p", "duration": 1}


def job_count(settings: Settings) -> int:
    if not settings.index_path.exists():
        return 0
    with sqlite3.connect(settings.index_path) as db:
        return db.execute("SELECT COUNT(*) FROM jobs").fetchone()[0]


@pytest.mark.parametrize("mode", MODES)
async def test_lists_the_tools_with_schemas_and_annotations(settings: Settings, mode: str):
    async with Client(build_server(settings), mode=mode) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    assert set(tools) == {"generate_video", "get_status", "list_models", "estimate_cost", "list_jobs", "cancel_job"}
    generate = tools["generate_video"]
    params = generate.input_schema["properties"]
    for name in (
        "prompt",
        "provider",
        "model",
        "duration",
        "aspect_ratio",
        "resolution",
        "images",
        "end_image",
        "negative_prompt",
        "seed",
        "audio",
        "wait_seconds",
        "idempotency_key",
    ):
        assert name in params and params[name].get("description"), name
    assert generate.input_schema["required"] == ["prompt"]
    assert generate.output_schema and "job_id" in generate.output_schema["properties"]
    assert generate.annotations.read_only_hint is False and generate.annotations.open_world_hint is True
    assert tools["get_status"].annotations.read_only_hint is True
    assert tools["cancel_job"].annotations.destructive_hint is True


@pytest.mark.parametrize("mode", MODES)
async def test_generate_video_returns_a_real_video_with_progress(settings: Settings, mode: str):
    seen: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total, message))

    async with Client(build_server(settings), mode=mode) as client:
        result = await client.call_tool(
            "generate_video",
            {"prompt": "a paper boat on a stormy sea", "aspect_ratio": "9:16", **FAST},
            progress_callback=on_progress,
        )
    assert not result.is_error, result.content
    job = result.structured_content
    assert job["status"] == "succeeded" and job["provider"] == "demo" and job["cost"] == 0
    video = job["video"]
    path = Path(video["path"])
    assert path.parent == settings.output_dir and path.suffix == ".mp4"
    info = probe(path)
    assert (info.width, info.height) == (video["width"], video["height"]) == (360, 640)
    assert abs(info.duration_seconds - 1.0) < 0.1 and info.codec == "h264"
    assert video["size_bytes"] == path.stat().st_size > 0
    assert not list(settings.output_dir.glob("*.part"))
    kinds = [c.type for c in result.content]
    # No links by default (they crash LangChain's model adapters); a small JPEG thumbnail, once per job.
    assert kinds == ["text", "image"]
    assert result.content[1].mime_type == "image/jpeg"
    assert base64.b64decode(result.content[1].data).startswith(b"\xff\xd8")
    assert "succeeded" in result.content[0].text and str(path) in result.content[0].text
    # Progress: several notifications, strictly rising, on a 0..100 scale, ending at 100.
    values = [p for p, _, _ in seen]
    assert len(values) >= 3 and values == sorted(values) and len(set(values)) == len(values)
    assert seen[-1][0] == 100 and all(total == 100 for _, total, _ in seen)
    assert any("running" in (m or "") for _, _, m in seen)


@pytest.mark.parametrize("mode", MODES)
async def test_client_that_gives_up_early_finds_its_job_later(env: dict[str, str], mode: str):
    settings = Settings.from_env({**env, "VIDEOGEN_DEMO_LATENCY": "1.5"})
    async with Client(build_server(settings), mode=mode) as client:
        first = await client.call_tool("generate_video", {"prompt": "slow sunrise", "wait_seconds": 0, **FAST})
        job = first.structured_content
        assert job["status"] in ("pending", "queued", "running") and job["video"] is None
        assert "get_status" in job["next_step"] and job["job_id"] in job["next_step"]
        quick = await client.call_tool("get_status", {"job_id": job["job_id"]})
        assert quick.structured_content["status"] != "succeeded"
        done = await client.call_tool("get_status", {"job_id": job["job_id"], "wait_seconds": 20})
    assert done.structured_content["status"] == "succeeded"
    assert Path(done.structured_content["video"]["path"]).is_file()


@pytest.mark.parametrize("mode", MODES)
async def test_without_progress_a_call_returns_before_common_client_timeouts(
    env: dict[str, str], mode: str, monkeypatch
):
    """openai-agents sends no progress token and gives up after 5 s, then tells the model to try again: a call
    without progress returns the running job sooner (its next_step says get_status); a call with progress
    waits as asked, with heartbeats."""
    assert app.NO_PROGRESS_WAIT_SECONDS < 5
    monkeypatch.setattr(app, "NO_PROGRESS_WAIT_SECONDS", 0.3)  # the test's cap; the job takes 3 s
    settings = Settings.from_env({**env, "VIDEOGEN_DEMO_LATENCY": "3"})
    beats: list[float] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        beats.append(progress)

    async with Client(build_server(settings), mode=mode) as client:
        made = (await client.call_tool("generate_video", {"prompt": "no token", **FAST})).structured_content
        assert made["status"] in ("pending", "queued", "running") and "get_status" in made["next_step"]
        args = {"job_id": made["job_id"], "wait_seconds": 20}
        assert (await client.call_tool("get_status", args)).structured_content["status"] != "succeeded"
        done = await client.call_tool("get_status", args, progress_callback=on_progress)
        assert done.structured_content["status"] == "succeeded" and beats
        waited = await client.call_tool("generate_video", {"prompt": "token", **FAST}, progress_callback=on_progress)
        assert waited.structured_content["status"] == "succeeded"


async def test_get_status_long_polls_with_heartbeats(env: dict[str, str]):
    settings = Settings.from_env({**env, "VIDEOGEN_DEMO_LATENCY": "1.2", "VIDEOGEN_HEARTBEAT_SECONDS": "0.1"})
    beats: list[float] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        beats.append(progress)

    async with Client(build_server(settings)) as client:
        started = await client.call_tool("generate_video", {"prompt": "heartbeat", "wait_seconds": 0, **FAST})
        result = await client.call_tool(
            "get_status",
            {"job_id": started.structured_content["job_id"], "wait_seconds": 20},
            progress_callback=on_progress,
        )
    assert result.structured_content["status"] == "succeeded"
    # A heartbeat every 0.1 s over about a second, each higher than the last.
    assert len(beats) >= 8 and beats == sorted(set(beats))


@pytest.mark.parametrize("mode", MODES)
async def test_list_models_estimate_cost_list_jobs(settings: Settings, mode: str):
    async with Client(build_server(settings), mode=mode) as client:
        models = (await client.call_tool("list_models", {})).structured_content
        demo = next(m for m in models["models"] if m["provider"] == "demo")
        assert models["default_provider"] == "demo" and models["default_model"] == "demo/demo-v1" and demo["configured"]
        assert demo["modes"] == ["text_to_video", "image_to_video"] and 5 in demo["durations"]
        assert demo["example_cost_usd"] == 0
        detail = (await client.call_tool("list_models", {"model": "demo-v1"})).structured_content["models"]
        assert len(detail) == 1 and "free" in detail[0]["price"]

        cost = (await client.call_tool("estimate_cost", {"prompt": "a cat", "duration": 3})).structured_content
        assert cost == {**cost, "provider": "demo", "model": "demo-v1", "usd": 0.0, "configured": True}
        assert job_count(settings) == 0  # estimate_cost never creates a job

        made = await client.call_tool("generate_video", {"prompt": "one", **FAST})
        jobs = (await client.call_tool("list_jobs", {})).structured_content["jobs"]
        assert [j["job_id"] for j in jobs] == [made.structured_content["job_id"]]
        assert (await client.call_tool("list_jobs", {"status": "failed"})).structured_content["jobs"] == []


@pytest.mark.parametrize("mode", MODES)
async def test_cancel_job(env: dict[str, str], mode: str):
    settings = Settings.from_env({**env, "VIDEOGEN_DEMO_LATENCY": "30"})
    async with Client(build_server(settings), mode=mode) as client:
        job = (await client.call_tool("generate_video", {"prompt": "never mind", "wait_seconds": 0})).structured_content
        cancelled = await client.call_tool("cancel_job", {"job_id": job["job_id"]})
        assert cancelled.structured_content["status"] == "cancelled"
        assert "cancelled" in cancelled.structured_content["message"]
        again = await client.call_tool("cancel_job", {"job_id": job["job_id"]})
        assert again.structured_content["status"] == "cancelled"
        later = await client.call_tool("get_status", {"job_id": job["job_id"]})
    assert later.structured_content["status"] == "cancelled" and later.structured_content["video"] is None
    assert not list(settings.output_dir.glob("*.mp4"))


async def test_idempotency_key_returns_the_same_job(settings: Settings):
    async with Client(build_server(settings)) as client:
        args = {"prompt": "only once", "idempotency_key": "order-42", **FAST}
        first = (await client.call_tool("generate_video", args)).structured_content
        second = (await client.call_tool("generate_video", args)).structured_content
    assert first["job_id"] == second["job_id"] and second["status"] == "succeeded"
    assert job_count(settings) == 1


async def test_image_to_video_from_a_local_file_and_a_data_uri(settings: Settings, tmp_path: Path):
    from PIL import Image

    picture = tmp_path / "inputs" / "red.png"
    Image.new("RGB", (64, 48), (220, 20, 20)).save(picture)
    data_uri = "data:image/png;base64," + base64.b64encode(picture.read_bytes()).decode()
    async with Client(build_server(settings)) as client:
        from_path = await client.call_tool("generate_video", {"prompt": "red", "images": [str(picture)], **FAST})
        from_data = await client.call_tool("generate_video", {"prompt": "red", "images": [data_uri], **FAST})
    for result in (from_path, from_data):
        job = result.structured_content
        assert job["status"] == "succeeded" and job["request"]["mode"] == "image_to_video", result.content
    # The inline image was kept in the data folder while the job ran (so it could resume; the index holds only
    # its path), then deleted when the job ended: DATA_DIR/inputs does not grow forever.
    kept = Path(from_data.structured_content["request"]["images"][0])
    assert kept.parent == settings.data_dir / "inputs" and not kept.exists()
    assert picture.exists()  # a person's own file is never deleted


BAD_REQUESTS = [
    ({"prompt": "x", "provider": "nope"}, ["unknown provider 'nope'", "demo"]),
    ({"prompt": "x", "model": "gen-99"}, ["unknown model 'gen-99'", "demo-v1"]),
    ({"prompt": "x", "duration": 11}, ["duration 11 s", "allowed: 1, 2, 3"]),
    ({"prompt": "x", "aspect_ratio": "2:1"}, ["aspect_ratio '2:1'", "16:9"]),
    ({"prompt": "x", "resolution": "8k"}, ["resolution '8k'", "1080p"]),
    ({"prompt": "x", "images": ["a.png", "b.png"]}, ["2 images", "at most 1"]),
    ({"prompt": "   "}, ["prompt is empty"]),
    ({"prompt": "x" * 2501}, ["2501 characters", "at most 2500"]),
    ({"prompt": "x", "images": ["/etc/passwd"]}, ["outside the folders", "VIDEOGEN_ALLOWED_DIRS"]),
    ({"prompt": "x", "images": ["missing.png"]}, ["missing.png"]),
    ({"prompt": "x", "images": ["ftp://example.com/a.png"]}, ["ftp"]),
    ({"prompt": "x", "audio": True}, ["cannot generate audio"]),
    ({"prompt": "x", "end_image": "https://example.com/a.png"}, ["end_image needs a start image"]),
    ({"prompt": "x", "seed": -1}, ["INVALID_INPUT: seed: -1", "allowed: an integer from 0 to 4294967295"]),
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("args", "expected"), BAD_REQUESTS, ids=[str(i) for i in range(len(BAD_REQUESTS))])
async def test_bad_input_is_refused_before_anything_happens(settings: Settings, mode: str, args, expected):
    async with Client(build_server(settings), mode=mode) as client:
        for tool in ("generate_video", "estimate_cost"):
            if tool == "estimate_cost" and "images" in args:
                continue  # prices do not depend on image files; they are checked when a job is made
            result = await client.call_tool(tool, args)
            assert result.is_error, (tool, result.structured_content)
            text = result.content[0].text
            assert all(part in text for part in expected), text
    assert job_count(settings) == 0
    assert not list(settings.output_dir.glob("*"))


@pytest.mark.parametrize("mode", MODES)
async def test_unknown_job_ids_get_a_clear_error(settings: Settings, mode: str):
    async with Client(build_server(settings), mode=mode) as client:
        for tool in ("get_status", "cancel_job"):
            result = await client.call_tool(tool, {"job_id": "job_doesnotexist"})
            assert result.is_error and "no job with id 'job_doesnotexist'" in result.content[0].text


async def test_wrongly_typed_arguments_are_refused_by_schema(settings: Settings):
    async with Client(build_server(settings)) as client:
        result = await client.call_tool("generate_video", {"prompt": "x", "wait_seconds": -5})
        assert result.is_error and "wait_seconds" in result.content[0].text
        result = await client.call_tool("list_jobs", {"limit": 0})
        assert result.is_error and "limit" in result.content[0].text
    assert job_count(settings) == 0


class LockedProvider(DemoProvider):
    """A provider that needs a key nobody set."""

    name = "locked"
    title = "Locked"
    env_vars = ("LOCKED_API_KEY",)


async def test_provider_without_credentials_is_refused_before_a_job_exists(settings: Settings, monkeypatch):
    from providers import registry

    monkeypatch.setitem(registry.PROVIDERS, "locked", f"{__name__}:LockedProvider")
    async with Client(build_server(settings)) as client:
        result = await client.call_tool("generate_video", {"prompt": "x", "provider": "locked"})
        assert result.is_error and "NOT_CONFIGURED" in result.content[0].text
        assert "LOCKED_API_KEY" in result.content[0].text
        models = (await client.call_tool("list_models", {"provider": "locked"})).structured_content["models"]
        assert models[0]["configured"] is False
        detail = await client.call_tool("list_models", {"model": "locked/demo-v1"})
        assert detail.structured_content["models"][0]["missing_env"] == ["LOCKED_API_KEY"]
        cost = await client.call_tool("estimate_cost", {"prompt": "x", "provider": "locked"})
        assert cost.structured_content["configured"] is False and "LOCKED_API_KEY" in cost.structured_content["note"]
    assert job_count(settings) == 0


LAX = [
    ("generate_video", {"prompt": "x", "seed": True}, "seed"),
    ("generate_video", {"prompt": "x", "duration": "2"}, "duration"),
    ("generate_video", {"prompt": "x", "audio": 0}, "audio"),
    ("generate_video", {"prompt": "x", "wait_seconds": True}, "wait_seconds"),
    ("estimate_cost", {"prompt": "x", "seed": True}, "seed"),
    ("get_status", {"job_id": "job_x", "wait_seconds": False}, "wait_seconds"),
    ("list_jobs", {"limit": True}, "limit"),
]


@pytest.mark.parametrize(("tool", "args", "field"), LAX, ids=[f"{t}-{f}" for t, _, f in LAX])
async def test_no_lax_coercion_a_boolean_is_not_a_number(settings: Settings, tool, args, field):
    """`seed: true` used to become seed 1: a value of the wrong JSON type is refused, and nothing is made."""
    async with Client(build_server(settings)) as client:
        result = await client.call_tool(tool, args)
    assert result.is_error and field in result.content[0].text, result.content
    assert job_count(settings) == 0
