"""A local Runway developer API (api.dev.runwayml.com/v1) that the official `runwayml` SDK can talk to.

Follows the documented behaviour: `Authorization: Bearer key_<128 hex>` (else 401), a required
`X-Runway-Version: 2024-11-06` (else 400), bodies validated per model as the SDK 5.24 types them
(*_create_params.py; 400 `{"error", "issues": [{"path", "message"}]}`, an unknown model included) on
POST /v1/text_to_video, /v1/image_to_video and /v1/video_to_video (`promptVideo`, or `videoUri` for aleph2, Gemini
and Kling 4): gen4.5, gen4_turbo, veo3.1(_fast), seedance2(_fast, _mini, _5), hailuo3, h3_max, grok_imagine_1_5
(+_lite), happyhorse_1_0, gemini_omni_flash (+_1.1), wan3(_prime), kling2.5_turbo_pro, kling3.0_(standard, pro,
4k), klingO3_(standard, pro, 4k), kling_4 and aleph2, each
on exactly the endpoints, fields, literals and frame positions the SDK declares for it (MODELS); credits as
Runway's guides/pricing copies and measurements give them (Kling: measured/reseller figures; Kling 4 fal's list
price, a stand-in), a data-URI input video's length read with PyAV (an https one taken as 30 s); media
references as docs.dev.runwayml.com/assets/inputs limits them (https on a domain, data URIs under 5 MB for
images and videos, see MAX_DATA_URI; seedance2's data-URI videos MP4/MOV/WebM, at least 720p and at most 15 s,
read with PyAV; promptImage data URIs as the SDK's docstrings limit them, read with Pillow: h3_max at least
256 px a side, Grok Imagine 1.5 and 1.5 Lite a width / height of 0.4 to 2.5; kling_4 at most 10 images, frames
included), tasks
PENDING/THROTTLED -> RUNNING (progress 0..1) -> SUCCEEDED (`output: [mp4 url]`) | FAILED (`failure`,
`failureCode`), costs in credits. Refunds as documented: a failure is refunded except SAFETY.INPUT.*
("not refundable"); DELETE /v1/tasks/{id} (204) cancels an unfinished task (refunded only if it had not
started RUNNING) or deletes a finished one (no refund), and either way the task answers 404 from then on
("Aborted and deleted tasks will not be able to be fetched again"). A task flagged `cancelled` in the job
table (as one cancelled in the developer portal) reads CANCELLED.

Test switches (POST /_sim/config, or `app.state.sim.config`):
  {"credits": N}       the organisation's balance: a task costing more is refused with Runway's 400;
                       refunds are paid back into it
  {"errors": [429, 502, ...]}  the next API requests answer these statuses, one each
  {"throttled": true}  queued tasks report THROTTLED instead of PENDING
  {"price_factor": F}  every task costs F times the rates below (Runway changing its prices)
Prompt directives: sim:fail=content (SAFETY.INPUT.TEXT, charged), sim:fail=internal (INTERNAL.BAD_OUTPUT),
sim:fail=asset (ASSET.INVALID), sim:seconds=N, sim:queue=N.
"""

from __future__ import annotations

import base64
import binascii
import io
import ipaddress
import math
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from providers.simulators.common import SimJob, Simulator, video_url

VERSION = "2024-11-06"
KEY = re.compile(r"^key_[0-9a-f]{128}$")
# Data URIs, encoded length: images under 5MB (docs.dev.runwayml.com/assets/inputs, "Size limits", and the SDK).
# Videos: the SDK (runwayml 5.24, types/video_to_video_create_params.py, promptVideo) says "up to 5MB", the docs'
# table 16MB; the simulator refuses past the limit both sources allow (5MB), so nothing passes here that Runway
# might refuse. Audio: 16MB (docs; the SDK says 5MB too, but nothing here sends audio).
MAX_DATA_URI = {"image": 5 * 1024 * 1024, "video": 5 * 1024 * 1024, "audio": 16 * 1024 * 1024}
# The video data-URI types taken: MP4, QuickTime and WebM (the SDK's example is data:video/mp4; Matroska and
# other containers are refused).
VIDEO_MIMES = ("video/mp4", "video/quicktime", "video/webm")
MAX_URL = 2048
SEED_MAX = 2**32 - 1


@dataclass(frozen=True)
class Shape:
    """One model on one endpoint, as the SDK's *_create_params TypedDict declares it."""

    fields: frozenset[str]  # every body field beside `model`
    required: frozenset[str]
    ratios: tuple[str, ...] = ()  # the `ratio` literals (empty while "ratio" is a field: any string)
    resolutions: tuple[str, ...] = ()  # the `resolution` literals
    positions: tuple[str, ...] = ("first",)  # promptImage positions allowed
    reference_images: bool = False  # promptImage items without `position` are references (not frames)
    output_formats: tuple[str, ...] = ()  # the `outputFormat` literals
    max_references: int = 0  # `references` items at most (0: no limit stated)
    max_images: int = 0  # promptImage frames and `references` together at most (kling_4; 0: no such rule)
    max_reference_videos: int = 0  # `referenceVideos` items at most (0: no limit stated)
    # referenceVideos / referenceAudio whose items the SDK types as {uri} or bare `object`, with no `type`
    # literal (gemini_omni_flash_1.1, kling_4); every other model's items carry `type: "video"` / `"audio"`.
    untyped_references: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Model:
    """One model's rules: its endpoints' shapes, lengths and what the simulator charges for it."""

    shapes: dict[str, Shape]  # endpoint -> shape
    durations: tuple[int, ...] = ()  # the integer lengths taken (empty: no `duration` field anywhere)
    default_duration: int | None = None  # the documented default (None: none documented)
    auto_duration: bool = False  # duration "auto": billed at the longest up front, the rest refunded
    prompt_units: int = 0  # promptText limit in UTF-16 code units (0: none stated)
    prompt_min: int = 1  # promptText's least length ("minLength" in the API spec)
    # Credits per second: one rate, or by size tier ("480p", "720p", "768p", "1080p", "2k", "4k").
    credits: float | dict[str, float] = 0.0
    credits_audio: float | None = None  # veo: the rate with sound
    default_ratio: str = ""  # the documented default `ratio` (priced, and shapes the output)
    minimum: float = 0.0  # credits a task costs at least
    per_reference_image: float = 0.0  # each reference image (promptImage without position, `references`)
    per_first_frame: float = 0.0  # an image_to_video start frame
    per_reference_audio: float = 0.0
    input_credits: float | dict[str, float] = 0.0  # per second of input video, by the output's tier
    input_cap: float = 0.0  # input seconds charged at most (0: no cap)
    output_follows_input: bool = False  # video_to_video without `duration`: as long as the input
    seconds: float = 75.0  # simulated generation time
    video_max_seconds: float = 0.0  # the input video's limits (0: none documented)
    video_min_seconds: float = 0.0
    video_min_side: int = 0
    # promptImage data URIs, as the SDK's docstrings limit them (https images are fetched by Runway, unseen here)
    image_min_side: int = 0  # h3_max: "Each image must be at least 256 pixels on both sides"
    image_ratio: tuple[float, float] | None = None  # grok: "(width / height) must be between 0.4 and 2.5"

    def ratios(self, endpoint: str) -> tuple[str, ...]:
        shape = self.shapes.get(endpoint)
        return shape.ratios if shape else ()

    @property
    def text_ratios(self) -> tuple[str, ...]:
        return self.ratios("text_to_video")

    @property
    def image_ratios(self) -> tuple[str, ...]:
        return self.ratios("image_to_video")

    @property
    def video_ratios(self) -> tuple[str, ...]:
        return self.ratios("video_to_video")


def _shape(fields: str, required: str, **rules: Any) -> Shape:
    return Shape(fields=frozenset(fields.split()), required=frozenset(required.split()), **rules)


