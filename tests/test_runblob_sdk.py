"""runblob's official Python SDK (`runblob` 0.3.1 from PyPI), unchanged but for its base URL, against the
runblob simulator on loopback: it creates a Kling O3 video from a first and an end frame, polls it to the end
with its own status call, and meets the documented 400 for mixed image inputs."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import anyio
import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from providers.simulators.common import Simulator, running
from providers.simulators.runblob import create_app

runblob = pytest.importorskip("runblob")
from runblob._errors import APIStatusError  # noqa: E402

pytestmark = pytest.mark.anyio
KEY = "rb-live-sdk-test-key-never-print"


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[str, Simulator]]:
    inner = create_app(speed=300)
    with running(Starlette(routes=[Mount("/runblob", app=inner)])) as url:
        yield f"{url}/runblob", inner.state.sim


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # the SDK is asyncio-only (asyncio.Semaphore, get_event_loop)


def png_base64() -> str:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (10, 120, 200)).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


async def test_the_sdk_creates_and_polls_a_video_from_first_and_end_frames(served: tuple[str, Simulator]):
    base, sim = served
    async with runblob.RunBlob(api_key=KEY, base_url=base, max_retries=0) as client:
        created = await client.kling.generate_o3_video(
            prompt="sim:seconds=20 a door opens onto the sea",
            model="kling_o3_pro",
            duration="10",
            aspect_ratio="9:16",
            first_frame_base64=png_base64(),
            end_frame_url="https://example.com/end.jpg",
            prefer_multi_shots=True,
        )
        assert created.status.value == "pending" and created.price == "0.6000"
        with anyio.fail_after(10):  # the SDK's own status call; its wait_for_o3_video sleeps 2-10 s between polls
            while not (status := await client.kling.get_o3_video_status(created.generation_id)).is_terminal:
                await anyio.sleep(0.02)
    assert status.is_completed and status.model == "kling-o3-video-10s-pro" and status.description is None
    payload = sim.jobs[created.generation_id].payload
    assert payload["first_frame_base64"].startswith("data:image/png;base64,") and payload["prefer_multi_shots"]
    async with httpx.AsyncClient() as http:
        video = await http.get(status.video_url)
    assert video.headers["content-type"] == "video/mp4" and video.content[4:8] == b"ftyp"


async def test_the_sdk_reads_a_failure_reason_from_description(served: tuple[str, Simulator]):
    base, _ = served
    async with runblob.RunBlob(api_key=KEY, base_url=base, max_retries=0) as client:
        created = await client.kling.generate_o3_video(prompt="sim:fail=content sim:seconds=5 x")
        with anyio.fail_after(10):
            while not (status := await client.kling.get_o3_video_status(created.generation_id)).is_terminal:
                await anyio.sleep(0.02)
    assert status.is_failed and status.description == "CONTENT_POLICY_VIOLATION"


async def test_the_sdk_gets_the_documented_400_for_mixed_image_inputs(served: tuple[str, Simulator]):
    base, sim = served
    before = sim.submissions
    async with runblob.RunBlob(api_key=KEY, base_url=base, max_retries=0) as client:
        with pytest.raises(APIStatusError) as caught:
            await client.kling.generate_o3_video(
                prompt="x", images_url=["https://example.com/a.png"], images_base64=[png_base64()]
            )
    assert caught.value.status_code == 400 and "MIXED_IMAGE_INPUTS" in str(caught.value)
    assert caught.value.body["detail"] == "Cannot provide both images_base64 and images_url"
    assert sim.submissions == before
