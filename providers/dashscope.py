"""Alibaba Cloud Model Studio (DashScope): Wan text-to-video and image-to-video, international (Singapore) endpoint.

Wire contract from the official SDK (dashscope 2.0.2: aigc/video_synthesis.py, client/base_api.py, common/env.py,
common/constants.py, api_entities/http_request.py, api_request_factory.py, common/utils.py) and the Model Studio
docs (alibabacloud.com/help/en/model-studio: text-to-video and image-to-video API references):
  POST /services/aigc/video-generation/video-synthesis, header `X-DashScope-Async: enable` (the docs: HTTP calls
       are asynchronous only), body {model, input: {prompt, negative_prompt, img_url, audio_url}, parameters:
       {size "W*H" | resolution "480P"/"720P"/"1080P", duration, seed, prompt_extend, watermark, audio,
       shot_type}} -> {output: {task_id, task_status}, request_id}
  POST /services/aigc/image2video/video-synthesis: the first-and-last-frame models (*-kf2v-*: the SDK switches
       to task "image2video" for them), input {prompt, first_frame_url, last_frame_url}
  GET  /tasks/{task_id} -> {output: {task_id, task_status: PENDING | RUNNING | SUSPENDED | SUCCEEDED | FAILED |
       CANCELED | UNKNOWN, video_url, code, message}, usage: {video_duration, video_ratio, video_count} (Wan 2.1 /
       2.2) or {duration, output_video_duration, video_count, SR} (Wan 2.5 / 2.6)}
  POST /tasks/{task_id}/cancel: a PENDING task only (the SDK: "Cancel PENDING task")
Auth is `Authorization: Bearer $DASHSCOPE_API_KEY`; errors are {request_id, code, message} with the HTTP status
(the SDK reads code and message). Keys belong to one region: the international key works with
https://dashscope-intl.aliyuncs.com/api/v1 (our default), a China (Beijing) key with
https://dashscope.aliyuncs.com/api/v1 (set VIDEOGEN_DASHSCOPE_BASE_URL). The SDK's own override is
DASHSCOPE_HTTP_BASE_URL / dashscope.base_http_api_url.

Choices:
- Models and their per-model rules (sizes / resolutions, durations, sound, audio_url, shot_type, prompt length) are
  from the Model Studio API references ("wan2.6 and earlier" protocol; the 2026 Chinese edition, read as copied
  in public repositories, agrees with the English guides): Wan 2.1 t2v / i2v / kf2v-plus, Wan 2.2 t2v-plus /
  i2v-plus / i2v-flash / kf2v-flash (silent), Wan 2.5 previews (5 or 10 s, always with sound), Wan 2.6 t2v / i2v
  (2-15 s, always with sound) and i2v-flash (parameters.audio switches sound off, priced lower). The kf2v models
  go to task image2video (as the SDK sends them); their last frame is optional. Wan 2.1 prices are the figures on
  Alibaba's English pages; for the others no official international figure could be read here (the pricing pages
  were not in reach), so they are quoted high from third-party figures (Alibaba's Beijing CNY prices converted
  and rounded up where no USD figure was seen), and each model's description says so. input.audio_url (driving
  audio), parameters.shot_type ("multi": multi-shot, Wan 2.6) and prompt_extend are not offered (no request
  field or option for them): DashScope's defaults apply (its own sound, single shot, prompt rewriting on).
- Images: img_url takes a public http(s) URL or a data URI (data:{MIME};base64,...; JPEG, PNG, BMP or WebP, 240 to
  8000 px a side (the 2026 references; 360 to 2000 for the kf2v frames), 10 MB at most), so a local file is sent
  as a data URI. The SDK's other path for local files (file:// uploaded to DashScope's temporary OSS storage,
  oss:// URLs resolved with X-DashScope-OssResourceResolve) is not
  used: the data URI needs no extra call.
- No callbacks (the video API documents none) and no lookup by an id of ours (GET /tasks lists by time, model and
  status only), so a lost submit cannot be reconciled. Task ids and video URLs last 24 hours; the engine
  downloads the video at once.
- The finished task's duration (usage.duration for Wan 2.6, usage.video_duration before it) at the model's rate
  for the request's resolution and sound is recorded as the charged cost.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from pydantic import ConfigDict

from providers import images
from providers.base import (
    Accepted,
    ErrorAnswer,
    ErrorCode,
    InvalidRequest,
    ModelSpec,
    PriceRule,
    ProviderError,
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
from providers.wire import Maybe

TITLE = "DashScope"
SYNTHESIS = "/services/aigc/video-generation/video-synthesis"
CONSOLE = "modelstudio.console.alibabacloud.com"
KEY_HELP = (
    f"Check DASHSCOPE_API_KEY: an API key from the Model Studio console ({CONSOLE}, API Key page) of the same "
    "region as the endpoint (international keys work only with dashscope-intl.aliyuncs.com; for a China (Beijing) "
    "key set VIDEOGEN_DASHSCOPE_BASE_URL=https://dashscope.aliyuncs.com/api/v1)"
)
T2V_SOURCE = "https://www.alibabacloud.com/help/en/model-studio/text-to-video-api-reference"
I2V_SOURCE = "https://www.alibabacloud.com/help/en/model-studio/image-to-video-api-reference"
KF2V_SOURCE = "https://www.alibabacloud.com/help/en/model-studio/image-to-video-by-first-and-last-frame-api-reference"
PRICING = "https://www.alibabacloud.com/help/en/model-studio/model-pricing"
# The dates of the pages read (their "Last Updated"), not of today: newer versions of these pages could not be read.
T2V_CHECKED = "2025-05-22"
I2V_CHECKED = "2025-06-10"
TODAY = "2026-12-03"
PRICE_NOTE = "per second of video; one rate at every resolution (Alibaba's page as of mid-2025)"
UNREAD = "per second; quoted high: no official international figure read (third-party figures)"
MAX_PROMPT = 800  # wan2.1 / wan2.2: longer prompts are cut off by DashScope
MAX_PROMPT_NEW = 1500  # wan2.5 / wan2.6
MAX_NEGATIVE = 500
MAX_SEED = 2_147_483_647
# The output sizes text-to-video takes (parameters.size), per resolution tier and aspect ratio.
SIZES: dict[str, dict[str, str]] = {
    "480p": {"16:9": "832*480", "9:16": "480*832", "1:1": "624*624"},
    "720p": {"16:9": "1280*720", "9:16": "720*1280", "1:1": "960*960", "4:3": "1088*832", "3:4": "832*1088"},
    "1080p": {"16:9": "1920*1080", "9:16": "1080*1920", "1:1": "1440*1440", "4:3": "1632*1248", "3:4": "1248*1632"},
}
RATIOS = ("16:9", "9:16", "1:1", "4:3", "3:4")
IMAGE_SIDES = (240, 8000)  # px a side: a first-frame img_url (the 2026 references)
KEYFRAME_SIDES = (360, 2000)  # first_frame_url / last_frame_url
IMAGE_MIMES = {"image/jpeg", "image/png", "image/webp", "image/bmp"}
KEYFRAMES = "/services/aigc/image2video/video-synthesis"
WAN26_SECONDS = tuple(float(n) for n in range(2, 16))
# Models that always make sound (no switch), and the one whose sound is switched by parameters.audio.
ALWAYS_SOUND = {"wan2.5-t2v-preview", "wan2.5-i2v-preview", "wan2.6-t2v", "wan2.6-i2v"}
SOUND_SWITCH = {"wan2.6-i2v-flash"}


def _spec(
    model: str,
    name: str,
    description: str,
    *,
    kind: str,
    price: PriceRule,
    resolutions: tuple[str, ...],
    durations: tuple[float, ...] = (5.0,),
    typical_seconds: float,
    default_resolution: str = "720p",
    source: str = "",
    checked: str = TODAY,
    prompt_chars: int = MAX_PROMPT,
) -> ModelSpec:
    image = kind != "t2v"
    sound = model in ALWAYS_SOUND or model in SOUND_SWITCH
    return ModelSpec(
        id=model,
        name=name,
        description=description,
        modes=("image_to_video",) if image else ("text_to_video",),
        durations=durations,
        default_duration=5.0,
        aspect_ratios=("16:9", "9:16", "1:1") if image else RATIOS,
        default_aspect_ratio="16:9",
        resolutions=resolutions,
        default_resolution=default_resolution,
        audio=sound,
        default_audio=sound,
        max_images=1 if image else 0,
        end_image=kind == "kf2v",
        negative_prompt=True,
        seed=True,
        max_prompt_chars=prompt_chars,
        price=price,
        price_source=source or PRICING,
        price_checked=checked,
        typical_seconds=typical_seconds,
    )


def _flat(rate: float) -> PriceRule:
    return PriceRule(per_second=rate, note=PRICE_NOTE)


def _tiers(at_720p: float, factors: dict[str, float], audio: float | None = None) -> PriceRule:
    """A per-second rate at 720p (with sound: `audio`) and each other resolution's rate as a multiple of it."""
    return PriceRule(per_second=at_720p, per_second_audio=audio, resolution_factor=factors, note=UNREAD)