GEN4_RATIOS = ("1280:720", "720:1280", "1104:832", "960:960", "832:1104", "1584:672")
VEO_RATIOS = ("1280:720", "720:1280", "1080:1920", "1920:1080")
SEEDANCE_480 = ("992:432", "864:496", "752:560", "640:640", "560:752", "496:864")
SEEDANCE_720 = ("1470:630", "1280:720", "1112:834", "960:960", "834:1112", "720:1280")
SEEDANCE_1080 = ("2206:946", "1920:1080", "1664:1248", "1440:1440", "1248:1664", "1080:1920")
SEEDANCE_4K = ("3840:1646", "3840:2160", "3840:2880", "3840:3840", "2880:3840", "2160:3840")
SEEDANCE_RATIOS = (*SEEDANCE_480, *SEEDANCE_720, *SEEDANCE_1080, *SEEDANCE_4K)
SEEDANCE_FAST_RATIOS = (*SEEDANCE_480, *SEEDANCE_720)  # "supports 480p and 720p only" (SDK)
# Seedance 2.5's 480p sizes differ from 2.0's in two places (854:480 and 480:854); no 4K.
SEEDANCE25_480 = ("992:432", "854:480", "752:560", "640:640", "560:752", "480:854")
SEEDANCE25_RATIOS = (*SEEDANCE25_480, *SEEDANCE_720, *SEEDANCE_1080)
HAILUO_RATIOS = ("adaptive", "21:9", "16:9", "4:3", "1:1", "3:4", "9:16")
HAILUO_RESOLUTIONS = ("768p", "2k", "768P", "2K")  # the capitals: deprecated, still typed
GROK_RATIOS = ("1:1", "16:9", "9:16", "4:3", "3:4", "3:2", "2:3")
GROK_RESOLUTIONS = ("480p", "720p", "1080p")
HAPPYHORSE_720 = ("1280:720", "720:1280", "960:960", "1108:832", "832:1108")
HAPPYHORSE_1080 = ("1920:1080", "1080:1920", "1440:1440", "1662:1248", "1248:1662")
HAPPYHORSE_RESOLUTIONS = ("720p", "1080p", "720P", "1080P")
GEMINI_RATIOS = ("1280:720", "720:1280")
WAN3_480 = ("832:480", "720:544", "624:624", "544:720", "480:832")
WAN3_720 = ("1280:720", "1104:832", "960:960", "832:1104", "720:1280")
WAN3_1080 = ("1920:1080", "1648:1248", "1440:1440", "1248:1648", "1080:1920")
WAN3_RATIOS = (*WAN3_480, *WAN3_720, *WAN3_1080, "auto_480p", "auto_720p", "auto_1080p")
KLING_STANDARD_RATIOS = ("1280:720", "720:1280", "960:960")
KLING_PRO_RATIOS = ("1920:1080", "1080:1920", "1440:1440")
KLING_4K_RATIOS = ("3840:2160", "2160:3840", "2880:2880")
KLING4_720 = ("1280:720", "720:1280", "940:940", "1460:624")
KLING4_1080 = ("1920:1080", "1080:1920", "1440:1440", "2200:940")
KLING4_AUTO = ("auto_720p", "auto_1080p")
GROK_LITE_480 = ("848:480", "480:848", "480:480", "640:480", "480:640", "720:480", "480:720")
GROK_LITE_720 = ("1280:720", "720:1280", "720:720", "960:720", "720:960", "1088:720", "720:1088")
GROK_LITE_1080 = ("1904:1072", "1072:1904", "1424:1424", "1648:1232", "1232:1648", "1744:1152", "1152:1744")
GEMINI_1_1_RATIOS = ("640:360", "360:640", "1280:720", "720:1280", "1920:1080", "1080:1920", "3840:2160", "2160:3840")
PROMPT_EXPANSION_MODES = ("disabled", "balanced", "quality")  # h3_max's promptExpansionMode
ALEPH_TARGET_RATIOS = ("16:9", "4:3", "3:2", "1:1", "2:3", "3:4", "9:16", "21:9")
# The size tier of each pixel ratio, as the SDK groups them (its docstrings: "supports 480p, 720p, and 1080p").
SIZE_TIERS: dict[str, str] = {
    **{r: "360p" for r in GEMINI_1_1_RATIOS[:2]},
    **{r: "480p" for r in (*SEEDANCE_480, *SEEDANCE25_480, *WAN3_480, *GROK_LITE_480)},
    **{r: "720p" for r in (*SEEDANCE_720, *WAN3_720, *HAPPYHORSE_720, *KLING4_720, *GROK_LITE_720)},
    **{r: "1080p" for r in (*SEEDANCE_1080, *WAN3_1080, *HAPPYHORSE_1080, *KLING4_1080, *GROK_LITE_1080)},
    **{r: "4k" for r in SEEDANCE_4K},
}
OUTPUT_FORMATS = (
    *("mp4", "prores", "png_sequence", "hdr10", "hlg", "sdr_rec709_10bit", "hdr_pq_12bit_master", "hdr_prores"),
    *("hdr_png_sequence", "hdr_exr_sequence", "hdr_exr_acescg_sequence_1_3", "hdr_exr_acescg_sequence_2_0"),
)
ALEPH_OUTPUT_FORMATS = ("mp4", "prores", "png_sequence", "sdr_rec709_10bit")
SEEDANCE25_OUTPUT_FORMATS = ("mp4", "mov")
PRORES_PROFILES = ("422", "4444", "422 Proxy", "422 LT", "422 HQ", "4444 XQ")
SHOT_TYPES = ("intelligence", "customize")
V2V_MODES = ("reference", "extend", "edit")

_SEEDANCE_T2V = "promptText audio duration ratio referenceAudio references referenceVideos seed"
_SEEDANCE_I2V = "promptImage audio duration promptText ratio referenceAudio seed"
_SEEDANCE_V2V = "promptVideo audio duration promptText ratio referenceAudio references referenceVideos seed"
_FRAMES_OR_REFERENCES = {"positions": ("first", "last"), "reference_images": True}


def _seedance(ratios: tuple[str, ...], **rules: Any) -> dict[str, Shape]:
    return {
        "text_to_video": _shape(_SEEDANCE_T2V, "promptText", ratios=ratios, max_references=9),
        "image_to_video": _shape(_SEEDANCE_I2V, "promptImage", ratios=ratios, **_FRAMES_OR_REFERENCES),
        "video_to_video": _shape(_SEEDANCE_V2V, "promptVideo", ratios=ratios, max_references=9),
    }


# Kling through Runway: prompts of 2 to 2500 characters (Runway's validator, as an integrator recorded it 2026-10-01)
_KLING_PROMPT: dict[str, Any] = {"prompt_units": 2500, "prompt_min": 2}


def _kling(ratios: tuple[str, ...], omni: bool) -> dict[str, Shape]:
    """Kling 3.0 (cfgScale) and Kling O3 (references; video_to_video), as the SDK declares them."""
    extra = "references" if omni else "cfgScale"
    shapes = {
        "text_to_video": _shape(
            "ratio audio duration promptText providerSettings" + ("" if omni else " cfgScale"), "ratio", ratios=ratios
        ),
        "image_to_video": _shape(
            f"promptImage audio duration promptText providerSettings ratio {extra}",
            "promptImage",
            ratios=ratios,
            positions=("first", "last"),
            max_references=7,  # "An optional array of reference images (up to 7)"
        ),
    }
    if omni:  # no duration or ratio: the output follows the input video
        shapes["video_to_video"] = _shape(
            "promptText promptVideo providerSettings references", "promptText promptVideo", max_references=4
        )
    return shapes


