"""Luma's Dream Machine API (api.lumalabs.ai/dream-machine/v1): Ray 2 and Ray Flash 2.

Wire contract from the official SDK (lumaai 1.21.0: resources/generations/generations.py and video.py,
types/generation.py, generations/video_create_params.py, _client.py) and the docs (docs.lumalabs.ai: video
generation, callbacks):
  POST /generations/video {model, prompt, aspect_ratio, duration "5s"|"9s", resolution, loop, keyframes
       {frame0, frame1: {type: "image", url} | {type: "generation", id}}, callback_url} -> the Generation
       (`generations.create` and `generations.video.create` both POST there)
  GET /generations/{id} -> {id, state: queued | dreaming | completed | failed, failure_reason, assets: {video}}
  DELETE /generations/{id} removes a generation; list: GET /generations?limit&offset
Every request carries `Authorization: Bearer <LUMAAI_API_KEY>`. Errors are FastAPI's {"detail": ...}: a string
("400: <reason>" for a refused request) or pydantic's list of {loc, msg} (422).

Choices:
- Images: Luma fetches keyframes by URL and takes nothing else ("You should upload and use your own cdn image
  urls, currently this is the only way to pass an image"), so local files and data URIs are refused before any
  call, with what to do instead; plain http:// is refused too (the docs only show https CDN URLs).
- Cancel: the docs and SDK offer only "Remove a specific generation" (DELETE), never say it stops a running one
  or refunds it, so a job cannot be cancelled here: the engine says so. Luma keeps generations (no expiry is
  documented); the engine downloads the video as soon as it is done anyway.
- Callbacks: `callback_url` gets the Generation object POSTed when it is dreaming, completed or failed (docs:
  retried 3 times, 100 ms apart, 5 s timeout), read like a poll.
- No lookup by an id of ours exists (the list has no metadata to match), so a lost submit cannot be reconciled.
- Prices: Luma's own API price page (lumalabs.ai/api/pricing) now lists only its newer Agents API models and
  no rate for ray-2 or ray-flash-2; the figures are the per-pixel list prices ComfyUI's API-node price list
  charges ($0.0064 / $0.0022 per million pixels), at 24 fps and the 16:9 frame size of each resolution, which
  reproduces every per-video figure quoted from Luma's old page (e.g. ray-2 720p 5 s $0.71, 9 s $1.27).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from pydantic import ConfigDict

from providers import images
from providers.base import (
    Accepted,
    ErrorAnswer,
    ErrorCode,
    InvalidRequest,
    ModelSpec,
    PriceRule,
    ProviderErrorInfo,
    Rule,
    State,
    TaskAnswer,
    TaskProvider,
    VideoRequest,
    Wire,
)
from providers.options import VideoOptions
from providers.wire import Maybe

TITLE = "Luma"
KEYS_PAGE = "lumalabs.ai/dream-machine/api/keys"
BILLING_PAGE = "lumalabs.ai/dream-machine/api/billing/overview"
RATIOS = ("16:9", "9:16", "1:1", "4:3", "3:4", "21:9", "9:21")
RESOLUTIONS = ("540p", "720p", "1080p", "4k")
FPS = 24
# Pixels per frame at each resolution (16:9), relative to 720p (1280 x 720): the price scales with them.
FRAME_PIXELS = {"540p": 960 * 540, "720p": 1280 * 720, "1080p": 1920 * 1080, "4k": 3840 * 2160}
USD_PER_MEGAPIXEL = {"ray-2": 0.0064, "ray-flash-2": 0.0022}
PRICE_SOURCE = "https://github.com/Comfy-Org/docs/blob/main/tutorials/api-nodes/pricing.mdx"
PRICE_CHECKED = "2026-12-03"
PRICE_NOTE = (
    "${rate} per million pixels at 24 fps (16:9 frame sizes; other ratios assumed the same): a third-party "
    "figure (ComfyUI's API price list), as Luma's own price page no longer lists this model"
)
# Luma's `loop`, offered once the tools' typed options (providers/options.py) take it: the catalog refuses an
# option the tool schema does not declare.
OPTIONS = {"loop": "true | false: Luma's loop (the last frame blends into the first)"}
OPTIONS = {name: what for name, what in OPTIONS.items() if name in VideoOptions.model_fields}
IMAGE_RULE = (
    "Luma takes keyframe images only as public https URLs (its docs: 'currently this is the only way to pass "
    "an image'); upload the image to your own storage or CDN and pass its https URL"
)


def _spec(model: str, name: str, description: str, typical_seconds: float) -> ModelSpec:
    rate = USD_PER_MEGAPIXEL[model]
    per_second_720p = FRAME_PIXELS["720p"] * FPS * rate / 1e6
    return ModelSpec(
        id=model,
        name=name,
        description=description,
        modes=("text_to_video", "image_to_video"),
        durations=(5.0, 9.0),
        default_duration=5.0,
        aspect_ratios=RATIOS,
        default_aspect_ratio="16:9",
        resolutions=RESOLUTIONS,
        default_resolution="720p",
        max_images=1,
        end_image=True,
        options=OPTIONS,
        price=PriceRule(
            per_second=per_second_720p,
            resolution_factor={r: FRAME_PIXELS[r] / FRAME_PIXELS["720p"] for r in RESOLUTIONS if r != "720p"},
            note=PRICE_NOTE.replace("{rate}", f"{rate:g}"),
        ),
        price_source=PRICE_SOURCE,
        price_checked=PRICE_CHECKED,
        typical_seconds=typical_seconds,
    )


MODELS: tuple[ModelSpec, ...] = (
    _spec(
        "ray-2",
        "Luma Ray 2",
        "Luma's flagship: text or a start/end frame (https URLs only), 5 or 9 s, 540p to 4K, loops. Price from "
        "a third-party list (Luma no longer publishes it).",
        120.0,
    ),
    _spec(
        "ray-flash-2",
        "Luma Ray Flash 2",
        "Faster, about a third of Ray 2's price: text or a start/end frame (https URLs only), 5 or 9 s, 540p "
        "to 4K. Price from a third-party list (Luma no longer publishes it).",
        60.0,
    ),
)

# Words in a failure_reason (or a refusal) that mean moderation stopped it.
MODERATION = ("moderation", "not allowed", "policy", "safety", "nsfw", "inappropriate")


# -- the declaration: Luma's answers (types/generation.py) as typed wire models, read tolerantly (a field of the
# wrong shape reads as absent), and what each state, error answer and failure reason means in our terms.


class _Strict(Wire):
    """Luma's fields are strings or nothing: a number where a string belongs reads as absent."""

    model_config = ConfigDict(coerce_numbers_to_str=False)


