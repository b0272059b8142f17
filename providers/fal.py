"""fal.ai: many commercial video models behind one queue API.

Submit POSTs the model's input to queue.fal.run/{endpoint}; the answer carries the request's status,
result and cancel URLs. Those use only {owner}/{alias} (the endpoint's subpath is dropped), so they are
stored as given and never rebuilt. A request goes IN_QUEUE (with a queue position) -> IN_PROGRESS (with
logs) -> COMPLETED, which may carry an error; the result then is the model's output, {"video": File},
or the error status and body the model answered with.

Each model below is a ModelSpec (what the catalog validates and prices) plus a Wire row (endpoints and
field names, which differ per model: "5" vs "5s" vs 5, start_image_url vs image_url, ..., and the limits of
fal's schema a ModelSpec cannot hold: UTF-8 bytes, a negative prompt's own length). Field names and limits
follow fal's generated input types (fal-ai/fal-js endpoints.ts); prices, the model pages (price_source).
fal's answers are read through small tolerant pydantic models (QueueAnswer, QueueStatus, ...). What its error
answers and failed requests mean is declared as `Rule` tables (ERRORS, FINAL_ERRORS for X-Fal-Retryable: false,
FAILURES by error_type) read with providers.base.find_rule, as the TaskProvider adapters' are.

Not a TaskProvider: fal's queue differs from the template at every step. The submit takes the callback as a
query parameter (?fal_webhook=) and answers three URLs that must be kept as given (and checked to be on the
queue's host, since the key goes with them); a status read (the stored status_url, ?logs=1) is followed by a
second read of the result URL, whose answer (the video, or the model's own error status and body) decides the
outcome; an unknown status is asked again rather than watched; the cancel is a PUT to the stored cancel_url,
where a 400 ALREADY_COMPLETED is not an error; a webhook is an envelope {status, payload, error} around what
the result URL would answer; the key goes as `Authorization: Key`. Declared on TaskProvider it would override
submit, status_url, poll, cancel, parse_callback, auth_headers and error_for, so it keeps its own steps.

Any other fal endpoint is reached by its id (`describe("fal-ai/kling-video/v2.1/standard/text-to-video")`):
its queue OpenAPI document (GET https://fal.ai/api/openapi/queue/openapi.json?endpoint_id=..., public; the
Input schema of POST /{endpoint}, the Output of GET /{endpoint}/requests/{id}, which must hold `video`) becomes
a ModelSpec and a `Described` wire, our fields mapped where the schema has them (prompt, image_url /
start_image_url, end_image_url, duration as "5" / "5s" / 5, aspect_ratio, resolution, generate_audio,
negative_prompt, seed), and every request is checked against the schema before a job exists. Its price comes
from the Platform API (GET https://api.fal.ai/v1/models/pricing?endpoint_id=..., `Authorization: Key`):
{unit_price, unit, currency}; a unit of seconds or videos in USD is a price (an estimate where fal may adjust it
for resolution, length or audio, which the API does not state); any other (GPU time, tokens) cannot be quoted,
and such a model is refused before anything is sent. Model search: GET https://api.fal.ai/v1/models?q=...
(key optional), video categories only. Both reads are cached DESCRIBE_TTL seconds. VIDEOGEN_FAL_BASE_URL moves
these hosts too (a simulator serves all three); VIDEOGEN_FAL_SCHEMA_BASE_URL and VIDEOGEN_FAL_API_BASE_URL
set them apart.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import quote, urlsplit

import anyio
from pydantic import BaseModel, ConfigDict

from providers import schemas
from providers.base import (
    ErrorCode,
    InvalidRequest,
    Mode,
    ModelSpec,
    PriceRule,
    Provider,
    ProviderError,
    ProviderErrorInfo,
    Rule,
    Snapshot,
    Submission,
    Tuning,
    VideoRequest,
    about_another_job,
    find_rule,
    json_body,
)
from providers.wire import Lenient

if TYPE_CHECKING:
    from providers.http import ProviderHTTP

TEXT: Mode = "text_to_video"
IMAGE: Mode = "image_to_video"
BOTH: tuple[Mode, ...] = (TEXT, IMAGE)
BILLING = "https://fal.ai/dashboard/billing"
KEYS = "https://fal.ai/dashboard/keys"


def _plain(seconds: float) -> str:
    return f"{seconds:g}"  # "5"


def _suffixed(seconds: float) -> str:
    return f"{seconds:g}s"  # "5s"


def _integer(seconds: float) -> int:
    return int(seconds)  # 5


@dataclass(frozen=True)
class Wire:
    """How a request for one model is sent: which endpoint, and under which field names and types, and the
    input limits of fal's schema that a ModelSpec cannot hold (checked in `check`, before any job exists)."""

    text: str  # text-to-video endpoint ("" for image-only models)
    image: str  # image-to-video endpoint ("" for text-only models)
    duration: Callable[[float], str | int]
    image_field: str = "image_url"
    end_field: str = ""  # where the last frame goes ("" when the model takes none)
    first_last: str = ""  # a separate endpoint for start + end frames (Veo), fields first/last_frame_url
    ratio: tuple[Mode, ...] = ()  # modes that send aspect_ratio (image modes usually follow the image)
    resolution: tuple[Mode, ...] = ()  # modes that send resolution
    cfg: tuple[Mode, ...] = ()  # modes whose endpoint takes cfg_scale (sent as 0.5 unless the option is given)
    negative_chars: int = 0  # the negative prompt's own limit in characters (0: the prompt's)
    utf8_bytes: int = 0  # prompt and negative prompt limit in UTF-8 bytes (0: none)
    max_seed: int = 0  # the seed's upper bound when it is below the catalog's 2**32 - 1 (0: none)
    fixed: Mapping[str, Any] = field(default_factory=dict)  # sent as is, so results do not drift with fal defaults


FOLLOWS_IMAGE = " Image-to-video output takes the start image's shape."
CFG_SCALE = "how closely to follow the prompt, 0..1 (0.5 unless given)"
CHECKED = "2026-12-03"  # prices read on the model pages that day
TODAY = "2026-12-06"  # prices read again (or first read) on the stored model pages that day
DESCRIBE_TTL = 3600.0  # seconds a model read from its published schema and price is trusted


def _page(endpoint: str) -> str:
    return f"https://fal.ai/models/{endpoint}/llms.txt"


