"""runblob.io: Kling O3 (Kling 3.0 Omni video) through the runblob reseller.

Wire contract (docs.runblob.io, api-reference/kling/o3-video-*; the official SDK `runblob` 0.3.1,
KlingO3VideoGenerateParams and KlingVideoStatusResponse):
  POST /v1/kling/o3-video/generate  {prompt, model, duration "5"|"10"|"15", aspect_ratio, images_url | images_base64,
       first_frame_url | _base64 + end_frame_url | _base64, prefer_multi_shots | customize_multi_shots}
    -> 201 {generation_id, status: "pending", price: "0.1500"}   (price: what this call charged, in USD)
  GET  /v1/kling/o3-video/generations/{generation_id}
    -> {generation_id, status: pending|processing|completed|failed, prompt, video_url | null, model, description}
The status has no `message` (the docs point to the webhook for the reason; the SDK names `description`); the
webhook carries the reason in `message`. Both are read, as is `error`. There is no cancel endpoint and no lookup
by an id of ours, so an unconfirmed submit cannot be reconciled. The SDK can send an `X-Idempotency-Key`; the
docs say nothing of what runblob does with it, so it is sent (our job id) but a resubmit is not taken as safe.

Choices:
- Images: URLs are sent as `images_url`, local files (data URIs arrive as files, the engine stores them) as
  `images_base64` data URIs. runblob refuses a mix and we never fetch URLs, so a mix is refused before any call.
- End frame: the SDK says a first frame needs an end frame and the other way round, so `end_image` with exactly
  one image sends the pair first_frame_* / end_frame_* (each a URL, or a data URI for a file) instead.
- `keep_original_sound` keeps the sound of input *video*; we send only images, so our `audio` flag is not offered
  (nothing in this API asks for generated sound) and the flag itself is passed through as an option.
- Prices: runblob publishes only the `price` each submit returns. The estimates scale its documented example
  ($0.15 for a default 5 s standard video) with duration, pro at 2x; the job records the price runblob returns.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict

from providers.base import (
    RETRYABLE,
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
from providers.images import check_url, classify, to_data_uri
from providers.wire import Maybe

if TYPE_CHECKING:
    import httpx

TITLE = "runblob (Kling O3)"
API = "/v1/kling/o3-video"
DURATIONS = (5.0, 10.0, 15.0)
PER_SECOND = {"kling_o3": 0.03, "kling_o3_pro": 0.06}  # estimates: see the module docstring
PRICE_NOTE = (
    "estimate: runblob publishes no price table, only the price each accepted video returns (the job records "
    "that); scaled from its one documented example ($0.15 for 5 s standard), pro at 2x, quoted high"
)
# Where runblob shows what a call costs: the generate page's `price` ("Amount charged in USD", example "0.1500").
PRICE_SOURCE = "https://docs.runblob.io/api-reference/kling/o3-video-generate"
PRICE_CHECKED = "2026-12-03"
MULTI_SHOTS = {"prefer": "prefer_multi_shots", "custom": "customize_multi_shots"}
# The status guide's times for standard videos; pro takes 30-50% longer.
USUAL_TIME = {5.0: "2-3 minutes", 10.0: "3-5 minutes", 15.0: "5-7 minutes"}
# The guide's progressive polling [5, 5, 10, 15, 15] s, keyed by seconds since the job was created.
CADENCE = ((10.0, 5.0), (20.0, 10.0))
STEADY_INTERVAL = 15.0


def _spec(model_id: str, name: str, resolution: str, typical_seconds: float, description: str) -> ModelSpec:
    return ModelSpec(
        id=model_id,
        name=name,
        description=description,
        modes=("text_to_video", "image_to_video"),
        durations=DURATIONS,
        default_duration=5.0,
        aspect_ratios=("16:9", "9:16", "1:1"),
        default_aspect_ratio="16:9",
        resolutions=(resolution,),
        default_resolution=resolution,
        max_images=5,
        end_image=True,  # with exactly one image: the first and end frames
        max_prompt_chars=2500,
        options={
            "keep_original_sound": "runblob's keep_original_sound flag, true | false (its default true)",
            "multi_shots": "prefer | custom: runblob's prefer_multi_shots or customize_multi_shots flag",
        },
        price=PriceRule(by_duration={f"{d:g}": round(PER_SECOND[model_id] * d, 4) for d in DURATIONS}, note=PRICE_NOTE),
        price_source=PRICE_SOURCE,
        price_checked=PRICE_CHECKED,
        typical_seconds=typical_seconds,
    )


MODELS = (
    _spec(
        "kling_o3",
        "Kling O3 Standard (720p)",
        "720p",
        240.0,  # 10 s mid-range: 2-3 min for 5 s, 3-5 min for 10 s, 5-7 min for 15 s
        "Kling 3.0 Omni at 720p via runblob: text-to-video, or up to 5 reference images; 5, 10 or 15 s.",
    ),
    _spec(
        "kling_o3_pro",
        "Kling O3 Pro (1080p)",
        "1080p",
        330.0,  # standard's times plus 30-50%
        "Kling 3.0 Omni at 1080p via runblob: higher quality, about twice the price and 30-50% slower.",
    ),
)

# Why a generation failed (a failed status's `description`, a webhook's `message`) -> our code and what to do.
FAILURES: dict[str, tuple[ErrorCode, str]] = {
    "CONTENT_POLICY_VIOLATION": (
        ErrorCode.CONTENT_POLICY,
        "the prompt or an image breaks the content policy; change the prompt or the images",
    ),
    "IMAGE_INACCESSIBLE": (
        ErrorCode.INVALID_INPUT,
        "runblob could not fetch an image URL; pass publicly reachable https URLs, or local files",
    ),
    "INVALID_IMAGE": (
        ErrorCode.INVALID_INPUT,
        "an input image is invalid or corrupted; pass JPEG, PNG, GIF or WebP images of at most 10 MB",
    ),
    "TIMEOUT": (
        ErrorCode.TIMED_OUT,
        "the generation passed runblob's 15-minute limit and the credits were refunded; submit it again",
    ),
}
# The 400 codes (docs: o3-video-errors) -> how to fix the request.
REJECTIONS = {
    "INVALID_DURATION": "use a duration of 5, 10 or 15 seconds",
    "INVALID_MODEL": "use model kling_o3 or kling_o3_pro",
    "TOO_MANY_IMAGES": "pass at most 5 images",
    "MIXED_IMAGE_INPUTS": "give all images the same way: all URLs, or all local files",
}
_CODE = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+")


# -- runblob's answers, as typed wire models: tolerant (a field of the wrong shape reads as absent), so every
# odd answer still takes one of the error paths below rather than raising.


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)


class Created(_Wire):
    """The generate answer: {generation_id, status, price}."""

    generation_id: Maybe[str] = None
    price: Maybe[str] = None  # what the call charged, in USD: "0.1500"


class Generation(_Wire):
    """A status answer or a webhook body."""

    generation_id: Maybe[str] = None
    status: Maybe[str] = None
    video_url: Maybe[str] = None
    description: Maybe[str] = None  # the status's reason (SDK KlingVideoStatusResponse)
    message: Maybe[str] = None  # the webhook's reason code
    error: Maybe[Any] = None  # a string, or {"message": ...} as runblob's other webhooks send

    @property
    def reason(self) -> str:
        error = self.error.get("message") if isinstance(self.error, dict) else self.error
        given = (self.description, self.message, error if isinstance(error, str) else None)
        return next((text.strip() for text in given if text and text.strip()), "")


class RunblobProvider(Provider):
    name = "runblob"
    title = TITLE
    env_vars = ("RUNBLOB_API_KEY",)
    base_url_default = "https://platform.runblob.io"
    default_model = "kling_o3"
    models = MODELS
    supports_cancel = False
    supports_callbacks = True  # callback_url: one POST when the generation completes or fails

    def poll_interval(self, spec: ModelSpec, elapsed: float) -> float:
        return next((step for until, step in CADENCE if elapsed < until), STEADY_INTERVAL)

    def check(self, request: VideoRequest) -> None:
        sound = request.options.get("keep_original_sound")
        if sound is not None and not isinstance(sound, bool):
            raise InvalidRequest(f"keep_original_sound must be true or false, not {sound!r}")
        shots = request.options.get("multi_shots")
        if shots is not None and shots not in MULTI_SHOTS:
            raise InvalidRequest(f"multi_shots must be {' or '.join(MULTI_SHOTS)}, not {shots!r}")
        if request.end_image and len(request.images) != 1:
            raise InvalidRequest(
                f"{TITLE} takes an end frame only as a pair with one first frame: give exactly one image with "
                f"end_image (not {len(request.images)}), or drop end_image to use the images as references."
            )
        urls = [image for image in request.images if classify(image) == "url"]
        if urls and len(urls) < len(request.images):
            raise InvalidRequest(
                f"{TITLE} takes images either all as URLs or all as files, not mixed (it refuses "
                "MIXED_IMAGE_INPUTS), and this server does not download URLs: give all images the same way, "
                "e.g. download the URL images into an allowed folder and pass their paths."
            )

    async def submit(self, job_id: str, request: VideoRequest, callback_url: str | None = None) -> Submission:
        body = self.body(request)
        if callback_url:
            body["callback_url"] = callback_url
        # The SDK's optional header; what runblob does with it is not documented, so resubmits stay unsafe.
        headers = {"X-Idempotency-Key": job_id}
        response = await self.http.request("POST", f"{API}/generate", json=body, headers=headers)
        body_json = json_body(response)
        created = Created.model_validate(body_json) if isinstance(body_json, dict) else None
        if created is None or not created.generation_id:
            raise ProviderError(
                ErrorCode.SUBMIT_UNCONFIRMED,
                f"{TITLE} accepted the request (HTTP {response.status_code}) but sent no generation_id; the video "
                "may be generating and charged: check your runblob dashboard before submitting it again.",
                retryable=False,
            )
        return Submission(ref=created.generation_id, charged_usd=_usd(created.price))

    def body(self, request: VideoRequest) -> dict[str, Any]:
        """The JSON runblob receives for `request`."""
        body: dict[str, Any] = {
            "prompt": request.prompt,
            "model": request.model,
            "duration": f"{request.duration:g}",  # runblob takes strings: "5" | "10" | "15"
            "aspect_ratio": request.aspect_ratio,
        }
        if "keep_original_sound" in request.options:
            body["keep_original_sound"] = request.options["keep_original_sound"]
        if (shots := request.options.get("multi_shots")) is not None:
            body[MULTI_SHOTS[shots]] = True
        if request.end_image:  # the pair of frames, each the way it was given
            for name, image in (("first_frame", request.images[0]), ("end_frame", request.end_image)):
                if classify(image) == "url":
                    body[f"{name}_url"] = check_url(image)
                else:
                    body[f"{name}_base64"] = to_data_uri(image, self.allowed_dirs)
            return body
        urls = [image for image in request.images if classify(image) == "url"]
        if urls:
            body["images_url"] = [check_url(url) for url in urls]
        elif request.images:
            body["images_base64"] = [to_data_uri(image, self.allowed_dirs) for image in request.images]
        return body

    async def poll(self, submission: Submission, request: VideoRequest) -> Snapshot:
        response = await self.http.request("GET", f"{API}/generations/{quote(submission.ref, safe='')}")
        data = json_body(response)
        if not isinstance(data, dict):
            raise ProviderError(ErrorCode.TRANSIENT, f"{TITLE} sent an unreadable status answer; asking again later.")
        return _snapshot(Generation.model_validate(data), submission, request)

    def parse_callback(self, payload: dict[str, Any], submission: Submission) -> Snapshot | None:
        """runblob's webhook: {generation_id, status: completed | failed, video_url, model, message}."""
        generation = Generation.model_validate(payload)
        if about_another_job(generation.generation_id, submission.ref):
            return None
        try:
            return _snapshot(generation, submission)
        except ProviderError:
            return None  # completed without a video_url yet: a poll will read it

    def http_options(self) -> dict[str, Any]:
        key = self.env.get("RUNBLOB_API_KEY", "").strip()
        if not key:
            raise ProviderError(ErrorCode.NOT_CONFIGURED, f"{TITLE} is not configured: set RUNBLOB_API_KEY.")
        return {"headers": {"Authorization": f"Bearer {key}"}, "error_mapper": error_for}


