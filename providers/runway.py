"""Runway's developer API (api.dev.runwayml.com): its own models and the ones it sells from other labs.

Wire contract from the official SDK (runwayml 5.24: types/text_to_video_create_params.py,
image_to_video_create_params.py, video_to_video_create_params.py, task_retrieve_response.py, resources/tasks.py)
and the docs (docs.dev.runwayml.com: api-details/errors, errors/troubleshooting, assets/inputs):
  POST /v1/text_to_video | /v1/image_to_video | /v1/video_to_video (camelCase JSON) -> {"id", "estimatedCost"}
  GET /v1/tasks/{id} -> PENDING | THROTTLED | RUNNING (+progress) | SUCCEEDED (+output) | FAILED | CANCELLED,
    terminal ones with `cost.credits` (what stays charged after refunds)
  DELETE /v1/tasks/{id} -> 204: cancels a task that has not finished, deletes one that has; either way the
    task cannot be fetched again (404)
Every request carries `Authorization: Bearer key_...` and `X-Runway-Version: 2024-11-06`.

Runway's own models (Gen-4.5, Gen-4 Turbo, Aleph 2) and the ones it sells from other labs (Veo 3.1, Seedance 2 /
2 Fast / 2 Mini / 2.5, Kling 2.5 Turbo, 3.0, O3 and 4.0, Hailuo 3, MiniMax H3 Max, Grok Imagine 1.5 and 1.5 Lite,
HappyHorse 1.0, Gemini Omni Flash 1.0 and 1.1, Wan 3 and 3 Prime), each
as its SDK type declares it; SHAPES says how each is told the output's shape. Prices: runwayml/skills
rw-api-reference for the first five, Runway's pricing guide for the rest (read from dated copies: see
PRICE_GUIDE), and for Kling, which that guide does not list, the highest figure found, flagged (Kling 4.0 and Gemini
Omni Flash 1.1, which nothing prices per resolution, quoted high by a stated rule). Runway answers a
new task with the most it may charge (`estimatedCost`): above our quote, RunwayProvider.submit marks the task
CANCEL_AT_ONCE and the engine cancels it as soon as its id is stored (server/jobs/following.py); a task Runway has
already started running keeps its credits.
Video-to-video: Seedance 2 (`promptVideo`) and Aleph 2 (`videoUri`, billed per second of the input, which sets the
output's length). `veo3` left the API spec in SDK 5.14.0, `gen4_aleph` on 2026-06-10. UNPRICED_MODELS: what the
SDK declares and we do not offer for want of a price (none in SDK 5.24). Not offered either: video-to-video on the
models other than Seedance 2 and Aleph 2, and reference images or videos.
tests/test_provider_runway.py fails when the installed SDK declares a model that is neither offered nor listed
there, or drops one we offer.
Runway cannot look a task up by our job id, so a submit cut off mid-way cannot be reconciled (the base
class's `reconcile` returns None and the engine reports SUBMIT_UNCONFIRMED).
"""

from __future__ import annotations

import ipaddress
import math
import random
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from pydantic import Field, field_validator

from providers import images, videos
from providers.base import (
    AT_MOST_USD,
    CANCEL_AT_ONCE,
    Accepted,
    ErrorAnswer,
    ErrorCode,
    InvalidRequest,
    ModelSpec,
    PriceRule,
    ProviderErrorInfo,
    Rule,
    Snapshot,
    State,
    Submission,
    TaskAnswer,
    TaskProvider,
    VideoRequest,
    Wire,
)

RUNWAY_VERSION = "2024-11-06"
USD_PER_CREDIT = 0.01
MAX_PROMPT_UNITS = 1000  # promptText limit of Runway's own models and Veo, counted in UTF-16 code units
MAX_DATA_URI_CHARS = 5 * 1024 * 1024  # "the encoded data URI must be under 5MB (1024 x 1024 x 5 bytes)"
# Videos: 32 MB by URL (docs.dev.runwayml.com/assets/inputs, "Size limits"; rw-api-reference: "max 32 MB"). As a
# data URI the two sources differ: the installed SDK (runwayml 5.24, types/video_to_video_create_params.py,
# promptVideo) says "up to 5MB", the docs' table 16 MB. We take the limit both allow: the encoded data URI under
# 5 MB (1024 x 1024 x 5 characters, as for images). A file or data URI is sent as a data URI: its bytes, base64
# (4/3) with the longest header ("data:video/quicktime;base64,"), must stay under that, so files up to ~3.7 MB;
# a larger one must be passed as an https URL (a clear error before anything is spent).
MAX_VIDEO_DATA_URI_CHARS = 5 * 1024 * 1024
MAX_VIDEO_FILE_BYTES = (MAX_VIDEO_DATA_URI_CHARS - 64) // 4 * 3
MAX_VIDEO_URL_MB = 32
RUNWAY_IMAGE_MIMES = ("image/jpeg", "image/png", "image/webp")
# Runway's official price list (gen4.5, gen4_turbo, veo3.1, veo3.1_fast, seedance2 in credits per second).
PRICE_SOURCE = "https://github.com/runwayml/skills/blob/main/skills/rw-api-reference/SKILL.md"
PRICE_CHECKED = "2026-12-03"

# Declared by the official SDK (runwayml 5.24 text_to_video / image_to_video / video_to_video params) but not
# offered for want of a price: none since 2026-12-06 (Kling 4.0 and Gemini Omni Flash 1.1, which no source prices
# per resolution, are quoted high; estimatedCost guards every quote). A model the SDK adds goes here until priced.
UNPRICED_MODELS: tuple[str, ...] = ()