KLING_DURATIONS = tuple(range(3, 16))
MODELS: dict[str, Model] = {
    "gen4.5": Model(
        shapes={
            "text_to_video": _shape(
                "promptText ratio duration seed contentModeration outputFormat proresProfile",
                "promptText ratio duration",
                ratios=("1280:720", "720:1280"),
                output_formats=OUTPUT_FORMATS,
            ),
            "image_to_video": _shape(
                "promptImage promptText ratio duration seed contentModeration outputFormat proresProfile",
                "promptImage promptText ratio duration",
                ratios=GEN4_RATIOS,
                output_formats=OUTPUT_FORMATS,
            ),
        },
        durations=tuple(range(2, 11)),
        default_duration=5,
        prompt_units=1000,
        credits=12,
    ),
    "gen4_turbo": Model(
        shapes={
            "image_to_video": _shape(
                "promptImage ratio duration promptText seed contentModeration", "promptImage ratio", ratios=GEN4_RATIOS
            )
        },
        durations=tuple(range(2, 11)),  # "gen4_turbo must specify a duration of 2-10 seconds" (API spec)
        default_duration=10,
        prompt_units=1000,
        credits=5,
        seconds=30.0,
    ),
    "veo3.1": Model(
        shapes={
            "text_to_video": _shape(
                "promptText ratio audio duration negativePrompt seed", "promptText ratio", ratios=VEO_RATIOS
            ),
            "image_to_video": _shape(
                "promptImage promptText ratio audio duration negativePrompt seed",
                "promptImage ratio",
                ratios=VEO_RATIOS,
                positions=("first", "last"),
            ),
        },
        durations=(4, 6, 8),
        default_duration=8,
        prompt_units=1000,
        credits=20,
        credits_audio=40,
        seconds=90.0,
    ),
    "veo3.1_fast": Model(
        shapes={
            "text_to_video": _shape(
                "promptText ratio audio duration negativePrompt seed", "promptText ratio", ratios=VEO_RATIOS
            ),
            "image_to_video": _shape(
                "promptImage promptText ratio audio duration negativePrompt seed",
                "promptImage ratio",
                ratios=VEO_RATIOS,
                positions=("first", "last"),
            ),
        },
        durations=(4, 6, 8),
        default_duration=8,
        prompt_units=1000,
        credits=10,
        credits_audio=15,
        seconds=50.0,
    ),
    # Seedance 2.0 (Runway's guides/pricing as copied in the research notes: 36 credits/s at 480p and 720p,
    # 40 at 1080p, 150 at 4K; audio is not priced apart).
    "seedance2": Model(
        shapes=_seedance(SEEDANCE_RATIOS),
        durations=tuple(range(4, 16)),  # the API spec: integer 4 to 15, or "auto"
        default_duration=5,
        auto_duration=True,
        prompt_units=3500,
        credits={"480p": 36, "720p": 36, "1080p": 40, "4k": 150},
        default_ratio="1280:720",
        seconds=120.0,
        # runwayml/skills rw-api-reference (main): "VTV input requirements: max 15 seconds, max 32 MB, min 720p"
        video_max_seconds=15.0,
        video_min_side=720,
    ),
    "seedance2_fast": Model(
        shapes=_seedance(SEEDANCE_FAST_RATIOS),
        durations=tuple(range(4, 16)),
        auto_duration=True,
        prompt_units=3500,
        credits=29,  # guides/pricing copies; measured 145 credits for 5 s at 720p
        seconds=60.0,
    ),
    "seedance2_mini": Model(
        shapes=_seedance(SEEDANCE_FAST_RATIOS),
        durations=tuple(range(4, 16)),
        auto_duration=True,
        prompt_units=3500,
        credits=16,
        minimum=64,  # "16 credits/s, minimum 64 credits per generation" (guides/pricing copies)
        seconds=45.0,
    ),
    "seedance2_5": Model(
        shapes={
            "text_to_video": _shape(
                _SEEDANCE_T2V + " draft draftTaskId outputFormat",
                "",
                ratios=SEEDANCE25_RATIOS,
                output_formats=SEEDANCE25_OUTPUT_FORMATS,
                max_references=9,
            ),
            "image_to_video": _shape(
                _SEEDANCE_I2V + " draft outputFormat",
                "promptImage",
                ratios=SEEDANCE25_RATIOS,
                output_formats=SEEDANCE25_OUTPUT_FORMATS,
                **_FRAMES_OR_REFERENCES,
            ),
            "video_to_video": _shape(
                _SEEDANCE_V2V + " draft mode outputFormat",
                "promptVideo",
                ratios=SEEDANCE25_RATIOS,
                output_formats=SEEDANCE25_OUTPUT_FORMATS,
                max_references=9,
            ),
        },
        durations=tuple(range(4, 31)),  # a validator probe (2026-08-13): 4 to 30, or "auto"
        default_duration=5,  # "Defaults to 5." (SDK)
        auto_duration=True,
        prompt_units=15000,
        credits={"480p": 20, "720p": 30, "1080p": 68},
        minimum=80,
        # "+10 (480p) / 15 (720p) / 34 (1080p) credits per second of input/reference video" (pricing copies)
        input_credits={"480p": 10, "720p": 15, "1080p": 34},
        default_ratio="1280:720",  # "Defaults to `1280:720`." (SDK)
        seconds=120.0,
    ),
    # MiniMax Hailuo 3.0: 10 credits/s at 768p, 15 at 2k, +2 per reference image (guides/pricing copies).
    "hailuo3": Model(
        shapes={
            "text_to_video": _shape(
                "promptText duration ratio referenceAudio references referenceVideos resolution",
                "promptText",
                ratios=HAILUO_RATIOS,
                resolutions=HAILUO_RESOLUTIONS,
            ),
            "image_to_video": _shape(
                "promptImage promptText duration ratio referenceAudio resolution",
                "promptImage promptText",
                ratios=HAILUO_RATIOS,
                resolutions=HAILUO_RESOLUTIONS,
                **_FRAMES_OR_REFERENCES,  # "Use position first/last for keyframe mode, or omit position"
            ),
            "video_to_video": _shape(
                "promptText promptVideo duration ratio referenceAudio references referenceVideos resolution",
                "promptText promptVideo",
                ratios=HAILUO_RATIOS,
                resolutions=HAILUO_RESOLUTIONS,
            ),
        },
        durations=tuple(range(5, 16)),  # the API spec: integer 5 to 15
        prompt_units=6000,  # the API spec: 1 to 6000 characters
        credits={"768p": 10, "2k": 15},
        per_reference_image=2,
        seconds=90.0,
    ),
    # xAI Grok Imagine 1.5: 10/16/29 credits/s at 480p/720p/1080p, +1 per image or audio reference, the
    # image_to_video start frame included (guides/pricing copies; measured: 480p 1 s = 11, 720p 4 s = 65).
    "grok_imagine_1_5": Model(
        shapes={
            "text_to_video": _shape(
                "promptText duration ratio referenceAudio references resolution",
                "promptText",
                ratios=GROK_RATIOS,
                resolutions=GROK_RESOLUTIONS,
            ),
            "image_to_video": _shape(
                "promptImage duration promptText resolution", "promptImage", resolutions=GROK_RESOLUTIONS
            ),
        },
        durations=tuple(range(1, 16)),
        prompt_units=2500,  # the API spec (image_to_video): at most 2500
        credits={"480p": 10, "720p": 16, "1080p": 29},
        per_reference_image=1,
        per_first_frame=1,
        per_reference_audio=1,
        seconds=45.0,
        image_ratio=(0.4, 2.5),  # promptImage: "(width / height) must be between 0.4 and 2.5" (SDK)
    ),
    # HappyHorse 1.0: 15 credits/s at 720p, 30 at 1080p (guides/pricing copies).
    "happyhorse_1_0": Model(
        shapes={
            "text_to_video": _shape(
                "promptText duration ratio", "promptText", ratios=(*HAPPYHORSE_720, *HAPPYHORSE_1080)
            ),
            "image_to_video": _shape(
                "promptImage duration promptText resolution", "promptImage", resolutions=HAPPYHORSE_RESOLUTIONS
            ),
        },
        durations=tuple(range(3, 16)),  # the API spec: integer 3 to 15
        prompt_units=2500,
        prompt_min=2,  # the API spec: minLength 2
        credits={"720p": 15, "1080p": 30},
        seconds=60.0,
    ),
    # Gemini Omni Flash: 10 credits/s, +1 for the image_to_video first frame; video_to_video 11 per second of
    # input video (at most 10 s charged), +1 per reference image (guides/pricing copies).
    "gemini_omni_flash": Model(
        shapes={
            "text_to_video": _shape("promptText duration ratio", "promptText", ratios=GEMINI_RATIOS),
            "image_to_video": _shape("promptImage duration promptText ratio", "promptImage", ratios=GEMINI_RATIOS),
            "video_to_video": _shape("promptText videoUri references", "promptText videoUri"),
        },
        durations=tuple(range(3, 11)),  # "as a whole number from 3 to 10" (SDK)
        prompt_units=4000,  # the API spec: at most 4000
        credits=10,
        per_first_frame=1,
        per_reference_image=1,
        input_credits=11,
        input_cap=10.0,
        output_follows_input=True,
        seconds=60.0,
    ),
    # Alibaba Wan 3.0: 5/10/20 credits/s at 480p/720p/1080p (guides/pricing, quoted 2026-09-20 for 480p,
    # copies for the rest); the size's tier decides, auto_* by its suffix.
    "wan3": Model(
        shapes={
            "text_to_video": _shape(
                "promptText audio duration ratio referenceAudio references referenceVideos",
                "promptText",
                ratios=WAN3_RATIOS,
                max_references=10,  # "An optional array of image references (up to 10)"
            ),
            "image_to_video": _shape(
                "promptImage promptText audio duration ratio referenceAudio referenceVideos",
                "promptImage promptText",
                ratios=WAN3_RATIOS,
                **_FRAMES_OR_REFERENCES,
            ),
        },
        durations=tuple(range(2, 31)),  # the API spec: integer 2 to 30
        prompt_units=20000,
        credits={"480p": 5, "720p": 10, "1080p": 20},
        seconds=90.0,
    ),
    # Wan 3.0 Prime: 6.8/14/28 credits/s at 480p/720p/1080p (one copy of guides/pricing, 2026-10-04); the same
    # fields as wan3 (SDK); 2 to 30 s, as wan3 (second-hand: no API spec version read declares it).
    "wan3_prime": Model(
        shapes={
            "text_to_video": _shape(
                "promptText audio duration ratio referenceAudio references referenceVideos",
                "promptText",
                ratios=WAN3_RATIOS,
                max_references=10,
            ),
            "image_to_video": _shape(
                "promptImage promptText audio duration ratio referenceAudio referenceVideos",
                "promptImage promptText",
                ratios=WAN3_RATIOS,
                **_FRAMES_OR_REFERENCES,
            ),
        },
        durations=tuple(range(2, 31)),
        prompt_units=20000,
        credits={"480p": 6.8, "720p": 14, "1080p": 28},
        seconds=120.0,
    ),
    # Kling 2.5 Turbo Pro: 5 or 10 s (SDK: Literal[5, 10], "Defaults to 5"); no ratio on image_to_video (the
    # image sets it). No Runway price found: charged here at Kling's own list price (3.5 units per 5 s at
    # $0.14, 9.8 credits/s).
    "kling2.5_turbo_pro": Model(
        shapes={
            "text_to_video": _shape(
                "promptText cfgScale duration ratio",
                "promptText",
                ratios=("1920:1080", "1440:1440", "1080:1920", "1280:720", "720:720", "720:1280"),
            ),
            "image_to_video": _shape(
                "promptImage promptText cfgScale duration", "promptImage promptText", positions=("first", "last")
            ),
        },
        durations=(5, 10),
        default_duration=5,
        **_KLING_PROMPT,
        credits=9.8,
        seconds=60.0,
    ),
    # Kling 3.0 / O3: no Runway price is published; these rates are measured estimatedCost figures
    # (kling3.0_pro ~85 credits for 5 s) and integrators' / resellers' figures, not Runway's own table.
    "kling3.0_standard": Model(
        shapes=_kling(KLING_STANDARD_RATIOS, omni=False),
        durations=KLING_DURATIONS,
        **_KLING_PROMPT,
        credits=13,
        seconds=90.0,
    ),
    "kling3.0_pro": Model(
        shapes=_kling(KLING_PRO_RATIOS, omni=False),
        durations=KLING_DURATIONS,
        **_KLING_PROMPT,
        credits=17,
        seconds=90.0,
    ),
    "kling3.0_4k": Model(
        shapes=_kling(KLING_4K_RATIOS, omni=False),
        durations=KLING_DURATIONS,
        **_KLING_PROMPT,
        credits=44,
        seconds=120.0,
    ),
    "klingO3_standard": Model(
        shapes=_kling(KLING_STANDARD_RATIOS, omni=True),
        durations=KLING_DURATIONS,
        **_KLING_PROMPT,
        credits=12,
        input_credits=12,  # video_to_video: per second of the input (the output follows it)
        output_follows_input=True,
        seconds=90.0,
    ),
    "klingO3_4k": Model(
        shapes=_kling(KLING_4K_RATIOS, omni=True),
        durations=KLING_DURATIONS,
        **_KLING_PROMPT,
        credits=44,
        input_credits=44,
        output_follows_input=True,
        seconds=120.0,
    ),
    "klingO3_pro": Model(
        shapes=_kling(KLING_PRO_RATIOS, omni=True),
        durations=KLING_DURATIONS,
        **_KLING_PROMPT,
        credits=14,
        input_credits=14,
        output_follows_input=True,
        seconds=90.0,
    ),
    # Kling 4.0: Runway publishes no price; charged here at fal's list price ($0.157/s at 720p, $0.235/s at
    # 1080p) in whole credits, a stand-in. Lengths 3-30 s (Kling's release note; the SDK types `duration: int`).
    # promptImage items are typed `object`; the docstring: "a first frame and optional middle and last frames".
    # references: "Up to 10 images in total, frames included"; referenceVideos (items typed `object`, no `type`):
    # "Up to 5 videos".
    "kling_4": Model(
        shapes={
            "text_to_video": _shape(
                "promptText duration ratio references referenceVideos",
                "promptText",
                ratios=(*KLING4_720, *KLING4_1080, *KLING4_AUTO),
                max_references=10,  # "Up to 10 images in total, frames included."
                max_reference_videos=5,
                untyped_references=frozenset({"referenceVideos"}),
            ),
            "image_to_video": _shape(
                "promptImage duration promptText ratio references referenceVideos",
                "promptImage",
                ratios=KLING4_AUTO,
                positions=("first", "last"),
                max_references=10,
                max_images=10,  # the frames count too
                max_reference_videos=5,
                untyped_references=frozenset({"referenceVideos"}),
            ),
            "video_to_video": _shape(
                "promptText videoUri ratio references", "promptText videoUri", ratios=KLING4_AUTO, max_references=10
            ),
        },
        durations=tuple(range(3, 31)),
        **_KLING_PROMPT,
        credits={"720p": 16, "1080p": 24},
        input_credits={"720p": 16, "1080p": 24},  # video_to_video: per second of the input (the output follows it)
        output_follows_input=True,
        seconds=120.0,
    ),
    # MiniMax H3 Max: 5 credits/s at 480p, 8 at 768p (a guides/pricing copy, 2026-10-04); 5-15 s (assets/inputs as
    # recorded 2026-09-15). No ratio field: the resolution alone (the image sets the shape).
    "h3_max": Model(
        shapes={
            "text_to_video": _shape(
                "promptText duration promptExpansionMode resolution seed",
                "promptText",
                resolutions=("480p", "768p"),
            ),
            "image_to_video": _shape(
                "promptImage promptText duration promptExpansionMode resolution seed",
                "promptImage promptText",
                resolutions=("480p", "768p"),
                positions=("first", "last"),
            ),
        },
        durations=tuple(range(5, 16)),
        credits={"480p": 5, "768p": 8},
        seconds=90.0,
        image_min_side=256,  # promptImage: "Each image must be at least 256 pixels on both sides" (SDK)
    ),
    # Grok Imagine 1.5 Lite: 2/3/14 credits/s at 480p/720p/1080p, +1 for the start frame (an integrator's reading of
    # guides/pricing, 2026-10-08; measured 16 credits for 5 s at auto_720p from a frame). 1-15 s, prompts up to 2500.
    "grok_imagine_1_5_lite": Model(
        shapes={
            "text_to_video": _shape(
                "promptText duration ratio",
                "promptText",
                ratios=(*GROK_LITE_480, *GROK_LITE_720, *GROK_LITE_1080),
            ),
            "image_to_video": _shape(
                "promptImage duration promptText ratio",
                "promptImage",
                ratios=("auto_480p", "auto_720p", "auto_1080p"),
            ),
        },
        durations=tuple(range(1, 16)),
        prompt_units=2500,
        credits={"480p": 2, "720p": 3, "1080p": 14},
        per_first_frame=1,
        seconds=30.0,
        image_ratio=(0.4, 2.5),  # promptImage: "(width / height) must be between 0.4 and 2.5" (SDK)
    ),
    # Gemini Omni Flash 1.1: "3.4-30 credits/s by resolution" (a guides/pricing copy, 2026-10-04) without the split;
    # charged here 3.4 at 360p and 30 at 4K, and 10 at 720p and 15 at 1080p (integrators' figures); +1 credit for
    # the image_to_video frames (1.0's start-frame credit: nothing found prices a last frame, so a first+last pair
    # is charged 1 too; the adapter quotes 2), +1 per reference image. 3 to 10 s or "auto" (SDK). video_to_video:
    # priced by `duration` like the others (a stand-in). referenceVideos items are {uri} (no `type`, SDK).
    "gemini_omni_flash_1.1": Model(
        shapes={
            "text_to_video": _shape(
                "promptText duration ratio references referenceVideos",
                "promptText",
                ratios=GEMINI_1_1_RATIOS,
                untyped_references=frozenset({"referenceVideos"}),
            ),
            "image_to_video": _shape(
                "promptImage promptText duration ratio",
                "promptImage promptText",
                ratios=GEMINI_1_1_RATIOS,
                positions=("first", "last"),
            ),
            "video_to_video": _shape(
                "promptText videoUri duration mode ratio references", "promptText videoUri", ratios=GEMINI_1_1_RATIOS
            ),
        },
        durations=tuple(range(3, 11)),
        auto_duration=True,
        prompt_units=4000,
        credits={"360p": 3.4, "720p": 10, "1080p": 15, "4k": 30},
        per_first_frame=1,
        per_reference_image=1,
        seconds=60.0,
    ),
    # Runway Aleph 2.0: 28 credits per second of input video, at least 56 (guides/pricing copies); the input
    # 2 to 30 s; no duration field (the output is as long as the input). The outputFormat surcharge is the
    # SDK's: 5 credits/s for prores and png_sequence, 20 for sdr_rec709_10bit.
    "aleph2": Model(
        shapes={
            "video_to_video": _shape(
                "videoUri contentModeration keyframes outputFormat promptText proresProfile ratio seed "
                "targetAspectRatio",
                "videoUri",
                output_formats=ALEPH_OUTPUT_FORMATS,
            )
        },
        prompt_units=1000,
        input_credits=28,
        minimum=56,
        output_follows_input=True,
        seconds=120.0,
        video_min_seconds=2.0,
        video_max_seconds=30.0,
    ),
}