# -- wire helpers ----------------------------------------------------------------------------------


def _snapshot(data: Generation, submission: Submission, request: VideoRequest | None = None) -> Snapshot:
    """A generation's status (from a status read or a webhook) in our terms."""
    status = data.status
    if status == "pending":
        return Snapshot(status="queued", message="waiting in runblob's queue")
    if status == "completed":
        if not data.video_url:
            raise ProviderError(ErrorCode.TRANSIENT, f"{TITLE} reports the video done but gave no video_url yet.")
        return Snapshot(status="succeeded", progress=1.0, video_url=data.video_url, charged_usd=submission.charged_usd)
    if status == "failed":
        error = _failure(data.reason)
        return Snapshot(status="failed", message=error.message, error=error)
    # "processing", or a status newer than these docs: either way runblob is working on it.
    word = "generating" if status == "processing" else f"status {status!r}"
    if request is None:
        return Snapshot(status="running", message=f"{word} at runblob")
    usual = USUAL_TIME.get(request.duration, "minutes") + (" plus 30-50%" if request.model == "kling_o3_pro" else "")
    return Snapshot(status="running", message=f"{word} at runblob (usually {usual})")


def _usd(price: object) -> float | None:
    try:
        return float(price)  # type: ignore[arg-type]  # runblob sends a string such as "0.1500"
    except (TypeError, ValueError):
        return None