# Agents speak in aspect ratios; Runway takes output sizes, and each model has its own.
# (our ratio, resolution) -> Runway `ratio`, per model, as the SDK's *_create_params literals list them.
GEN4_SIZES: dict[tuple[str, str], str] = {
    ("16:9", "720p"): "1280:720",
    ("9:16", "720p"): "720:1280",
    ("4:3", "720p"): "1104:832",
    ("1:1", "720p"): "960:960",
    ("3:4", "720p"): "832:1104",
    ("21:9", "720p"): "1584:672",
}
VEO_SIZES: dict[tuple[str, str], str] = {
    ("16:9", "720p"): "1280:720",
    ("9:16", "720p"): "720:1280",
    ("16:9", "1080p"): "1920:1080",
    ("9:16", "1080p"): "1080:1920",
}
SEEDANCE_SIZES: dict[tuple[str, str], str] = {  # seedance2 and its fast and mini variants (those: 480p/720p)
    ("21:9", "480p"): "992:432",
    ("16:9", "480p"): "864:496",
    ("4:3", "480p"): "752:560",
    ("1:1", "480p"): "640:640",
    ("3:4", "480p"): "560:752",
    ("9:16", "480p"): "496:864",
    ("21:9", "720p"): "1470:630",
    ("16:9", "720p"): "1280:720",
    ("4:3", "720p"): "1112:834",
    ("1:1", "720p"): "960:960",
    ("3:4", "720p"): "834:1112",
    ("9:16", "720p"): "720:1280",
    ("21:9", "1080p"): "2206:946",
    ("16:9", "1080p"): "1920:1080",
    ("4:3", "1080p"): "1664:1248",
    ("1:1", "1080p"): "1440:1440",
    ("3:4", "1080p"): "1248:1664",
    ("9:16", "1080p"): "1080:1920",
    ("21:9", "4k"): "3840:1646",
    ("16:9", "4k"): "3840:2160",
    ("4:3", "4k"): "3840:2880",
    ("1:1", "4k"): "3840:3840",
    ("3:4", "4k"): "2880:3840",
    ("9:16", "4k"): "2160:3840",
}
# Seedance 2.5 makes 16:9 and 9:16 at 480p as 854:480 and 480:854, and has no 4K.
SEEDANCE_2_5_SIZES = {
    **{k: v for k, v in SEEDANCE_SIZES.items() if k[1] != "4k"},
    ("16:9", "480p"): "854:480",
    ("9:16", "480p"): "480:854",
}
KLING_SIZES: dict[tuple[str, str], str] = {  # Kling 3.0 and O3: standard 720p, pro 1080p, 4K
    ("16:9", "720p"): "1280:720",
    ("9:16", "720p"): "720:1280",
    ("1:1", "720p"): "960:960",
    ("16:9", "1080p"): "1920:1080",
    ("9:16", "1080p"): "1080:1920",
    ("1:1", "1080p"): "1440:1440",
    ("16:9", "4k"): "3840:2160",
    ("9:16", "4k"): "2160:3840",
    ("1:1", "4k"): "2880:2880",
}
KLING_2_5_SIZES: dict[tuple[str, str], str] = {  # Kling 2.5 Turbo Pro from text: 720p and 1080p
    ("16:9", "720p"): "1280:720",
    ("9:16", "720p"): "720:1280",
    ("1:1", "720p"): "720:720",
    ("16:9", "1080p"): "1920:1080",
    ("9:16", "1080p"): "1080:1920",
    ("1:1", "1080p"): "1440:1440",
}
HAPPYHORSE_SIZES: dict[tuple[str, str], str] = {
    ("16:9", "720p"): "1280:720",
    ("9:16", "720p"): "720:1280",
    ("1:1", "720p"): "960:960",
    ("4:3", "720p"): "1108:832",
    ("3:4", "720p"): "832:1108",
    ("16:9", "1080p"): "1920:1080",
    ("9:16", "1080p"): "1080:1920",
    ("1:1", "1080p"): "1440:1440",
    ("4:3", "1080p"): "1662:1248",
    ("3:4", "1080p"): "1248:1662",
}
WAN3_SIZES: dict[tuple[str, str], str] = {
    ("16:9", "480p"): "832:480",
    ("4:3", "480p"): "720:544",
    ("1:1", "480p"): "624:624",
    ("3:4", "480p"): "544:720",
    ("9:16", "480p"): "480:832",
    ("16:9", "720p"): "1280:720",
    ("4:3", "720p"): "1104:832",
    ("1:1", "720p"): "960:960",
    ("3:4", "720p"): "832:1104",
    ("9:16", "720p"): "720:1280",
    ("16:9", "1080p"): "1920:1080",
    ("4:3", "1080p"): "1648:1248",
    ("1:1", "1080p"): "1440:1440",
    ("3:4", "1080p"): "1248:1648",
    ("9:16", "1080p"): "1080:1920",
}
GEMINI_SIZES: dict[tuple[str, str], str] = {("16:9", "720p"): "1280:720", ("9:16", "720p"): "720:1280"}
GEMINI_1_1_SIZES: dict[tuple[str, str], str] = {
    ("16:9", "360p"): "640:360",
    ("9:16", "360p"): "360:640",
    ("16:9", "720p"): "1280:720",
    ("9:16", "720p"): "720:1280",
    ("16:9", "1080p"): "1920:1080",
    ("9:16", "1080p"): "1080:1920",
    ("16:9", "4k"): "3840:2160",
    ("9:16", "4k"): "2160:3840",
}
KLING_4_SIZES: dict[tuple[str, str], str] = {  # Kling 4.0 from text (from an image: auto_720p / auto_1080p)
    ("16:9", "720p"): "1280:720",
    ("9:16", "720p"): "720:1280",
    ("1:1", "720p"): "940:940",
    ("21:9", "720p"): "1460:624",
    ("16:9", "1080p"): "1920:1080",
    ("9:16", "1080p"): "1080:1920",
    ("1:1", "1080p"): "1440:1440",
    ("21:9", "1080p"): "2200:940",
}
GROK_LITE_SIZES: dict[tuple[str, str], str] = {  # Grok Imagine 1.5 Lite from text; its 1080p is 720p upscaled
    ("16:9", "480p"): "848:480",
    ("9:16", "480p"): "480:848",
    ("1:1", "480p"): "480:480",
    ("4:3", "480p"): "640:480",
    ("3:4", "480p"): "480:640",
    ("3:2", "480p"): "720:480",
    ("2:3", "480p"): "480:720",
    ("16:9", "720p"): "1280:720",
    ("9:16", "720p"): "720:1280",
    ("1:1", "720p"): "720:720",
    ("4:3", "720p"): "960:720",
    ("3:4", "720p"): "720:960",
    ("3:2", "720p"): "1088:720",
    ("2:3", "720p"): "720:1088",
    ("16:9", "1080p"): "1904:1072",
    ("9:16", "1080p"): "1072:1904",
    ("1:1", "1080p"): "1424:1424",
    ("4:3", "1080p"): "1648:1232",
    ("3:4", "1080p"): "1232:1648",
    ("3:2", "1080p"): "1744:1152",
    ("2:3", "1080p"): "1152:1744",
}
SIZES: dict[str, dict[tuple[str, str], str]] = {
    "gen4.5": GEN4_SIZES,
    "gen4_turbo": GEN4_SIZES,
    "veo3.1": VEO_SIZES,
    "veo3.1_fast": VEO_SIZES,
    "seedance2": SEEDANCE_SIZES,
    "seedance2_fast": SEEDANCE_SIZES,
    "seedance2_mini": SEEDANCE_SIZES,
    "seedance2_5": SEEDANCE_2_5_SIZES,
    "kling3.0_standard": KLING_SIZES,
    "kling3.0_pro": KLING_SIZES,
    "kling3.0_4k": KLING_SIZES,
    "klingO3_standard": KLING_SIZES,
    "klingO3_pro": KLING_SIZES,
    "klingO3_4k": KLING_SIZES,
    "kling2.5_turbo_pro": KLING_2_5_SIZES,
    "happyhorse_1_0": HAPPYHORSE_SIZES,
    "wan3": WAN3_SIZES,
    "wan3_prime": WAN3_SIZES,
    "gemini_omni_flash": GEMINI_SIZES,
    "gemini_omni_flash_1.1": GEMINI_1_1_SIZES,
    "kling_4": KLING_4_SIZES,
    "grok_imagine_1_5_lite": GROK_LITE_SIZES,
}
# A ModelSpec has one ratio list for both modes; gen4.5 makes fewer shapes from text than from an image.
TEXT_TO_VIDEO_RATIOS: dict[str, tuple[str, ...]] = {"gen4.5": ("16:9", "9:16")}


