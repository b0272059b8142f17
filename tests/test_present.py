"""What a job result puts before an agent (issue 8, items 2 and 6): content blocks no framework chokes on, a
finished job in few characters, a small JPEG thumbnail sent once, output schemas that cost few tokens."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import pytest
from mcp import Client
from mcp.server.mcpserver.utilities.func_metadata import StrictJsonSchema
from PIL import Image
from pydantic import TypeAdapter

from providers.demo import frame_size, render_video
from server.app import build_server
from server.media import preview_jpeg, thumbnail
from server.models import Job
from server.present import Presenter, result_links
from server.settings import Settings

pytestmark = pytest.mark.anyio
FAST = {"resolution": "360p", "duration": 1}
FINISHED_JOB_BUDGET = 16_000  # characters of the whole CallToolResult as JSON (issue 8)
THUMBNAIL_MAX_BYTES = 8_000  # "a JPEG of a few KB"


def size(result) -> int:
    return len(result.model_dump_json(by_alias=True, exclude_none=True))


def images(result) -> list:
    return [c for c in result.content if c.type == "image"]


def assert_small_jpeg(block) -> None:
    data = base64.b64decode(block.data)
    assert block.mime_type == "image/jpeg" and data.startswith(b"\xff\xd8"), block.mime_type
    assert len(data) <= THUMBNAIL_MAX_BYTES, len(data)
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "JPEG" and image.width == 160, (image.format, image.size)


# -- content blocks per setting ------------------------------------------------------------------


async def test_default_result_has_no_links_only_text_structured_job_and_the_thumbnail(settings: Settings):
    """langchain-mcp-adapters turns any non-image resource_link into a file block that ChatOpenAI refuses and
    ChatGoogleGenerativeAI tries to download: by default a result carries none, the job is structured content."""
    async with Client(build_server(settings)) as client:
        result = await client.call_tool("generate_video", {"prompt": "a red kite over a beach", **FAST})
        templates = [t.uri_template for t in (await client.list_resource_templates()).resource_templates]
    job = result.structured_content
    assert job["status"] == "succeeded", result.content
    assert [c.type for c in result.content] == ["text", "image"]
    assert str(job["video"]["path"]) in result.content[0].text and job["job_id"] in result.content[0].text
    assert_small_jpeg(result.content[1])
    # MCP-native clients still find the job as a resource.
    assert "videogen://jobs/{job_id}" in templates


async def test_links_file_adds_the_video_as_a_file_link(env: dict[str, str]):
    settings = Settings.from_env({**env, "VIDEOGEN_RESULT_LINKS": "file"})
    async with Client(build_server(settings)) as client:
        result = await client.call_tool("generate_video", {"prompt": "a red kite over a beach", **FAST})
    path = Path(result.structured_content["video"]["path"])
    assert [c.type for c in result.content] == ["text", "resource_link", "image"]
    link = result.content[1]
    assert link.uri == path.as_uri() and link.mime_type == "video/mp4" and link.size == path.stat().st_size
    assert path.is_file()


async def test_no_result_ever_links_the_job_itself(env: dict[str, str]):
    """Running, polled, finished, cancelled: never a videogen:// link (ChatGoogleGenerativeAI fetches it)."""
    settings = Settings.from_env({**env, "VIDEOGEN_RESULT_LINKS": "file", "VIDEOGEN_DEMO_LATENCY": "30"})
    async with Client(build_server(settings)) as client:
        started = await client.call_tool("generate_video", {"prompt": "slow", "wait_seconds": 0, **FAST})
        job_id = started.structured_content["job_id"]
        polled = await client.call_tool("get_status", {"job_id": job_id})
        cancelled = await client.call_tool("cancel_job", {"job_id": job_id})
    assert cancelled.structured_content["status"] == "cancelled", cancelled.content
    for result in (started, polled, cancelled):
        assert [c.type for c in result.content] == ["text"], result.content
    assert "get_status" in started.content[0].text


@pytest.mark.parametrize("value", ["", "none", " None ", "file", "FILE"])
def test_result_links_setting_accepts_its_values(value: str):
    assert result_links(value) == (value.strip().lower() or "none")


def test_result_links_setting_refuses_anything_else_saying_what_is_allowed():
    with pytest.raises(ValueError, match=r"VIDEOGEN_RESULT_LINKS='https'.*'none'.*'file'"):
        result_links("https")


def test_settings_read_result_links_from_the_environment(env: dict[str, str]):
    assert Settings.from_env(env).result_links == "none"
    assert Settings.from_env({**env, "VIDEOGEN_RESULT_LINKS": "file"}).result_links == "file"
    with pytest.raises(ValueError, match="VIDEOGEN_RESULT_LINKS"):
        Settings.from_env({**env, "VIDEOGEN_RESULT_LINKS": "everything"})


# -- size and the thumbnail ----------------------------------------------------------------------


async def test_a_finished_job_with_the_longest_prompts_fits_the_budget(env: dict[str, str]):
    settings = Settings.from_env({**env, "VIDEOGEN_RESULT_LINKS": "file"})
    prompt = ("a lighthouse keeper climbs the spiral stairs at dusk, " * 60)[:2500]
    negative = ("blur, text, watermark, extra limbs, " * 80)[:2500]
    async with Client(build_server(settings)) as client:
        result = await client.call_tool(
            "generate_video", {"prompt": prompt, "negative_prompt": negative, "seed": 7, **FAST}
        )
    assert result.structured_content["request"]["prompt"] == prompt.strip()
    assert images(result), "the first finished result carries the thumbnail"
    assert size(result) <= FINISHED_JOB_BUDGET, size(result)


