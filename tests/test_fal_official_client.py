"""fal's official Python client (PyPI `fal-client`, unchanged but for its queue host) against the fal simulator:
the new models' endpoints end to end (submit, status, result, cancel) and a PixVerse prompt the real API refuses.
The client is the oracle here: whatever it can do against fal, it must be able to do against the simulator."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from providers.simulators.common import Simulator, running
from providers.simulators.fal import create_app

pytestmark = pytest.mark.anyio

KEY = "fal-test-id-0002:0123456789abcdef"
SEEDANCE = "bytedance/seedance-2.0/text-to-video"
PIXVERSE = "fal-ai/pixverse/v6/text-to-video"


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[str, Simulator]]:
    sub = create_app(speed=300.0)
    with running(Starlette(routes=[Mount("/fal", app=sub)])) as url:
        yield url, sub.state.sim


@pytest.fixture
async def client(served: tuple[str, Simulator], monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[object]:
    import fal_client
    import fal_client.client as fal_module

    # The one change: the client builds every queue URL from QUEUE_URL_FORMAT (https://queue.fal.run/).
    monkeypatch.setattr(fal_module, "QUEUE_URL_FORMAT", f"{served[0]}/fal/")
    sim = served[1]
    sim.config.clear()
    sim.config.update(key=KEY, status_errors=True)
    yield fal_client.AsyncClient(key=KEY)


async def test_a_new_model_runs_through_submit_status_and_result(client, served: tuple[str, Simulator]):
    import fal_client

    arguments = {"prompt": "sim:queue=150 a paper lantern drifts", "duration": "6", "aspect_ratio": "9:16"}
    handle = await client.submit(SEEDANCE, arguments=arguments)
    assert isinstance(await handle.status(), fal_client.Queued)
    seen = [type(event).__name__ async for event in handle.iter_events(with_logs=True, interval=0.02)]
    assert seen[0] == "Queued" and "InProgress" in seen and seen[-1] == "Completed"

    # The client's own URLs, built from the endpoint id (owner/alias only), reach the same request.
    status = await client.status(SEEDANCE, handle.request_id, with_logs=True)
    assert isinstance(status, fal_client.Completed) and status.error is None and status.error_type is None
    output = await client.result(SEEDANCE, handle.request_id)
    assert output["video"]["content_type"] == (await handle.get())["video"]["content_type"] == "video/mp4"
    async with httpx.AsyncClient() as http:
        video = (await http.get(output["video"]["url"])).content
    assert video[4:8] == b"ftyp" and len(video) == output["video"]["file_size"]
    made = served[1].jobs[handle.request_id]
    assert made.extra["endpoint"] == SEEDANCE and made.extra["duration"] == 6 and made.extra["ignored"] == []


async def test_a_cancelled_new_model_request_reads_client_cancelled(client):
    import fal_client
    import fal_client.client as fal_module

    handle = await client.submit(SEEDANCE, arguments={"prompt": "sim:seconds=900 a long take"})
    await handle.cancel()
    status = await handle.status()
    assert isinstance(status, fal_client.Completed) and status.error_type == "client_cancelled"
    with pytest.raises(fal_module.FalClientHTTPError) as caught:
        await handle.get()
    assert caught.value.status_code == 499 and caught.value.error_type == "client_cancelled"


async def test_a_pixverse_prompt_over_2048_utf8_bytes_is_refused(client, served: tuple[str, Simulator]):
    import fal_client.client as fal_module

    sim = served[1]
    before = sim.submissions
    prompt = "é" * 1024 + "a"  # 1025 characters, 2049 bytes in UTF-8
    assert len(prompt) == 1025 and len(prompt.encode()) == 2049
    with pytest.raises(fal_module.FalClientHTTPError) as caught:
        await client.submit(PIXVERSE, arguments={"prompt": prompt, "duration": 5})
    assert caught.value.status_code == 422
    (problem,) = caught.value.message
    assert problem["loc"] == ["body", "prompt"] and problem["type"] == "value_error"
    assert "2048 UTF-8 encoded bytes" in problem["msg"]
    assert caught.value.response_headers.get("x-fal-retryable") == "false"
    assert sim.submissions == before  # refused before any work: nothing to pay for

    # One byte less is accepted, and so is a negative prompt at the limit.
    handle = await client.submit(PIXVERSE, arguments={"prompt": prompt[:-1], "negative_prompt": "日" * 682 + "ab"})
    assert handle.request_id in sim.jobs
    with pytest.raises(fal_module.FalClientHTTPError) as caught:
        await client.submit(PIXVERSE, arguments={"prompt": "x", "negative_prompt": "日" * 683})
    assert caught.value.status_code == 422 and caught.value.message[0]["loc"] == ["body", "negative_prompt"]


# The endpoints added for the adapter's new models, each with an input fal's schema takes and one it refuses.
NEW_ENDPOINTS = [
    (
        "fal-ai/kling-video/v3/standard/image-to-video",
        {"start_image_url": "https://images.example.com/a.png", "duration": "8", "generate_audio": False},
        {"start_image_url": "https://images.example.com/a.png", "duration": "2"},  # 3 to 15 s
        "duration",
    ),
    (
        "fal-ai/kling-video/v3/pro/text-to-video",
        {"duration": "15", "aspect_ratio": "9:16", "cfg_scale": 0.7},
        {"aspect_ratio": "4:3"},  # 16:9, 9:16 or 1:1
        "aspect_ratio",
    ),
    (
        "fal-ai/kling-video/o3/4k/text-to-video",
        {"duration": "3", "aspect_ratio": "1:1", "generate_audio": True},
        {"duration": "16"},
        "duration",
    ),
    (
        "fal-ai/kling-video/o3/4k/image-to-video",
        {"image_url": "https://images.example.com/a.png", "end_image_url": "https://images.example.com/b.png"},
        {"start_image_url": "https://images.example.com/a.png"},  # O3 takes image_url, not start_image_url
        "image_url",
    ),
    (
        "wan/v2.6/image-to-video/flash",
        {"image_url": "https://images.example.com/a.png", "duration": "15", "resolution": "720p"},
        {"image_url": "https://images.example.com/a.png", "negative_prompt": "n" * 501},  # "Max 500 characters"
        "negative_prompt",
    ),
]


@pytest.mark.parametrize(("endpoint", "good", "bad", "field"), NEW_ENDPOINTS, ids=[e[0] for e in NEW_ENDPOINTS])
async def test_the_new_endpoints_run_and_refuse_as_their_schemas_say(
    client, served: tuple[str, Simulator], endpoint, good, bad, field
):
    import fal_client.client as fal_module

    handle = await client.submit(endpoint, arguments={"prompt": "sim:seconds=15 a lantern in the fog", **good})
    output = await handle.get()
    assert output["video"]["content_type"] == "video/mp4" and output["video"]["file_size"] > 0
    made = served[1].jobs[handle.request_id]
    assert made.extra["endpoint"] == endpoint and made.extra["ignored"] == []
    assert made.extra["duration"] == float(good.get("duration", "5"))
    with pytest.raises(fal_module.FalClientHTTPError) as caught:
        await client.submit(endpoint, arguments={"prompt": "x", **bad})
    assert caught.value.status_code == 422 and caught.value.message[0]["loc"] == ["body", field]