MODELS: tuple[ModelSpec, ...] = (
    ModelSpec(
        id="kling-2.6-pro",
        name="Kling 2.6 Pro",
        description="Kling's 1080p model with native audio (on by default), start and end frames." + FOLLOWS_IMAGE,
        modes=BOTH,
        durations=(5.0, 10.0),
        default_duration=5.0,
        aspect_ratios=("16:9", "9:16", "1:1"),
        default_aspect_ratio="16:9",
        resolutions=("1080p",),
        default_resolution="1080p",
        audio=True,
        default_audio=True,
        max_images=1,
        end_image=True,
        negative_prompt=True,
        options={"cfg_scale": CFG_SCALE + "; text-to-video only"},
        price=PriceRule(per_second=0.07, per_second_audio=0.14, note="the audio rate applies when audio is on"),
        price_source=_page("fal-ai/kling-video/v2.6/pro/image-to-video"),
        price_checked=CHECKED,
        typical_seconds=120.0,
    ),
    ModelSpec(
        id="kling-2.5-turbo-pro",
        name="Kling 2.5 Turbo Pro",
        description="Fast 1080p image-to-video from a start image, with an optional end (tail) frame." + FOLLOWS_IMAGE,
        modes=(IMAGE,),
        durations=(5.0, 10.0),
        default_duration=5.0,
        aspect_ratios=("16:9", "9:16", "1:1"),
        default_aspect_ratio="16:9",
        resolutions=("1080p",),
        default_resolution="1080p",
        max_images=1,
        end_image=True,
        negative_prompt=True,
        options={"cfg_scale": CFG_SCALE},
        price=PriceRule(flat=0.35, flat_seconds=5, per_second=0.07, note="10 s: $0.35 + 5 s x $0.07"),
        price_source=_page("fal-ai/kling-video/v2.5-turbo/pro/image-to-video"),
        price_checked=CHECKED,
        typical_seconds=90.0,
    ),
    ModelSpec(
        id="kling-3.0-standard",
        name="Kling 3.0 Standard",
        description="Kling 3.0 (standard tier), 3 to 15 s from text or a start (and end) frame, native audio on by "
        "default." + FOLLOWS_IMAGE,
        modes=BOTH,
        durations=tuple(float(s) for s in range(3, 16)),
        default_duration=5.0,
        aspect_ratios=("16:9", "9:16", "1:1"),
        default_aspect_ratio="16:9",
        resolutions=("720p",),
        default_resolution="720p",
        audio=True,
        default_audio=True,
        max_images=1,
        end_image=True,
        negative_prompt=True,
        options={"cfg_scale": CFG_SCALE},
        price=PriceRule(
            per_second=0.084,
            per_second_audio=0.126,
            note=(
                "$0.084/s silent, $0.126/s with audio (on by default), any length; read on the text-to-video page. "
                "Image-to-video: the same figures, from a copy of fal's price sheet (kling31api.org), not fal's page"
            ),
        ),
        price_source=_page("fal-ai/kling-video/v3/standard/text-to-video"),
        price_checked=TODAY,
        typical_seconds=150.0,
    ),
    ModelSpec(
        id="kling-3.0-pro",
        name="Kling 3.0 Pro",
        description="Kling 3.0 Pro, 1080p video of 3 to 15 s from text or a start (and end) frame, audio on by "
        "default." + FOLLOWS_IMAGE,
        modes=BOTH,
        durations=tuple(float(s) for s in range(3, 16)),
        default_duration=5.0,
        aspect_ratios=("16:9", "9:16", "1:1"),
        default_aspect_ratio="16:9",
        resolutions=("1080p",),
        default_resolution="1080p",
        audio=True,
        default_audio=True,
        max_images=1,
        end_image=True,
        negative_prompt=True,
        options={"cfg_scale": CFG_SCALE},
        price=PriceRule(
            per_second=0.224,
            per_second_audio=0.336,
            note=(
                "fal's pages disagree ($0.112/$0.168 on the playground, $0.224/$0.336 in llms.txt): the higher, any "
                "length, audio rate with audio. Text-to-video: no page figure found, quoted at the same rate"
            ),
        ),
        price_source=_page("fal-ai/kling-video/v3/pro/image-to-video"),
        price_checked=CHECKED,
        typical_seconds=240.0,
    ),
    ModelSpec(
        id="kling-o3-standard",
        name="Kling O3 Standard",
        description="Kling O3 (standard tier), 3 to 15 s from text or a start (and end) frame; audio is opt-in."
        + FOLLOWS_IMAGE,
        modes=BOTH,
        durations=tuple(float(s) for s in range(3, 16)),
        default_duration=5.0,
        aspect_ratios=("16:9", "9:16", "1:1"),
        default_aspect_ratio="16:9",
        resolutions=("720p",),
        default_resolution="720p",
        audio=True,
        max_images=1,
        end_image=True,
        price=PriceRule(
            per_second=0.084, per_second_audio=0.112, note="read on the image-to-video page; the audio rate with audio"
        ),
        price_source="https://fal.ai/models/fal-ai/kling-video/o3/standard/image-to-video",
        price_checked=CHECKED,
        typical_seconds=120.0,
    ),
    ModelSpec(
        id="kling-o3-4k",
        name="Kling O3 4K",
        description="Kling O3 at native 4K, 3 to 15 s from text or a start (and end) frame; audio is opt-in. fal "
        "states one rate and does not say whether audio changes it, so audio is quoted higher." + FOLLOWS_IMAGE,
        modes=BOTH,
        durations=tuple(float(s) for s in range(3, 16)),
        default_duration=5.0,
        aspect_ratios=("16:9", "9:16", "1:1"),
        default_aspect_ratio="16:9",
        resolutions=("4k",),
        default_resolution="4k",
        audio=True,
        max_images=1,
        end_image=True,
        price=PriceRule(
            per_second=0.42,
            per_second_audio=0.56,
            note=(
                "$0.42/s any length (fal's Kling guide: 'Kling O3 4K adds native 4K at $0.42 per second'); it does "
                "not say whether audio costs more, so with audio $0.56/s, $0.42 x 4/3 (O3 Standard's audio ratio)"
            ),
        ),
        price_source="https://fal.ai/learn/tools/kling-api",
        price_checked=TODAY,
        typical_seconds=300.0,
    ),
    ModelSpec(
        id="veo-3.1",
        name="Google Veo 3.1",
        description="Google's Veo 3.1 with native audio (on by default): text, image, or first and last frame.",
        modes=BOTH,
        durations=(4.0, 6.0, 8.0),
        default_duration=8.0,
        aspect_ratios=("16:9", "9:16"),
        default_aspect_ratio="16:9",
        # fal also offers 4k ($0.40/s, $0.60/s with audio): left out to keep one rate per audio setting.
        resolutions=("720p", "1080p"),
        default_resolution="720p",
        audio=True,
        default_audio=True,
        max_images=1,
        end_image=True,
        negative_prompt=True,
        seed=True,
        price=PriceRule(per_second=0.20, per_second_audio=0.40, note="720p and 1080p alike; audio rate with audio"),
        price_source=_page("fal-ai/veo3.1"),
        price_checked=CHECKED,
        typical_seconds=90.0,
    ),
    ModelSpec(
        id="veo-3.1-fast",
        name="Google Veo 3.1 Fast",
        description="Veo 3.1's faster, cheaper tier with native audio: text, image, or first and last frame.",
        modes=BOTH,
        durations=(4.0, 6.0, 8.0),
        default_duration=8.0,
        aspect_ratios=("16:9", "9:16"),
        default_aspect_ratio="16:9",
        resolutions=("720p", "1080p"),  # 4k ($0.30/s, $0.35/s with audio) left out, as for veo-3.1
        default_resolution="720p",
        audio=True,
        default_audio=True,
        max_images=1,
        end_image=True,
        negative_prompt=True,
        seed=True,
        price=PriceRule(per_second=0.10, per_second_audio=0.15, note="720p and 1080p alike; audio rate with audio"),
        price_source=_page("fal-ai/veo3.1/fast/first-last-frame-to-video"),
        price_checked=CHECKED,
        typical_seconds=60.0,
    ),
    ModelSpec(
        id="wan-2.5",
        name="Wan 2.5 (preview)",
        description="Alibaba's Wan 2.5, text or image to video at 480p, 720p or 1080p." + FOLLOWS_IMAGE,
        modes=BOTH,
        durations=(5.0, 10.0),
        default_duration=5.0,
        aspect_ratios=("16:9", "9:16", "1:1"),
        default_aspect_ratio="16:9",
        resolutions=("480p", "720p", "1080p"),
        default_resolution="720p",  # fal's default is 1080p, at three times the 480p rate: asked for, not assumed
        max_images=1,
        negative_prompt=True,
        seed=True,
        max_prompt_chars=1500,
        price=PriceRule(
            per_second=0.05,
            resolution_factor={"720p": 2.0, "1080p": 3.0},
            note="by resolution: $0.05/s at 480p, $0.10/s at 720p, $0.15/s at 1080p",
        ),
        price_source=_page("fal-ai/wan-25-preview/image-to-video"),
        price_checked=CHECKED,
        typical_seconds=120.0,
    ),
    ModelSpec(
        id="wan-2.6-flash",
        name="Wan 2.6 Flash",
        description="Alibaba's Wan 2.6 (flash), image to video of 5, 10 or 15 s at 720p or 1080p with native audio "
        "(on by default; silent costs half)." + FOLLOWS_IMAGE,
        modes=(IMAGE,),
        durations=(5.0, 10.0, 15.0),
        default_duration=5.0,
        aspect_ratios=("16:9", "9:16", "1:1"),
        default_aspect_ratio="16:9",
        resolutions=("720p", "1080p"),
        default_resolution="720p",  # fal's default is 1080p, at 1.5 times the 720p rate: asked for, not assumed
        audio=True,
        default_audio=True,
        max_images=1,
        negative_prompt=True,
        seed=True,
        max_prompt_chars=1500,
        price=PriceRule(
            per_second=0.025,
            per_second_audio=0.05,
            resolution_factor={"1080p": 1.5},
            note=(
                "with audio $0.05/s at 720p, $0.075/s at 1080p, any length (fal's price text for this endpoint, read "
                "in a copy of fal's pricing notes of 2026-03-10); silent half that, as fal's generate_audio field says"
            ),
        ),
        price_source="https://fal.ai/models/wan/v2.6/image-to-video/flash",
        price_checked="2026-03-10",
        typical_seconds=90.0,
    ),
    ModelSpec(
        id="wan-2.7",
        name="Wan 2.7",
        description="Alibaba's Wan 2.7, 2 to 15 s at 720p or 1080p, from text or a start (and end) frame."
        + FOLLOWS_IMAGE,
        modes=BOTH,
        durations=tuple(float(s) for s in range(2, 16)),
        default_duration=5.0,
        aspect_ratios=("16:9", "9:16", "1:1", "4:3", "3:4"),
        default_aspect_ratio="16:9",
        resolutions=("720p", "1080p"),
        default_resolution="720p",
        max_images=1,
        end_image=True,
        negative_prompt=True,
        seed=True,
        max_prompt_chars=5000,
        price=PriceRule(
            per_second=0.10,
            resolution_factor={"1080p": 1.5},
            note="$0.10/s at 720p, $0.15/s at 1080p (read on the image-to-video page)",
        ),
        price_source=_page("fal-ai/wan/v2.7/image-to-video"),
        price_checked=CHECKED,
        typical_seconds=150.0,
    ),
    ModelSpec(
        id="hailuo-02",
        name="MiniMax Hailuo-02 Standard",
        description="MiniMax Hailuo-02: 768P text-to-video; image-to-video at 512P or 768P, optional end frame."
        + FOLLOWS_IMAGE,
        modes=BOTH,
        durations=(6.0, 10.0),
        default_duration=6.0,
        aspect_ratios=("16:9",),
        default_aspect_ratio="16:9",
        resolutions=("768P", "512P"),
        default_resolution="768P",
        max_images=1,
        end_image=True,
        max_prompt_chars=2000,
        price=PriceRule(
            per_second=0.045,
            resolution_factor={"512P": 0.02 / 0.045},
            note="$0.045/s at 768P; 512P quoted at $0.02/s, fal's 'roughly $0.017/s' rounded up (a rough figure)",
        ),
        price_source=_page("fal-ai/minimax/hailuo-02/standard/image-to-video"),
        price_checked=CHECKED,
        typical_seconds=180.0,
    ),
    ModelSpec(
        id="hailuo-2.3",
        name="MiniMax Hailuo 2.3 Standard",
        description="MiniMax Hailuo 2.3 (standard), 768P text or image to video of 6 or 10 s." + FOLLOWS_IMAGE,
        modes=BOTH,
        durations=(6.0, 10.0),
        default_duration=6.0,
        aspect_ratios=("16:9",),
        default_aspect_ratio="16:9",
        resolutions=("768P",),
        default_resolution="768P",
        max_images=1,
        max_prompt_chars=2000,
        price=PriceRule(by_duration={"6": 0.28, "10": 0.56}),
        price_source=_page("fal-ai/minimax/hailuo-2.3/standard/text-to-video"),
        price_checked=CHECKED,
        typical_seconds=180.0,
    ),
    ModelSpec(
        id="luma-ray-2-flash",
        name="Luma Ray 2 Flash",
        description="Luma Dream Machine Ray 2 Flash: text or image (optional end frame), 540p to 1080p.",
        modes=BOTH,
        durations=(5.0, 9.0),
        default_duration=5.0,
        aspect_ratios=("16:9", "9:16", "4:3", "3:4", "21:9", "9:21"),
        default_aspect_ratio="16:9",
        resolutions=("540p", "720p", "1080p"),
        default_resolution="540p",
        max_images=1,
        end_image=True,
        price=PriceRule(
            by_duration={"5": 0.20, "9": 0.40},
            resolution_factor={"720p": 2.0, "1080p": 4.0},
            note="$0.20 per 5 s at 540p; 9 s costs 2x, 720p 2x, 1080p 4x",
        ),
        price_source=_page("fal-ai/luma-dream-machine/ray-2-flash"),
        price_checked=CHECKED,
        typical_seconds=60.0,
    ),
    ModelSpec(
        id="ltx-2.3",
        name="LTX-2.3 Pro",
        description="Lightricks LTX-2.3, 6 to 10 s at 1080p to 2160p with audio (on by default)." + FOLLOWS_IMAGE,
        modes=BOTH,
        durations=(6.0, 8.0, 10.0),
        default_duration=6.0,
        aspect_ratios=("16:9", "9:16"),
        default_aspect_ratio="16:9",
        resolutions=("1080p", "1440p", "2160p"),
        default_resolution="1080p",
        audio=True,
        default_audio=True,
        max_images=1,
        end_image=True,
        price=PriceRule(
            per_second=0.08,
            resolution_factor={"1440p": 2.0, "2160p": 4.0},
            note="text-to-video rates, audio or not; image-to-video bills less ($0.06/s at 1080p)",
        ),
        price_source=_page("fal-ai/ltx-2.3/text-to-video"),
        price_checked=CHECKED,
        typical_seconds=90.0,
    ),
    ModelSpec(
        id="seedance-2.0",
        name="ByteDance Seedance 2.0",
        description="ByteDance Seedance 2.0, 720p, 4 to 15 s with audio, from text or a start (and end) frame."
        + FOLLOWS_IMAGE,
        modes=BOTH,
        durations=tuple(float(s) for s in range(4, 16)),
        default_duration=5.0,
        aspect_ratios=("16:9", "9:16"),
        default_aspect_ratio="16:9",
        resolutions=("720p",),
        default_resolution="720p",
        audio=True,
        default_audio=True,
        max_images=1,
        end_image=True,
        price=PriceRule(per_second=0.3034, note="$0.3034/s at 720p, audio or not (fal bills by output tokens)"),
        price_source="https://fal.ai/models/bytedance/seedance-2.0/text-to-video/playground",
        price_checked=CHECKED,
        typical_seconds=180.0,
    ),
    ModelSpec(
        id="pika-2.2",
        name="Pika 2.2",
        description="Pika 2.2, text or image to video at 720p or 1080p." + FOLLOWS_IMAGE,
        modes=BOTH,
        durations=(5.0, 10.0),
        default_duration=5.0,
        aspect_ratios=("16:9", "9:16", "1:1", "4:5", "5:4", "3:2", "2:3"),
        default_aspect_ratio="16:9",
        resolutions=("720p", "1080p"),
        default_resolution="720p",
        max_images=1,
        negative_prompt=True,
        seed=True,
        price=PriceRule(
            by_duration={"5": 0.20, "10": 0.40},
            resolution_factor={"1080p": 2.25},
            note="$0.20 per 5 s at 720p, $0.45 per 5 s at 1080p; 10 s bills double",
        ),
        price_source=_page("fal-ai/pika/v2.2/text-to-video"),
        price_checked=CHECKED,
        typical_seconds=60.0,
    ),
    ModelSpec(
        id="pixverse-v5",
        name="PixVerse v5",
        description="PixVerse v5, text or image to video from 360p to 1080p (1080p: 5 s only)." + FOLLOWS_IMAGE,
        modes=BOTH,
        durations=(5.0, 8.0),
        default_duration=5.0,
        aspect_ratios=("16:9", "4:3", "1:1", "3:4", "9:16"),
        default_aspect_ratio="16:9",
        resolutions=("360p", "540p", "720p", "1080p"),
        default_resolution="720p",
        max_images=1,
        negative_prompt=True,
        seed=True,
        max_prompt_chars=2048,
        price=PriceRule(
            by_duration={"5": 0.35, "8": 0.70},
            resolution_factor={"720p": 0.45 / 0.35, "1080p": 0.80 / 0.35},
            note=(
                "no v5 price found: quoted high at fal's top PixVerse rates per 5 s ($0.35 360p/540p, $0.45 720p, "
                "$0.80 1080p); 8 s bills double"
            ),
        ),
        price_source=_page("fal-ai/pixverse/v5.6/transition"),
        price_checked=CHECKED,
        typical_seconds=60.0,
    ),
    ModelSpec(
        id="pixverse-v5.5",
        name="PixVerse v5.5",
        description="PixVerse v5.5, 5, 8 or 10 s from 360p to 1080p (1080p: 5 or 8 s), silent." + FOLLOWS_IMAGE,
        modes=BOTH,
        durations=(5.0, 8.0, 10.0),
        default_duration=5.0,
        aspect_ratios=("16:9", "4:3", "1:1", "3:4", "9:16"),
        default_aspect_ratio="16:9",
        resolutions=("360p", "540p", "720p", "1080p"),
        default_resolution="720p",
        max_images=1,
        negative_prompt=True,
        seed=True,
        max_prompt_chars=2048,
        price=PriceRule(
            by_duration={"5": 0.35, "8": 0.70, "10": 0.77},
            resolution_factor={"720p": 0.45 / 0.35, "1080p": 0.80 / 0.35},
            note=(
                "no v5.5 price found: quoted high at fal's top PixVerse rates per 5 s ($0.35 360p/540p, $0.45 720p, "
                "$0.80 1080p); 8 s 2x, 10 s 2.2x"
            ),
        ),
        price_source=_page("fal-ai/pixverse/v5.6/transition"),
        price_checked=CHECKED,
        typical_seconds=60.0,
    ),
    ModelSpec(
        id="pixverse-v6",
        name="PixVerse v6",
        description="PixVerse v6, 1 to 15 s from 360p to 1080p, silent." + FOLLOWS_IMAGE,
        modes=BOTH,
        durations=tuple(float(s) for s in range(1, 16)),
        default_duration=5.0,
        aspect_ratios=("16:9", "4:3", "1:1", "3:4", "9:16", "2:3", "3:2", "21:9"),
        default_aspect_ratio="16:9",
        resolutions=("360p", "540p", "720p", "1080p"),
        default_resolution="720p",
        max_images=1,
        negative_prompt=True,
        seed=True,
        max_prompt_chars=2048,
        price=PriceRule(
            per_second=0.045,
            resolution_factor={"360p": 0.025 / 0.045, "540p": 0.035 / 0.045, "1080p": 2.0},
            note="per second without audio: $0.025 360p, $0.035 540p, $0.045 720p, $0.090 1080p",
        ),
        price_source="https://fal.ai/models/pixverse/v6/text-to-video",
        price_checked=CHECKED,
        typical_seconds=60.0,
    ),
)