# How each model is told the output's shape, per endpoint (the SDK's *_create_params): `ratio` as a size from
# SIZES ("sized"), the aspect ratio itself with a `resolution` ("worded": Hailuo 3, Grok Imagine), `auto_<res>`
# (the image sets the shape: Wan 3 from a start frame), only `resolution` (the image or video sets the shape),
# or nothing.
Shape = str  # "sized" | "worded" | "auto" | "resolution" | "none"
SHAPES: dict[str, dict[str, Shape]] = {
    "hailuo3": {"text_to_video": "worded", "image_to_video": "worded"},
    "grok_imagine_1_5": {"text_to_video": "worded", "image_to_video": "resolution"},
    "happyhorse_1_0": {"image_to_video": "resolution"},
    "wan3": {"image_to_video": "auto"},
    "wan3_prime": {"image_to_video": "auto"},
    "kling2.5_turbo_pro": {"image_to_video": "none"},  # no ratio: the image sets the shape
    "kling_4": {"image_to_video": "auto"},
    "grok_imagine_1_5_lite": {"image_to_video": "auto"},
    "h3_max": {"text_to_video": "resolution", "image_to_video": "resolution"},  # no ratio field at all
    "aleph2": {"video_to_video": "none"},
}
VIDEO_FIELD = {"aleph2": "videoUri"}  # the input video's field (seedance2: promptVideo)
MIN_EDIT_SECONDS, MAX_EDIT_SECONDS = 2.0, 30.0  # Aleph 2's inputs (ComfyUI's Runway Aleph 2 node: 2-30 s)
# Prompts of at least 2 characters: HappyHorse (the API spec's minLength) and Kling (Runway's validator, recorded by
# an integrator on 2026-10-01).
MIN_PROMPT_UNITS = dict.fromkeys(
    ("happyhorse_1_0", "kling2.5_turbo_pro", "kling3.0_standard", "kling3.0_pro", "kling3.0_4k"), 2
) | dict.fromkeys(("klingO3_standard", "klingO3_pro", "klingO3_4k", "kling_4"), 2)
NO_DURATION = frozenset({"aleph2"})  # the output is as long as the input video


@dataclass(frozen=True)
class ImageRule:
    """What a model's input images (promptImage) must be, as its SDK docstring says."""

    min_side: int = 0  # pixels, on both sides (0: no rule)
    ratio: tuple[float, float] | None = None  # width / height, both ends allowed (None: no rule)


# The SDK's image_to_video_create_params docstrings (runwayml 5.24): H3Max "Each image must be at least 256 pixels
# on both sides"; GrokImagine1_5 and GrokImagine1_5Lite "The output keeps its aspect ratio, which (width / height)
# must be between 0.4 and 2.5". Checked in RunwayProvider.check for images that can be read here (local files and
# data URIs); an https image is fetched by Runway, and only Runway can check it.
IMAGE_RULES: dict[str, ImageRule] = {
    "h3_max": ImageRule(min_side=256),
    "grok_imagine_1_5": ImageRule(ratio=(0.4, 2.5)),
    "grok_imagine_1_5_lite": ImageRule(ratio=(0.4, 2.5)),
}


def shape_fields(request: VideoRequest) -> dict[str, Any]:
    """The body's shape fields for a validated request, as SHAPES declares them."""
    shape = SHAPES.get(request.model, {}).get(request.mode, "sized")
    if shape == "sized":
        return {"ratio": SIZES[request.model][(request.aspect_ratio, request.resolution)]}
    if shape == "worded":
        return {"ratio": request.aspect_ratio, "resolution": request.resolution}
    if shape == "auto":
        return {"ratio": f"auto_{request.resolution}"}
    if shape == "resolution":
        return {"resolution": request.resolution}
    return {}


GEN4_RATIOS = ("16:9", "9:16", "4:3", "1:1", "3:4", "21:9")
VEO_RATIOS = ("16:9", "9:16")


# Runway's pricing guide (docs.dev.runwayml.com/guides/pricing) could not be read here (no internet, in no stored
# corpus); its figures below come from copies of it that public projects keep, dated 2026-08-13 to 2026-10-04, and
# agree with what people measured from task costs (notes in the commit). Where they are silent (Kling), the quote
# is the highest figure found, flagged in the note. Either way Runway's own estimatedCost is checked at submit
# (RunwayProvider.submit) and a task above the quote is cancelled at once, once its id is stored (the engine,
# server/jobs/following.py): Runway refunds it if it had not started running, not if it had; the charge recorded
# is the task's `cost`.
PRICE_GUIDE = "https://docs.dev.runwayml.com/guides/pricing"
GUIDE_COPIES = "read from copies of the page dated 2026-08-13 to 2026-10-04, not the page itself"
UNVERIFIED = (
    "; Runway's own estimate is checked when the task is made, and a task above this quote is cancelled at once "
    "(a task Runway had already started keeps its credits)"
)
STANDARD_RATIOS = ("16:9", "9:16", "4:3", "1:1", "3:4")
KLING_RATIOS = ("16:9", "9:16", "1:1")


def _third_party(model: str, name: str, description: str, price: PriceRule, **fields: Any) -> ModelSpec:
    """A model another lab makes that Runway sells: text or a start image (as the SDK declares it for both)."""
    base: dict[str, Any] = {
        "modes": ("text_to_video", "image_to_video"),
        "default_duration": 5.0,
        "default_aspect_ratio": "16:9",
        "default_resolution": "720p",
        "max_images": 1,
        "typical_seconds": 90.0,
        "price_source": PRICE_GUIDE,
        "price_checked": "2026-12-04",
    }
    return ModelSpec(id=model, name=name, description=description, price=price, **{**base, **fields})


def _seconds(first: int, last: int) -> tuple[float, ...]:
    return tuple(float(s) for s in range(first, last + 1))


def _kling(model: str, name: str, resolution: str, credits: float, why: str, source: str) -> ModelSpec:
    """Kling 3.0 / O3 through Runway; `source`: the page the quoted figure rests on (Runway lists none)."""
    return _third_party(
        model,
        name,
        f"Kuaishou's {name} through Runway: text or a first (+last) frame, 3-15 s at {resolution}, audio. "
        "Image-to-video takes its aspect ratio from the first frame.",
        PriceRule(per_second=credits / 100, note=f"quoted {credits:g} credits/s, audio or not: {why}{UNVERIFIED}"),
        durations=_seconds(3, 15),
        aspect_ratios=KLING_RATIOS,
        resolutions=(resolution,),
        default_resolution=resolution,
        audio=True,
        end_image=True,
        max_prompt_chars=2500,
        price_source=source,
    )