MODELS: tuple[ModelSpec, ...] = (
    _spec(
        "wan2.1-t2v-plus",
        "Wan 2.1 Plus (text)",
        "Wan 2.1 Plus: richer detail, silent 5 s at 720p, five shapes.",
        kind="t2v",
        price=_flat(0.10),
        resolutions=("720p",),
        typical_seconds=420.0,  # the docs: about 5-10 minutes
        source=T2V_SOURCE,
        checked=T2V_CHECKED,
    ),
    _spec(
        "wan2.1-t2v-turbo",
        "Wan 2.1 Turbo (text)",
        "Wan 2.1 Turbo: faster and cheaper, silent 5 s at 480p or 720p.",
        kind="t2v",
        price=_flat(0.036),
        resolutions=("480p", "720p"),
        typical_seconds=240.0,
        source=T2V_SOURCE,
        checked=T2V_CHECKED,
    ),
    _spec(
        "wan2.1-i2v-plus",
        "Wan 2.1 Plus (image)",
        "Wan 2.1 Plus: animates a start image, silent 5 s at 720p; shape follows the image.",
        kind="i2v",
        price=_flat(0.10),
        resolutions=("720p",),
        typical_seconds=420.0,
        source=I2V_SOURCE,
        checked=I2V_CHECKED,
    ),
    _spec(
        "wan2.1-i2v-turbo",
        "Wan 2.1 Turbo (image)",
        "Wan 2.1 Turbo: animates a start image, silent 3-5 s at 480p or 720p; shape follows the image.",
        kind="i2v",
        price=_flat(0.036),
        resolutions=("480p", "720p"),
        durations=(3.0, 4.0, 5.0),
        typical_seconds=150.0,
        source=I2V_SOURCE,
        checked=I2V_CHECKED,
    ),
    _spec(
        "wan2.1-kf2v-plus",
        "Wan 2.1 Plus (first + last frame)",
        "Wan 2.1 Plus: from a start image to an end image (end_image; optional), silent 5 s at 720p.",
        kind="kf2v",
        price=_flat(0.10),
        resolutions=("720p",),
        typical_seconds=420.0,
        source=KF2V_SOURCE,
        checked=I2V_CHECKED,
    ),
    _spec(
        "wan2.2-kf2v-flash",
        "Wan 2.2 Flash (first + last frame)",
        "Wan 2.2 Flash: start image to end image (optional), silent 5 s, 480p-1080p. Price quoted high (unofficial).",
        kind="kf2v",
        price=_tiers(0.04, {"480p": 0.5, "1080p": 2.0}),
        resolutions=("480p", "720p", "1080p"),
        typical_seconds=45.0,
    ),
    _spec(
        "wan2.2-t2v-plus",
        "Wan 2.2 Plus (text)",
        "Wan 2.2 Plus: steadier motion, silent 5 s at 480p or 1080p. Price quoted high (no official figure read).",
        kind="t2v",
        price=_tiers(0.10, {"480p": 0.2}),
        resolutions=("480p", "1080p"),
        default_resolution="1080p",
        typical_seconds=90.0,
    ),
    _spec(
        "wan2.2-i2v-plus",
        "Wan 2.2 Plus (image)",
        "Wan 2.2 Plus: animates a start image, silent 5 s at 480p or 1080p. Price quoted high (no official figure).",
        kind="i2v",
        price=_tiers(0.10, {"480p": 0.2}),
        resolutions=("480p", "1080p"),
        default_resolution="1080p",
        typical_seconds=90.0,
    ),
    _spec(
        "wan2.2-i2v-flash",
        "Wan 2.2 Flash (image)",
        "Wan 2.2 Flash: fast, cheap start-image animation, silent 5 s, 480p-1080p. Price quoted high (unofficial).",
        kind="i2v",
        price=_tiers(0.04, {"480p": 0.5, "1080p": 2.0}),
        resolutions=("480p", "720p", "1080p"),
        typical_seconds=45.0,
    ),
    _spec(
        "wan2.5-t2v-preview",
        "Wan 2.5 Preview (text)",
        "Wan 2.5: 5 or 10 s with its own sound, 480p-1080p, five shapes. Price quoted high (no official figure).",
        kind="t2v",
        price=_tiers(0.10, {"480p": 0.5, "1080p": 1.5}),
        resolutions=("480p", "720p", "1080p"),
        durations=(5.0, 10.0),
        typical_seconds=150.0,
        prompt_chars=MAX_PROMPT_NEW,
    ),
    _spec(
        "wan2.5-i2v-preview",
        "Wan 2.5 Preview (image)",
        "Wan 2.5: animates a start image, 5 or 10 s with sound, 480p-1080p. Price quoted high (no official figure).",
        kind="i2v",
        price=_tiers(0.10, {"480p": 0.5, "1080p": 1.5}),
        resolutions=("480p", "720p", "1080p"),
        durations=(5.0, 10.0),
        typical_seconds=150.0,
        prompt_chars=MAX_PROMPT_NEW,
    ),
    _spec(
        "wan2.6-t2v",
        "Wan 2.6 (text)",
        "Wan 2.6: 2-15 s with its own sound at 720p or 1080p, five shapes. Price quoted high (no official figure).",
        kind="t2v",
        price=_tiers(0.10, {"1080p": 1.5}),
        resolutions=("720p", "1080p"),
        durations=WAN26_SECONDS,
        typical_seconds=150.0,
        prompt_chars=MAX_PROMPT_NEW,
    ),
    _spec(
        "wan2.6-i2v",
        "Wan 2.6 (image)",
        "Wan 2.6: animates a start image, 2-15 s with sound, 720p or 1080p. Price quoted high (no official figure).",
        kind="i2v",
        price=_tiers(0.10, {"1080p": 1.5}),
        resolutions=("720p", "1080p"),
        durations=WAN26_SECONDS,
        typical_seconds=150.0,
        prompt_chars=MAX_PROMPT_NEW,
    ),
    _spec(
        "wan2.6-i2v-flash",
        "Wan 2.6 Flash (image)",
        "Wan 2.6 Flash: faster start-image animation, 2-15 s, 720p/1080p, sound on or off (off is half price). "
        "Price quoted high (no official figure).",
        kind="i2v",
        price=_tiers(0.025, {"1080p": 1.5}, audio=0.05),
        resolutions=("720p", "1080p"),
        durations=WAN26_SECONDS,
        typical_seconds=60.0,
        prompt_chars=MAX_PROMPT_NEW,
    ),
)