FAILURES = {
    "content": ("SAFETY.INPUT.TEXT", "The prompt did not pass content moderation."),
    "asset": ("ASSET.INVALID", "The input image could not be processed."),
    "internal": ("INTERNAL.BAD_OUTPUT", "An unexpected error occurred while generating the output."),
}
STATUS_ERRORS = {
    400: "Bad request.",
    401: "Unauthorized.",
    404: "Not found.",
    429: "You have exceeded the rate limit. Please try again later.",
    500: "An internal error occurred.",
    502: "Runway is temporarily shedding load. Please retry.",
    503: "Runway is temporarily shedding load. Please retry.",
    504: "Runway is overloaded. Please retry.",
}


def _error(status: int, message: str, issues: list[dict[str, Any]] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"error": message}
    if issues is not None:
        body["issues"] = issues
    return JSONResponse(body, status_code=status)


def _issue(path: list[str | int], message: str) -> dict[str, Any]:
    return {"path": path, "message": message}


def _enum(values: tuple[Any, ...], got: Any) -> str:
    return f"Invalid enum value. Expected {' | '.join(repr(v) for v in values)}, received {got!r}"


def _uri_problem(uri: Any, kind: str = "image") -> str | None:
    """Why Runway would refuse a media reference (docs: assets/inputs, errors/troubleshooting); `kind` is
    image, audio or video (data URIs: MAX_DATA_URI by kind, as the docs' size limits say)."""
    if not isinstance(uri, str):
        return "Expected string"
    if uri.startswith("runway://"):
        return None
    if uri.startswith("data:"):
        if len(uri) >= MAX_DATA_URI[kind]:
            return f"Data URI is too large: the encoded data URI must be under {MAX_DATA_URI[kind] // 2**20}MB."
        header, comma, payload = uri[5:].partition(",")
        if not comma or not header.endswith(";base64"):
            return "Invalid data URI."
        mime = header[: -len(";base64")]
        if kind == "image" and mime not in ("image/jpeg", "image/png", "image/webp"):
            return "Unsupported asset type. Data URIs must be JPEG, PNG or WebP images."
        if kind == "video" and mime not in VIDEO_MIMES:
            return "Unsupported asset type. Video data URIs must be MP4, QuickTime (MOV) or WebM videos."
        if kind not in ("image", "video") and not mime.startswith(f"{kind}/"):
            return f"Unsupported asset type. Expected a {kind} data URI."
        try:
            base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError):
            return "Invalid data URI."
        return None
    if len(uri) > MAX_URL:
        return "URLs must be at most 2048 characters."
    try:
        parts = urlsplit(uri)
    except ValueError:
        return "Invalid URL"
    if parts.scheme != "https":
        return "Only HTTPS URLs are allowed."
    host = parts.hostname or ""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return None if host else "Invalid URL"
    return "URLs must be hosted on a domain, not an IP address."