KLING_PRICES = "https://klingai.com/dev/pricing"  # Kling's own list: Runway's 13/s matches its $0.126/s with audio
NO_KLING_ROW = "Runway's pricing guide (as copied) has no Kling row"
THIRD_PARTY: tuple[ModelSpec, ...] = (
    _third_party(
        "seedance2_fast",
        "Seedance 2.0 Fast",
        "ByteDance's Seedance 2.0 Fast through Runway: quicker and cheaper than Seedance 2.0, 4-15 s at 480p or "
        "720p, first/last frame, audio.",
        PriceRule(per_second=0.29, note=f"29 credits/s at 480p and 720p, audio or not ({GUIDE_COPIES})"),
        durations=_seconds(4, 15),
        aspect_ratios=GEN4_RATIOS,
        resolutions=("480p", "720p"),
        audio=True,
        end_image=True,
        seed=True,
        max_prompt_chars=3500,
        typical_seconds=60.0,
    ),
    _third_party(
        "seedance2_mini",
        "Seedance 2.0 Mini",
        "ByteDance's Seedance 2.0 Mini through Runway: the cheapest Seedance, 4-15 s at 480p or 720p, first/last "
        "frame, audio.",
        PriceRule(
            per_second=0.16,
            note=f"16 credits/s at 480p and 720p, audio or not, 64 credits at least (the 4 s minimum) ({GUIDE_COPIES})",
        ),
        durations=_seconds(4, 15),
        aspect_ratios=GEN4_RATIOS,
        resolutions=("480p", "720p"),
        audio=True,
        end_image=True,
        seed=True,
        max_prompt_chars=3500,
        typical_seconds=60.0,
    ),
    _third_party(
        "seedance2_5",
        "Seedance 2.5",
        "ByteDance's Seedance 2.5 through Runway: long shots (4-30 s) at 480p, 720p or 1080p, first/last frame, "
        "audio (on by default at Runway).",
        PriceRule(
            per_second=0.30,
            resolution_factor={"480p": 20 / 30, "1080p": 68 / 30},
            note=f"20 credits/s at 480p, 30 at 720p, 68 at 1080p, audio or not, 80 credits at least ({GUIDE_COPIES})",
        ),
        durations=_seconds(4, 30),
        aspect_ratios=GEN4_RATIOS,
        resolutions=("480p", "720p", "1080p"),
        audio=True,
        default_audio=True,  # the SDK: audio "Defaults to true"
        end_image=True,
        seed=True,
        max_prompt_chars=15000,
        typical_seconds=150.0,
    ),
    _third_party(
        "hailuo3",
        "Hailuo 3.0",
        "MiniMax's Hailuo 3.0 through Runway: text or a first (+last) frame, 5-15 s at 768p or 2K.",
        PriceRule(
            per_second=0.10,
            resolution_factor={"2k": 1.5},
            note=f"10 credits/s at 768p, 15 at 2K ({GUIDE_COPIES}; reference images, not sent here, cost 2 more each)",
        ),
        durations=_seconds(5, 15),
        aspect_ratios=(*GEN4_RATIOS,),
        resolutions=("768p", "2k"),
        default_resolution="768p",
        end_image=True,
        max_prompt_chars=6000,
    ),
    _third_party(
        "grok_imagine_1_5",
        "Grok Imagine Video 1.5",
        "xAI's Grok Imagine Video 1.5 through Runway: fast and cheap, 1-15 s at 480p, 720p or 1080p, from text or "
        "a start frame (whose aspect ratio it keeps).",
        PriceRule(
            per_second=0.10,
            resolution_factor={"720p": 1.6, "1080p": 2.9},
            per_video=0.01,
            note="10 credits/s at 480p, 16 at 720p, 29 at 1080p, plus 1 credit for a start frame (quoted on every "
            f"request) ({GUIDE_COPIES}; measured charges match)",
        ),
        durations=_seconds(1, 15),
        aspect_ratios=(*STANDARD_RATIOS, "3:2", "2:3"),
        resolutions=("480p", "720p", "1080p"),
        max_prompt_chars=2500,
        typical_seconds=40.0,
    ),
    _third_party(
        "happyhorse_1_0",
        "HappyHorse 1.0",
        "Alibaba's HappyHorse 1.0 through Runway: 3-15 s at 720p or 1080p, from text or a start frame (whose "
        "aspect ratio it keeps).",
        PriceRule(
            per_second=0.15,
            resolution_factor={"1080p": 2.0},
            note=f"15 credits/s at 720p, 30 at 1080p ({GUIDE_COPIES})",
        ),
        durations=_seconds(3, 15),
        aspect_ratios=STANDARD_RATIOS,
        resolutions=("720p", "1080p"),
        max_prompt_chars=2500,
        typical_seconds=60.0,
    ),
    _third_party(
        "gemini_omni_flash",
        "Gemini Omni Flash",
        "Google's Gemini Omni Flash through Runway: 3-10 s at 720p, 16:9 or 9:16, from text or a start frame.",
        PriceRule(
            per_second=0.10,
            per_video=0.01,
            note=f"10 credits/s, plus 1 credit for a start frame (quoted on every request) ({GUIDE_COPIES})",
        ),
        durations=_seconds(3, 10),
        aspect_ratios=VEO_RATIOS,
        resolutions=("720p",),
        max_prompt_chars=4000,
        typical_seconds=60.0,
    ),
    _third_party(
        "wan3",
        "Wan 3.0",
        "Alibaba's Wan 3.0 through Runway: long shots (2-30 s) at 480p, 720p or 1080p, first/last frame, audio. "
        "Image-to-video takes its aspect ratio from the first frame.",
        PriceRule(
            per_second=0.10,
            resolution_factor={"480p": 0.5, "1080p": 2.0},
            note=f"5 credits/s at 480p, 10 at 720p, 20 at 1080p, audio or not ({GUIDE_COPIES})",
        ),
        durations=_seconds(2, 30),
        aspect_ratios=STANDARD_RATIOS,
        resolutions=("480p", "720p", "1080p"),
        audio=True,
        end_image=True,
        max_prompt_chars=20000,
    ),
    _third_party(
        "wan3_prime",
        "Wan 3.0 Prime",
        "Alibaba's Wan 3.0 Prime through Runway: Wan 3.0's higher tier, 2-30 s at 480p, 720p or 1080p, first/last "
        "frame, audio. Image-to-video takes its aspect ratio from the first frame.",
        PriceRule(
            per_second=0.14,
            resolution_factor={"480p": 0.5, "1080p": 2.0},
            note="7 credits/s at 480p (6.8 listed, rounded up), 14 at 720p, 28 at 1080p, audio or not (one copy of "
            f"Runway's pricing guide, 2026-10-04; the 2-30 s lengths are Wan 3.0's){UNVERIFIED}",
        ),
        durations=_seconds(2, 30),
        aspect_ratios=STANDARD_RATIOS,
        resolutions=("480p", "720p", "1080p"),
        audio=True,
        end_image=True,
        max_prompt_chars=20000,
        typical_seconds=120.0,
    ),
    _third_party(
        "kling2.5_turbo_pro",
        "Kling 2.5 Turbo Pro",
        "Kuaishou's Kling 2.5 Turbo Pro through Runway: 5 or 10 s at 720p or 1080p, from text or a first (+last) "
        "frame (whose aspect ratio it keeps); silent.",
        PriceRule(
            per_second=0.10,
            note=f"quoted 10 credits/s at 720p and 1080p alike: {NO_KLING_ROW}; Kling's own list price is 3.5 units "
            f"per 5 s at $0.14 (9.8 credits/s){UNVERIFIED}",
        ),
        durations=(5.0, 10.0),
        aspect_ratios=KLING_RATIOS,
        resolutions=("720p", "1080p"),
        end_image=True,
        max_prompt_chars=2500,
        price_source=KLING_PRICES,
        typical_seconds=60.0,
    ),
    _kling(
        "kling3.0_standard",
        "Kling 3.0 Standard",
        "720p",
        13,
        f"{NO_KLING_ROW}; 13/s is an integrator's figure after Runway's validator",
        KLING_PRICES,
    ),
    _kling(
        "kling3.0_pro",
        "Kling 3.0 Pro",
        "1080p",
        41,
        f"{NO_KLING_ROW}; measured figures disagree (about 17/s from estimatedCost, 41/s from a balance): the higher",
        KLING_PRICES,
    ),
    _kling(
        "kling3.0_4k",
        "Kling 3.0 4K",
        "4k",
        45,
        f"{NO_KLING_ROW}; resellers sell it at $0.42-0.441/s: above the higher",
        "https://docs.krea.ai/api-reference/video/kling-30",
    ),
    _kling(
        "klingO3_standard",
        "Kling O3 Standard",
        "720p",
        13,
        f"{NO_KLING_ROW}; resellers sell it at $0.084-0.126/s; quoted as Kling 3.0 Standard",
        "https://runware.ai/docs/models/klingai-video-o3-standard",
    ),
    _kling(
        "klingO3_pro",
        "Kling O3 Pro",
        "1080p",
        41,
        f"{NO_KLING_ROW}; resellers sell it at $0.112-0.168/s; quoted as Kling 3.0 Pro",
        "https://runware.ai/docs/models/klingai-video-o3-pro",
    ),
    _kling(
        "klingO3_4k",
        "Kling O3 4K",
        "4k",
        45,
        f"{NO_KLING_ROW} and no reseller figure was found for it; quoted as Kling 3.0 4K (Kling prices O3 as 3.0)",
        "https://docs.krea.ai/api-reference/video/kling-30",
    ),
    _third_party(
        "kling_4",
        "Kling 4.0",
        "Kuaishou's Kling 4.0 through Runway: long shots (3-30 s) at 720p or 1080p, from text (16:9, 9:16, 1:1 or "
        "21:9) or a start frame (whose shape it keeps). Runway publishes no price for it: quoted high, and the "
        "charge recorded is Runway's own.",
        PriceRule(
            per_second=0.40,
            resolution_factor={"1080p": 59 / 40},
            note=f"quoted 40 credits/s at 720p, 59 at 1080p: {NO_KLING_ROW}; fal sells Kling 4.0 at $0.157/s and "
            "$0.235/s, and Runway's Kling 3.0 Pro, at the 41 credits/s we quote it (the higher of two measurements), "
            "is 1.2 to 2.4 times fal's price for that model with audio ($0.336/s or $0.168/s: fal's own pages "
            "disagree), so 2.5 times fal's, rounded up. 3-30 s is Kling's own release note (Runway's SDK says only "
            f"seconds){UNVERIFIED}",
        ),
        durations=_seconds(3, 30),
        aspect_ratios=("16:9", "9:16", "1:1", "21:9"),
        resolutions=("720p", "1080p"),
        max_prompt_chars=2500,
        price_source="https://fal.ai/learn/tools/kling-api",
        price_checked="2026-12-06",
        typical_seconds=120.0,
    ),
    _third_party(
        "h3_max",
        "MiniMax H3 Max",
        "MiniMax's H3 Max through Runway: 5-15 s at 480p or 768p, from text or a first (+last) frame of at least "
        "256 px a side. Runway takes no aspect ratio for it: from text it makes MiniMax's 16:9 sizes, from an "
        "image it keeps the image's shape.",
        PriceRule(
            per_second=0.05,
            resolution_factor={"768p": 1.6},
            note="5 credits/s at 480p, 8 at 768p (a copy of Runway's pricing guide, 2026-10-04, and two integrators "
            "quoting it; 5-15 s as docs.dev.runwayml.com/assets/inputs gave them on 2026-09-15, as recorded)"
            f"{UNVERIFIED}",
        ),
        durations=_seconds(5, 15),
        aspect_ratios=("16:9",),
        resolutions=("480p", "768p"),
        default_resolution="768p",
        end_image=True,
        seed=True,
        max_prompt_chars=2000,  # none stated by Runway; MiniMax's own API takes 2000 characters
        price_checked="2026-12-06",
        typical_seconds=90.0,
    ),
    _third_party(
        "grok_imagine_1_5_lite",
        "Grok Imagine Video 1.5 Lite",
        "xAI's Grok Imagine Video 1.5 Lite through Runway: the cheapest Grok, 1-15 s at 480p or 720p (its 1080p is "
        "720p upscaled), from text or a start frame (whose aspect ratio it keeps).",
        PriceRule(
            per_second=0.02,
            resolution_factor={"720p": 1.5, "1080p": 7.0},
            per_video=0.01,
            note="2 credits/s at 480p, 3 at 720p, 14 at 1080p, plus 1 credit for a start frame (quoted on every "
            "request) (an integrator's reading of Runway's pricing guide, 2026-10-08; a measured 16 credits for 5 s "
            "at 720p from a start frame matches); its 1-15 s lengths and 2500-character prompts are from the same "
            f"integrator's reading of Runway's OpenAPI schema (2026-10-08){UNVERIFIED}",
        ),
        durations=_seconds(1, 15),
        aspect_ratios=(*STANDARD_RATIOS, "3:2", "2:3"),
        resolutions=("480p", "720p", "1080p"),
        max_prompt_chars=2500,
        price_checked="2026-12-06",
        typical_seconds=30.0,
    ),
    _third_party(
        "gemini_omni_flash_1.1",
        "Gemini Omni Flash 1.1",
        "Google's Gemini Omni Flash 1.1 through Runway: 3-10 s at 360p, 720p, 1080p or 4K, 16:9 or 9:16, from text "
        "or a first (+last) frame. Quoted at the top of Runway's range for every resolution: the charge recorded "
        "is Runway's own.",
        PriceRule(
            per_second=0.30,
            per_video=0.02,
            note="quoted 30 credits/s at every resolution, plus 2 credits for the frames (quoted on every request): "
            "a copy of Runway's pricing guide (2026-10-04) lists 3.4-30 credits/s by resolution without saying which "
            f"costs what, and Gemini Omni Flash charges 1 credit per image{UNVERIFIED}",
        ),
        durations=_seconds(3, 10),
        aspect_ratios=VEO_RATIOS,
        resolutions=("360p", "720p", "1080p", "4k"),
        end_image=True,
        max_prompt_chars=4000,
        price_checked="2026-12-06",
        typical_seconds=60.0,
    ),
    _third_party(
        "aleph2",
        "Runway Aleph 2",
        "Runway's video editor: restyles, relights or changes an input video (video: 2-30 s, https URL up to 32 MB or "
        "a file up to 3.7 MB) as the prompt says; the output is as long as the input. A file is quoted for its length; "
        "an https video for the longest input (30 s), as its length cannot be read first.",
        PriceRule(per_second=0.28, note=f"28 credits per second of video, 56 credits at least ({GUIDE_COPIES})"),
        modes=(),
        video=True,
        max_video_bytes=MAX_VIDEO_FILE_BYTES,
        max_video_seconds=30.0,
        durations=_seconds(2, 30),
        default_duration=30.0,
        aspect_ratios=("16:9",),
        resolutions=("720p",),
        max_images=0,
        seed=True,
        max_prompt_chars=MAX_PROMPT_UNITS,
        typical_seconds=120.0,
    ),
)