# -- the declaration: DashScope's answers (VideoSynthesisResponse and the tasks API) as typed wire models, read
# tolerantly, and what each task_status, error code and failure means in our terms.


class _Strict(Wire):
    """DashScope's fields are strings or nothing: a number where a string belongs reads as absent."""

    model_config = ConfigDict(coerce_numbers_to_str=False)


class TaskOutput(_Strict):
    task_id: Maybe[str] = None
    task_status: Maybe[str] = None
    video_url: Maybe[str] = None
    code: Maybe[str] = None
    message: Maybe[str] = None


class Usage(_Strict):
    duration: Maybe[float] = None  # Wan 2.6 bills this (input_video_duration + output_video_duration)
    video_duration: Maybe[float] = None  # up to Wan 2.5 (the SDK's object shows 0 here for Wan 2.6)
    output_video_duration: Maybe[float] = None
    video_count: Maybe[int] = None

    def seconds(self) -> float | None:
        for value in (self.duration, self.video_duration, self.output_video_duration):
            if value is not None:
                return value
        return None


class Answer(TaskAnswer, Accepted, ErrorAnswer):
    """The create and query answers: {request_id, output, usage}; an error is {request_id, code, message}."""

    model_config = _Strict.model_config

    request_id: Maybe[str] = None
    output: Maybe[TaskOutput] = None
    usage: Maybe[Usage] = None
    code: Maybe[str] = None
    message: Maybe[str] = None

    def job_ref(self) -> str | None:
        return self.output.task_id if self.output else None

    def job_state(self) -> str | None:
        return self.output.task_status if self.output else None

    def job_video(self) -> str | None:
        return self.output.video_url if self.output else None

    def job_failure(self) -> tuple[str, str]:
        return (self.output.code or "", self.output.message or "") if self.output else ("", "")

    def readable(self) -> bool:
        return bool(self.job_state())

    def error_code(self) -> str:
        return self.code or ""

    def error_text(self) -> str:
        return (self.message or "").strip().rstrip(".")

    def fields(self, status: int | None) -> dict[str, Any]:
        code, message = self.error_code(), self.error_text()
        said = f"{code}: {message}" if code and message else code or message or f"HTTP {status}"
        return {"said": said if len(said) <= 300 else said[:299] + "…"}