def _utf16_units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _serves(model: Model, endpoint: str) -> bool:
    """Whether a model is one of the endpoint's (its discriminator's) models."""
    return endpoint in model.shapes


def _input_video(endpoint: str, body: dict[str, Any]) -> str | None:
    """The body's input video field (video_to_video: promptVideo, or videoUri for aleph2 and Gemini)."""
    if endpoint != "video_to_video":
        return None
    return "videoUri" if "videoUri" in MODELS[str(body["model"])].shapes[endpoint].fields else "promptVideo"


def validate(endpoint: str, body: Any) -> list[dict[str, Any]]:
    """The issues Runway would report for this body (empty: acceptable)."""
    if not isinstance(body, dict):
        return [_issue([], "Expected object")]
    model = MODELS.get(str(body.get("model")))
    names = tuple(m for m, rules in MODELS.items() if _serves(rules, endpoint))
    if model is None or not _serves(model, endpoint):
        return [_issue(["model"], f"Invalid discriminator value. Expected {' | '.join(repr(n) for n in names)}")]
    shape = model.shapes[endpoint]
    issues: list[dict[str, Any]] = []
    if unknown := sorted(set(body) - shape.fields - {"model"}):
        issues.append(_issue([], "Unrecognized key(s) in object: " + ", ".join(repr(k) for k in unknown)))
    for name in sorted(shape.required - set(body)):
        issues.append(_issue([name], "Required"))

    text = body.get("promptText")
    if text is not None:
        if not isinstance(text, str) or not text.strip():
            issues.append(_issue(["promptText"], "Expected a non-empty string"))
        elif model.prompt_units and _utf16_units(text) > model.prompt_units:
            issues.append(_issue(["promptText"], f"String must contain at most {model.prompt_units} character(s)"))
        elif _utf16_units(text) < model.prompt_min:
            issues.append(_issue(["promptText"], f"String must contain at least {model.prompt_min} character(s)"))

    if "ratio" in body and "ratio" in shape.fields:
        if shape.ratios and body["ratio"] not in shape.ratios:
            issues.append(_issue(["ratio"], _enum(shape.ratios, body["ratio"])))
        elif not isinstance(body["ratio"], str):
            issues.append(_issue(["ratio"], "Expected string"))
        elif body["ratio"] == "adaptive" and not (body.get("references") or body.get("referenceVideos")):
            if endpoint == "text_to_video":  # hailuo3: "text-only requests require a concrete ratio"
                issues.append(_issue(["ratio"], "adaptive is only allowed with image or video references."))
    if "resolution" in body and "resolution" in shape.fields and body["resolution"] not in shape.resolutions:
        issues.append(_issue(["resolution"], _enum(shape.resolutions, body["resolution"])))
    if "outputFormat" in body and "outputFormat" in shape.fields:
        if body["outputFormat"] not in shape.output_formats:
            issues.append(_issue(["outputFormat"], _enum(shape.output_formats, body["outputFormat"])))

    duration = body.get("duration")
    if duration is not None and "duration" in shape.fields:
        if not (model.auto_duration and duration == "auto") and (
            isinstance(duration, bool) or not isinstance(duration, int) or duration not in model.durations
        ):
            allowed = f"{model.durations[0]} to {model.durations[-1]}" if len(model.durations) > 3 else model.durations
            auto = ' or "auto"' if model.auto_duration else ""
            issues.append(_issue(["duration"], f"Expected an integer, {allowed}{auto}"))

    if "promptImage" in body and "promptImage" in shape.fields:
        issues += _image_issues(body["promptImage"], shape) + _image_size_issues(body["promptImage"], model)
        if shape.max_images and (count := _references(body, "promptImage") + _references(body, "references")) > (
            shape.max_images
        ):  # kling_4: "Up to 10 images in total, frames included."
            issues.append(
                _issue(["references"], f"Up to {shape.max_images} images in total, frames included; got {count}.")
            )
        frames = body["promptImage"]
        keyframes = isinstance(frames, list) and any(isinstance(f, dict) and f.get("position") for f in frames)
        ratio = body.get("ratio")
        if keyframes and "auto_480p" in shape.ratios and isinstance(ratio, str) and not ratio.startswith("auto_"):
            # wan3: "Keyframe image-to-video requests must use auto_480p, auto_720p, or auto_1080p"
            issues.append(_issue(["ratio"], "Keyframe requests must use auto_480p, auto_720p or auto_1080p."))
    field = _input_video(endpoint, body)
    if field and field in body:
        if problem := _uri_problem(body[field], "video") or _video_problem(body[field], model):
            issues.append(_issue([field], problem))
    return issues + _option_issues(body, shape)