def _veo(model: str, name: str, usd: float, usd_audio: float, typical: float) -> ModelSpec:
    return ModelSpec(
        id=model,
        name=name,
        description=f"Google's {name} through Runway: text or first (+last) frame, 4/6/8 s, 720p or 1080p, audio.",
        modes=("text_to_video", "image_to_video"),
        durations=(4.0, 6.0, 8.0),
        default_duration=8.0,
        aspect_ratios=VEO_RATIOS,
        default_aspect_ratio="16:9",
        resolutions=("720p", "1080p"),
        default_resolution="720p",
        audio=True,
        default_audio=False,  # audio raises the price: an agent asks for it
        max_images=1,
        end_image=True,
        negative_prompt=True,
        seed=True,
        max_prompt_chars=MAX_PROMPT_UNITS,
        price=PriceRule(
            per_second=usd,
            per_second_audio=usd_audio,
            note=f"{usd * 100:g} credits/s, {usd_audio * 100:g} with audio (Runway lists {usd * 100:g}-"
            f"{usd_audio * 100:g}; audio sets which); same at 720p and 1080p",
        ),
        price_source=PRICE_SOURCE,
        price_checked=PRICE_CHECKED,
        typical_seconds=typical,
    )


MODELS: tuple[ModelSpec, ...] = (
    ModelSpec(
        id="gen4.5",
        name="Runway Gen-4.5",
        description=(
            "Runway's flagship: text or a start image, 2-10 s at 720p. From text only 16:9 and 9:16; "
            "4:3, 1:1, 3:4 and 21:9 need a start image."
        ),
        modes=("text_to_video", "image_to_video"),
        durations=tuple(float(s) for s in range(2, 11)),
        default_duration=5.0,
        aspect_ratios=GEN4_RATIOS,
        default_aspect_ratio="16:9",
        resolutions=("720p",),
        default_resolution="720p",
        max_images=1,
        seed=True,
        max_prompt_chars=MAX_PROMPT_UNITS,
        price=PriceRule(per_second=0.12, note="12 credits/s (MP4 output)"),
        price_source=PRICE_SOURCE,
        price_checked=PRICE_CHECKED,
        typical_seconds=75.0,
    ),
    ModelSpec(
        id="gen4_turbo",
        name="Runway Gen-4 Turbo",
        description="Fast, cheap image-to-video: animates a start image for 2-10 s at 720p.",
        modes=("image_to_video",),
        durations=tuple(float(s) for s in range(2, 11)),  # "gen4_turbo must specify a duration of 2-10 seconds"
        default_duration=5.0,
        aspect_ratios=GEN4_RATIOS,
        default_aspect_ratio="16:9",
        resolutions=("720p",),
        default_resolution="720p",
        max_images=1,
        seed=True,
        max_prompt_chars=MAX_PROMPT_UNITS,
        price=PriceRule(per_second=0.05, note="5 credits/s"),
        price_source=PRICE_SOURCE,
        price_checked=PRICE_CHECKED,
        typical_seconds=30.0,
    ),
    _veo("veo3.1", "Veo 3.1", 0.20, 0.40, typical=90.0),
    _veo("veo3.1_fast", "Veo 3.1 Fast", 0.10, 0.15, typical=50.0),
    ModelSpec(
        id="seedance2",
        name="Seedance 2.0",
        description=(
            "ByteDance's Seedance 2.0 through Runway: long shots (4-15 s), first/last frame, audio; 480p to 4K. "
            "Also edits an input video (video: up to 15 s, at least 720p, https URL up to 32 MB or a file up to "
            "3.7 MB)."
        ),
        modes=("text_to_video", "image_to_video"),
        # rw-api-reference: "VTV input requirements: max 15 seconds, max 32 MB, min 720p resolution, MP4
        # recommended"; a file goes as a data URI (under 5 MB encoded: MAX_VIDEO_DATA_URI_CHARS).
        video=True,
        max_video_bytes=MAX_VIDEO_FILE_BYTES,
        max_video_seconds=15.0,
        min_video_side=720,
        durations=tuple(float(s) for s in range(4, 16)),  # Runway's API spec: integer 4 to 15
        default_duration=5.0,
        aspect_ratios=GEN4_RATIOS,
        default_aspect_ratio="16:9",
        resolutions=("480p", "720p", "1080p", "4k"),
        default_resolution="720p",
        audio=True,
        default_audio=False,
        max_images=1,
        end_image=True,
        seed=True,
        max_prompt_chars=3500,
        price=PriceRule(
            per_second=0.36,
            resolution_factor={"1080p": 40 / 36, "4k": 150 / 36},
            note="36 credits/s at 480p and 720p (rw-api-reference), 40 at 1080p and 150 at 4K (Runway's pricing "
            f"guide, {GUIDE_COPIES}), with or without audio, from text, an image or an input video",
        ),
        price_source=PRICE_SOURCE,
        price_checked=PRICE_CHECKED,
        typical_seconds=120.0,
    ),
    *THIRD_PARTY,
)


