"""Luma's official Python SDK (lumaai, PyPI) against the Luma simulator, unchanged but for its base URL: it
creates generations both ways the SDK offers, polls them to a real MP4, lists, deletes, reads the credit
balance, extends a finished generation, and gets the SDK's own exception types for what the API refuses."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from providers.simulators.common import Simulator, running
from providers.simulators.luma import create_app

lumaai = pytest.importorskip("lumaai")

KEY = "luma-sdk-test-key-0123456789"
SPEED = 300.0
QUICK = "sim:seconds=20 sim:queue=1"


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[str, Simulator]]:
    app = create_app(speed=SPEED)
    with running(Starlette(routes=[Mount("/luma", app=app)])) as url:
        yield f"{url}/luma", app.state.sim


@pytest.fixture
def client(served: tuple[str, Simulator]) -> Any:
    return lumaai.LumaAI(auth_token=KEY, base_url=served[0], max_retries=0)


@pytest.fixture
def sim(served: tuple[str, Simulator]) -> Simulator:
    sim = served[1]
    with sim.lock:
        sim.config.clear()
    return sim


def finished(client: Any, generation_id: str) -> Any:
    """The SDK docs' own loop: get until completed or failed."""
    deadline = time.monotonic() + 20
    while True:
        generation = client.generations.get(id=generation_id)
        if generation.state in ("completed", "failed"):
            return generation
        assert time.monotonic() < deadline, generation.state
        time.sleep(0.05)


def decode(data: bytes, tmp_path: Path) -> tuple[int, float]:
    import av

    path = tmp_path / "video.mp4"
    path.write_bytes(data)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        return frames, float(container.duration or 0) / av.time_base


def test_create_poll_and_download_a_video(client: Any, sim: Simulator, tmp_path: Path):
    before = sim.submissions
    generation = client.generations.create(
        model="ray-2",
        prompt=f"A teddy bear in sunglasses playing electric guitar {QUICK}",
        aspect_ratio="16:9",
        resolution="720p",
        duration="5s",
        loop=False,
    )
    assert isinstance(generation, lumaai.types.Generation) and generation.state == "queued" and generation.id
    done = finished(client, generation.id)
    assert done.state == "completed" and done.failure_reason is None and done.model == "ray-2"
    assert done.created_at is not None  # the SDK parsed it as a datetime
    frames, seconds = decode(httpx.get(done.assets.video).content, tmp_path)
    assert frames > 0 and abs(seconds - 5) < 0.5
    # generations.video.create posts to the same endpoint, with keyframes (start and end frames as URLs).
    framed = client.generations.video.create(
        model="ray-flash-2",
        prompt=f"A tiger walking in snow {QUICK}",
        duration="9s",
        keyframes={
            "frame0": {"type": "image", "url": "https://storage.cdn-luma.com/dream_machine/a/video_0_thumb.jpg"},
            "frame1": {"type": "image", "url": "https://storage.cdn-luma.com/dream_machine/b/video_0_thumb.jpg"},
        },
    )
    assert sim.submissions == before + 2
    assert sim.jobs[framed.id].payload["keyframes"]["frame1"]["type"] == "image"
    assert finished(client, framed.id).request.keyframes.frame0.url.endswith("video_0_thumb.jpg")
    # Extend the finished video: a generation keyframe.
    extended = client.generations.create(
        model="ray-2", prompt=f"The bear bows {QUICK}", keyframes={"frame0": {"type": "generation", "id": done.id}}
    )
    assert finished(client, extended.id).state == "completed"


def test_list_delete_and_credits(client: Any, sim: Simulator):
    made = client.generations.create(model="ray-flash-2", prompt=f"clouds {QUICK}", resolution="540p")
    page = client.generations.list(limit=1, offset=0)
    assert page.generations[0].id == made.id and page.limit == 1
    assert client.generations.delete(id=made.id) is None
    with pytest.raises(lumaai.NotFoundError):
        client.generations.get(id=made.id)
    sim.config["balance_cents"] = 250.0
    assert client.credits.get().credit_balance == 250.0


def test_a_failed_generation_reads_its_failure_reason(client: Any):
    generation = client.generations.create(model="ray-2", prompt=f"something forbidden sim:fail=content {QUICK}")
    done = finished(client, generation.id)
    assert done.state == "failed" and "moderation" in done.failure_reason and done.assets is None


def test_what_the_api_refuses_raises_the_sdks_errors(client: Any, served: tuple[str, Simulator], sim: Simulator):
    before = sim.submissions
    with pytest.raises(lumaai.BadRequestError) as bad:
        client.generations.create(model="ray-2", prompt="x", duration="7s")  # the SDK lets any string through
    assert isinstance(bad.value, lumaai.APIStatusError) and bad.value.status_code == 400
    assert bad.value.body["detail"].startswith("400: ") and "5s and 9s" in bad.value.body["detail"]
    with pytest.raises(lumaai.BadRequestError):
        client.generations.create(model="ray-2", prompt="x", resolution="2k")
    with pytest.raises(lumaai.UnprocessableEntityError) as unknown:
        client.generations.create(model="ray-3", prompt="x")  # type: ignore[arg-type]
    assert unknown.value.body["detail"][0]["loc"] == ["body", "model"]
    with pytest.raises(lumaai.AuthenticationError):
        lumaai.LumaAI(auth_token="sk-not-a-luma-key", base_url=served[0], max_retries=0).generations.list()
    sim.config["balance_cents"] = 1.0
    with pytest.raises(lumaai.APIStatusError) as poor:
        client.generations.create(model="ray-2", prompt="x")
    assert poor.value.status_code == 402 and poor.value.body == {"detail": "Insufficient credits"}
    sim.config.update(errors=[429])
    with pytest.raises(lumaai.RateLimitError):
        client.generations.list()
    assert sim.submissions == before  # nothing refused was created