async def test_the_thumbnail_is_sent_once_per_job(env: dict[str, str]):
    """Sent with the first result that shows the job finished, whichever tool that is; never again after."""
    settings = Settings.from_env({**env, "VIDEOGEN_DEMO_LATENCY": "1"})
    async with Client(build_server(settings)) as client:
        done = await client.call_tool("generate_video", {"prompt": "first", **FAST})
        again = await client.call_tool("get_status", {"job_id": done.structured_content["job_id"]})
        started = await client.call_tool("generate_video", {"prompt": "second", "wait_seconds": 0, **FAST})
        job_id = started.structured_content["job_id"]
        first_seen = await client.call_tool("get_status", {"job_id": job_id, "wait_seconds": 20})
        polls = [await client.call_tool("get_status", {"job_id": job_id}) for _ in range(2)]
    assert len(images(done)) == 1 and images(again) == []
    assert started.structured_content["status"] != "succeeded" and images(started) == []
    assert first_seen.structured_content["status"] == "succeeded" and len(images(first_seen)) == 1
    assert all(images(p) == [] and p.structured_content["video"] for p in polls)
    assert_small_jpeg(images(first_seen)[0])


def test_presenter_forgets_the_oldest_jobs_first(settings: Settings, tmp_path: Path):
    """Its memory is bounded: a process serving many jobs does not grow without end."""
    video = tmp_path / "v.mp4"
    render_video(video, prompt="x", duration=1, width=320, height=180, seed=1)
    presenter = Presenter(remember=2)
    jobs = [
        Job.model_validate(
            {
                "job_id": f"job_{n}",
                "status": "succeeded",
                "provider": "demo",
                "model": "demo-v1",
                "request": {
                    "prompt": "x",
                    "provider": "demo",
                    "model": "demo-v1",
                    "mode": "text_to_video",
                    "duration": 1,
                    "aspect_ratio": "16:9",
                    "resolution": "180p",
                },
                "created_at": "2026-01-01T00:00:00+00:00",
                "updated_at": "2026-01-01T00:00:00+00:00",
                "video": {"path": str(video), "duration_seconds": 1, "width": 320, "height": 180, "size_bytes": 1},
            }
        )
        for n in range(3)
    ]
    assert [len(images(presenter.job_result(j))) for j in jobs] == [1, 1, 1]
    assert [len(images(presenter.job_result(j))) for j in jobs[1:]] == [0, 0]  # remembered
    assert len(images(presenter.job_result(jobs[0]))) == 1  # forgotten: the oldest of three


def test_preview_jpeg_from_a_real_video_and_from_its_png_thumbnail(tmp_path: Path):
    width, height = frame_size("16:9", "720p")
    video = tmp_path / "v.mp4"
    render_video(video, prompt="a lighthouse in a storm", duration=1, width=width, height=height, seed=3)
    png = thumbnail(video, tmp_path / "v.png")
    for source in (video, png):
        data = preview_jpeg(source)
        assert data.startswith(b"\xff\xd8") and 500 < len(data) <= THUMBNAIL_MAX_BYTES, (source.name, len(data))
        with Image.open(io.BytesIO(data)) as image:
            assert image.size == (160, 90), image.size
    assert len(preview_jpeg(png)) < png.stat().st_size


# -- output schemas --------------------------------------------------------------------------------


def test_every_job_field_is_described():
    schema = TypeAdapter(Job).json_schema(schema_generator=StrictJsonSchema)
    shapes = [schema, *schema.get("$defs", {}).values()]
    undescribed = [
        f"{shape.get('title', 'Job')}.{name}"
        for shape in shapes
        for name, prop in shape.get("properties", {}).items()
        if not prop.get("description")
    ]
    assert undescribed == []
    assert "title" not in json.dumps(schema), "pydantic's titles repeat the field names"


async def test_the_job_schema_is_published_once(settings: Settings):
    """The full Job schema on get_status; generate_video and cancel_job point to it; list_jobs names it."""
    async with Client(build_server(settings)) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    outputs = {name: json.dumps(t.output_schema) for name, t in tools.items()}
    full = [name for name, text in outputs.items() if '"cost_is_estimate"' in text]
    assert full == ["get_status"], full
    for name in ("generate_video", "cancel_job"):
        assert tools[name].output_schema["required"] == ["job_id", "status"], tools[name].output_schema
        assert "get_status" in tools[name].output_schema["description"]
    assert sum(len(text) for text in outputs.values()) <= 5_500, {k: len(v) for k, v in outputs.items()}


def test_a_listing_row_names_every_mode_video_to_video_included():
    from server.models import ModelSummary
    from server.present import model_line

    row = ModelSummary(
        provider="runway", model="seedance2", modes=["text_to_video", "image_to_video", "video_to_video"],
        durations=[4, 15], resolutions=["720p"], audio=True, example_cost_usd=1.8, configured=False,
    )  # fmt: skip
    assert model_line(row).startswith("runway/seedance2: text+image+video; 4, 15 s; 720p; audio; $1.80")