# -- the declaration: Runway's answers (task_retrieve_response.py, *_create_response.py) as typed wire models,
# read tolerantly, and what each status, failureCode and error answer means in our terms.

CANCELLED_BY_US = "cancelled at Runway (a cancel there does not refund a task it found running)"


class Credits(Wire):
    credits: float | None = None


class CreatedTask(Accepted):
    """POST /v1/{text,image}_to_video: {"id", "estimatedCost": {"credits"}} (the most the task may charge)."""

    id: str = ""
    estimated_cost: Credits | None = Field(None, alias="estimatedCost")


class Task(TaskAnswer):
    """GET /v1/tasks/{id}. `cost` is on terminal tasks: the credits that stay charged after refunds."""

    id: str = ""
    status: str = ""
    progress: float | None = None
    output: list[str] = Field(default_factory=list)
    failure: str = ""
    failure_code: str = Field("", alias="failureCode")
    cost: Credits | None = None

    @field_validator("progress", mode="before")
    @classmethod
    def _fraction(cls, value: Any) -> float | None:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return None
        value = value / 100 if value > 1 else value  # documented as a float, range unstated: accept percent too
        return min(1.0, max(0.0, float(value)))

    @field_validator("failure", "failure_code", mode="before")
    @classmethod
    def _text(cls, value: Any) -> str:
        return "" if value is None else value

    @field_validator("output", mode="before")
    @classmethod
    def _urls(cls, value: Any) -> Any:
        return [] if value is None else value

    def charged_usd(self) -> float | None:
        credits = self.cost.credits if self.cost else None
        return None if credits is None else round(credits * USD_PER_CREDIT, 4)

    def job_video(self) -> str | None:
        return self.output[0] if self.output else None

    def job_progress(self) -> float | None:
        return self.progress

    def job_charge(self) -> float | None:
        return self.charged_usd()

    def job_failure(self) -> tuple[str, str]:
        return self.failure_code, self.failure


class Problem(ErrorAnswer):
    """Runway's error body {"error": "...", "issues": [{"path": [...], "message": "..."}]}."""

    def error_text(self) -> str:
        body = self.raw
        if not isinstance(body, dict):
            return ""
        parts = [str(body.get("error") or "").strip().rstrip(".")]
        for issue in body.get("issues") or []:
            if isinstance(issue, dict) and issue.get("message"):
                where = ".".join(str(p) for p in issue.get("path") or [])
                parts.append(f"{where}: {issue['message']}" if where else str(issue["message"]))
        text = "; ".join(p for p in parts if p)
        return text if len(text) <= 500 else text[:499] + "…"


STATUS = {  # every terminal status carries the charge Runway reports
    "PENDING": State("queued", "waiting in Runway's queue"),
    "THROTTLED": State(
        "queued", "throttled: the Runway organisation is at its concurrency limit; starts when a task finishes"
    ),
    "RUNNING": State("running", "generating ({progress:.0%})"),
    "SUCCEEDED": State("succeeded"),
    "FAILED": State("failed"),
    "CANCELLED": State("cancelled", "cancelled at Runway"),
}
# failureCode (docs.dev.runwayml.com/errors/task-failures) -> our code, whether resubmitting may help, advice.
# The first prefix found at the start of any dotted part wins, so SAFETY.INPUT.TEXT and
# INPUT_PREPROCESSING.SAFETY.TEXT are both moderation, and INPUT_PREPROCESSING.INTERNAL is Runway's fault.
FAILURES = tuple(
    Rule(code, "Runway task failed ({said}){reason}. " + advice + ".", match=rf"(?i)(^|\.){prefix}", retryable=retry)
    for prefix, code, retry, advice in (
        ("SAFETY", ErrorCode.CONTENT_POLICY, False, "Runway's moderation blocked it; change the prompt or image"),
        (
            "ASSET",
            ErrorCode.INVALID_INPUT,
            False,
            "Runway could not use the input image or video; pass a valid JPEG/PNG/WebP image or MP4/MOV/WebM video",
        ),
        ("INTERNAL", ErrorCode.PROVIDER_FAILED, True, "a fault inside Runway; submitting again usually works"),
        ("INPUT", ErrorCode.INVALID_INPUT, False, "Runway could not use the input; check the prompt and image"),
    )
)
# HTTP errors (docs: api-details/errors).
ERRORS = (
    Rule(
        ErrorCode.OUT_OF_CREDIT,
        "Runway: not enough credits for this task{said}. Buy credits in the Runway developer portal "
        "(dev.runwayml.com, Billing) or choose a cheaper model or shorter duration.",
        status=400,
        text="credit",
        retryable=False,
    ),
    Rule(ErrorCode.INVALID_INPUT, "Runway rejected the request (HTTP {status}){said}.", status=(400, 422)),
    Rule(
        ErrorCode.AUTH,
        "Runway rejected the API key (HTTP {status}){said}. Check RUNWAYML_API_SECRET: a key from "
        "dev.runwayml.com, 'key_' and 128 hex digits with no spaces, not disabled.",
        status=(401, 403),
    ),
    Rule(
        ErrorCode.NOT_FOUND,
        "Runway has no such task (HTTP 404){said}: it was deleted, or made with another organisation's key.",
        status=404,
    ),
    Rule(
        ErrorCode.RATE_LIMITED,
        "Runway rate limit reached (HTTP 429){said}: too many requests, or the tier's daily generation "
        "limit. Wait and try again, or raise the tier at dev.runwayml.com.",
        status=429,
    ),
    Rule(
        ErrorCode.TRANSIENT,
        "Runway is overloaded or shedding load (HTTP {status}){said}; try again shortly.",
        status=range(500, 600),
    ),
)


