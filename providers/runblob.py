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
from typing import Any

from providers.base import (
    Accepted,
    ErrorAnswer,
    ErrorCode,
    InvalidRequest,
    ModelSpec,
    PriceRule,
    Rule,
    Snapshot,
    State,
    Submission,
    TaskAnswer,
    TaskProvider,
    VideoRequest,
)
from providers.images import check_url, classify, to_data_uri
from providers.wire import Maybe

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

# -- the declaration: runblob's answers as typed wire models, tolerant (a field of the wrong shape reads as
# absent), and what each state, error answer and failure reason means in our terms.


_CODE = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+")


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


class Created(Accepted):
    """The generate answer: {generation_id, status, price}."""

    ref_field = "generation_id"

    generation_id: Maybe[str] = None
    price: Maybe[str] = None  # what the call charged, in USD: "0.1500"

    def job_charge(self) -> float | None:
        try:
            return float(self.price or "")  # runblob sends a string such as "0.1500"
        except ValueError:
            return None


class Generation(TaskAnswer):
    """A status answer or a webhook body."""

    ref_field = "generation_id"

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

    def job_failure(self) -> tuple[str, str]:
        return "", self.reason


class Problem(ErrorAnswer):
    """An error answer: {"detail": ...}, {"success": false, "message": ...} or both; the code is the
    UPPER_SNAKE word among them."""

    detail: Maybe[Any] = None
    message: Maybe[Any] = None
    error: Maybe[Any] = None

    def _parts(self) -> tuple[list[str], list[str]]:
        parts = [text for value in (self.detail, self.message, self.error) for text in _texts(value)]
        codes = [p for p in parts if _CODE.fullmatch(p)]
        return codes, list(dict.fromkeys(p for p in parts if not _CODE.fullmatch(p)))

    def error_code(self) -> str:
        codes, _ = self._parts()
        return codes[0] if codes else ""

    def error_text(self) -> str:
        codes, words = self._parts()
        return ("; ".join(words) or (codes[0] if codes else ""))[:300]

    def fields(self, status: int | None) -> dict[str, Any]:
        code, text = self.error_code(), self.error_text()
        shown = f"{text} ({code})" if code and code not in text else text or "no details given"
        return {"said": f": {text}" if text else "", "shown": shown, "hint": REJECTIONS.get(code, "")}


def _token(code: str) -> str:
    """A documented code, given alone or inside a sentence in any case ("content policy violation")."""
    return r"(?<![A-Z0-9])" + r"[^A-Z0-9]+".join(code.split("_")) + r"(?![A-Z0-9])"


STATUS = {
    "pending": State("queued", "waiting in runblob's queue"),
    "processing": State("running", "generating at runblob"),
    "completed": State("succeeded"),
    "failed": State("failed"),
}
# Why a generation failed (a failed status's `description`, a webhook's `message`) -> our code and what to do.
FAILURES = (
    Rule(
        ErrorCode.CONTENT_POLICY,
        "{title}: the prompt or an image breaks the content policy; change the prompt or the images ({said}).",
        text=_token("CONTENT_POLICY_VIOLATION"),
    ),
    Rule(
        ErrorCode.INVALID_INPUT,
        "{title}: runblob could not fetch an image URL; pass publicly reachable https URLs, or local files ({said}).",
        text=_token("IMAGE_INACCESSIBLE"),
    ),
    Rule(
        ErrorCode.INVALID_INPUT,
        "{title}: an input image is invalid or corrupted; pass JPEG, PNG, GIF or WebP images of at most 10 MB "
        "({said}).",
        text=_token("INVALID_IMAGE"),
    ),
    Rule(
        ErrorCode.TIMED_OUT,
        "{title}: the generation passed runblob's 15-minute limit and the credits were refunded; submit it again "
        "({said}).",
        text=_token("TIMEOUT"),
    ),
)
# The 400 codes (docs: o3-video-errors) -> how to fix the request.
REJECTIONS = {
    "INVALID_DURATION": "; use a duration of 5, 10 or 15 seconds",
    "INVALID_MODEL": "; use model kling_o3 or kling_o3_pro",
    "TOO_MANY_IMAGES": "; pass at most 5 images",
    "MIXED_IMAGE_INPUTS": "; give all images the same way: all URLs, or all local files",
}
ERRORS = (
    Rule(
        ErrorCode.AUTH, "{title} rejected the API key (HTTP {status}{said}); check RUNBLOB_API_KEY.", status=(401, 403)
    ),
    *(
        Rule(
            ErrorCode.OUT_OF_CREDIT,
            "{title}: not enough credits for this video (INSUFFICIENT_CREDITS); top up your runblob.io balance, "
            "or choose kling_o3 or a shorter duration.",
            **when,
        )
        for when in ({"status": 402}, {"match": "^INSUFFICIENT_CREDITS$"})
    ),
    Rule(
        ErrorCode.NOT_FOUND,
        "{title} has no generation {ref} for this API key (GENERATION_NOT_FOUND); it may have been made with another "
        "key. Submit the video again if you still need it.",
        status=404,
        method="GET",
    ),
    Rule(ErrorCode.NOT_FOUND, "{title} has no such endpoint (HTTP 404); check VIDEOGEN_RUNBLOB_BASE_URL.", status=404),
    Rule(ErrorCode.INVALID_INPUT, "{title} rejected the request (HTTP {status}): {shown}{hint}.", status=(400, 422)),
    Rule(ErrorCode.RATE_LIMITED, "{title} is rate limiting requests (HTTP 429); try again shortly.", status=429),
    Rule(
        ErrorCode.TRANSIENT,
        "{title} had a server problem (HTTP {status}{said}); try again in a minute.",
        status=range(500, 600),
    ),
)