def _probe(uri: str) -> tuple[int, int, float] | None:
    """A data-URI video's width, height and seconds, read from the container with PyAV (nothing decoded;
    packets demuxed when no header states the length); None if it cannot be read."""
    import av

    data = base64.b64decode(uri.partition(",")[2])
    try:
        with av.open(io.BytesIO(data)) as container:
            if not container.streams.video:
                return None
            stream = container.streams.video[0]
            width, height = stream.codec_context.width, stream.codec_context.height
            if stream.duration is not None and stream.time_base is not None:
                seconds = float(stream.duration * stream.time_base)
            elif container.duration is not None:
                seconds = container.duration / av.time_base
            else:
                ends = [p.pts + (p.duration or 0) for p in container.demux(stream) if p.pts is not None]
                seconds = float(max(ends) * stream.time_base) if ends else 0.0
    except Exception:  # PyAV's errors: not a video it can read
        return None
    return (width, height, seconds) if width and height and seconds else None


# An https or runway:// video is fetched by Runway, not here: its length is taken as 30 s, the longest any model
# here takes (for pricing, as "the maximum credits this task may charge", and for an output that follows it).
ASSUMED_URL_VIDEO_SECONDS = 30.0


def input_seconds(uri: Any) -> float:
    """The input video's length: read with PyAV for a data URI, ASSUMED_URL_VIDEO_SECONDS otherwise."""
    if isinstance(uri, str) and uri.startswith("data:"):
        probed = _probe(uri)
        if probed:
            return probed[2]
    return ASSUMED_URL_VIDEO_SECONDS


def _video_problem(uri: str, model: Model) -> str | None:
    """A data-URI video against the model's documented input limits (its length and shorter side). URLs and
    runway:// uploads are fetched by Runway, not here, so only data URIs are probed."""
    limits = model.video_max_seconds or model.video_min_seconds or model.video_min_side
    if not uri.startswith("data:") or not limits:
        return None
    probed = _probe(uri)
    if probed is None:
        return "Invalid asset: the video could not be read."
    width, height, seconds = probed
    if model.video_min_side and min(width, height) < model.video_min_side:
        return f"Video resolution is too low ({width}x{height}): the minimum is {model.video_min_side}p."
    if model.video_max_seconds and seconds > model.video_max_seconds + 0.05:
        return f"Video is too long ({seconds:.1f} seconds): the maximum is {model.video_max_seconds:g} seconds."
    if model.video_min_seconds and seconds < model.video_min_seconds - 0.05:
        return f"Video is too short ({seconds:.1f} seconds): the minimum is {model.video_min_seconds:g} seconds."
    return None


def _option_issues(body: dict[str, Any], shape: Shape) -> list[dict[str, Any]]:
    """The optional fields' types (which fields a model takes is checked against its shape)."""
    issues: list[dict[str, Any]] = []
    seed = body.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= SEED_MAX):
        issues.append(_issue(["seed"], f"Expected an integer from 0 to {SEED_MAX}"))
    for flag in ("audio", "draft"):
        if flag in body and not isinstance(body[flag], bool):
            issues.append(_issue([flag], "Expected boolean"))
    if "draftTaskId" in body and not isinstance(body["draftTaskId"], str):
        issues.append(_issue(["draftTaskId"], "Expected string"))
    negative = body.get("negativePrompt")
    if "negativePrompt" in body and (not isinstance(negative, str) or not 1 <= _utf16_units(negative) <= 1000):
        issues.append(_issue(["negativePrompt"], "Expected a string of 1 to 1000 characters"))
    if "proresProfile" in body and body["proresProfile"] not in PRORES_PROFILES:
        issues.append(_issue(["proresProfile"], _enum(PRORES_PROFILES, body["proresProfile"])))
    if "promptExpansionMode" in body and body["promptExpansionMode"] not in PROMPT_EXPANSION_MODES:
        issues.append(_issue(["promptExpansionMode"], _enum(PROMPT_EXPANSION_MODES, body["promptExpansionMode"])))
    if "mode" in body and body["mode"] not in V2V_MODES:
        issues.append(_issue(["mode"], _enum(V2V_MODES, body["mode"])))
    if "targetAspectRatio" in body and body["targetAspectRatio"] not in ALEPH_TARGET_RATIOS:
        issues.append(_issue(["targetAspectRatio"], _enum(ALEPH_TARGET_RATIOS, body["targetAspectRatio"])))
    scale = body.get("cfgScale")
    if "cfgScale" in body and (isinstance(scale, bool) or not isinstance(scale, int | float) or not 0 <= scale <= 1):
        issues.append(_issue(["cfgScale"], "Expected a number from 0 to 1"))
    moderation = body.get("contentModeration")
    if "contentModeration" in body and (
        not isinstance(moderation, dict)
        or set(moderation) - {"publicFigureThreshold"}
        or moderation.get("publicFigureThreshold", "auto") not in ("auto", "low")
    ):
        issues.append(_issue(["contentModeration"], "Expected {publicFigureThreshold?: 'auto' | 'low'}"))
    if "providerSettings" in body:
        issues += _provider_settings_issues(body["providerSettings"], "promptVideo" in shape.fields)
    if "keyframes" in body:
        issues += _keyframe_issues(body["keyframes"])
    if "references" in body:
        references = body["references"]
        if isinstance(references, str) and "providerSettings" in shape.fields:  # Kling O3: one image as a string
            if problem := _uri_problem(references):
                issues.append(_issue(["references"], problem))
        else:
            issues += _reference_issues("references", "image", references, shape)
    for field, kind in (("referenceAudio", "audio"), ("referenceVideos", "video")):
        if field in body:
            issues += _reference_issues(field, kind, body[field], shape)
    return issues


def _provider_settings_issues(value: Any, video: bool) -> list[dict[str, Any]]:
    """Kling's providerSettings: {multiPrompt?: [{duration, prompt}], shotType?, keepOriginalSound? (v2v)}."""
    if not isinstance(value, dict):
        return [_issue(["providerSettings"], "Expected object")]
    known = {"multiPrompt", "shotType"} | ({"keepOriginalSound"} if video else set())
    issues = []
    if unknown := sorted(set(value) - known):
        issues.append(
            _issue(["providerSettings"], "Unrecognized key(s) in object: " + ", ".join(repr(k) for k in unknown))
        )
    if "shotType" in value and value["shotType"] not in SHOT_TYPES:
        issues.append(_issue(["providerSettings", "shotType"], _enum(SHOT_TYPES, value["shotType"])))
    if "keepOriginalSound" in value and not isinstance(value["keepOriginalSound"], bool):
        issues.append(_issue(["providerSettings", "keepOriginalSound"], "Expected boolean"))
    if "multiPrompt" in value:
        segments = value["multiPrompt"]
        ok = isinstance(segments, list) and all(
            isinstance(s, dict)
            and isinstance(s.get("prompt"), str)
            and isinstance(s.get("duration"), int)
            and not isinstance(s.get("duration"), bool)
            and not set(s) - {"prompt", "duration"}
            for s in segments
        )
        if not ok:
            issues.append(_issue(["providerSettings", "multiPrompt"], "Expected an array of {prompt, duration}"))
        elif not 3 <= sum(s["duration"] for s in segments) <= 15:  # "must be between 3 and 15 seconds"
            issues.append(_issue(["providerSettings", "multiPrompt"], "Total duration must be 3 to 15 seconds."))
    return issues


