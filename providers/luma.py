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
from urllib.parse import quote, urlsplit

from pydantic import BaseModel, ConfigDict

from providers import images
from providers.base import (
    ErrorCode,
    InvalidRequest,
    ModelSpec,
    PriceRule,
    Provider,
    ProviderError,
    ProviderErrorInfo,
    Snapshot,
    Submission,
    VideoRequest,
    about_another_job,
    json_body,
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

# Words in a failure_reason that mean moderation stopped it.
MODERATION = ("moderation", "not allowed", "policy", "safety", "nsfw", "inappropriate")


# -- Luma's answers (types/generation.py), read tolerantly: a field of the wrong shape reads as absent ----------


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore")


class Assets(_Wire):
    video: Maybe[str] = None


class Generation(_Wire):
    """The Generation object: the create and get answers, and the callback body."""

    id: Maybe[str] = None
    state: Maybe[str] = None
    failure_reason: Maybe[str] = None
    assets: Maybe[Assets] = None

    @property
    def video_url(self) -> str | None:
        return self.assets.video if self.assets else None


def _generation(body: Any) -> Generation | None:
    return Generation.model_validate(body) if isinstance(body, dict) else None


class LumaProvider(Provider):
    name = "luma"
    title = TITLE
    env_vars = ("LUMAAI_API_KEY",)
    base_url_default = "https://api.lumalabs.ai/dream-machine/v1"
    default_model = "ray-2"
    models = MODELS
    supports_cancel = False  # DELETE removes a generation; nothing says it stops one or refunds it
    supports_callbacks = True  # callback_url: the Generation, POSTed when dreaming, completed or failed

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

    # -- the job life cycle --------------------------------------------------------------------
    async def submit(self, job_id: str, request: VideoRequest, callback_url: str | None = None) -> Submission:
        body = self.body(request)
        if callback_url:
            body["callback_url"] = callback_url
        response = await self.http.request("POST", "/generations/video", json=body)
        created = _generation(json_body(response))
        if created is None or not created.id:
            raise ProviderError(
                ErrorCode.SUBMIT_UNCONFIRMED,
                f"Luma accepted the request (HTTP {response.status_code}) but sent no generation id; it may be "
                "generating and charged: check GET /generations (or your Luma dashboard) before submitting again.",
                retryable=False,
            )
        return Submission(ref=created.id)

    async def poll(self, submission: Submission, request: VideoRequest) -> Snapshot:
        response = await self.http.request("GET", f"/generations/{quote(submission.ref, safe='')}")
        generation = _generation(json_body(response))
        if generation is None:
            raise ProviderError(ErrorCode.TRANSIENT, "Luma sent an unreadable generation; will ask again shortly.")
        return snapshot(generation)

    def parse_callback(self, payload: dict[str, Any], submission: Submission) -> Snapshot | None:
        """Luma's callback is the Generation object, the same as GET /generations/{id} answers."""
        generation = Generation.model_validate(payload)
        if not generation.state or about_another_job(generation.id, submission.ref):
            return None
        if generation.state == "completed" and not generation.video_url:
            return None  # a poll will read it
        return snapshot(generation)

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

    # -- HTTP ----------------------------------------------------------------------------------
    def http_options(self) -> dict[str, Any]:
        key = self.env.get("LUMAAI_API_KEY", "").strip()
        if not key:
            raise ProviderError(ErrorCode.NOT_CONFIGURED, "Luma is not configured: set LUMAAI_API_KEY.")
        return {"headers": {"Authorization": f"Bearer {key}"}, "error_mapper": error_for}


def _image_url(value: str, what: str) -> str:
    """An https URL as is; anything else refused with what to do instead."""
    if images.classify(value) != "url":
        raise InvalidRequest(f"{what}: {IMAGE_RULE}; local files and data URIs cannot be sent.")
    url = images.check_url(value)
    if urlsplit(url).scheme.lower() != "https":
        raise InvalidRequest(f"{what} is not https ({url[:80]!r}): {IMAGE_RULE}.")
    return url


# -- statuses --------------------------------------------------------------------------------------


def snapshot(generation: Generation) -> Snapshot:
    """A Generation (from a poll or a callback) in our terms."""
    state = generation.state
    if state == "queued":
        return Snapshot(status="queued", message="waiting in Luma's queue")
    if state == "dreaming":  # Luma reports no progress figure
        return Snapshot(status="running", message="Luma is dreaming (generating the video)")
    if state == "completed":
        if not generation.video_url:
            error = ProviderErrorInfo(
                code=ErrorCode.PROVIDER_FAILED,
                message="Luma marked the generation completed but gave no assets.video URL; submitting again may work.",
                retryable=True,
            )
            return Snapshot(status="failed", message=error.message, error=error)
        return Snapshot(status="succeeded", progress=1.0, message="generated", video_url=generation.video_url)
    if state == "failed":
        error = failure(generation.failure_reason or "")
        return Snapshot(status="failed", message=error.message, error=error)
    # A state newer than the SDK's four: not an end, keep watching.
    return Snapshot(status="running", message=f"Luma reports state {state!r}; still watching")


def _reason(text: str) -> str:
    """FastAPI's HTTPException text without its "400: " status prefix."""
    head, colon, rest = text.partition(": ")
    return rest.strip() if colon and head.isdigit() else text.strip()


def failure(reason: str) -> ProviderErrorInfo:
    said = _reason(reason).rstrip(".")
    if any(word in said.lower() for word in MODERATION):
        return ProviderErrorInfo(
            code=ErrorCode.CONTENT_POLICY,
            message=f"Luma's moderation refused the generation ({said}); change the prompt or the keyframe images.",
        )
    return ProviderErrorInfo(
        code=ErrorCode.PROVIDER_FAILED,
        message=f"Luma could not generate the video ({said or 'no failure_reason given'}); submitting again may work.",
        retryable=True,
    )


# -- HTTP errors -----------------------------------------------------------------------------------


def _detail(response: Any) -> str:
    """FastAPI's {"detail": "400: text"} or {"detail": [{loc, msg}]} as one line."""
    body = json_body(response)
    detail = body.get("detail") if isinstance(body, dict) else None
    if isinstance(detail, str):
        text = _reason(detail)
    elif isinstance(detail, list):
        parts = []
        for issue in detail:
            if isinstance(issue, dict) and isinstance(issue.get("msg"), str):
                where = ".".join(str(p) for p in issue.get("loc") or [] if p != "body")
                parts.append(f"{where}: {issue['msg']}" if where else issue["msg"])
        text = "; ".join(parts)
    else:
        text = ""
    text = text.rstrip(".")
    return text if len(text) <= 400 else text[:399] + "…"


def error_for(response: Any) -> ProviderError | None:
    """Luma's HTTP errors in our terms; None leaves others to the shared default."""
    status = response.status_code
    detail = _detail(response)
    said = f": {detail}" if detail else ""
    if status == 402 or (status in (400, 403) and any(w in detail.lower() for w in ("credit", "balance"))):
        return ProviderError(
            ErrorCode.OUT_OF_CREDIT,
            f"Luma: not enough API credits for this generation (HTTP {status}){said}. Add credits at "
            f"{BILLING_PAGE} (API credits, separate from a Dream Machine subscription), or choose ray-flash-2, "
            "a lower resolution or 5 s.",
        )
    if status in (401, 403):
        return ProviderError(
            ErrorCode.AUTH,
            f"Luma rejected the API key (HTTP {status}){said}. Check LUMAAI_API_KEY: a key from {KEYS_PAGE}, "
            "with no spaces.",
        )
    if status in (400, 422):
        return ProviderError(
            ErrorCode.INVALID_INPUT, f"Luma rejected the request (HTTP {status}){said}; fix the request and submit it."
        )
    if status == 404:
        return ProviderError(
            ErrorCode.NOT_FOUND,
            f"Luma has no such generation (HTTP 404){said}: it was deleted, or made with another API key.",
        )
    if status == 429:
        return ProviderError(
            ErrorCode.RATE_LIMITED,
            f"Luma is rate limiting this key (HTTP 429){said}: too many requests or generations at once. Wait "
            "and try again.",
        )
    if status >= 500:
        return ProviderError(
            ErrorCode.TRANSIENT, f"Luma had a server problem (HTTP {status}){said}; try again in a minute."
        )
    return None