PIXVERSE_BYTES = 2048  # "Limited to 2048 UTF-8 encoded bytes" (prompt and negative prompt, every PixVerse input)
SILENT = {"generate_audio_switch": False}  # PixVerse's audio costs extra and is not offered here

WIRES: dict[str, Wire] = {
    "kling-2.6-pro": Wire(
        text="fal-ai/kling-video/v2.6/pro/text-to-video",
        image="fal-ai/kling-video/v2.6/pro/image-to-video",
        duration=_plain,
        image_field="start_image_url",
        end_field="end_image_url",
        ratio=(TEXT,),
        cfg=(TEXT,),  # the image-to-video schema has no cfg_scale (and no aspect_ratio)
    ),
    "kling-2.5-turbo-pro": Wire(
        text="",
        image="fal-ai/kling-video/v2.5-turbo/pro/image-to-video",
        duration=_plain,
        end_field="tail_image_url",
        cfg=(IMAGE,),
    ),
    "kling-3.0-standard": Wire(
        text="fal-ai/kling-video/v3/standard/text-to-video",
        image="fal-ai/kling-video/v3/standard/image-to-video",
        duration=_plain,
        image_field="start_image_url",
        end_field="end_image_url",
        ratio=(TEXT,),  # the image-to-video schema has no aspect_ratio (the start image sets it)
        cfg=BOTH,
    ),
    "kling-3.0-pro": Wire(
        text="fal-ai/kling-video/v3/pro/text-to-video",
        image="fal-ai/kling-video/v3/pro/image-to-video",
        duration=_plain,
        image_field="start_image_url",
        end_field="end_image_url",
        ratio=(TEXT,),
        cfg=BOTH,
    ),
    "kling-o3-standard": Wire(
        text="fal-ai/kling-video/o3/standard/text-to-video",
        image="fal-ai/kling-video/o3/standard/image-to-video",
        duration=_plain,
        end_field="end_image_url",
        ratio=(TEXT,),
    ),
    "kling-o3-4k": Wire(
        text="fal-ai/kling-video/o3/4k/text-to-video",
        image="fal-ai/kling-video/o3/4k/image-to-video",
        duration=_plain,
        end_field="end_image_url",
        ratio=(TEXT,),
    ),
    "veo-3.1": Wire(
        text="fal-ai/veo3.1",
        image="fal-ai/veo3.1/image-to-video",
        first_last="fal-ai/veo3.1/first-last-frame-to-video",
        duration=_suffixed,
        ratio=BOTH,
        resolution=BOTH,
    ),
    "veo-3.1-fast": Wire(
        text="fal-ai/veo3.1/fast",
        image="fal-ai/veo3.1/fast/image-to-video",
        first_last="fal-ai/veo3.1/fast/first-last-frame-to-video",
        duration=_suffixed,
        ratio=BOTH,
        resolution=BOTH,
    ),
    "wan-2.5": Wire(
        text="fal-ai/wan-25-preview/text-to-video",
        image="fal-ai/wan-25-preview/image-to-video",
        duration=_plain,
        ratio=(TEXT,),
        resolution=BOTH,
        negative_chars=500,
    ),
    "wan-2.6-flash": Wire(
        text="",
        image="wan/v2.6/image-to-video/flash",
        duration=_plain,
        resolution=(IMAGE,),
        negative_chars=500,
    ),
    "wan-2.7": Wire(
        text="fal-ai/wan/v2.7/text-to-video",
        image="fal-ai/wan/v2.7/image-to-video",
        duration=_integer,
        end_field="end_image_url",
        ratio=(TEXT,),
        resolution=BOTH,
        negative_chars=500,
        max_seed=2**31 - 1,
    ),
    "hailuo-02": Wire(
        text="fal-ai/minimax/hailuo-02/standard/text-to-video",
        image="fal-ai/minimax/hailuo-02/standard/image-to-video",
        duration=_plain,
        end_field="end_image_url",
        resolution=(IMAGE,),
    ),
    "hailuo-2.3": Wire(
        text="fal-ai/minimax/hailuo-2.3/standard/text-to-video",
        image="fal-ai/minimax/hailuo-2.3/standard/image-to-video",
        duration=_plain,
    ),
    "luma-ray-2-flash": Wire(
        text="fal-ai/luma-dream-machine/ray-2-flash",
        image="fal-ai/luma-dream-machine/ray-2-flash/image-to-video",
        duration=_suffixed,
        end_field="end_image_url",
        ratio=BOTH,
        resolution=BOTH,
    ),
    "ltx-2.3": Wire(
        text="fal-ai/ltx-2.3/text-to-video",
        image="fal-ai/ltx-2.3/image-to-video",
        duration=_integer,
        end_field="end_image_url",
        ratio=(TEXT,),
        resolution=BOTH,
    ),
    "seedance-2.0": Wire(
        text="bytedance/seedance-2.0/text-to-video",
        image="bytedance/seedance-2.0/image-to-video",
        duration=_plain,
        end_field="end_image_url",
        ratio=(TEXT,),
        resolution=BOTH,
    ),
    "pika-2.2": Wire(
        text="fal-ai/pika/v2.2/text-to-video",
        image="fal-ai/pika/v2.2/image-to-video",
        duration=_integer,
        ratio=(TEXT,),
        resolution=BOTH,
    ),
    "pixverse-v5": Wire(
        text="fal-ai/pixverse/v5/text-to-video",
        image="fal-ai/pixverse/v5/image-to-video",
        duration=_plain,
        ratio=(TEXT,),
        resolution=BOTH,
        utf8_bytes=PIXVERSE_BYTES,
    ),
    "pixverse-v5.5": Wire(
        text="fal-ai/pixverse/v5.5/text-to-video",
        image="fal-ai/pixverse/v5.5/image-to-video",
        duration=_plain,
        ratio=(TEXT,),
        resolution=BOTH,
        utf8_bytes=PIXVERSE_BYTES,
        fixed=SILENT,
    ),
    "pixverse-v6": Wire(
        text="fal-ai/pixverse/v6/text-to-video",
        image="fal-ai/pixverse/v6/image-to-video",
        duration=_integer,
        ratio=(TEXT,),
        resolution=BOTH,
        utf8_bytes=PIXVERSE_BYTES,
        fixed=SILENT,
    ),
}


