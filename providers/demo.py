"""The offline `demo` provider: a local placeholder renderer that behaves like a remote provider.

It queues, runs with rising progress and succeeds after a configurable latency, all computed from
the wall clock and the submission's state, so a job survives a server restart like a real one. Its
"video" is a real H.264 MP4 showing the prompt on moving colours: no AI model and no cost, but
every part of the pipeline (polling, fetching, probing, thumbnails) runs for real.
"""

from __future__ import annotations

import colorsys
import math
import random
import time
import zlib
from collections.abc import Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import anyio.to_thread

from providers.base import (
    ErrorCode,
    ModelSpec,
    PriceRule,
    Provider,
    ProviderError,
    Snapshot,
    Submission,
    Tuning,
    VideoRequest,
)

if TYPE_CHECKING:  # Pillow is imported when rendering, not when the server starts
    from PIL.Image import Image as Picture
    from PIL.ImageFont import FreeTypeFont, ImageFont

    Font = FreeTypeFont | ImageFont  # load_default() gives the bitmap font where FreeType is missing

DEFAULT_LATENCY = 5.0
QUEUE_SHARE = 0.15  # the first 15% of the latency is spent "queued"

SHORT_SIDES = {"360p": 360, "480p": 480, "720p": 720, "1080p": 1080}

DEMO_MODEL = ModelSpec(
    id="demo-v1",
    name="Local placeholder renderer",
    description=(
        "A local placeholder, not an AI model: it draws the prompt as text on moving coloured frames "
        "and writes a real MP4. Use it to try the tools offline. It costs nothing."
    ),
    modes=("text_to_video", "image_to_video"),
    durations=tuple(float(s) for s in range(1, 11)),
    default_duration=5.0,
    aspect_ratios=("16:9", "9:16", "1:1", "4:3", "3:4", "21:9"),
    default_aspect_ratio="16:9",
    resolutions=tuple(SHORT_SIDES),
    default_resolution="480p",
    audio=False,
    max_images=1,
    end_image=True,
    negative_prompt=True,
    seed=True,
    max_prompt_chars=2500,
    price=PriceRule(note="local placeholder, no charge"),
    typical_seconds=DEFAULT_LATENCY,
)


class DemoProvider(Provider):
    name = "demo"
    title = "Demo (offline placeholder renderer)"
    env_vars = ()
    supports_cancel = True
    resubmit_is_safe = True
    default_model = "demo-v1"
    models = (DEMO_MODEL,)

    def __init__(
        self, env: Mapping[str, str] | None = None, allowed_dirs: Sequence[Path] = (), tuning: Tuning | None = None
    ):
        super().__init__(env, allowed_dirs, tuning)
        # VIDEOGEN_DEMO_LATENCY, parsed by Settings (Tuning); unset: 5 s.
        self.latency = DEFAULT_LATENCY if self.tuning.demo_latency is None else self.tuning.demo_latency
        # Instance copy so typical_seconds matches this latency.
        self.models = (DEMO_MODEL.model_copy(update={"typical_seconds": self.latency}),)

    def poll_interval(self, spec: ModelSpec, elapsed: float) -> float:
        return min(1.0, max(0.05, self.latency / 10))

    async def submit(self, job_id: str, request: VideoRequest, callback_url: str | None = None) -> Submission:
        return Submission(ref=f"demo-{job_id}", state={"submitted_at": time.time(), "latency": self.latency})

    async def poll(self, submission: Submission, request: VideoRequest) -> Snapshot:
        state = submission.state
        if state.get("cancelled"):
            return Snapshot(status="cancelled", message="cancelled")
        # The latency saved at submit wins: a restart with another setting must not change old jobs.
        latency = float(state.get("latency", self.latency))
        elapsed = max(0.0, time.time() - float(state["submitted_at"]))
        queued_for = QUEUE_SHARE * latency
        if elapsed >= latency:
            return Snapshot(status="succeeded", progress=1.0, message="rendered", charged_usd=0.0)
        if elapsed < queued_for:
            position = 2 - int(2 * elapsed / queued_for)
            return Snapshot(status="queued", queue_position=position, message=f"queued, position {position}")
        progress = min(1.0, (elapsed - queued_for) / (latency - queued_for))
        return Snapshot(status="running", progress=progress, message=f"rendering frames ({progress:.0%})")

    async def cancel(self, submission: Submission, request: VideoRequest) -> None:
        # Stateless: the engine persists submission.state after cancel, so later polls see this.
        submission.state["cancelled"] = True

    async def reconcile(self, job_id: str, request: VideoRequest) -> Submission | None:
        return None  # submitting again is free and harmless

    async def fetch(self, snapshot: Snapshot, submission: Submission, request: VideoRequest, dest: Path) -> None:
        width, height = frame_size(request.aspect_ratio, request.resolution)
        render = partial(
            render_video,
            dest,
            prompt=request.prompt,
            duration=request.duration,
            width=width,
            height=height,
            seed=request.seed,
            image=request.images[0] if request.images else None,
            end_image=request.end_image,
            allowed_dirs=self.allowed_dirs,
        )
        try:
            await anyio.to_thread.run_sync(render)
        except ValueError as exc:  # an input image that cannot be read
            raise ProviderError(ErrorCode.PROVIDER_FAILED, str(exc), retryable=False) from exc


