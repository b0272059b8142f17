"""The official `google-genai` SDK (the Interactions client, 3.6+) against the google simulator, unchanged but
for its base URL: a background interaction polled to the end, both ways a video comes back, cancel, webhook_config,
and the SDK's own errors for what the real API refuses."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from providers.simulators.common import Simulator, running
from providers.simulators.google import DEFAULT_KEY, create_app

genai = pytest.importorskip("google.genai")
QUICK = "sim:seconds=20 sim:queue=1"


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, Simulator]]:
    app = create_app(speed=300.0)
    with running(Starlette(routes=[Mount("/google", app=app)])) as url:
        yield f"{url}/google", app.state.sim


@pytest.fixture
def client(server: tuple[str, Simulator]) -> Any:
    with server[1].lock:
        server[1].jobs.clear()
        server[1].config.clear()
    return genai.Client(api_key=DEFAULT_KEY, http_options={"base_url": server[0]})


def wait(client: Any, interaction: Any) -> Any:
    deadline = time.monotonic() + 30
    while interaction.status not in ("completed", "failed", "cancelled"):
        assert time.monotonic() < deadline, interaction.status
        time.sleep(0.05)
        interaction = client.interactions.get(interaction.id)
    return interaction


def frames(data: bytes, tmp_path: Path) -> tuple[int, float]:
    import av

    path = tmp_path / "out.mp4"
    path.write_bytes(data)
    with av.open(str(path)) as container:
        count = sum(1 for _ in container.decode(container.streams.video[0]))
        return count, float(container.duration or 0) / av.time_base


def test_a_background_interaction_polled_to_a_uri_the_sdk_downloads(client: Any, server, tmp_path: Path):
    created = client.interactions.create(
        model="gemini-omni-1.2-flash",
        input=f"a marble on a wooden track {QUICK}",
        background=True,
        generation_config={"video_config": {"task": "text_to_video"}},
        response_format={
            "type": "video",
            "aspect_ratio": "9:16",
            "duration": "4s",
            "resolution": "720p",
            "delivery": "uri",
        },
    )
    assert created.status == "queued" and created.id.startswith("v1_")
    done = wait(client, created)
    assert done.status == "completed" and done.output_video is not None and done.output_video.data is None
    assert done.usage.output_tokens_by_modality[0].tokens == 4 * 5792
    name = done.output_video.uri.split("/files/")[1].split(":")[0]
    data = client.files.download(file=f"files/{name}")  # the SDK's own download: sends the key
    count, seconds = frames(data, tmp_path)
    assert count > 0 and abs(seconds - 4) < 0.3


def test_inline_delivery_is_base64_in_the_model_output(client: Any, tmp_path: Path):
    created = client.interactions.create(
        model="gemini-omni-1.1-flash",
        input=f"a cat {QUICK}",
        background=True,
        response_format={"type": "video", "duration": "3s"},
    )
    done = wait(client, created)
    video = done.output_video
    assert video.mime_type == "video/mp4" and video.uri is None
    raw = video.data if isinstance(video.data, bytes) else base64.b64decode(video.data)
    count, seconds = frames(raw, tmp_path)
    assert count > 0 and abs(seconds - 3) < 0.3


def test_an_image_to_video_interaction(client: Any, tmp_path: Path):
    from PIL import Image

    path = tmp_path / "start.png"
    Image.new("RGB", (64, 36), (200, 40, 40)).save(path)
    created = client.interactions.create(
        model="gemini-omni-flash-preview",
        input=[
            {"type": "text", "text": f"the sun sets {QUICK}"},
            {"type": "image", "data": base64.b64encode(path.read_bytes()).decode(), "mime_type": "image/png"},
        ],
        background=True,
        generation_config={"video_config": {"task": "image_to_video"}},
    )
    assert wait(client, created).status == "completed"


def test_cancel(client: Any, server):
    created = client.interactions.create(
        model="gemini-omni-1.2-flash", input="never mind sim:queue=600", background=True
    )
    cancelled = client.interactions.cancel(created.id)
    assert cancelled.status == "cancelled" and client.interactions.get(created.id).status == "cancelled"
    assert server[1].jobs[created.id].cancelled


def test_webhook_config_is_called_back(client: Any):
    received: list[dict[str, Any]] = []

    async def hook(request: Request) -> Response:
        received.append(await request.json())
        return JSONResponse({})

    with running(Starlette(routes=[Route("/hook", hook, methods=["POST"])])) as url:
        created = client.interactions.create(
            model="gemini-omni-1.2-flash",
            input=f"p {QUICK}",
            background=True,
            webhook_config={"uris": [f"{url}/hook"], "user_metadata": {"job": "42"}},
        )
        wait(client, created)
        deadline = time.monotonic() + 10
        while not received and time.monotonic() < deadline:
            time.sleep(0.02)
    assert received == [
        {
            "type": "interaction.completed",
            "data": {"id": created.id, "status": "completed", "user_metadata": {"job": "42"}},
        }
    ]


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        # The SDK's types take any string here (UnrecognizedStr); the API refuses it.
        ({"response_format": {"type": "video", "resolution": "8k"}}, "Unsupported resolution '8k'"),
        ({"response_format": {"type": "video", "duration": "20s"}}, "3s to 15s"),
        ({"generation_config": {"video_config": {"task": "make_it_pop"}}}, "video_config.task"),
        ({"extra_body": {"negative_prompt": "rain"}}, 'Unknown name "negative_prompt"'),
    ],
)
def test_the_sdk_raises_the_apis_400_for_what_it_rejects(client: Any, server, fields: dict[str, Any], words: str):
    from google.genai._interactions import BadRequestError

    before = server[1].submissions
    with pytest.raises(BadRequestError) as raised:
        client.interactions.create(model="gemini-omni-1.2-flash", input="p", background=True, **fields)
    assert raised.value.status_code == 400 and words in str(raised.value)
    assert server[1].submissions == before  # refused: nothing made, nothing billed


def test_a_key_google_does_not_know(server):
    from google.genai._interactions import BadRequestError

    other = genai.Client(api_key="AIzaSyNotOurs" + "0" * 26, http_options={"base_url": server[0]})
    with pytest.raises(BadRequestError) as raised:
        other.interactions.get("v1_x")
    assert "API key not valid" in str(raised.value)