def _unsupported(request: VideoRequest) -> str | None:
    """Limits that span two fields, or that fal's schema sets and a ModelSpec cannot hold (checked before any
    job exists)."""
    wire, model = WIRES[request.model], request.model
    if model == "hailuo-02" and request.mode == TEXT and request.resolution != "768P":
        return "hailuo-02 text-to-video is 768P only (512P needs a start image); use resolution 768P"
    if model == "pixverse-v5" and request.resolution == "1080p" and request.duration != 5:
        return "pixverse-v5 makes 1080p videos of 5 s only; use duration 5 or a lower resolution"
    if model == "pixverse-v5.5" and request.resolution == "1080p" and request.duration == 10:
        return "pixverse-v5.5 makes 1080p videos of 5 or 8 s only; use one of those or a lower resolution"
    if "cfg_scale" in request.options and request.mode not in wire.cfg:
        where = " or ".join(m.replace("_", "-") for m in wire.cfg)
        return f"{model} takes cfg_scale in {where} only; leave it out for {request.mode.replace('_', '-')}"
    negative = request.negative_prompt or ""
    if wire.negative_chars and len(negative) > wire.negative_chars:
        return (
            f"negative_prompt is {len(negative)} characters; {model} accepts at most {wire.negative_chars}. Shorten it."
        )
    for name, text in (("prompt", request.prompt), ("negative_prompt", negative)):
        size = len(text.encode("utf-8"))
        if wire.utf8_bytes and size > wire.utf8_bytes:
            return (
                f"{name} is {size} bytes in UTF-8; {model} accepts at most {wire.utf8_bytes} bytes (accented and "
                "non-Latin characters take 2-3 bytes each, emoji 4). Shorten it."
            )
    if wire.max_seed and request.seed is not None and request.seed > wire.max_seed:
        return f"seed {request.seed} is out of range for {model}; allowed: 0 to {wire.max_seed}"
    return None


# What a COMPLETED request's error_type means for us: (code, whether submitting again may work).
JOB_ERRORS: dict[str, tuple[ErrorCode, bool]] = {
    "content_policy_violation": (ErrorCode.CONTENT_POLICY, False),
    **dict.fromkeys(
        ("image_too_small", "image_too_large", "image_load_error", "file_download_error", "file_too_large"),
        (ErrorCode.INVALID_INPUT, False),
    ),
    **dict.fromkeys(
        (
            "internal_server_error",
            "internal_error",
            "generation_timeout",
            "request_timeout",
            "downstream_service_error",
            "downstream_service_unavailable",
            "runner_scheduling_failure",
            "runner_incomplete_response",
            "runner_server_error",
            "runner_disconnected",
            "startup_timeout",
        ),
        (ErrorCode.PROVIDER_FAILED, True),
    ),
}
# fal's request errors (docs: model-apis/request-errors): a request cancelled by its caller ends with
# error_type client_cancelled, HTTP 499. The other two are older names, still read as cancelled.
CANCELLED_TYPES = {"client_cancelled", "request_cancelled", "cancelled"}


def _failed_as(code: ErrorCode, again: bool, **when: Any) -> Rule:
    hint = {
        ErrorCode.CONTENT_POLICY: "Change the prompt or images and submit again.",
        ErrorCode.INVALID_INPUT: "Fix the input as described and submit again.",
    }.get(code, "Submitting again may work." if again else "Check the request before submitting again.")
    return Rule(code, "fal.ai could not make the video: {what}{kind}. " + hint, retryable=again, **when)


# A failed request's error_type (the Rule's code): the JOB_ERRORS groups, then runner_connection_* (timeout,
# refused, ...), all passing faults; any other type is a failure submitting again will not mend.
_GROUPS: dict[tuple[ErrorCode, bool], list[str]] = {}
for _kind, _meaning in JOB_ERRORS.items():
    _GROUPS.setdefault(_meaning, []).append(re.escape(_kind))
FAILURES = (
    *(_failed_as(code, again, match=f"^({'|'.join(kinds)})$") for (code, again), kinds in _GROUPS.items()),
    _failed_as(ErrorCode.PROVIDER_FAILED, True, match="^runner_connection_"),
)
FAILED_SOMEHOW = _failed_as(ErrorCode.PROVIDER_FAILED, False)

