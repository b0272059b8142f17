"""The offline demo provider: its declaration, its life cycle on the wall clock, and the MP4s it renders."""

from __future__ import annotations

import base64
import io
import subprocess
import sys
from pathlib import Path

import anyio
import pytest

from providers.base import ErrorCode, ProviderError, Submission, VideoRequest
from providers.demo import DemoProvider, frame_size, render_video
from server.media import probe, verify

ROOT = Path(__file__).resolve().parent.parent
RED = (220, 40, 40)
BLUE = (30, 60, 210)


def request(**changes: object) -> VideoRequest:
    fields: dict[str, object] = {
        "prompt": "a paper boat on a rainy street",
        "provider": "demo",
        "model": "demo-v1",
        "mode": "text_to_video",
        "duration": 1.0,
        "aspect_ratio": "16:9",
        "resolution": "360p",
        "seed": 7,
    }
    return VideoRequest(**{**fields, **changes})


def provider(latency: str = "0.3", allowed_dirs: tuple[Path, ...] = ()) -> DemoProvider:
    return DemoProvider(env={"VIDEOGEN_DEMO_LATENCY": latency}, allowed_dirs=allowed_dirs)


def png_bytes(colour: tuple[int, int, int], size: tuple[int, int] = (64, 48)) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="PNG")
    return buffer.getvalue()


def decoded_frames(path: Path) -> list:
    import av

    with av.open(str(path)) as container:
        return [frame.to_image() for frame in container.decode(video=0)]


def close_to(actual: tuple[int, ...], expected: tuple[float, ...], tolerance: float = 30) -> bool:
    return all(abs(a - e) <= tolerance for a, e in zip(actual[:3], expected, strict=True))


# -- declaration ---------------------------------------------------------------------------------


def test_declaration() -> None:
    p = provider()
    spec = p.spec("demo-v1")
    assert spec is not None
    assert (p.name, p.default_model, p.env_vars, p.supports_cancel, p.resubmit_is_safe) == (
        "demo",
        "demo-v1",
        (),
        True,
        True,
    )
    assert p.configured() and p.missing_env() == []
    assert spec.modes == ("text_to_video", "image_to_video")
    assert spec.durations == tuple(float(s) for s in range(1, 11))
    assert spec.default_duration in spec.durations
    assert spec.default_aspect_ratio in spec.aspect_ratios
    assert spec.default_resolution == "480p" and spec.default_resolution in spec.resolutions
    assert not spec.audio and spec.max_images == 1
    assert spec.end_image and spec.negative_prompt and spec.seed
    assert "placeholder" in spec.description and "not an AI model" in spec.description
    assert spec.price.describe() == "free; local placeholder, no charge"
    assert spec.price_for(10, "1080p", False)[0] == 0.0
    for ratio in spec.aspect_ratios:  # every declared combination maps to an even frame size
        for resolution in spec.resolutions:
            assert all(side % 2 == 0 for side in frame_size(ratio, resolution))


def test_latency_setting() -> None:
    p = provider("0.3")
    assert p.latency == 0.3
    assert p.models[0].typical_seconds == 0.3
    assert p.poll_interval(p.models[0], 0) == 0.05
    assert DemoProvider(env={}).latency == 5.0
    assert DemoProvider(env={}).poll_interval(DemoProvider.models[0], 0) == 0.5
    assert provider("60").poll_interval(DemoProvider.models[0], 0) == 1.0
    for bad in ("soon", "-1", "inf"):
        with pytest.raises(ValueError, match="VIDEOGEN_DEMO_LATENCY"):
            provider(bad)


@pytest.mark.parametrize(
    ("aspect_ratio", "resolution", "size"),
    [
        ("16:9", "360p", (640, 360)),
        ("9:16", "480p", (480, 854)),
        ("1:1", "720p", (720, 720)),
        ("4:3", "1080p", (1440, 1080)),
        ("3:4", "360p", (360, 480)),
        ("21:9", "360p", (840, 360)),
    ],
)
def test_frame_size(aspect_ratio: str, resolution: str, size: tuple[int, int]) -> None:
    assert frame_size(aspect_ratio, resolution) == size