def charge(answer: Answer, rate: float | None) -> float | None:
    """A finished task's seconds (usage) at a per-second rate."""
    seconds = answer.usage.seconds() if answer.usage else None
    return round(seconds * rate, 4) if seconds is not None and rate is not None else None


def charge_for(answer: Answer, spec: ModelSpec, request: VideoRequest) -> float | None:
    """A finished task's seconds (usage) at the model's price for the request's resolution and sound."""
    seconds = answer.usage.seconds() if answer.usage else None
    return spec.price_for(seconds, request.resolution, request.audio)[0] if seconds is not None else None


STATUS = {
    "PENDING": State("queued", "waiting in DashScope's queue"),
    "RUNNING": State("running", "DashScope task running"),  # DashScope reports no progress figure
    "SUSPENDED": State("running", "DashScope task suspended"),
    "SUCCEEDED": State("succeeded", "generated"),
    "CANCELED": State("cancelled", "cancelled at DashScope"),
    "FAILED": State("failed"),
    "UNKNOWN": State(
        "failed",
        error=Rule(
            ErrorCode.NOT_FOUND,
            "DashScope does not know this task (UNKNOWN): task ids expire after 24 hours, and a task made with "
            "another API key or region is not visible.",
        ),
    ),
}
_REFUSED = "DashScope's content moderation refused the video ({said}); change the prompt or the image."
FAILURES = (
    Rule(ErrorCode.CONTENT_POLICY, _REFUSED, match="DataInspection"),
    Rule(ErrorCode.CONTENT_POLICY, _REFUSED, text="inappropriate"),
    Rule(
        ErrorCode.INVALID_INPUT,
        "DashScope could not use the input ({said}); fix the image or parameters and submit again.",
        match="^(InvalidParameter|InvalidURL|InvalidFile)",
    ),
)
# The docs' error code page: {code, message} with the HTTP status. Where a row names a status or a code, either
# decides, so it is two rows.
_AUTH = f"DashScope rejected the API key ({{said}}). {KEY_HELP}."
_DENIED = (
    "DashScope denied access ({said}): the model may not be activated for this account or region, or the key lacks "
    f"permission. Activate the model in the Model Studio console. {KEY_HELP}."
)
_SLOW = "DashScope is rate limiting this account ({said}): too many requests or tasks at once. Wait and try again."
_INVALID = "DashScope rejected the request ({said}); fix the request and submit it."
ERRORS = (
    Rule(
        ErrorCode.OUT_OF_CREDIT,
        "DashScope refused: the Alibaba Cloud account is overdue ({said}). Top up or settle the bill in the "
        "Alibaba Cloud Billing console, then submit again.",
        match="^Arrearage",
    ),
    Rule(
        ErrorCode.CONTENT_POLICY,
        "DashScope's content moderation refused the request ({said}); change the prompt or the image.",
        match="DataInspection",
    ),
    Rule(ErrorCode.AUTH, _AUTH, status=401),
    Rule(ErrorCode.AUTH, _AUTH, match=r"^InvalidApiKey(\.Expired)?$"),
    Rule(ErrorCode.AUTH, _DENIED, status=403),
    Rule(ErrorCode.AUTH, _DENIED, match="^AccessDenied"),
    Rule(ErrorCode.RATE_LIMITED, _SLOW, status=429),
    Rule(ErrorCode.RATE_LIMITED, _SLOW, match="^Throttling"),
    Rule(ErrorCode.INVALID_INPUT, _INVALID, status=(400, 422)),
    Rule(ErrorCode.INVALID_INPUT, _INVALID, match="^(InvalidParameter|InvalidURL|InvalidFile)"),
    Rule(ErrorCode.NOT_FOUND, "DashScope has no such resource ({said}).", status=404),
    Rule(
        ErrorCode.TRANSIENT,
        "DashScope had a server problem ({said}); try again in a minute.",
        status=range(500, 600),
        retryable=True,
    ),
)