# fal's error answers (an HTTP status, `detail`, the error type of the body or X-Fal-Error-Type): the first row
# that applies wins. {kind} / {also}: the error type, if any; {missing}: a request or an endpoint, by the path.
GONE_REQUEST = (
    "fal.ai no longer knows this request ({detail}); fal keeps requests for a limited time. Submit the video again."
)
NO_ENDPOINT = "fal.ai has no model endpoint at {where} ({detail}); the model may have been retired."
_CONTENT_ROW = Rule(
    ErrorCode.CONTENT_POLICY,
    "fal.ai refused the content: {detail}. Change the prompt or images and submit again.",
    match="^content_policy_violation$",
)
_TEMPORARY = "fal.ai had a temporary problem (HTTP {status}{kind}: {detail}); retry in a moment."
ERRORS = (
    _CONTENT_ROW,
    Rule(ErrorCode.AUTH, "fal.ai rejected the API key ({detail}); check FAL_KEY (keys are made at " + KEYS + ").",
         status=401),
    Rule(ErrorCode.OUT_OF_CREDIT, "fal.ai account is out of credit ({detail}); top up at " + BILLING + ", then "
         "submit again.", status=403, text="locked|balance"),
    Rule(ErrorCode.AUTH, "fal.ai refused access ({detail}); check that FAL_KEY is valid and may use this model.",
         status=403),
    Rule(ErrorCode.NOT_FOUND, "{missing}", status=(404, 410)),
    Rule(ErrorCode.RATE_LIMITED, "fal.ai is rate limiting this key ({detail}); too many requests or jobs at once. "
         "Retry later.", status=429),
    Rule(ErrorCode.TRANSIENT, _TEMPORARY, status=range(500, 1000)),
    Rule(ErrorCode.TRANSIENT, _TEMPORARY, status=408),
    Rule(ErrorCode.INVALID_INPUT, "fal.ai rejected the request (HTTP {status}): {detail}. Fix the input and submit "
         "again."),
)  # fmt: skip
# With X-Fal-Retryable: false a server error is final: this row comes before the others (after the content row).
FINAL_ERRORS = (
    _CONTENT_ROW,
    Rule(ErrorCode.PROVIDER_FAILED, "fal.ai failed ({detail}{also}) and says retrying will not help.",
         status=range(500, 1000)),
    *ERRORS[1:],
)  # fmt: skip


_PERCENT = re.compile(r"(\d{1,3}(?:\.\d+)?)\s*%")


# -- fal's answers, typed -----------------------------------------------------------------------
# Tolerant on purpose: a field of the wrong type reads as missing (None) instead of failing the whole answer,
# so each caller decides what a missing field means, as fal's own client does with dict lookups.


class _Answer(BaseModel):
    model_config = ConfigDict(extra="ignore")


class QueueAnswer(_Answer):
    """The submit's answer: the request id and the URLs to follow (never rebuilt)."""

    request_id: Annotated[str | int | None, Lenient] = None
    status_url: Annotated[str | None, Lenient] = None
    response_url: Annotated[str | None, Lenient] = None
    cancel_url: Annotated[str | None, Lenient] = None


class LogLine(_Answer):
    message: Annotated[str, Lenient] = ""


class QueueStatus(_Answer):
    """GET .../status: IN_QUEUE (queue_position) | IN_PROGRESS (logs) | COMPLETED (maybe error, error_type)."""

    status: Annotated[str | None, Lenient] = None
    queue_position: Annotated[int | None, Lenient] = None
    logs: Annotated[list[Annotated[LogLine | None, Lenient]] | None, Lenient] = None
    error: Any = None
    error_type: Annotated[str | None, Lenient] = None


class VideoFile(_Answer):
    url: Annotated[str | None, Lenient] = None


class VideoOutput(_Answer):
    """A video endpoint's result: {"video": File}."""

    video: Annotated[VideoFile | None, Lenient] = None


class ErrorAnswer(_Answer):
    """{"detail": "..." | [{loc, msg, type}], "error_type": "..."}; `detail` stays as sent (see _text)."""

    detail: Any = None
    error_type: Annotated[str | None, Lenient] = None


class CancelAnswer(_Answer):
    status: Annotated[str | None, Lenient] = None


class Webhook(_Answer):
    """{request_id, gateway_request_id, status: OK | ERROR, payload, error, payload_error}."""

    request_id: Any = None
    status: Annotated[str | None, Lenient] = None
    payload: Annotated[dict[str, Any] | None, Lenient] = None
    error: Annotated[str | None, Lenient] = None