class RunwayProvider(TaskProvider[CreatedTask, Task]):
    name = "runway"
    title = "Runway"
    env_vars = ("RUNWAYML_API_SECRET",)
    base_url_default = "https://api.dev.runwayml.com"
    default_model = "gen4.5"
    models = MODELS
    supports_cancel = True  # DELETE: cancels a task that has not finished, deletes one that has
    # Retries: the shared default (3 retries, 0.5 s doubling to 8 s; the SDK does 2).

    status_path = "/v1/tasks/{ref}"
    cancel_path = "/v1/tasks/{ref}"  # afterwards the task cannot be fetched: a 404 is that cancel
    cancelled_message = CANCELLED_BY_US
    id_field = "task id"
    where_to_check = "the Runway developer portal's task history"
    unreadable = "Runway answered a status check with something that is not a task"
    accepted_model = CreatedTask
    status_model = Task
    error_model = Problem
    STATUS = STATUS
    UNKNOWN_STATE = State("running", "Runway reports {state}; still watching")  # not an end, as in the SDK's loop
    ERRORS = ERRORS
    FAILURES = FAILURES
    FAILED_SOMEHOW = Rule(
        ErrorCode.PROVIDER_FAILED,
        "Runway task failed ({said}){reason}. see the Runway task's history.",
        retryable=False,
    )
    NO_VIDEO = Rule(ErrorCode.PROVIDER_FAILED, "Runway finished with no output video", retryable=False)

    def poll_interval(self, spec: ModelSpec, elapsed: float) -> float:
        """About a dozen checks per typical run, 5-10 s apart (the SDK waits 6 s +/- 1.5 s); every 15 s
        once a task is far past its typical time (throttled behind the organisation's other tasks).
        Jittered, so jobs submitted together do not poll together."""
        base = 15.0 if elapsed > 3 * spec.typical_seconds else min(10.0, max(5.0, spec.typical_seconds / 12))
        return base * random.uniform(0.85, 1.15)

    def check(self, request: VideoRequest) -> None:
        spec = self.spec(request.model)
        limit = spec.max_prompt_chars if spec else MAX_PROMPT_UNITS
        if len(request.prompt.encode("utf-16-le")) // 2 > limit:
            raise InvalidRequest(
                f"prompt is longer than Runway's {limit} UTF-16 units for {request.model} (emoji and some symbols "
                "count twice); shorten it"
            )
        shortest = MIN_PROMPT_UNITS.get(request.model, 1)
        if len(request.prompt.encode("utf-16-le")) // 2 < shortest:
            raise InvalidRequest(f"runway/{request.model} needs a prompt of at least {shortest} characters")
        text_ratios = TEXT_TO_VIDEO_RATIOS.get(request.model)
        if request.mode == "text_to_video" and text_ratios and request.aspect_ratio not in text_ratios:
            raise InvalidRequest(
                f"runway/{request.model} makes {' or '.join(text_ratios)} from text alone; for "
                f"{request.aspect_ratio} pass a start image in images"
            )
        for image in [*request.images, *([request.end_image] if request.end_image else [])]:
            if images.classify(image) == "url" and urlsplit(image).scheme.lower() != "https":
                raise InvalidRequest(
                    f"Runway fetches images only over https://, not {image[:80]!r}; "
                    "pass an https URL or a local file instead"
                )
        if rule := IMAGE_RULES.get(request.model):
            named = [("images[0]", request.images[0])] if request.images else []
            for what, image in [*named, *([("end_image", request.end_image)] if request.end_image else [])]:
                self._image_follows(rule, request.model, what, image)
        if request.video and videos.classify(request.video) == "url":
            video_url_rule(request.video)
            if request.model in NO_DURATION and request.duration < MAX_EDIT_SECONDS:
                raise InvalidRequest(
                    f"runway/{request.model} bills every second of its input video, and an https video's length "
                    f"cannot be read here: pass duration={MAX_EDIT_SECONDS:g} (its longest input) so the quote covers "
                    "it, or pass the video as a local file for an exact quote"
                )
        elif request.video and request.model in NO_DURATION:
            self._quote_covers_the_video(request)

    def _image_follows(self, rule: ImageRule, model: str, what: str, image: str) -> None:
        """A local or data-URI image against the model's IMAGE_RULES, before anything is spent. An https image
        cannot be read here (Runway fetches it); an unreadable file is refused when the job is made (an estimate
        does not read files)."""
        if images.classify(image) == "url":
            return
        try:
            data, _ = images.to_bytes(image, self.allowed_dirs)
        except InvalidRequest:
            return
        width, height = images.check_pixels(data, what)
        if rule.min_side and min(width, height) < rule.min_side:
            raise InvalidRequest(
                f"{what} is {width}x{height}: runway/{model} takes images of at least {rule.min_side} pixels on both "
                "sides; pass a larger image"
            )
        if rule.ratio and not rule.ratio[0] <= width / height <= rule.ratio[1]:
            low, high = rule.ratio
            raise InvalidRequest(
                f"{what} is {width}x{height} (width / height {width / height:.2f}): runway/{model} keeps the image's "
                f"aspect ratio and takes only {low:g} to {high:g}; crop or pad the image to fit"
            )

    def _quote_covers_the_video(self, request: VideoRequest) -> None:
        """A model billed per second of its input video (Aleph 2) is quoted at `duration`: a local video longer
        than that would cost more than the quote, so it is refused with the duration to pass."""
        try:
            data, _ = videos.to_bytes(request.video or "", self.allowed_dirs, MAX_VIDEO_FILE_BYTES, "Runway")
        except InvalidRequest:
            return  # an unreadable video is refused when the job is made (an estimate does not read files)
        seconds = videos.probe(data, "video")[2]
        if seconds is not None and seconds < MIN_EDIT_SECONDS - 0.05:
            raise InvalidRequest(
                f"the input video is {seconds:.1f} s long; runway/{request.model} edits videos of at least "
                f"{MIN_EDIT_SECONDS:g} s (up to 30 s): pass a longer one"
            )
        if seconds is not None and seconds > request.duration + 1e-3:
            raise InvalidRequest(
                f"the input video is {seconds:.1f} s long and runway/{request.model} bills every second of it, but "
                f"duration is {request.duration:g} s: pass duration={math.ceil(seconds - 1e-3)} so the quote covers it"
            )

    # -- the job life cycle --------------------------------------------------------------------
    def submit_path_for(self, request: VideoRequest) -> str:
        return f"/v1/{request.mode}"  # text_to_video, image_to_video, video_to_video

    def submission_state(self, accepted: CreatedTask, request: VideoRequest) -> dict[str, Any]:
        credits = accepted.estimated_cost.credits if accepted.estimated_cost else None
        return {"estimated_credits": credits} if credits is not None else {}

    async def submit(self, job_id: str, request: VideoRequest, callback_url: str | None = None) -> Submission:
        """Create the task, then hold Runway's own figure (`estimatedCost`, "the maximum credits this task may
        charge") against our quote, which the budget reserved: above it, the submission asks the engine to cancel
        the task at once (CANCEL_AT_ONCE), once its id is stored, so neither a crash nor a failed cancel loses it."""
        submission = await super().submit(job_id, request, callback_url)
        credits = submission.state.get("estimated_credits")
        spec = self.spec(request.model)
        quote = spec.price_for(request.duration, request.resolution, request.audio)[0] if spec else None
        if credits is not None and quote is not None and credits * USD_PER_CREDIT > quote + 1e-9:
            submission.state[AT_MOST_USD] = round(credits * USD_PER_CREDIT, 4)
            submission.state[CANCEL_AT_ONCE] = (
                f"Runway's own estimate for this task is {credits:g} credits (${credits * USD_PER_CREDIT:.2f}), above "
                f"the ${quote:.2f} quoted and reserved for it, so it was cancelled at once (Runway refunds a task "
                f"cancelled before it starts running; one already running keeps up to {credits:g} credits: see task "
                f"{submission.ref} in the developer portal). Runway's price for this model is higher than ours: pick "
                "a shorter or cheaper video, or tell the maintainers."
            )
        return submission

    def failure_fields(self, task: Task, matched: str) -> dict[str, Any]:
        """{said}: "<failureCode>): <failure>" as the FAILURES messages quote it."""
        reason = f": {task.failure.rstrip('.')}" if task.failure else ""
        return {"said": task.failure_code or "no code", "reason": reason}

    # -- request mapping -----------------------------------------------------------------------
    def body(self, request: VideoRequest) -> dict[str, Any]:
        """The JSON body for a validated request (field names as in the SDK's *_create_params)."""
        spec = self.spec(request.model)
        assert spec is not None, request.model
        body: dict[str, Any] = {"model": spec.id, "promptText": request.prompt, **shape_fields(request)}
        if spec.id not in NO_DURATION:
            body["duration"] = int(request.duration)
        if request.video:  # video_to_video: `promptVideo` (Seedance), `videoUri` (Aleph 2)
            body[VIDEO_FIELD.get(spec.id, "promptVideo")] = self.video_uri(request.video)
        if request.images:
            first = self.image_uri(request.images[0])
            if request.end_image:
                last = self.image_uri(request.end_image)
                body["promptImage"] = [{"uri": first, "position": "first"}, {"uri": last, "position": "last"}]
            else:
                body["promptImage"] = first
        if request.seed is not None:
            body["seed"] = request.seed
        if spec.audio:
            body["audio"] = request.audio  # always said: Runway's default is not documented
        if request.negative_prompt:
            body["negativePrompt"] = request.negative_prompt
        return body

    def image_uri(self, value: str) -> str:
        """An HTTPS URL as is; a local file (or data URI) as a data URI under Runway's 5 MB limit,
        re-encoded as JPEG (smaller if need be) when too large, GIF as PNG."""
        if images.classify(value) == "url":
            url = images.check_url(value)
            if urlsplit(url).scheme.lower() != "https":
                raise InvalidRequest(
                    f"Runway fetches images only over https://, not {url[:80]!r}; "
                    "pass an https URL or a local file instead"
                )
            return url
        data, mime = images.to_bytes(value, self.allowed_dirs)
        if uri := images.data_uri_under(data, mime, MAX_DATA_URI_CHARS, RUNWAY_IMAGE_MIMES):
            return uri
        raise InvalidRequest("image is too large for Runway even as a 1280 px JPEG; pass a smaller image")

    def video_uri(self, value: str) -> str:
        """An https URL on a public domain as is (Runway fetches it, up to 32 MB); a local file or data URI as a
        data URI under 5 MB (MAX_VIDEO_DATA_URI_CHARS), or an error saying to pass an https URL."""
        if videos.classify(value) == "url":
            return video_url_rule(value)
        data, mime = videos.to_bytes(value, self.allowed_dirs, MAX_VIDEO_FILE_BYTES, "Runway")
        uri = videos.data_uri(data, mime)
        if len(uri) >= MAX_VIDEO_DATA_URI_CHARS:  # not reached: MAX_VIDEO_FILE_BYTES keeps it under
            raise InvalidRequest(
                f"the video is too large for Runway as a data URI (under {MAX_VIDEO_DATA_URI_CHARS // 2**20} MB "
                f"encoded, files up to {MAX_VIDEO_FILE_BYTES / 2**20:.1f} MB); pass it as an https URL (up to "
                f"{MAX_VIDEO_URL_MB} MB) instead"
            )
        return uri

    # -- HTTP ----------------------------------------------------------------------------------
    def http_options(self) -> dict[str, Any]:
        key = self.env.get("RUNWAYML_API_SECRET", "").strip()  # a trailing newline is a common 401
        return {
            "headers": {"X-Runway-Version": RUNWAY_VERSION},
            "auth": lambda: {"Authorization": f"Bearer {key}"},
            "error_mapper": self.error_for,
        }