class RunblobProvider(TaskProvider[Created, Generation]):
    name = "runblob"
    title = TITLE
    env_vars = ("RUNBLOB_API_KEY",)
    base_url_default = "https://platform.runblob.io"
    default_model = "kling_o3"
    models = MODELS
    supports_cancel = False  # no cancel endpoint
    supports_callbacks = True  # callback_url: one POST when the generation completes or fails

    submit_path = f"{API}/generate"
    status_path = f"{API}/generations/{{ref}}"
    id_field = "generation_id"
    where_to_check = "your runblob dashboard"
    accepted_model = Created
    status_model = Generation
    error_model = Problem
    STATUS = STATUS
    UNKNOWN_STATE = State("running", "status {state!r} at runblob")
    ERRORS = ERRORS
    FAILURES = FAILURES
    FAILED_SOMEHOW = Rule(
        ErrorCode.PROVIDER_FAILED,
        "{title} could not generate the video ({said}); trying again may work.",
        retryable=True,
    )
    NO_VIDEO = Rule(ErrorCode.TRANSIENT, "{title} reports the video done but gave no video_url yet.")

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

    def submit_headers(self, job_id: str) -> dict[str, str]:
        # The SDK's optional header; what runblob does with it is not documented, so resubmits stay unsafe.
        return {"X-Idempotency-Key": job_id}

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

    def state_message(self, rule: State, task: Generation, request: VideoRequest | None) -> str:
        """Running: with the guide's usual time for this duration (a webhook has no request to say it)."""
        message = super().state_message(rule, task, request)
        if rule.status != "running" or request is None:
            return message
        usual = USUAL_TIME.get(request.duration, "minutes") + (
            " plus 30-50%" if request.model == "kling_o3_pro" else ""
        )
        return f"{message} (usually {usual})"

    def charged_usd(
        self, task: Generation, submission: Submission | None, request: VideoRequest | None
    ) -> float | None:
        """The price the submit answered with, once the video is made (a failed one is refunded)."""
        return submission.charged_usd if submission is not None and task.status == "completed" else None

    def failure_fields(self, task: Generation, matched: str) -> dict[str, Any]:
        reason = task.reason
        if not matched:
            return {"said": reason or "its status gave no reason; a webhook would"}
        known = re.sub(r"[^A-Z0-9]+", "_", matched.upper())
        return {"said": known if reason == known else f"{known}: {reason}"}


# Kept for callers of the module's functions (tests): the declaration's shared steps.
error_for = RunblobProvider.error_for


def _snapshot(data: Generation, submission: Submission, request: VideoRequest | None = None) -> Snapshot:
    return RunblobProvider({}).snapshot(data, submission, request)