class FalProvider(Provider):
    name = "fal"
    title = "fal.ai"
    env_vars = ("FAL_KEY",)
    default_model = "kling-2.6-pro"
    models = MODELS
    supports_cancel = True
    supports_callbacks = True  # ?fal_webhook=<url>: one POST when the request completes
    base_url_default = "https://queue.fal.run"
    # How long a model read from fal's published schema and price is trusted before it is read again.
    describe_ttl: float = DESCRIBE_TTL
    search_without_key = True  # the Platform API's model search: "Authentication: Optional"
    id_field = "request id and status URLs"
    where_to_check = "fal.ai's request history (fal.ai/dashboard/requests)"

    def __init__(self, env: Mapping[str, str] | None = None, allowed_dirs: Any = (), tuning: Tuning | None = None):
        super().__init__(env, allowed_dirs, tuning)
        # endpoint id -> (what was read or None: no such usable endpoint, when it was read)
        self._described: dict[str, tuple[Described | None, float]] = {}
        self._reading: dict[str, anyio.Lock] = {}
        self._site: ProviderHTTP | None = None  # fal.ai: the published OpenAPI documents (public, no key)
        self._platform: ProviderHTTP | None = None  # api.fal.ai/v1: model search and pricing (Key auth)

    # -- any endpoint by its id ----------------------------------------------------------------
    def _described_entry(self, model: str) -> Described | None:
        entry = self._described.get(model)
        return entry[0] if entry else None

    async def describe(self, model_id: str) -> ModelSpec | None:
        """The spec of any fal endpoint (e.g. fal-ai/kling-video/v2.1/standard/text-to-video), from its published
        queue OpenAPI document and the price fal's Platform API gives for it; cached for `describe_ttl` seconds
        (the spec joins `models`, so the synchronous catalog finds it). None: not an endpoint id, no such
        endpoint, or not one our fields map onto (no text prompt, or no video in its output). Raises
        ProviderError, saying what failed, when the schema cannot be read."""
        model_id = model_id.strip()
        if model_id in WIRES:
            return self.spec(model_id)
        if not ENDPOINT_ID.match(model_id):
            return None
        async with self._reading.setdefault(model_id, anyio.Lock()):  # one read per model, however many ask
            return await self._describe(model_id)

    async def _describe(self, model_id: str) -> ModelSpec | None:
        entry = self._described.get(model_id)
        if entry is not None and time.monotonic() - entry[1] < self.describe_ttl:
            return entry[0].spec if entry[0] else None
        try:
            found = await self._read(model_id)
        except ProviderError:
            if entry is not None and entry[0] is not None:
                return entry[0].spec  # stale but known: better than failing a model that ran an hour ago
            raise
        self._described[model_id] = (found, time.monotonic())
        self.models = (*(m for m in self.models if m.id != model_id), *([found.spec] if found else []))
        return found.spec if found else None

    async def _read(self, endpoint: str) -> Described | None:
        try:
            response = await self.site.request(
                "GET", "/api/openapi/queue/openapi.json", params={"endpoint_id": endpoint}
            )
        except ProviderError as error:
            if error.code == ErrorCode.NOT_FOUND:
                return None
            raise ProviderError(
                error.code if error.code != ErrorCode.INVALID_INPUT else ErrorCode.PROVIDER_FAILED,
                f"Could not read fal.ai's published schema for {endpoint} ({error.message.rstrip('.')}). Nothing "
                "was started. Try again in a moment, or choose a curated fal model (list_models provider=fal).",
                retryable=error.retryable,
            ) from None
        document = json_body(response, None)
        if not isinstance(document, dict) or not isinstance(document.get("paths"), dict):
            raise ProviderError(
                ErrorCode.PROVIDER_FAILED,
                f"fal.ai answered the schema request for {endpoint} with something that is not an OpenAPI "
                "document. Nothing was started. Try again later, or choose a curated fal model.",
                retryable=True,
            )
        read = from_openapi(endpoint, document)
        if read is None:
            return None
        unit, reason = await self._price(endpoint)
        return read.priced_by(unit, reason)

    async def _price(self, endpoint: str) -> tuple[PriceEntry | None, str]:
        """fal's price for one endpoint (GET /v1/models/pricing?endpoint_id=), or why there is none."""
        if not self.env.get("FAL_KEY", "").strip():
            return None, "set FAL_KEY: fal's pricing API answers only with a key"
        try:
            response = await self.platform.request("GET", "/v1/models/pricing", params={"endpoint_id": endpoint})
        except ProviderError as error:
            if error.code in (ErrorCode.NOT_FOUND, ErrorCode.AUTH, ErrorCode.INVALID_INPUT):
                return None, error.message.rstrip(".")
            raise ProviderError(
                error.code,
                f"Could not read fal.ai's price for {endpoint} ({error.message.rstrip('.')}). Nothing was "
                "started. Try again in a moment.",
                retryable=error.retryable,
            ) from None
        answer = PricingAnswer.model_validate(json_body(response, {}) or {})
        entry = next((p for p in answer.prices or [] if p is not None and p.endpoint_id == endpoint), None)
        if entry is None or entry.unit_price is None:
            return None, "fal's pricing API lists no price for it"
        return entry, ""

    async def search(self, text: str, limit: int = 8) -> list[str]:
        """Endpoint ids of fal's video models matching `text` (GET /v1/models?q=...&status=active), best first."""
        try:
            response = await self.platform.request(
                "GET", "/v1/models", params={"q": text, "status": "active", "limit": 50}
            )
        except ProviderError as error:
            raise ProviderError(
                error.code,
                f"fal.ai's model search failed ({error.message.rstrip('.')}). Try again in a moment, or name an "
                "endpoint id as model.",
                retryable=error.retryable,
            ) from None
        answer = SearchAnswer.model_validate(json_body(response, {}) or {})
        curated = {endpoint: model for model, wire in WIRES.items() for endpoint in (wire.text, wire.image) if endpoint}
        ids = [
            curated.get(hit.endpoint_id, hit.endpoint_id)  # an endpoint of a curated model is that model
            for hit in answer.models or []
            if hit is not None and hit.endpoint_id and (hit.metadata and hit.metadata.category) in VIDEO_CATEGORIES
        ]
        return list(dict.fromkeys(ids))[:limit]

    @property
    def site(self) -> ProviderHTTP:
        if self._site is None:
            from providers.http import ProviderHTTP

            self._site = ProviderHTTP(
                self.title, self._host("SCHEMA", SCHEMA_URL), policy=self.retry_policy(), error_mapper=_site_error
            )
        return self._site

    @property
    def platform(self) -> ProviderHTTP:
        if self._platform is None:
            from providers.http import ProviderHTTP

            key = self.env.get("FAL_KEY", "").strip()
            self._platform = ProviderHTTP(
                self.title,
                self._host("API", PLATFORM_URL),
                headers={"Authorization": f"Key {key}"} if key else {},
                secrets=self.secrets(),
                policy=self.retry_policy(),
                error_mapper=lambda response: _platform_error(response, self.http.redact),
            )
        return self._platform

    def _host(self, which: str, default: str) -> str:
        """VIDEOGEN_FAL_<which>_BASE_URL, else VIDEOGEN_FAL_BASE_URL when set (a simulator or a proxy serving all
        of fal's hosts under one root), else fal's own host."""
        own = self.env.get(f"VIDEOGEN_FAL_{which}_BASE_URL") or self.env.get("VIDEOGEN_FAL_BASE_URL") or default
        return own.rstrip("/")

    async def aclose(self) -> None:
        for name in ("_site", "_platform"):
            client = getattr(self, name)
            if client is not None:
                setattr(self, name, None)
                await client.aclose()
        await super().aclose()

    def poll_interval(self, spec: ModelSpec, elapsed: float) -> float:
        # fal jobs take 1-5 minutes and status reads are cheap: every 2 s at first, easing to 5 s.
        return min(5.0, 2.0 + elapsed / 30)

    # -- requests ------------------------------------------------------------------------------
    def check(self, request: VideoRequest) -> None:
        if request.model not in WIRES:  # a model read from its published schema: checked against that schema
            described = self._described_entry(request.model)
            if described is None:
                raise InvalidRequest(f"{request.model} is not a fal model this server has read; see list_models")
            described.body(request, lambda image: "https://images.invalid/placeholder.png")
            if not described.spec.priced:  # nobody can approve a cost nobody can quote: refused before a job
                raise InvalidRequest(
                    f"fal.ai's pricing API gives no price for {request.model} that can be quoted before it runs "
                    f"({described.unpriced}), so it is not offered. Choose a priced model (list_models provider=fal "
                    "search=<words>)."
                )
            return
        if reason := _unsupported(request):
            raise InvalidRequest(reason)
        cfg = request.options.get("cfg_scale")
        if cfg is not None and (isinstance(cfg, bool) or not isinstance(cfg, int | float) or not 0 <= cfg <= 1):
            raise InvalidRequest(f"cfg_scale must be a number from 0 to 1, not {cfg!r}")

    def payload(self, request: VideoRequest) -> tuple[str, dict[str, Any]]:
        """(endpoint, JSON body) for a validated request; local images become data URIs."""
        from providers.images import to_data_uri

        self.check(request)  # the catalog has run it already; callers that skip the catalog get it too
        if request.model not in WIRES:
            described = self._described_entry(request.model)
            assert described is not None  # check() refused it otherwise
            return described.endpoint, described.body(request, lambda image: to_data_uri(image, self.allowed_dirs))
        wire = WIRES[request.model]
        spec = self.spec(request.model)
        body: dict[str, Any] = {"prompt": request.prompt}
        endpoint = wire.text
        if request.mode == IMAGE:
            start = to_data_uri(request.images[0], self.allowed_dirs)
            end = to_data_uri(request.end_image, self.allowed_dirs) if request.end_image else None
            if end and wire.first_last:
                endpoint = wire.first_last
                body |= {"first_frame_url": start, "last_frame_url": end}
            else:
                endpoint = wire.image
                body[wire.image_field] = start
                if end:
                    body[wire.end_field] = end
        body["duration"] = wire.duration(request.duration)
        if request.mode in wire.ratio:
            body["aspect_ratio"] = request.aspect_ratio
        if request.mode in wire.resolution:
            body["resolution"] = request.resolution
        if spec is not None and spec.audio:
            body["generate_audio"] = request.audio
        if request.negative_prompt:
            body["negative_prompt"] = request.negative_prompt
        if request.seed is not None:
            body["seed"] = request.seed
        if request.mode in wire.cfg:
            body["cfg_scale"] = 0.5  # fal's default, sent so results do not drift with it
        return endpoint, body | dict(wire.fixed) | request.options  # declared options override the fixed values

    # -- the job life cycle --------------------------------------------------------------------
    async def submit(self, job_id: str, request: VideoRequest, callback_url: str | None = None) -> Submission:
        described = self._described_entry(request.model) if request.model not in WIRES else None
        if described is not None and not described.spec.priced:
            raise ProviderError(  # before any request: what cannot be quoted never runs
                ErrorCode.NEEDS_CONFIRMATION,
                f"fal.ai's pricing API gives no price for {request.model} that can be quoted before it runs "
                f"({described.unpriced}). Nothing was started. Choose a priced model (list_models provider=fal).",
                retryable=False,
            )
        endpoint, body = self.payload(request)
        params = {"fal_webhook": callback_url} if callback_url else None
        response = await self.http.request("POST", f"/{endpoint}", json=body, params=params)
        answer = QueueAnswer.model_validate(_json(response))
        urls = {key: getattr(answer, key) for key in ("status_url", "response_url", "cancel_url")}
        if not answer.request_id or not all(isinstance(url, str) for url in urls.values()):
            raise self.no_id(response.status_code, job_id, what=f"the submit to {endpoint}")
        for url in urls.values():
            self._check_host(url)
        # Kept as given: these URLs drop the endpoint subpath, and rebuilding them is how clients go wrong.
        return Submission(ref=str(answer.request_id), state={"endpoint": endpoint, **urls})

    async def poll(self, submission: Submission, request: VideoRequest) -> Snapshot:
        state = submission.state
        data = QueueStatus.model_validate(
            _json(await self.http.request("GET", state["status_url"], params={"logs": "1"}))
        )
        status = (data.status or "").upper()
        if status == "IN_QUEUE":
            position = data.queue_position
            ahead = f", {position} ahead" if position is not None else ""
            return Snapshot(status="queued", queue_position=position, message=f"waiting in fal.ai's queue{ahead}")
        if status == "IN_PROGRESS":
            return _running(data.logs)
        if status in ("CANCELLED", "CANCELED"):  # not in the official client; accepted should fal add it
            return Snapshot(status="cancelled", message="cancelled at fal.ai")
        if status == "FAILED" or (status == "COMPLETED" and (data.error or data.error_type)):
            return _job_failed(data.error, data.error_type)
        if status == "COMPLETED":
            return await self._result(state)
        raise ProviderError(ErrorCode.TRANSIENT, f"fal.ai reported an unknown request status {status!r}")

    async def cancel(self, submission: Submission, request: VideoRequest) -> None:
        # 202 CANCELLATION_REQUESTED: a queued request is dropped, a running one is signalled to stop.
        response = await self.http.request("PUT", submission.state["cancel_url"], expected=(200, 202, 400))
        outcome = CancelAnswer.model_validate(_json(response)).status or ""
        if response.status_code == 400 and outcome != "ALREADY_COMPLETED":
            raise self._error(response)
        submission.state["cancel"] = outcome or "CANCELLATION_REQUESTED"

    async def reconcile(self, job_id: str, request: VideoRequest) -> Submission | None:
        return None  # fal keeps no reference of ours, so a lost submit cannot be found again

    def parse_callback(self, payload: dict[str, Any], submission: Submission) -> Snapshot | None:
        """fal's webhook: {request_id, gateway_request_id, status: OK | ERROR, payload, error}. `payload` is what
        the result URL would answer (the model's output, or its error body); null with `payload_error` when fal
        could not serialise it, and then only a poll can read the result."""
        hook = Webhook.model_validate(payload)
        if about_another_job(hook.request_id, submission.ref):
            return None
        status = (hook.status or "").upper()
        if hook.payload is None or status not in ("OK", "ERROR"):
            return None
        code = 200
        if status == "ERROR":  # error: "Invalid status code: 422" names what the result URL would answer
            found = re.search(r"\b([45]\d\d)\b", hook.error or "")
            code = int(found.group(1)) if found else 500
        try:
            return self._outcome(code, hook.payload, {}, "")
        except ProviderError:
            return None  # an answer that says nothing about the job: poll for it

    # -- internals -----------------------------------------------------------------------------
    def http_options(self) -> dict[str, Any]:
        return {"headers": {"Authorization": f"Key {self.env.get('FAL_KEY', '')}"}, "error_mapper": self._error}

    def _check_host(self, url: str) -> None:
        """The key goes with every status read: never to a host other than the queue's own."""
        ours, theirs = urlsplit(self.base_url), urlsplit(url)
        if (theirs.scheme, theirs.netloc) != (ours.scheme, ours.netloc):
            raise ProviderError(
                ErrorCode.PROVIDER_FAILED,
                f"fal.ai answered with a status URL on another host ({theirs.netloc}); FAL_KEY was not sent "
                "there. The job may still run and be charged: check fal.ai's request history.",
                retryable=False,
            )

    async def _result(self, state: Mapping[str, Any]) -> Snapshot:
        """The output of a COMPLETED request: the video, or the error the model answered with."""
        response = await self.http.request("GET", state["response_url"], expected=range(200, 600))
        return self._outcome(response.status_code, _json(response), response.headers, _path(response))

    def _outcome(self, status: int, body: dict[str, Any], headers: Mapping[str, str], where: str) -> Snapshot:
        """A finished request's result (from the result URL or a webhook) in our terms. Raises when the
        answer says nothing about the job (a gateway's page, a limit): our read failed, so read it again."""
        if status == 200:
            video = VideoOutput.model_validate(body).video
            url = video.url if video is not None else None
            if not url:  # a cut-off or garbled answer: our read failed, not the job; read it again
                raise ProviderError(ErrorCode.TRANSIENT, "fal.ai's result could not be read (no video URL); retrying")
            return Snapshot(status="succeeded", progress=1.0, video_url=url, message="finished at fal.ai")
        kind = _error_type(headers, body)
        if kind in CANCELLED_TYPES:
            return Snapshot(status="cancelled", message="cancelled at fal.ai")
        if "detail" not in body or status in (408, 429):
            raise self._error_for(status, body, headers, where)  # not the job's answer: poll again
        if status >= 500:  # the model failed; fal already retried its runners
            return _job_failed(_text(ErrorAnswer.model_validate(body).detail), kind or "internal_server_error")
        error = self._error_for(status, body, headers, where)
        info = ProviderErrorInfo(code=error.code, message=error.message, retryable=False)
        return Snapshot(status="failed", message=error.message, error=info)

    def _error(self, response: Any) -> ProviderError:
        """ProviderHTTP's error_mapper."""
        return self._error_for(response.status_code, _json(response), response.headers, _path(response))

    def _error_for(self, status: int, body: dict[str, Any], headers: Mapping[str, str], where: str) -> ProviderError:
        """fal's error shapes in our terms: 422 {"detail": [{loc, msg, type}]}, {"detail": "...",
        "error_type": "..."}, X-Fal-Retryable, and the 403 of an account without balance."""
        detail = (_text(body.get("detail")) or _text(body) or f"HTTP {status}").rstrip(".")
        kind = _error_type(headers, body)
        final = headers.get("x-fal-retryable", "").strip().lower() == "false"
        found = find_rule(FINAL_ERRORS if final else ERRORS, status=status, code=kind, text=detail)
        rule = found[0] if found else ERRORS[-1]  # the last row takes any status
        missing = GONE_REQUEST if "/requests/" in where else NO_ENDPOINT
        fields = {
            "status": status,
            "detail": detail,
            "kind": f" {kind}" if kind else "",
            "also": f", {kind}" if kind else "",
            "missing": missing.format(detail=detail, where=where),
        }
        return ProviderError(rule.code, self.http.redact(rule.render(fields)), retryable=rule.retryable)