class Assets(_Strict):
    video: Maybe[str] = None


class Generation(TaskAnswer, Accepted):
    """The Generation object: the create and get answers, and the callback body."""

    model_config = _Strict.model_config
    state_field = "state"

    id: Maybe[str] = None
    state: Maybe[str] = None
    failure_reason: Maybe[str] = None
    assets: Maybe[Assets] = None

    @property
    def video_url(self) -> str | None:
        return self.assets.video if self.assets else None

    def job_failure(self) -> tuple[str, str]:
        return "", self.failure_reason or ""


def _reason(text: str) -> str:
    """FastAPI's HTTPException text without its "400: " status prefix."""
    head, colon, rest = text.partition(": ")
    return rest.strip() if colon and head.isdigit() else text.strip()


class Problem(ErrorAnswer):
    """FastAPI's {"detail": "400: text"} or {"detail": [{loc, msg}]}."""

    detail: Maybe[Any] = None

    def error_text(self) -> str:
        if isinstance(self.detail, str):
            text = _reason(self.detail)
        elif isinstance(self.detail, list):
            parts = []
            for issue in self.detail:
                if isinstance(issue, dict) and isinstance(issue.get("msg"), str):
                    where = ".".join(str(p) for p in issue.get("loc") or [] if p != "body")
                    parts.append(f"{where}: {issue['msg']}" if where else issue["msg"])
            text = "; ".join(parts)
        else:
            text = ""
        text = text.rstrip(".")
        return text if len(text) <= 400 else text[:399] + "…"