def test_importing_the_provider_does_not_load_av_or_pillow() -> None:
    code = "import sys, providers.demo; print(sorted({'av', 'PIL', 'numpy'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# -- life cycle ----------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_queued_then_running_then_succeeded() -> None:
    p, req = provider("0.3"), request()
    submission = await p.submit("job123", req)
    assert submission.ref == "demo-job123"
    assert submission.state["latency"] == 0.3
    snapshots = []
    with anyio.fail_after(3):
        while not snapshots or snapshots[-1].status != "succeeded":
            snapshots.append(await p.poll(submission, req))
            await anyio.sleep(0.01)
    statuses = [s.status for s in snapshots]
    assert statuses[0] == "queued"
    assert "running" in statuses
    assert statuses == sorted(statuses, key=["queued", "running", "succeeded"].index)  # never goes back
    positions = [s.queue_position for s in snapshots if s.status == "queued"]
    assert positions[0] == 2 and positions == sorted(positions, reverse=True) and min(positions) >= 1
    progress = [s.progress for s in snapshots if s.status == "running"]
    assert progress == sorted(progress) and all(0 <= x <= 1 for x in progress)
    assert any("rendering frames" in s.message for s in snapshots if s.status == "running")
    assert snapshots[-1].video_url is None and snapshots[-1].charged_usd == 0.0


@pytest.mark.anyio
async def test_a_restarted_server_sees_the_same_job() -> None:
    req = request()
    submission = await provider("0.2").submit("job1", req)
    restored = Submission.model_validate_json(submission.model_dump_json())
    later = provider("500")  # a restart with another setting keeps the job's own latency
    await anyio.sleep(0.25)
    assert (await later.poll(restored, req)).status == "succeeded"


@pytest.mark.anyio
async def test_cancel_makes_polls_say_cancelled() -> None:
    p, req = provider("5"), request()
    submission = await p.submit("job2", req)
    assert (await p.poll(submission, req)).status == "queued"
    await p.cancel(submission, req)
    assert (await p.poll(submission, req)).status == "cancelled"
    restored = Submission.model_validate_json(submission.model_dump_json())  # what the engine persists
    assert (await provider("5").poll(restored, req)).status == "cancelled"


@pytest.mark.anyio
async def test_reconcile_finds_nothing() -> None:
    assert await provider().reconcile("job3", request()) is None


# -- rendering -----------------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize(("aspect_ratio", "duration"), [("16:9", 1.0), ("9:16", 2.0)])
async def test_fetch_writes_a_playable_mp4(tmp_path: Path, aspect_ratio: str, duration: float) -> None:
    p, req = provider(), request(aspect_ratio=aspect_ratio, duration=duration)
    submission = await p.submit("job4", req)
    dest = tmp_path / "out.mp4.part"  # the engine hands over a temp name: the format must not depend on it
    await p.fetch(await p.poll(submission, req), submission, req, dest)
    info = verify(dest)
    assert (info.width, info.height) == frame_size(aspect_ratio, "360p")
    assert info.codec == "h264"
    assert abs(info.duration_seconds - duration) <= 1 / 24
    assert info.frames == round(duration * 24)
    import av

    with av.open(str(dest)) as container:
        assert not container.streams.audio
        assert container.streams.video[0].codec_context.pix_fmt == "yuv420p"


def test_frames_move_and_the_seed_decides(tmp_path: Path) -> None:
    args = {"prompt": "waves", "duration": 1.0, "width": 640, "height": 360}
    render_video(tmp_path / "a.mp4", seed=1, **args)
    render_video(tmp_path / "b.mp4", seed=1, **args)
    render_video(tmp_path / "c.mp4", seed=2, **args)
    assert (tmp_path / "a.mp4").read_bytes() == (tmp_path / "b.mp4").read_bytes()
    assert (tmp_path / "a.mp4").read_bytes() != (tmp_path / "c.mp4").read_bytes()
    frames = decoded_frames(tmp_path / "a.mp4")
    assert frames[0].tobytes() != frames[12].tobytes()