def _running(logs: list[LogLine | None] | None) -> Snapshot:
    """IN_PROGRESS: fal gives no progress figure, only the model's logs; a percentage there is used."""
    lines = [entry.message or "" for entry in logs or [] if entry is not None]
    progress = None
    for line in reversed(lines):
        if match := _PERCENT.search(line):
            progress = min(1.0, float(match.group(1)) / 100)
            break
    latest = lines[-1].strip()[:200] if lines else ""
    return Snapshot(status="running", progress=progress, message=f"running at fal.ai{f': {latest}' if latest else ''}")


def _job_failed(error: Any, kind: Any) -> Snapshot:
    kind = str(kind or "")
    if kind in CANCELLED_TYPES:
        return Snapshot(status="cancelled", message="cancelled at fal.ai")
    found = find_rule(FAILURES, code=kind)
    rule = found[0] if found else FAILED_SOMEHOW
    what = _text(error).rstrip(".") or "no reason given"
    message = rule.render({"what": what, "kind": f" ({kind})" if kind else ""})
    info = ProviderErrorInfo(code=rule.code, message=message, retryable=bool(rule.retryable))
    return Snapshot(status="failed", message=message, error=info)


def _json(response: Any) -> dict[str, Any]:
    data = json_body(response, {})
    return data if isinstance(data, dict) else {"detail": data}


def _text(value: Any) -> str:
    """The human part of fal's `detail`: a string, or a list of {loc, msg} as 'field: msg'."""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, list):
        return "; ".join(filter(None, map(_text, value)))
    if isinstance(value, dict):
        message = _text(value.get("msg") or value.get("message") or value.get("detail") or value.get("error"))
        loc = [str(part) for part in value.get("loc") or [] if part != "body"]
        return f"{'.'.join(loc)}: {message}" if loc and message else message
    return ""


def _error_type(headers: Mapping[str, str], body: Mapping[str, Any]) -> str:
    answer = ErrorAnswer.model_validate(body)
    detail = answer.detail
    first = detail[0] if isinstance(detail, list) and detail and isinstance(detail[0], dict) else {}
    return str(answer.error_type or headers.get("x-fal-error-type") or first.get("type") or "")


def _path(response: Any) -> str:
    """The path a response answered (for messages that say which endpoint)."""
    return urlsplit(str(response.request.url)).path if response.request is not None else ""


# -- any endpoint, from its published schema and price ------------------------------------------------

SCHEMA_URL = "https://fal.ai"  # GET /api/openapi/queue/openapi.json?endpoint_id=...: the queue OpenAPI document
PLATFORM_URL = "https://api.fal.ai"  # the Platform API: GET /v1/models (search), GET /v1/models/pricing
ENDPOINT_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)*$")
VIDEO_CATEGORIES = {"text-to-video", "image-to-video"}
START_FIELDS = ("image_url", "start_image_url", "first_frame_url", "first_frame_image_url")
END_FIELDS = ("end_image_url", "tail_image_url", "last_frame_url", "last_image_url")
MAPPED = {"prompt", "duration", "aspect_ratio", "resolution", "generate_audio", "negative_prompt", "seed"}
# The Platform API's billing units (`unit`) a price per second or per video can be read from.
PER_SECOND = {"second", "seconds", "video second", "video seconds", "sec", "s"}
PER_VIDEO = {"video", "videos", "generation", "generations", "request", "requests", "output"}


class PriceEntry(_Answer):
    endpoint_id: Annotated[str | None, Lenient] = None
    unit_price: Annotated[float | None, Lenient] = None
    unit: Annotated[str, Lenient] = ""
    currency: Annotated[str, Lenient] = ""


class PricingAnswer(_Answer):
    """GET /v1/models/pricing: {prices: [{endpoint_id, unit_price, unit, currency}], next_cursor, has_more}."""

    prices: Annotated[list[Annotated[PriceEntry | None, Lenient]] | None, Lenient] = None


class HitMetadata(_Answer):
    display_name: Annotated[str, Lenient] = ""
    category: Annotated[str, Lenient] = ""
    description: Annotated[str, Lenient] = ""


class SearchHit(_Answer):
    endpoint_id: Annotated[str | None, Lenient] = None
    metadata: Annotated[HitMetadata | None, Lenient] = None


class SearchAnswer(_Answer):
    """GET /v1/models: {models: [{endpoint_id, metadata: {display_name, category, ...}}], next_cursor, has_more}."""

    models: Annotated[list[Annotated[SearchHit | None, Lenient]] | None, Lenient] = None


@dataclass(frozen=True)
class Described:
    """An endpoint read from its published schema: its spec and where our fields go in its input."""

    spec: ModelSpec
    endpoint: str
    props: dict[str, dict[str, Any]]
    required: list[str]
    start: str = ""
    end: str = ""
    duration: Callable[[float], Any] | None = None  # None: no duration input (the model's own length)
    ratio: bool = False
    resolution: bool = False
    audio: bool = False
    unpriced: str = ""  # why there is no price that can be quoted ("" when priced)

    def body(self, request: VideoRequest, image: Callable[[str], str]) -> dict[str, Any]:
        """The input for this endpoint, checked against its schema (InvalidRequest saying what is wrong)."""
        data: dict[str, Any] = {"prompt": request.prompt}
        if request.images and self.start:
            data[self.start] = image(request.images[0])
        if request.end_image and self.end:
            data[self.end] = image(request.end_image)
        if self.duration is not None:
            data["duration"] = self.duration(request.duration)
        if self.ratio and (not request.images or "aspect_ratio" in self.required):
            data["aspect_ratio"] = request.aspect_ratio  # with a start image, the image's shape (as curated ones)
        if self.resolution:
            data["resolution"] = request.resolution
        if self.audio:
            data["generate_audio"] = request.audio
        if request.negative_prompt:
            data["negative_prompt"] = request.negative_prompt
        if request.seed is not None:
            data["seed"] = request.seed
        data |= request.options
        if found := schemas.problems(self.props, self.required, data):
            raise InvalidRequest(f"{self.endpoint} would refuse this input (its published schema): {'; '.join(found)}")
        return data

    def priced_by(self, entry: PriceEntry | None, reason: str) -> Described:
        """This endpoint with the price fal's Platform API gives (an estimate where fal adjusts it by resolution,
        length or audio, which the API does not state), or unpriced saying why."""
        spec = self.spec
        source = f"https://api.fal.ai/v1/models/pricing?endpoint_id={quote(self.endpoint, safe='/')}"
        checked = datetime.now(timezone.utc).strftime("%Y-%m-%d")
        rule, why = _rule(entry, spec, self.duration is not None) if entry is not None else (None, reason)
        if rule is None:
            note = f"unpriced: {why}; see https://fal.ai/models/{self.endpoint}"
            fields = {"price": PriceRule(note=note), "price_source": source, "price_checked": checked}
            return replace(self, spec=spec.model_copy(update=fields), unpriced=why)
        fields = {"price": rule, "price_source": source, "price_checked": checked}
        return replace(self, spec=spec.model_copy(update=fields), unpriced="")


