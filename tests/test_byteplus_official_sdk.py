"""BytePlus's official Python SDK (`byteplus-python-sdk-v2` from PyPI, byteplussdkarkruntime.Ark), unchanged but
for its base URL, against the BytePlus simulator on loopback: content_generation.tasks.create + get to a finished
video (real MP4), list and delete, and the SDK's own errors for a parameter the real API rejects, a missing
one, a bad key and an overdue account."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from providers.simulators.byteplus import create_app
from providers.simulators.common import Simulator, running

pytest.importorskip("byteplussdkarkruntime")
from byteplussdkarkruntime import Ark
from byteplussdkarkruntime._exceptions import (
    ArkAuthenticationError,
    ArkBadRequestError,
    ArkNotFoundError,
    ArkPermissionDeniedError,
)

KEY = "ark-sdk-test-key-never-print"


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[str, Simulator]]:
    inner = create_app(speed=300)
    with running(Starlette(routes=[Mount("/byteplus", app=inner)])) as url:
        yield f"{url}/byteplus", inner.state.sim


@pytest.fixture
def sim(served: tuple[str, Simulator]) -> Simulator:
    sim = served[1]
    with sim.lock:
        sim.config.clear()
    return sim


@pytest.fixture
def client(served: tuple[str, Simulator], sim: Simulator) -> Ark:
    """The SDK as a user makes it, pointed at the simulator's /api/v3 (its default is ModelArk's own)."""
    return Ark(base_url=f"{served[0]}/api/v3", api_key=KEY, max_retries=0)


def finished(client: Ark, task_id: str):  # -> ContentGenerationTask
    deadline = time.monotonic() + 10
    while (task := client.content_generation.tasks.get(task_id=task_id)).status in ("queued", "running"):
        assert time.monotonic() < deadline, task
        time.sleep(0.02)
    return task


def test_the_sdks_default_base_url_is_modelarks():
    from byteplussdkarkruntime._constants import BASE_URL

    from providers.byteplus import TASKS, BytePlusProvider

    assert BASE_URL == BytePlusProvider.base_url_default + TASKS.removesuffix("/contents/generations/tasks")


def test_create_and_get_a_video_from_text_and_a_first_frame(client: Ark, sim: Simulator):
    created = client.content_generation.tasks.create(
        model="seedance-1-0-pro-250528",
        content=[
            {"type": "text", "text": "sim:seconds=20 a girl smiles at the camera"},
            {"type": "image_url", "image_url": {"url": "https://example.com/first.jpg"}, "role": "first_frame"},
        ],
        resolution="720p",
        ratio="4:3",
        duration=5,
        seed=7,
        watermark=False,
    )
    assert created.id.startswith("cgt-")
    task = finished(client, created.id)
    assert (task.status, task.model, task.resolution, task.ratio, task.duration) == (
        "succeeded",
        "seedance-1-0-pro-250528",
        "720p",
        "4:3",
        5,
    )
    assert task.seed == 7 and task.framespersecond == 24
    assert task.usage.completion_tokens == 1120 * 832 * 24 * 5 // 1024  # 720p 4:3 is 1120 x 832
    video = httpx.get(task.content.video_url)
    assert video.headers["content-type"] == "video/mp4" and video.content[4:8] == b"ftyp"
    # The SDK sends every field it was not given as null; the simulator reads null as absent.
    assert sim.jobs[created.id].payload["callback_url"] is None


def test_text_commands_in_the_prompt_are_read_like_the_older_api(client: Ark):
    created = client.content_generation.tasks.create(
        model="seedance-1-0-lite-t2v-250428",
        content=[{"type": "text", "text": "sim:seconds=10 a dog runs --rs 480p --rt 1:1 --dur 3 --rs nonsense"}],
    )
    task = finished(client, created.id)
    assert (task.resolution, task.ratio, task.duration) == ("480p", "1:1", 3)


def test_list_and_delete(client: Ark, sim: Simulator):
    created = client.content_generation.tasks.create(
        model="seedance-1-5-pro-251215", content=[{"type": "text", "text": "sim:seconds=5 rain"}], generate_audio=True
    )
    assert finished(client, created.id).generate_audio is True
    listed = client.content_generation.tasks.list(page_size=50, task_ids=[created.id])
    assert listed.total == 1 and listed.items[0].id == created.id
    client.content_generation.tasks.delete(created.id)
    with pytest.raises(ArkNotFoundError):
        client.content_generation.tasks.get(task_id=created.id)


def test_a_duration_the_api_rejects_is_the_sdks_bad_request_naming_the_parameter(client: Ark, sim: Simulator):
    before = sim.submissions
    with pytest.raises(ArkBadRequestError) as caught:
        client.content_generation.tasks.create(
            model="seedance-1-5-pro-251215", content=[{"type": "text", "text": "x"}], duration=3
        )
    error = caught.value
    assert (error.status_code, error.code, error.param) == (400, "InvalidParameter", "duration")
    assert "from 4 to 12" in error.message and sim.submissions == before
    with pytest.raises(ArkBadRequestError) as missing:
        client.content_generation.tasks.create(model="seedance-1-0-pro-250528", content=None)  # type: ignore[arg-type]
    assert missing.value.code == "MissingParameter"
    with pytest.raises(ArkBadRequestError) as text_only:
        client.content_generation.tasks.create(
            model="seedance-1-0-lite-t2v-250428",
            content=[
                {"type": "text", "text": "x"},
                {"type": "image_url", "image_url": {"url": "https://e.com/a.png"}, "role": "first_frame"},
            ],
        )
    assert text_only.value.param == "content.image_url"


def test_a_bad_key_and_an_overdue_account_are_the_sdks_errors(served: tuple[str, Simulator], client: Ark, sim):
    sim.config["api_keys"] = ["ark-the-only-key"]
    with pytest.raises(ArkAuthenticationError) as auth:
        client.content_generation.tasks.get(task_id="cgt-x")
    assert auth.value.code == "AuthenticationError" and KEY not in str(auth.value)
    sim.config.clear()
    sim.config["overdue"] = True
    with pytest.raises(ArkPermissionDeniedError) as overdue:
        client.content_generation.tasks.create(model="seedance-1-0-pro-250528", content=[{"type": "text", "text": "x"}])
    assert overdue.value.code == "AccountOverdueError"