# -- rendering -----------------------------------------------------------------------------------


def frame_size(aspect_ratio: str, resolution: str) -> tuple[int, int]:
    """(width, height): the short side from the resolution, the long side from the ratio, both even."""
    short = SHORT_SIDES[resolution]
    a, b = (int(part) for part in aspect_ratio.split(":"))
    long = 2 * round(short * max(a, b) / min(a, b) / 2)  # H.264 with yuv420p needs even sizes
    return (long, short) if a >= b else (short, long)


def render_video(
    path: str | Path,
    *,
    prompt: str,
    duration: float,
    width: int,
    height: int,
    seed: int | None,
    image: str | None = None,
    end_image: str | None = None,
    allowed_dirs: Sequence[Path | str] = (),
    fps: int = 24,
) -> None:
    """Write an H.264 MP4 (no audio) of the prompt over moving colours; the same inputs give the same file.

    `image` and `end_image` are local paths (inside `allowed_dirs`) or data: URIs; they become the
    background of the first half and the blend target of the second. URLs are not fetched (this is
    offline): their host is written on the frame instead.
    """
    import av

    if seed is None:
        seed = zlib.crc32(prompt.encode())  # stable across runs, unlike hash()
    start, start_label = _load_image(image, width, height, allowed_dirs) if image else (None, None)
    end, end_label = _load_image(end_image, width, height, allowed_dirs) if end_image else (None, None)
    labels = [text for text in (start_label, end_label and f"end {end_label}") if text]
    scene = _Scene(prompt, labels, width, height, duration, random.Random(seed), start, end)

    container = av.open(str(path), mode="w", format="mp4", options={"movflags": "+faststart"})
    try:
        stream = container.add_stream("libx264", rate=fps, options={"preset": "ultrafast"})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for index in range(round(duration * fps)):  # one frame in memory at a time
            frame = av.VideoFrame.from_image(scene.frame(index / fps))
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    finally:
        container.close()