def _failure(reason: str) -> ProviderErrorInfo:
    """A failure reason in our terms: a documented code, given alone or inside a sentence in any case."""
    spelled = "_" + re.sub(r"[^A-Z0-9]+", "_", reason.upper()) + "_"
    known = next((code for code in FAILURES if f"_{code}_" in spelled), None)
    if known:
        what, advice = FAILURES[known]
        said = known if reason == known else f"{known}: {reason}"
        return ProviderErrorInfo(code=what, message=f"{TITLE}: {advice} ({said}).", retryable=what in RETRYABLE)
    said = reason or "its status gave no reason; a webhook would"
    return ProviderErrorInfo(
        code=ErrorCode.PROVIDER_FAILED,
        message=f"{TITLE} could not generate the video ({said}); trying again may work.",
        retryable=True,
    )


def _texts(value: object) -> list[str]:
    """The strings of an error field: a string, or FastAPI's list of {loc, msg}."""
    if isinstance(value, str):
        return [value.strip()] if value.strip() else []
    if isinstance(value, list):
        return [text for item in value for text in _texts(item)]
    if isinstance(value, dict) and isinstance(value.get("msg"), str):
        where = [str(p) for p in value.get("loc", []) if p != "body"]
        return [f"{'.'.join(where)}: {value['msg']}" if where else value["msg"]]
    return []