def _rule(entry: PriceEntry, spec: ModelSpec, has_duration: bool) -> tuple[PriceRule | None, str]:
    price, currency = entry.unit_price or 0.0, entry.currency.strip().upper()
    unit = " ".join(entry.unit.lower().replace("_", " ").replace("-", " ").removeprefix("per ").split())
    if currency != "USD":
        return None, f"fal prices it in {currency or 'an unstated currency'}, not US dollars"
    count = re.match(r"^(\d+(?:\.\d+)?)\s+(.*)$", unit)
    per = float(count.group(1)) if count else 1.0
    unit = count.group(2) if count else unit
    said = f"${price:g} per {entry.unit} (fal's pricing API)"
    loose = [w for w, on in (("resolution", len(spec.resolutions) > 1), ("audio", spec.audio)) if on]
    if unit in PER_SECOND and per > 0:
        if not has_duration:
            loose.append("length (the model sets it; 5 s assumed)")
        rule = PriceRule(per_second=price / per, note=said)
    elif unit in PER_VIDEO:
        durations = sorted(spec.durations)
        if len(durations) > 1:
            loose.append("length (longer videos quoted in proportion to the shortest)")
        rule = PriceRule(by_duration={f"{d:g}": round(price * d / durations[0], 4) for d in durations}, note=said)
    else:
        return None, f"fal bills it per {entry.unit or 'unit'} (compute time or another unit), not per video second"
    if loose:
        rule = rule.model_copy(
            update={"note": f"estimate: {said}, fal's base rate; it may adjust for {', '.join(loose)}"}
        )
    return rule, ""


def _component(ref: Any, components: Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
        found = components.get(ref.rsplit("/", 1)[-1])
        return found if isinstance(found, dict) else {}
    return {}


def _formatter(rule: Mapping[str, Any]) -> tuple[tuple[float, ...], Callable[[float], Any] | None]:
    """(seconds allowed, how a number of seconds is sent) for a `duration` input: "5", "5s" or 5."""
    words = [v for v in schemas.choices(rule, str) if re.fullmatch(r"\d+(\.\d+)?s?", v)]
    if words:
        suffixed = all(v.endswith("s") for v in words)
        return tuple(float(v.rstrip("s")) for v in words), (_suffixed if suffixed else _plain)
    if numbers := schemas.choices(rule, int) or schemas.choices(rule, float):
        return tuple(float(v) for v in numbers), (_integer if rule.get("type") == "integer" else float)
    low, high = rule.get("minimum"), rule.get("maximum")
    if rule.get("type") in ("integer", "number") and isinstance(low, (int, float)) and isinstance(high, (int, float)):
        if 0 < low <= high <= 60:
            return tuple(float(s) for s in range(math.ceil(low), int(high) + 1)), _integer
    return (), None


def _seconds(value: Any) -> float | None:
    """A schema default for duration ("5", "5s", 5) in seconds; None for one that is not a number ("auto")."""
    try:
        return float(str(value).rstrip("s"))
    except ValueError:
        return None


def from_openapi(endpoint: str, document: Mapping[str, Any]) -> Described | None:
    """An endpoint's spec and wire from its queue OpenAPI document (POST /{endpoint} takes the Input schema,
    GET /{endpoint}/requests/{request_id} answers the Output). None unless it takes a text prompt and answers
    {"video": File}. Unpriced until `priced_by`."""
    components = (document.get("components") or {}).get("schemas") or {}
    paths = document.get("paths") or {}
    post = (paths.get(f"/{endpoint}") or {}).get("post") or {}
    body = (((post.get("requestBody") or {}).get("content") or {}).get("application/json") or {}).get("schema")
    result = (paths.get(f"/{endpoint}/requests/{{request_id}}") or {}).get("get") or {}
    answer = (((result.get("responses") or {}).get("200") or {}).get("content") or {}).get("application/json") or {}
    raw_input = _component((body or {}).get("$ref"), components) or (body if isinstance(body, dict) else {})
    output = _component(answer.get("schema", {}).get("$ref"), components) or answer.get("schema") or {}
    props = schemas.properties(raw_input, components)
    required = [name for name in raw_input.get("required") or [] if isinstance(name, str)]
    if props.get("prompt", {}).get("type") != "string" or "video" not in (output.get("properties") or {}):
        return None
    start = next((f for f in START_FIELDS if props.get(f, {}).get("type") == "string"), "")
    end = next((f for f in END_FIELDS if props.get(f, {}).get("type") == "string"), "") if start else ""
    unknown = [name for name in required if name not in {"prompt", start}]
    if unknown:
        return None  # an input we cannot fill (a video, an audio track, a list of references)
    modes: tuple[Mode, ...] = (IMAGE,) if start in required else BOTH if start else (TEXT,)
    durations, duration = _formatter(props.get("duration", {}))
    ratios = [r for r in schemas.choices(props.get("aspect_ratio", {}), str) if ":" in r]
    resolutions = schemas.choices(props.get("resolution", {}), str)
    audio = props.get("generate_audio", {}).get("type") == "boolean"

    def default(name: str, allowed: list[Any], shown: Callable[[Any], Any] = lambda v: v) -> Any:
        value = props.get(name, {}).get("default")
        value = shown(value) if value is not None else None
        return value if value in allowed else allowed[0]

    seconds = list(durations) or [5.0]
    meta = ((document.get("info") or {}).get("x-fal-metadata") or {}) if isinstance(document.get("info"), dict) else {}
    from providers.options import VideoOptions  # the options an agent can pass at all (a closed, typed set)

    options = {
        name: schemas.option_text(rule)
        for name, rule in props.items()
        if name in VideoOptions.model_fields and name not in MAPPED | {start, end}
    }
    prompt = props["prompt"]
    length = "" if durations else "; its length is the model's own (no duration input)"
    spec = ModelSpec(
        id=endpoint,
        name=f"{endpoint} (fal, from its schema)",
        description=f"fal endpoint {endpoint} ({meta.get('category') or 'video'}), read from its published "
        f"schema; not curated{length}",
        modes=modes,
        durations=tuple(seconds),
        default_duration=float(default("duration", seconds, _seconds)),
        aspect_ratios=tuple(ratios) or ("16:9",),
        default_aspect_ratio=default("aspect_ratio", ratios) if ratios else "16:9",
        resolutions=tuple(resolutions) or ("default",),
        default_resolution=default("resolution", resolutions) if resolutions else "default",
        audio=audio,
        default_audio=audio and props["generate_audio"].get("default") is True,
        max_images=1 if start else 0,
        end_image=bool(end),
        negative_prompt=props.get("negative_prompt", {}).get("type") == "string",
        seed=props.get("seed", {}).get("type") == "integer",
        max_prompt_chars=prompt["maxLength"] if isinstance(prompt.get("maxLength"), int) else 10000,
        options=options,
        price=PriceRule(note="unpriced: not read yet"),
        price_source=f"https://fal.ai/models/{endpoint}",
    )
    return Described(
        spec=spec,
        endpoint=endpoint,
        props=props,
        required=required,
        start=start,
        end=end,
        duration=duration,
        ratio=bool(ratios),
        resolution=bool(resolutions),
        audio=audio,
        unpriced="not read yet",
    )


def _site_error(response: Any) -> ProviderError:
    """fal.ai's answer to a schema request that failed: 404 for an endpoint it does not know."""
    detail = _text(_json(response).get("detail")) or f"HTTP {response.status_code}"
    if response.status_code == 404:
        return ProviderError(ErrorCode.NOT_FOUND, f"fal.ai has no such endpoint ({detail})")
    if response.status_code == 429:
        return ProviderError(ErrorCode.RATE_LIMITED, f"fal.ai is rate limiting schema requests ({detail}); wait")
    if response.status_code >= 500:
        return ProviderError(ErrorCode.TRANSIENT, f"fal.ai had a temporary problem (HTTP {response.status_code})")
    return ProviderError(
        ErrorCode.PROVIDER_FAILED, f"fal.ai refused the schema request (HTTP {response.status_code}: {detail})"
    )


def _platform_error(response: Any, redact: Callable[[str], str]) -> ProviderError:
    """The Platform API's errors: {"error": {"type": authorization_error | validation_error | not_found |
    rate_limited | server_error, "message", "docs_url", "request_id"}}."""
    body = _json(response)
    found = body.get("error")
    error: dict[str, Any] = found if isinstance(found, dict) else {}
    message = redact(str(error.get("message") or _text(body.get("detail")) or f"HTTP {response.status_code}"))
    kind, status = str(error.get("type") or ""), response.status_code
    if status in (401, 403) or kind == "authorization_error":
        return ProviderError(
            ErrorCode.AUTH, f"fal.ai's Platform API rejected FAL_KEY ({message}); keys are made at {KEYS}"
        )
    if status == 404 or kind == "not_found":
        return ProviderError(ErrorCode.NOT_FOUND, f"fal.ai's Platform API knows no such model ({message})")
    if status == 429 or kind == "rate_limited":
        return ProviderError(
            ErrorCode.RATE_LIMITED, f"fal.ai's Platform API is rate limiting ({message}); wait and retry"
        )
    if status >= 500 or kind == "server_error":
        return ProviderError(ErrorCode.TRANSIENT, f"fal.ai's Platform API had a temporary problem ({message}); retry")
    return ProviderError(ErrorCode.INVALID_INPUT, f"fal.ai's Platform API refused the request ({message})")