class _Scene:
    """Draws frame t: background (gradient or images), prompt text, a bouncing ball, footer, progress bar."""

    def __init__(
        self,
        prompt: str,
        labels: list[str],
        width: int,
        height: int,
        duration: float,
        rng: random.Random,
        start: Picture | None,
        end: Picture | None,
    ):
        self.width, self.height, self.duration = width, height, duration
        base = rng.random()
        self.hues = [base + rng.uniform(0.0, 0.4) for _ in range(6)]  # the seed's palette
        self.drift = rng.choice((-1, 1)) * rng.uniform(0.03, 0.08)  # hue turns per second
        self.start, self.end = start, end
        layer = _text_layer(prompt, labels, width, height)
        self.text_box = layer.getbbox() or (0, 0, 1, 1)
        self.text = layer.crop(self.text_box)  # pasting only the inked part saves a full-frame pass
        self.footer_font = _font(max(10, height // 30))

    def frame(self, t: float) -> Picture:
        from PIL import ImageDraw

        image = self._background(t)
        draw = ImageDraw.Draw(image)
        w, h = self.width, self.height
        # A ball sweeping left-right while bouncing, so motion is obvious at a glance; under the text.
        r = max(6, h // 14)
        x = r + (w - 2 * r) * (0.5 + 0.5 * math.sin(2 * math.pi * t / 3))
        y = h * 0.82 - r - abs(math.sin(math.pi * t * 1.5)) * h * 0.18
        draw.ellipse((x - r, y - r, x + r, y + r), fill=(255, 255, 255), outline=(20, 20, 20), width=max(2, r // 8))
        image.paste(self.text, self.text_box[:2], self.text)
        bar = max(3, h // 90)
        draw.rectangle((0, h - bar, round(w * t / self.duration), h), fill=(255, 255, 255))
        pad = max(4, h // 60)
        draw.text(
            (pad, h - bar - pad),
            f"videogen demo · local placeholder · t={t:.1f}s",
            font=self.footer_font,
            fill=(255, 255, 255),
            anchor="ld",
            stroke_width=1,
            stroke_fill=(0, 0, 0),
        )
        return image

    def _background(self, t: float) -> Picture:
        from PIL import Image

        gradient: Picture | None = None
        if self.start is not None and self.end is not None:
            first, last = self.start, self.end
        else:
            # Six colours on a 3x2 grid stretched over the frame; hues drift with time. Stretched at a
            # quarter of the size, then enlarged without filtering: 4x cheaper, and a smooth gradient hides it.
            grid = Image.new("RGB", (3, 2))
            grid.putdata([_rgb(hue + self.drift * t) for hue in self.hues])
            small = grid.resize((-(-self.width // 4), -(-self.height // 4)), Image.Resampling.BILINEAR)
            gradient = small.resize((self.width, self.height), Image.Resampling.NEAREST)
            first, last = self.start or gradient, self.end or gradient
        blend = min(1.0, max(0.0, 2 * t / self.duration - 1))  # 0 in the first half, then up to 1
        if blend > 0 and first is not last:
            return Image.blend(first, last, blend)
        return gradient if first is gradient else first.copy()  # never draw on the cached input image


def _rgb(hue: float) -> tuple[int, int, int]:
    r, g, b = colorsys.hsv_to_rgb(hue % 1.0, 0.7, 0.85)
    return round(r * 255), round(g * 255), round(b * 255)


def _font(size: int) -> Font:
    from PIL import ImageFont

    return ImageFont.load_default(size=size)


def _text_layer(prompt: str, labels: list[str], width: int, height: int) -> Picture:
    """The prompt, wrapped and as large as fits, centred on a transparent layer (drawn once)."""
    from PIL import Image, ImageDraw

    layer = Image.new("RGBA", (width, height))
    draw = ImageDraw.Draw(layer)
    size = max(12, height // 9)
    while True:  # shrink until the prompt fits in 60% of the height, down to a readable minimum
        font = _font(size)
        max_lines = max(1, int(height * 0.6 / (size * 1.25)))
        lines = _wrap(prompt, font, width * 0.86, max_lines)
        if len(lines) <= max_lines or size <= max(10, height // 40):
            break
        size = int(size * 0.9)
    if len(lines) > max_lines:  # a very long prompt at the smallest size: show its beginning
        lines = [*lines[: max_lines - 1], lines[max_lines - 1] + " …"]
    stroke = max(1, size // 14)
    draw.multiline_text(
        (width / 2, height / 2),
        "\n".join(lines),
        font=font,
        fill=(255, 255, 255),
        anchor="mm",
        align="center",
        spacing=size // 4,
        stroke_width=stroke,
        stroke_fill=(0, 0, 0),
    )
    if labels:
        small = _font(max(10, height // 24))
        draw.text(
            (width / 2, height // 20),
            "   ".join(labels),
            font=small,
            fill=(255, 255, 255),
            anchor="ma",
            stroke_width=1,
            stroke_fill=(0, 0, 0),
        )
    return layer


def _wrap(text: str, font: Font, max_width: float, max_lines: int) -> list[str]:
    """Greedy word wrap, giving up once past max_lines; a word wider than a line is split."""
    lines: list[str] = []
    line = ""
    for word in text.split():
        candidate = f"{line} {word}" if line else word
        if font.getlength(candidate) <= max_width:
            line = candidate
            continue
        if line:
            lines.append(line)
        line = word
        while len(lines) <= max_lines and len(line) > 1 and font.getlength(line) > max_width:
            cut = _fitting_prefix(line, font, max_width)
            lines.append(line[:cut])
            line = line[cut:]
        if len(lines) > max_lines:
            break
    return [*lines, line] if line or not lines else lines


def _fitting_prefix(text: str, font: Font, max_width: float) -> int:
    """Length of the longest prefix that fits (at least one character), by bisection: a long word
    (a 2,500-character prompt without spaces, a sentence in Chinese) costs log(n) measurements."""
    low, high = 1, len(text)
    while low < high:
        middle = (low + high + 1) // 2
        if font.getlength(text[:middle]) <= max_width:
            low = middle
        else:
            high = middle - 1
    return low


def _load_image(
    source: str, width: int, height: int, allowed_dirs: Sequence[Path | str]
) -> tuple[Picture | None, str | None]:
    """(image cropped to cover the frame, None) for a data: URI or a local file; (None, label) for a URL.

    Files are read through providers.images like every other provider's: checked again now (the file
    may have changed since the request was validated), then decoded from the bytes read through that
    one checked descriptor, never reopened by name. Its refusals pass on as INVALID_INPUT.
    """
    from PIL import Image, ImageOps

    from providers import images

    kind = images.classify(source)
    if kind == "url":
        return None, f"image: {urlsplit(source.strip()).hostname}"
    name = "data URI" if kind == "data" else source
    data, _ = images.to_bytes(source, allowed_dirs)
    try:
        with images.open_image(data, f"input image {name}") as opened:
            picture = ImageOps.exif_transpose(opened).convert("RGB")  # phone photos store rotation in EXIF
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read the input image {name}: {exc}") from None
    return ImageOps.fit(picture, (width, height), Image.Resampling.LANCZOS), None