def _wire_error(response: httpx.Response) -> tuple[str | None, str]:
    """(code, human text) of an error body: {"detail": ...}, {"success": false, "message": ...} or both."""
    body = json_body(response)
    body = body if isinstance(body, dict) else {}
    parts = [text for key in ("detail", "message", "error") for text in _texts(body.get(key))]
    codes = [p for p in parts if _CODE.fullmatch(p)]
    words = list(dict.fromkeys(p for p in parts if not _CODE.fullmatch(p)))
    text = "; ".join(words) or (codes[0] if codes else "")
    return (codes[0] if codes else None), text[:300]


def error_for(response: httpx.Response) -> ProviderError | None:
    """A runblob error answer in our terms, with what to do about it (None: the shared client's default)."""
    status = response.status_code
    code, text = _wire_error(response)
    said = f": {text}" if text else ""
    if status in (401, 403):
        return ProviderError(
            ErrorCode.AUTH, f"{TITLE} rejected the API key (HTTP {status}{said}); check RUNBLOB_API_KEY."
        )
    if status == 402 or code == "INSUFFICIENT_CREDITS":
        return ProviderError(
            ErrorCode.OUT_OF_CREDIT,
            f"{TITLE}: not enough credits for this video (INSUFFICIENT_CREDITS); top up your runblob.io balance, "
            "or choose kling_o3 or a shorter duration.",
        )
    if status == 404:
        if response.request.method != "GET":
            return ProviderError(
                ErrorCode.NOT_FOUND, f"{TITLE} has no such endpoint (HTTP 404); check VIDEOGEN_RUNBLOB_BASE_URL."
            )
        generation = response.request.url.path.rsplit("/", 1)[-1]
        return ProviderError(
            ErrorCode.NOT_FOUND,
            f"{TITLE} has no generation {generation} for this API key (GENERATION_NOT_FOUND); it may have been made "
            "with another key. Submit the video again if you still need it.",
        )
    if status in (400, 422):
        shown = f"{text} ({code})" if code and code not in text else text or "no details given"
        hint = f"; {REJECTIONS[code]}" if code in REJECTIONS else ""
        return ProviderError(ErrorCode.INVALID_INPUT, f"{TITLE} rejected the request (HTTP {status}): {shown}{hint}.")
    if status == 429:
        return ProviderError(
            ErrorCode.RATE_LIMITED, f"{TITLE} is rate limiting requests (HTTP 429); try again shortly."
        )
    if status >= 500:
        return ProviderError(
            ErrorCode.TRANSIENT, f"{TITLE} had a server problem (HTTP {status}{said}); try again in a minute."
        )
    return None