def video_url_rule(value: str) -> str:
    """A video URL as Runway fetches them (docs: assets/inputs): https, on a public domain name (not an IP
    address in any spelling, nor localhost), at most 2048 characters; the URL, checked, its scheme lower case
    (Runway compares it as written)."""
    url = images.check_url(value, "video", ("https",))
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if not _public_domain(host):
        raise InvalidRequest(
            f"Runway fetches videos only from a public domain name (e.g. cdn.example.com), not an IP address or a "
            f"local name ({images._shown(host, 60)}); host the video under a public domain, or pass a local file "
            "instead"
        )
    return "https" + url[len(parts.scheme) :]


def _public_domain(host: str) -> bool:
    """A host that names a public domain: not an IP address (1.2.3.4, a trailing dot, IPv6), not a number an
    IPv4 parser reads as one (0x7f000001, 2130706433, 127.1, 0177.0.0.1), not a single label or localhost."""
    name = host.rstrip(".")
    try:
        ipaddress.ip_address(name)
        return False
    except ValueError:
        pass
    labels = name.split(".")
    if len(labels) < 2 or not all(labels) or labels[-1] == "localhost":
        return False
    # inet_aton's forms end in a number (decimal, octal or 0x hex); a top-level domain never does.
    return re.fullmatch(r"[0-9]+|0x[0-9a-f]*", labels[-1]) is None


# Kept for callers of the module's functions (tests): the declaration's shared steps.
error_for = RunwayProvider.error_for


def snapshot(body: Any) -> Snapshot:
    """A task from GET /v1/tasks/{id} in our terms."""
    return RunwayProvider({}).read_status(body)


def failure_error(code: str, failure: str) -> ProviderErrorInfo:
    return RunwayProvider({}).failure(Task(status="FAILED", failure_code=code, failure=failure))