def test_a_very_long_prompt_still_renders(tmp_path: Path) -> None:
    render_video(
        tmp_path / "a.mp4",
        prompt="supercalifragilistic " * 120 + "x" * 300,
        duration=1.0,
        width=360,
        height=640,
        seed=None,
    )
    assert probe(tmp_path / "a.mp4").frames == 24


@pytest.mark.anyio
@pytest.mark.parametrize("kind", ["file", "data-uri"])
async def test_an_input_image_opens_the_video_and_blends_to_the_end_image(tmp_path: Path, kind: str) -> None:
    if kind == "file":
        start = tmp_path / "red.png"
        start.write_bytes(png_bytes(RED))
        image = str(start)
    else:
        image = "data:image/png;base64," + base64.b64encode(png_bytes(RED)).decode()
    end_image = "data:image/png;base64," + base64.b64encode(png_bytes(BLUE, (30, 40))).decode()
    p = provider(allowed_dirs=(tmp_path,))
    req = request(mode="image_to_video", images=[image], end_image=end_image)
    submission = await p.submit("job5", req)
    dest = tmp_path / "out.mp4"
    await p.fetch(await p.poll(submission, req), submission, req, dest)
    frames = decoded_frames(dest)
    assert len(frames) == 24
    assert close_to(frames[0].getpixel((12, 12)), RED)
    assert close_to(frames[11].getpixel((12, 12)), RED)  # still the image until half way
    k = 2 * (23 / 24) - 1  # the blend weight of the last frame
    assert close_to(frames[-1].getpixel((12, 12)), tuple(r * (1 - k) + b * k for r, b in zip(RED, BLUE, strict=True)))


@pytest.mark.anyio
async def test_url_images_are_not_fetched(tmp_path: Path) -> None:
    p = provider()
    req = request(mode="image_to_video", images=["https://192.0.2.1/cat.png?sig=x"])  # unroutable: a fetch would hang
    submission = await p.submit("job6", req)
    with anyio.fail_after(5):
        await p.fetch(await p.poll(submission, req), submission, req, tmp_path / "out.mp4")
    assert probe(tmp_path / "out.mp4").frames == 24


@pytest.mark.anyio
async def test_an_unreadable_image_fails_the_job(tmp_path: Path) -> None:
    bad = tmp_path / "bad.png"
    bad.write_text("not a picture")
    p = provider(allowed_dirs=(tmp_path,))
    req = request(mode="image_to_video", images=[str(bad)])
    submission = await p.submit("job7", req)
    with pytest.raises(ProviderError) as caught:
        await p.fetch(await p.poll(submission, req), submission, req, tmp_path / "out.mp4")
    # Read through providers.images, as every provider's inputs are: the same code and message.
    assert caught.value.code == ErrorCode.INVALID_INPUT and not caught.value.retryable
    assert "bad.png" in caught.value.message and "not a JPEG, PNG, WebP or GIF image" in caught.value.message


@pytest.mark.anyio
async def test_a_broken_image_with_a_good_header_fails_the_job(tmp_path: Path) -> None:
    broken = tmp_path / "broken.png"
    broken.write_bytes(png_bytes(RED)[:60])  # signature and header intact, pixels cut off
    p = provider(allowed_dirs=(tmp_path,))
    req = request(mode="image_to_video", images=[str(broken)])
    submission = await p.submit("job8", req)
    with pytest.raises(ProviderError) as caught:
        await p.fetch(await p.poll(submission, req), submission, req, tmp_path / "out.mp4")
    assert caught.value.code == ErrorCode.INVALID_INPUT and not caught.value.retryable
    assert "broken.png" in caught.value.message and "cannot be decoded" in caught.value.message
