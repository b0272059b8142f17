"""The official `dashscope` SDK (VideoSynthesis) against the DashScope simulator, unchanged but for its base URL
(dashscope.base_http_api_url, which DASHSCOPE_HTTP_BASE_URL sets at import): create, fetch, wait, cancel, and the
SDK's answer for what DashScope refuses."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from providers.simulators.common import Simulator, running
from providers.simulators.dashscope import create_app

dashscope = pytest.importorskip("dashscope")
from dashscope import VideoSynthesis  # noqa: E402

KEY = "sk-" + "5eed" * 8
QUICK = "sim:seconds=20 sim:queue=1"


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, Simulator]]:
    app = create_app(speed=300.0)
    with running(Starlette(routes=[Mount("/api/v1", app=app)])) as url:
        yield f"{url}/api/v1", app.state.sim  # the shape of https://dashscope-intl.aliyuncs.com/api/v1


@pytest.fixture
def sim(server: tuple[str, Simulator], monkeypatch: pytest.MonkeyPatch) -> Simulator:
    """The simulator, emptied, with the SDK pointed at it the way its docs point it at a region."""
    monkeypatch.setattr(dashscope, "base_http_api_url", server[0])
    simulator = server[1]
    with simulator.lock:
        simulator.jobs.clear()
        simulator.config.clear()
        simulator.submissions = 0
    return simulator


def png_uri(size: tuple[int, int] = (640, 360)) -> str:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 80, 40)).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def test_text_to_video_async_call_fetch_and_wait(sim: Simulator):
    created = VideoSynthesis.async_call(
        model="wan2.1-t2v-turbo", prompt=f"a kitten in the moonlight {QUICK}", size="832*480", api_key=KEY, seed=3
    )
    assert created.status_code == 200, (created.code, created.message)
    assert created.output.task_status == "PENDING" and created.output.task_id and created.request_id
    (job,) = sim.jobs.values()
    assert job.payload["parameters"] == {"size": "832*480", "seed": 3}
    assert job.payload["input"]["prompt"].startswith("a kitten") and job.payload["input"]["extend_prompt"] is True

    fetched = VideoSynthesis.fetch(created, api_key=KEY)
    assert fetched.status_code == 200 and fetched.output.task_status in ("PENDING", "RUNNING", "SUCCEEDED")

    done = VideoSynthesis.wait(created, api_key=KEY)
    assert done.status_code == 200 and done.output.task_status == "SUCCEEDED", done
    assert done.usage.video_duration == 5 and done.usage.video_count == 1 and done.usage.video_ratio == "832*480"
    video = httpx.get(done.output.video_url)
    assert video.status_code == 200 and video.content[4:8] == b"ftyp"


def test_image_to_video_with_a_data_uri(sim: Simulator):
    done = VideoSynthesis.call(
        model="wan2.1-i2v-turbo",
        prompt=f"the sea moves {QUICK}",
        img_url=png_uri(),
        resolution="480P",
        duration=3,
        api_key=KEY,
    )
    assert done.status_code == 200 and done.output.task_status == "SUCCEEDED", (done.code, done.message)
    assert done.usage.video_duration == 3
    (job,) = sim.jobs.values()
    assert job.payload["parameters"] == {"resolution": "480P", "duration": 3}


def test_cancel_a_pending_task_and_not_a_running_one(sim: Simulator):
    pending = VideoSynthesis.async_call(model="wan2.1-t2v-plus", prompt="wait sim:queue=600", api_key=KEY)
    cancelled = VideoSynthesis.cancel(pending, api_key=KEY)
    assert cancelled.status_code == 200, (cancelled.code, cancelled.message)
    assert VideoSynthesis.fetch(pending, api_key=KEY).output.task_status == "CANCELED"

    running_task = VideoSynthesis.async_call(
        model="wan2.1-t2v-plus", prompt="go sim:queue=0 sim:seconds=6000", api_key=KEY
    )
    assert VideoSynthesis.fetch(running_task, api_key=KEY).output.task_status == "RUNNING"
    refused = VideoSynthesis.cancel(running_task, api_key=KEY)
    assert refused.status_code == 400 and refused.code == "UnsupportedOperation" and "PENDING" in refused.message


def test_the_sdk_reads_an_invalid_parameter_refusal(sim: Simulator):
    """wan2.1-t2v-turbo makes at most 720P: a 1080P size is refused, and the SDK hands back code and message."""
    refused = VideoSynthesis.async_call(model="wan2.1-t2v-turbo", prompt="p", size="1920*1080", api_key=KEY)
    assert refused.status_code == 400 and refused.code == "InvalidParameter" and "size" in refused.message
    assert refused.output is None and sim.submissions == 0


def test_the_sdk_reads_a_rejected_key_and_a_failed_task(sim: Simulator):
    sim.config["api_keys"] = [KEY]
    refused = VideoSynthesis.async_call(model="wan2.1-t2v-plus", prompt="p", api_key="sk-not-this-one-" + "0" * 16)
    assert refused.status_code == 401 and refused.code == "InvalidApiKey"

    failed = VideoSynthesis.call(model="wan2.1-t2v-plus", prompt=f"x sim:fail=content {QUICK}", api_key=KEY)
    assert failed.status_code == 200 and failed.output.task_status == "FAILED"
    assert failed.output.code == "DataInspectionFailed" and "inappropriate" in failed.output.message


def test_wan26_text_to_video_with_its_sound_and_shot_fields(sim: Simulator):
    """The SDK's own arguments for Wan 2.6 (shot_type, prompt_extend, audio_url) land where the docs put them."""
    done = VideoSynthesis.call(
        model="wan2.6-t2v",
        prompt=f"a detective in the rain {QUICK}",
        audio_url="https://example.com/rain.mp3",
        size="1920*1080",
        duration=10,
        shot_type="multi",
        prompt_extend=True,
        api_key=KEY,
    )
    assert done.status_code == 200 and done.output.task_status == "SUCCEEDED", (done.code, done.message)
    (job,) = sim.jobs.values()
    assert job.payload["input"]["audio_url"] == "https://example.com/rain.mp3"
    assert job.payload["parameters"] == {
        "size": "1920*1080",
        "duration": 10,
        "prompt_extend": True,
        "shot_type": "multi",
    }
    assert done.usage["duration"] == 10 and done.usage["SR"] == 1080 and done.usage.video_count == 1