MAX_KEYFRAMES = 5  # aleph2: "Up to 5 keyframes."


def _keyframe_issues(value: Any) -> list[dict[str, Any]]:
    """aleph2's keyframes: up to 5 of {seconds | at, uri, range?: {startSeconds, endSeconds}}."""
    if not isinstance(value, list):
        return [_issue(["keyframes"], "Expected array")]
    if len(value) > MAX_KEYFRAMES:
        return [_issue(["keyframes"], f"Array must contain at most {MAX_KEYFRAMES} element(s)")]
    issues = []
    for i, item in enumerate(value):
        if not isinstance(item, dict) or ("seconds" in item) == ("at" in item):
            issues.append(_issue(["keyframes", i], "Expected {seconds, uri, range?} or {at, uri, range?}"))
            continue
        if set(item) - {"seconds", "at", "uri", "range"}:
            issues.append(_issue(["keyframes", i], "Unrecognized key(s) in object"))
        when = item.get("seconds", item.get("at"))
        if isinstance(when, bool) or not isinstance(when, int | float) or ("at" in item and not 0 <= when <= 1):
            issues.append(_issue(["keyframes", i, "at" if "at" in item else "seconds"], "Expected a number"))
        window = item.get("range")
        if window is not None and (
            not isinstance(window, dict)
            or set(window) != {"startSeconds", "endSeconds"}
            or not all(isinstance(window[k], int) and not isinstance(window[k], bool) for k in window)
        ):
            issues.append(_issue(["keyframes", i, "range"], "Expected {startSeconds, endSeconds} in whole seconds"))
        if problem := _uri_problem(item.get("uri")):
            issues.append(_issue(["keyframes", i, "uri"], problem))
    return issues


def _reference_issues(field: str, kind: str, value: Any, shape: Shape) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        return [_issue([field], "Expected array")]
    limit = {"image": shape.max_references, "video": shape.max_reference_videos}.get(kind, 0)
    if limit and len(value) > limit:
        return [_issue([field], f"Array must contain at most {limit} element(s)")]
    issues = []
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            issues.append(_issue([field, i], "Expected object"))
            continue
        if kind != "image" and field not in shape.untyped_references and item.get("type") != kind:
            issues.append(_issue([field, i, "type"], f"Invalid literal value, expected {kind!r}"))
        if (
            kind == "image"
            and "position" in item
            and ("providerSettings" not in shape.fields or item["position"] not in ("first", "last"))
        ):  # only Kling O3's references take a position
            issues.append(_issue([field, i, "position"], "Unrecognized key or invalid position"))
        if problem := _uri_problem(item.get("uri"), kind):
            issues.append(_issue([field, i, "uri"], problem))
    return issues


def _image_issues(value: Any, shape: Shape) -> list[dict[str, Any]]:
    if isinstance(value, str):
        problem = _uri_problem(value)
        return [_issue(["promptImage"], problem)] if problem else []
    if not isinstance(value, list) or not value:
        return [_issue(["promptImage"], "Expected a string or a non-empty array of {uri, position}")]
    issues, seen = [], []
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            issues.append(_issue(["promptImage", i], "Expected object"))
            continue
        position = item.get("position")
        if position is None and shape.reference_images:
            pass  # a reference image, not a frame
        elif position not in shape.positions:
            issues.append(_issue(["promptImage", i, "position"], _enum(shape.positions, position)))
        seen.append(position)
        if problem := _uri_problem(item.get("uri")):
            issues.append(_issue(["promptImage", i, "uri"], problem))
    frames = [p for p in seen if p is not None]
    if frames and len(frames) != len(seen):
        issues.append(_issue(["promptImage"], "Keyframes (with a position) and reference images cannot be mixed."))
    elif len(set(frames)) != len(frames):
        issues.append(_issue(["promptImage"], "Each position may be used only once."))
    elif frames and "first" not in frames and not issues:
        issues.append(_issue(["promptImage"], "This model does not support generating with only a last frame."))
    return issues


def _image_size(uri: str) -> tuple[int, int] | None:
    """A data-URI image's (width, height) from its header, read with Pillow (nothing decoded); None if unreadable."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(base64.b64decode(uri.partition(",")[2]))) as img:
            return img.size
    except Exception:  # Pillow's errors (a bomb included): not an image it can read
        return None


def _image_size_problem(uri: Any, model: Model) -> str | None:
    """A promptImage data URI against the model's documented limits (image_min_side, image_ratio). https and
    runway:// images are fetched by Runway, not here; an unreadable one is left to Runway's asset check."""
    if not (model.image_min_side or model.image_ratio) or not isinstance(uri, str) or not uri.startswith("data:"):
        return None
    if _uri_problem(uri) or (size := _image_size(uri)) is None:
        return None  # already reported, or unreadable
    width, height = size
    if model.image_min_side and min(width, height) < model.image_min_side:
        return (
            f"Image is too small ({width}x{height}): each image must be at least {model.image_min_side} pixels on "
            "both sides."
        )
    if model.image_ratio and not model.image_ratio[0] <= width / height <= model.image_ratio[1]:
        low, high = model.image_ratio
        return (
            f"Image aspect ratio {width / height:.2f} ({width}x{height}) is out of range: width / height must be "
            f"between {low:g} and {high:g}."
        )
    return None


def _image_size_issues(value: Any, model: Model) -> list[dict[str, Any]]:
    """promptImage (a string or {uri, position} items) against _image_size_problem."""
    if isinstance(value, str):
        problem = _image_size_problem(value, model)
        return [_issue(["promptImage"], problem)] if problem else []
    issues = []
    for i, item in enumerate(value if isinstance(value, list) else []):
        if isinstance(item, dict) and (problem := _image_size_problem(item.get("uri"), model)):
            issues.append(_issue(["promptImage", i, "uri"], problem))
    return issues


def _surcharge(body: dict[str, Any]) -> float:
    """The outputFormat surcharge per second (gen4.5, aleph2; the SDK's text): 5 for prores and png_sequence,
    20 for 10-bit and deeper (40 above 4 megapixels, which gen4.5's sizes never reach; aleph2's output size
    follows its input, unknown here, so 20)."""
    output = body.get("outputFormat", "mp4")
    if output in ("mp4", "mov"):
        return 0.0
    return 5.0 if output in ("prores", "png_sequence") else 20.0


def _tier(model: Model, endpoint: str, body: dict[str, Any]) -> str:
    """The size tier a body is priced at: its resolution, its ratio's tier (auto_* by the suffix), the
    documented default ratio, else the model's dearest tier (the most the task may charge)."""
    rates = model.credits
    if not isinstance(rates, dict):
        return ""
    if "resolution" in body:
        return str(body["resolution"]).lower()
    ratio = str(body.get("ratio", model.default_ratio))
    if ratio.startswith("auto_"):
        return ratio[len("auto_") :]
    if ratio in SIZE_TIERS and SIZE_TIERS[ratio] in rates:
        return SIZE_TIERS[ratio]
    return max(rates, key=lambda tier: rates[tier])


def _references(body: dict[str, Any], field: str) -> int:
    value = body.get(field)
    return 1 if isinstance(value, str) else len(value) if isinstance(value, list) else 0


def billed_seconds(model: Model, body: dict[str, Any]) -> int:
    """The length billed up front: the asked one, the default, else (as for "auto") the longest."""
    seconds = body.get("duration", model.default_duration)
    if seconds is None or seconds == "auto":
        return model.durations[-1]
    return int(seconds)