class DashScopeProvider(TaskProvider[Answer, Answer]):
    name = "dashscope"
    title = TITLE
    env_vars = ("DASHSCOPE_API_KEY",)
    base_url_default = "https://dashscope-intl.aliyuncs.com/api/v1"
    default_model = "wan2.1-t2v-plus"
    models = MODELS
    supports_cancel = True  # POST /tasks/{id}/cancel, while the task is PENDING

    submit_path = SYNTHESIS
    status_path = "/tasks/{ref}"
    id_field = "task_id"
    where_to_check = "the task list in the Model Studio console"
    unreadable = "DashScope sent an unreadable task; will ask again shortly."
    accepted_model = Answer
    status_model = Answer
    error_model = Answer
    STATUS = STATUS
    UNKNOWN_STATE = State("running", "DashScope reports task_status {state!r}; still watching")
    ERRORS = ERRORS
    FAILURES = FAILURES
    NO_VIDEO = Rule(
        ErrorCode.PROVIDER_FAILED,
        "DashScope marked the task SUCCEEDED but gave no video_url; submitting again may work.",
        retryable=True,
    )

    def check(self, request: VideoRequest) -> None:
        if request.model in ALWAYS_SOUND and not request.audio:
            raise InvalidRequest(
                f"{request.model} always makes its own sound (DashScope has no switch for it); set audio to true, "
                "or use wan2.6-i2v-flash (sound on or off) or a silent Wan 2.1 / 2.2 model."
            )
        if request.mode == "text_to_video" and request.aspect_ratio not in SIZES[request.resolution]:
            allowed = ", ".join(SIZES[request.resolution])
            raise InvalidRequest(
                f"{request.model} at {request.resolution} makes {allowed} only, not {request.aspect_ratio}; "
                "choose one of those or 720p."
            )
        if request.negative_prompt and len(request.negative_prompt) > MAX_NEGATIVE:
            raise InvalidRequest(
                f"negative_prompt is {len(request.negative_prompt)} characters; DashScope keeps only the first "
                f"{MAX_NEGATIVE}, so shorten it."
            )
        if request.seed is not None and not 0 <= request.seed <= MAX_SEED:
            raise InvalidRequest(f"seed must be between 0 and {MAX_SEED}, not {request.seed}.")
        for image in [*request.images[:1], *([request.end_image] if request.end_image else [])]:
            if images.classify(image) == "url":
                images.check_url(image)  # files are read (and checked) when the job is submitted

    # -- the job life cycle --------------------------------------------------------------------
    def _spec(self, request: VideoRequest) -> ModelSpec:
        spec = self.spec(request.model)
        assert spec is not None, f"{request.model}: the catalogue checked the model before the job existed"
        return spec

    def submit_path_for(self, request: VideoRequest) -> str:
        return KEYFRAMES if self._spec(request).end_image else SYNTHESIS  # the SDK: kf2v is task image2video

    def submit_headers(self, job_id: str) -> dict[str, str]:
        return {"X-DashScope-Async": "enable"}  # the docs: HTTP calls are asynchronous only

    def submission_state(self, accepted: Answer, request: VideoRequest) -> dict[str, Any]:
        return {"request_id": accepted.request_id or ""}

    def charged_usd(self, task: Answer, submission: Submission | None, request: VideoRequest | None) -> float | None:
        if request is None or task.job_state() != "SUCCEEDED":
            return None
        return charge_for(task, self._spec(request), request)

    def failure_fields(self, task: Answer, matched: str) -> dict[str, Any]:
        code, message = task.job_failure()
        return {"said": f"{code}: {message.rstrip('.')}" if message else code or "no reason given"}

    async def cancel(self, submission: Submission, request: VideoRequest) -> None:
        """POST /tasks/{id}/cancel. Not the template's: DashScope refuses with a 400 whose code says why, and a
        task it does not know is an error here, not a cancel."""
        path = f"/tasks/{quote(submission.ref, safe='')}/cancel"
        status, body = await self.call("POST", path, idempotent=True, expected=(200, 400))
        if status == 400:  # UnsupportedOperation: the task is no longer PENDING
            said = Answer.read(body) or Answer()
            raise ProviderError(
                ErrorCode.INVALID_INPUT,
                "DashScope cancels a task only while it is PENDING; this one has started (or ended), so it runs to "
                f"its end and is charged ({said.code or 'HTTP 400'}: {said.message or 'no message'})",
                retryable=False,
            )
        submission.state["cancelled"] = True

    # -- request mapping -----------------------------------------------------------------------
    def body(self, request: VideoRequest) -> dict[str, Any]:
        """The JSON DashScope gets (as VideoSynthesis.async_call builds it)."""
        inputs: dict[str, Any] = {"prompt": request.prompt}
        if request.negative_prompt:
            inputs["negative_prompt"] = request.negative_prompt
        parameters: dict[str, Any] = {"duration": int(request.duration)}
        if self._spec(request).end_image:
            inputs["first_frame_url"] = self.image(request.images[0], sides=KEYFRAME_SIDES)
            if request.end_image:  # optional: without it the video starts at the image, like image-to-video
                inputs["last_frame_url"] = self.image(request.end_image, "end", KEYFRAME_SIDES)
            parameters["resolution"] = request.resolution.upper()
        elif request.mode == "image_to_video":
            inputs["img_url"] = self.image(request.images[0])
            parameters["resolution"] = request.resolution.upper()  # "720P": the shape follows the image
        else:
            parameters["size"] = SIZES[request.resolution][request.aspect_ratio]
        if request.model in SOUND_SWITCH:
            parameters["audio"] = request.audio
        if request.seed is not None:
            parameters["seed"] = request.seed
        return {"model": request.model, "input": inputs, "parameters": parameters}

    def image(self, value: str, which: str = "start", sides: tuple[int, int] = IMAGE_SIDES) -> str:
        """An image field: a URL as is; a local file or data URI as a data URI DashScope takes (format and size
        checked)."""
        if images.classify(value) == "url":
            return images.check_url(value)
        data, mime = images.to_bytes(value, self.allowed_dirs)
        if mime not in IMAGE_MIMES:
            raise InvalidRequest(f"DashScope takes JPEG, PNG, BMP or WebP {which} images, not {mime}; convert it.")
        width, height = images.image_size(data)
        low, high = sides
        if not (low <= width <= high and low <= height <= high):
            raise InvalidRequest(
                f"the {which} image is {width}x{height} px; DashScope takes {low} to {high} px a side: resize it."
            )
        return images.data_uri(data, mime)


# Kept for callers of the module's functions (tests): the declaration's shared steps.
error_for = DashScopeProvider.error_for


def snapshot(answer: Answer, rate: float | None) -> Snapshot:
    """A task answer (GET /tasks/{id}) in our terms, charged at `rate` per second."""
    shot = DashScopeProvider({}).snapshot(answer)
    if shot.status == "succeeded":
        shot.charged_usd = charge(answer, rate)
    return shot


def failure(code: str, message: str) -> ProviderErrorInfo:
    """A FAILED task's code and message in our terms."""
    return DashScopeProvider({}).failure(Answer(output=TaskOutput(task_status="FAILED", code=code, message=message)))