def test_wan26_flash_sound_switch_through_the_sdk_kwargs(sim: Simulator):
    """VideoSynthesis has no `audio` argument: extra keyword arguments go into parameters, as the docs' audio does."""
    done = VideoSynthesis.call(
        model="wan2.6-i2v-flash",
        prompt=f"the sea moves {QUICK}",
        img_url=png_uri(),
        resolution="720P",
        duration=3,
        audio=False,
        api_key=KEY,
    )
    assert done.status_code == 200 and done.output.task_status == "SUCCEEDED", (done.code, done.message)
    (job,) = sim.jobs.values()
    assert job.payload["parameters"] == {"resolution": "720P", "duration": 3, "audio": False}
    assert done.usage["duration"] == 3


def test_first_and_last_frame_goes_to_image2video(sim: Simulator):
    """For a kf2v model the SDK switches the task to image2video (another path); the simulator takes it only there."""
    done = VideoSynthesis.call(
        model="wan2.1-kf2v-plus",
        prompt=f"the kitten looks up {QUICK}",
        first_frame_url=png_uri(),
        last_frame_url=png_uri((360, 640)),
        resolution="720P",
        api_key=KEY,
    )
    assert done.status_code == 200 and done.output.task_status == "SUCCEEDED", (done.code, done.message)
    (job,) = sim.jobs.values()
    assert set(job.payload["input"]) >= {"first_frame_url", "last_frame_url"}
    assert done.usage.video_duration == 5


@pytest.mark.parametrize(
    ("arguments", "words"),
    [
        ({"model": "wan2.5-t2v-preview", "duration": 15}, "duration"),
        ({"model": "wan2.6-t2v", "size": "832*480"}, "size"),
        ({"model": "wan2.2-t2v-plus", "shot_type": "multi"}, "shot_type"),
        ({"model": "wan2.1-t2v-plus", "audio_url": "https://example.com/a.mp3"}, "audio_url"),
    ],
    ids=["wan25-15s", "wan26-480p", "wan22-shot-type", "wan21-audio"],
)
def test_the_sdk_reads_refusals_of_the_newer_models(sim: Simulator, arguments, words):
    refused = VideoSynthesis.async_call(prompt="p", api_key=KEY, **arguments)
    assert refused.status_code == 400 and refused.code == "InvalidParameter" and words in refused.message
    assert sim.submissions == 0