def task_credits(body: dict[str, Any], endpoint: str = "text_to_video") -> float:
    """The estimate Runway answers at submit: the most the task may charge."""
    model = MODELS[body["model"]]
    shape = model.shapes[endpoint]
    tier = _tier(model, endpoint, body)
    rate = model.credits[tier] if isinstance(model.credits, dict) else model.credits
    audio = body.get("audio", True)  # Runway's default is undocumented; assume Veo's (with sound)
    if audio and model.credits_audio is not None:
        rate = model.credits_audio
    credits = 0.0
    if "duration" in shape.fields:
        credits += (rate + _surcharge(body)) * billed_seconds(model, body)
    if endpoint == "video_to_video":
        videos = [body[f] for f in ("promptVideo", "videoUri") if f in body]
        if model.input_credits and isinstance(model.input_credits, dict):  # seedance2_5: input + references
            videos += [v.get("uri") for v in body.get("referenceVideos") or [] if isinstance(v, dict)]
        seconds: float = sum(math.ceil(input_seconds(v) - 1e-3) for v in videos)  # a started second counts
        if model.input_cap:
            seconds = min(seconds, model.input_cap)
        input_rate = model.input_credits[tier] if isinstance(model.input_credits, dict) else model.input_credits
        credits += input_rate * seconds
        if "duration" not in shape.fields:  # the output follows the input: surcharges by its length
            credits += _surcharge(body) * seconds
    images = _references(body, "references")
    frames = body.get("promptImage")
    if endpoint == "image_to_video":
        if isinstance(frames, list) and all(isinstance(f, dict) and "position" not in f for f in frames):
            images += len(frames)  # reference images, not frames
        else:
            credits += model.per_first_frame
    credits += model.per_reference_image * images + model.per_reference_audio * _references(body, "referenceAudio")
    return max(credits, model.minimum)


def output_seconds(model: Model, endpoint: str, body: dict[str, Any]) -> float:
    """The produced video's length: the asked duration, or (video_to_video without one) the input's."""
    if "duration" in model.shapes[endpoint].fields:
        return billed_seconds(model, body)
    field = _input_video(endpoint, body)
    return input_seconds(body.get(field)) if field else ASSUMED_URL_VIDEO_SECONDS


def charged(job: SimJob) -> int:
    """Credits a finished task stays charged: all of it, but a failure is refunded unless moderation refused
    the input (SAFETY.INPUT.* "not refundable"), and "auto" gives back what the chosen length did not use."""
    phase, _ = job.phase()
    if phase == "failed":
        code = FAILURES.get(job.fail or "", ("INTERNAL",))[0]
        return int(job.extra["credits"]) if code.startswith("SAFETY.INPUT") else 0
    return int(job.extra.get("final_credits", job.extra["credits"]))


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def task_json(request: Request, job: SimJob, sim: Simulator) -> dict[str, Any]:
    phase, progress = job.phase()
    task: dict[str, Any] = {"id": job.id, "createdAt": _iso(job.created)}
    estimated = {"credits": job.extra["credits"]}
    if phase == "queued":
        task.update(status="THROTTLED" if sim.config.get("throttled") else "PENDING", estimatedCost=estimated)
    elif phase == "running":
        task.update(status="RUNNING", progress=round(progress, 4), estimatedCost=estimated)
    elif phase == "succeeded":
        task.update(status="SUCCEEDED", output=[video_url(request, job)], cost={"credits": charged(job)})
    elif phase == "failed":
        code, failure = FAILURES.get(job.fail or "", ("INTERNAL", "An unexpected error occurred."))
        task.update(status="FAILED", failure=failure, failureCode=code, cost={"credits": charged(job)})
    else:  # cancelled elsewhere (the developer portal): what it cost then
        task.update(status="CANCELLED", cost={"credits": int(job.extra.get("cancel_credits", 0))})
    return task


def settle(sim: Simulator, job: SimJob, credits: int) -> None:
    """Pay back into the balance (when tests track one) what a task no longer costs, once."""
    with sim.lock:
        if job.extra.get("settled"):
            return
        job.extra["settled"] = True
        if sim.config.get("credits") is not None:
            sim.config["credits"] += job.extra["credits"] - credits


def create_app(speed: float = 1.0) -> Starlette:
    sim = Simulator("runway", speed=speed, typical_seconds=75.0, queue_seconds=5.0)

    def refused(request: Request) -> Response | None:
        """Auth, version and injected errors: what every /v1 request passes first."""
        scheme, _, key = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not KEY.match(key.strip()):
            return _error(401, "Invalid API key. Keys start with key_ followed by 128 hexadecimal characters.")
        version = request.headers.get("x-runway-version")
        if not version:
            return _error(400, f"The X-Runway-Version header is required. Set it to {VERSION}.")
        if version != VERSION:
            return _error(400, f"Unsupported X-Runway-Version {version!r}. Set it to {VERSION}.")
        with sim.lock:
            queued = sim.config.get("errors") or []
            status = queued.pop(0) if queued else None
        if status is not None:
            return _error(int(status), STATUS_ERRORS.get(int(status), "Error."))
        return None

    async def create(request: Request, endpoint: str) -> Response:
        if (response := refused(request)) is not None:
            return response
        try:
            body = await request.json()
        except ValueError:
            return _error(400, "Invalid JSON body.")
        if issues := validate(endpoint, body):
            return _error(400, "Validation of body failed", issues)
        factor = float(sim.config.get("price_factor", 1))
        credits = task_credits(body, endpoint) * factor
        with sim.lock:
            balance = sim.config.get("credits")
            if balance is not None and balance < credits:
                return _error(400, "You do not have enough credits to run this task.")
            if balance is not None:
                sim.config["credits"] = balance - credits
        model = MODELS[body["model"]]
        job = sim.create(body, prompt=body.get("promptText"), job_id=str(uuid.uuid4()), seconds=model.seconds)
        duration = output_seconds(model, endpoint, body)
        if body.get("duration") == "auto":  # the model chooses; the simulator chooses the default, refunds the rest
            duration = model.default_duration or 5
            job.extra["final_credits"] = task_credits({**body, "duration": duration}, endpoint) * factor
        ratio = str(body.get("ratio", model.default_ratio))
        shape = ratio if re.fullmatch(r"\d+:\d+", ratio) else "16:9"  # adaptive, auto_*, none: the sample's shape
        job.extra.update(duration=duration, aspect_ratio=shape, credits=credits)
        return JSONResponse({"id": job.id, "estimatedCost": {"credits": credits}})

    async def text_to_video(request: Request) -> Response:
        return await create(request, "text_to_video")

    async def image_to_video(request: Request) -> Response:
        return await create(request, "image_to_video")

    async def video_to_video(request: Request) -> Response:
        return await create(request, "video_to_video")

    async def task(request: Request) -> Response:
        if (response := refused(request)) is not None:
            return response
        task_id = request.path_params["task_id"]
        job = sim.get(task_id) if request.method == "GET" else sim.jobs.get(task_id)
        if job is None or job.extra.get("deleted"):
            return _error(404, "Task not found.")
        phase = job.phase()[0]
        if request.method == "GET":
            if phase in ("succeeded", "failed"):
                settle(sim, job, charged(job))
            return JSONResponse(task_json(request, job, sim))
        # DELETE: cancelled if unfinished, deleted if finished; gone either way (kept in the table, marked,
        # so tests can audit it). Only a task not yet RUNNING is refunded.
        if phase in ("queued", "running"):
            job.cancelled = True
            settle(sim, job, 0 if phase == "queued" else int(job.extra["credits"]))
        elif phase != "cancelled":
            settle(sim, job, charged(job))
        job.extra["deleted"] = True
        return Response(status_code=204)

    app = Starlette(
        routes=[
            Route("/v1/text_to_video", text_to_video, methods=["POST"]),
            Route("/v1/image_to_video", image_to_video, methods=["POST"]),
            Route("/v1/video_to_video", video_to_video, methods=["POST"]),
            Route("/v1/tasks/{task_id}", task, methods=["GET", "DELETE"]),
            *sim.routes(),
        ]
    )
    app.state.sim = sim
    return app