STATUS = {
    "queued": State("queued", "waiting in Luma's queue"),
    "dreaming": State("running", "Luma is dreaming (generating the video)"),  # Luma reports no progress figure
    "completed": State("succeeded", "generated"),
    "failed": State("failed"),
}
FAILURES = (
    Rule(
        ErrorCode.CONTENT_POLICY,
        "Luma's moderation refused the generation ({said}); change the prompt or the keyframe images.",
        text="|".join(MODERATION),
    ),
)
_CREDIT = (
    "Luma: not enough API credits for this generation (HTTP {status}){said}. Add credits at "
    f"{BILLING_PAGE} (API credits, separate from a Dream Machine subscription), or choose ray-flash-2, "
    "a lower resolution or 5 s."
)
ERRORS = (
    Rule(ErrorCode.OUT_OF_CREDIT, _CREDIT, status=402),
    Rule(ErrorCode.OUT_OF_CREDIT, _CREDIT, status=(400, 403), text="credit|balance"),
    Rule(
        ErrorCode.AUTH,
        f"Luma rejected the API key (HTTP {{status}}){{said}}. Check LUMAAI_API_KEY: a key from {KEYS_PAGE}, "
        "with no spaces.",
        status=(401, 403),
    ),
    Rule(
        ErrorCode.INVALID_INPUT,
        "Luma rejected the request (HTTP {status}){said}; fix the request and submit it.",
        status=(400, 422),
    ),
    Rule(
        ErrorCode.NOT_FOUND,
        "Luma has no such generation (HTTP 404){said}: it was deleted, or made with another API key.",
        status=404,
    ),
    Rule(
        ErrorCode.RATE_LIMITED,
        "Luma is rate limiting this key (HTTP 429){said}: too many requests or generations at once. Wait "
        "and try again.",
        status=429,
    ),
    Rule(
        ErrorCode.TRANSIENT,
        "Luma had a server problem (HTTP {status}){said}; try again in a minute.",
        status=range(500, 600),
    ),
)


class LumaProvider(TaskProvider[Generation, Generation]):
    name = "luma"
    title = TITLE
    env_vars = ("LUMAAI_API_KEY",)
    base_url_default = "https://api.lumalabs.ai/dream-machine/v1"
    default_model = "ray-2"
    models = MODELS
    supports_cancel = False  # DELETE removes a generation; nothing says it stops one or refunds it
    supports_callbacks = True  # callback_url: the Generation, POSTed when dreaming, completed or failed

    submit_path = "/generations/video"
    status_path = "/generations/{ref}"
    id_field = "generation id"
    where_to_check = "GET /generations (or your Luma dashboard)"
    unreadable = "Luma sent an unreadable generation; will ask again shortly."
    accepted_model = Generation
    status_model = Generation
    error_model = Problem
    STATUS = STATUS
    UNKNOWN_STATE = State("running", "Luma reports state {state!r}; still watching")
    ERRORS = ERRORS
    FAILURES = FAILURES
    NO_VIDEO = Rule(
        ErrorCode.PROVIDER_FAILED,
        "Luma marked the generation completed but gave no assets.video URL; submitting again may work.",
        retryable=True,
    )

    def check(self, request: VideoRequest) -> None:
        loop = request.options.get("loop")
        if loop is not None and not isinstance(loop, bool):
            raise InvalidRequest(f"loop must be true or false, not {loop!r}")
        for what, image in (
            ("images[0]", request.images[0] if request.images else None),
            ("end_image", request.end_image),
        ):
            if image is not None:
                _image_url(image, what)

    # -- request mapping -----------------------------------------------------------------------
    def body(self, request: VideoRequest) -> dict[str, Any]:
        """The JSON Luma gets (field names as in the SDK's VideoCreateParams)."""
        body: dict[str, Any] = {
            "model": request.model,
            "prompt": request.prompt,
            "aspect_ratio": request.aspect_ratio,
            "duration": f"{request.duration:g}s",  # a string on the wire: "5s" | "9s"
            "resolution": request.resolution,
        }
        if "loop" in request.options:
            body["loop"] = request.options["loop"]
        keyframes = {}
        if request.images:
            keyframes["frame0"] = {"type": "image", "url": _image_url(request.images[0], "images[0]")}
        if request.end_image:
            keyframes["frame1"] = {"type": "image", "url": _image_url(request.end_image, "end_image")}
        if keyframes:
            body["keyframes"] = keyframes
        return body

    def failure_fields(self, task: Generation, matched: str) -> dict[str, Any]:
        return {"said": _reason(task.failure_reason or "").rstrip(".") or "no failure_reason given"}


def _image_url(value: str, what: str) -> str:
    """An https URL as is; anything else refused with what to do instead."""
    if images.classify(value) != "url":
        raise InvalidRequest(f"{what}: {IMAGE_RULE}; local files and data URIs cannot be sent.")
    url = images.check_url(value)
    if urlsplit(url).scheme.lower() != "https":
        raise InvalidRequest(f"{what} is not https ({url[:80]!r}): {IMAGE_RULE}.")
    return url


# Kept for callers of the module's functions (tests): the declaration's shared steps.
error_for = LumaProvider.error_for


def failure(reason: str) -> ProviderErrorInfo:
    return LumaProvider({}).failure(Generation(state="failed", failure_reason=reason))
