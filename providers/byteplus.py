"""BytePlus ModelArk (ark.ap-southeast.bytepluses.com): ByteDance's Seedance 1.0 Pro, 1.0 Lite and 1.5 Pro.

Wire contract from the official SDK (byteplus-python-sdk-v2 3.0.63, module byteplussdkarkruntime:
resources/content_generation/tasks.py, types/content_generation/*, _exceptions.py, _client.py) and the ModelArk
docs (docs.byteplus.com/en/docs/ModelArk/1520757 Video Generation API, 1299023 Common Error Codes):
  POST   /api/v3/contents/generations/tasks  {model, content: [{type: text, text} | {type: image_url,
         image_url: {url}, role: first_frame | last_frame}], resolution, ratio, duration, seed, camera_fixed,
         watermark, generate_audio, callback_url, ...}                      -> {"id": "cgt-..."}
  GET    /api/v3/contents/generations/tasks/{id} -> {id, model, status: queued | running | succeeded | failed |
         cancelled | expired, error: {code, message}, content: {video_url}, usage: {completion_tokens}, ...}
  DELETE /api/v3/contents/generations/tasks/{id} -> {}: cancels a queued task; deletes the record of a succeeded,
         failed or expired one; refused for a running or cancelled task
Auth is `Authorization: Bearer $ARK_API_KEY`; errors are {"error": {code, message, param, type}} (the SDK reads
`error`). The SDK's request body has the top-level resolution/ratio/duration/seed/... fields, so those are sent;
the older `--rs 720p --dur 5` text commands are not. A `callback_url` gets the task, as GET returns it, at each
status change. There is no lookup by an id of ours, so an unconfirmed submit cannot be reconciled.

Billing is by output tokens: tokens = width x height x fps x duration / 1024 (24 fps). `usage.completion_tokens`
of a finished task times the model's rate is recorded as the charged cost. Estimates (see RATES, SIZES) quote the
largest output size of each resolution, so no aspect ratio costs more than its estimate.
"""

from __future__ import annotations

from typing import Any

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
    Snapshot,
    State,
    Submission,
    TaskAnswer,
    TaskProvider,
    VideoRequest,
    Wire,
)
from providers.wire import Maybe

TITLE = "BytePlus ModelArk"
TASKS = "/api/v3/contents/generations/tasks"
FPS = 24  # Seedance 1.x makes 24 fps only
STATUSES = ("queued", "running", "succeeded", "failed", "cancelled", "expired")
# USD per million output tokens (online inference). BytePlus's own pricing page (PRICE_SOURCE) could not be read
# here past its LLM tables; these are the highest rates found where sources differ (docs.dev.xavier.icvr.xyz's
# BytePlus page: 1.0 pro 2.5, 1.0 lite 1.8, 1.5 pro 2.4 with audio / 1.2 silent; 302.ai lists 2.2 and 1.5).
RATES: dict[str, tuple[float, float | None]] = {  # model -> (silent, with audio)
    "seedance-1-0-pro-250528": (2.5, None),
    "seedance-1-0-lite-t2v-250428": (1.8, None),
    "seedance-1-0-lite-i2v-250428": (1.8, None),
    "seedance-1-5-pro-251215": (1.2, 2.4),
}
PRICE_SOURCE = "https://docs.byteplus.com/en/docs/ModelArk/1544106"
PRICE_CHECKED = "2026-12-03"
RATIOS = ("16:9", "4:3", "1:1", "3:4", "9:16", "21:9")
# Output sizes (width, height) by resolution and ratio, as the Seedance docs tabulate them.
SIZES_1_0: dict[str, dict[str, tuple[int, int]]] = {
    "480p": {"16:9": (864, 480), "4:3": (736, 544), "1:1": (640, 640), "3:4": (544, 736), "9:16": (480, 864),
             "21:9": (960, 416)},
    "720p": {"16:9": (1248, 704), "4:3": (1120, 832), "1:1": (960, 960), "3:4": (832, 1120), "9:16": (704, 1248),
             "21:9": (1504, 640)},
    "1080p": {"16:9": (1920, 1088), "4:3": (1664, 1248), "1:1": (1440, 1440), "3:4": (1248, 1664),
              "9:16": (1088, 1920), "21:9": (2176, 928)},
}  # fmt: skip
SIZES_1_5: dict[str, dict[str, tuple[int, int]]] = {
    "480p": {"16:9": (864, 496), "4:3": (752, 560), "1:1": (640, 640), "3:4": (560, 752), "9:16": (496, 864),
             "21:9": (992, 432)},
    "720p": {"16:9": (1280, 720), "4:3": (1112, 834), "1:1": (960, 960), "3:4": (834, 1112), "9:16": (720, 1280),
             "21:9": (1470, 630)},
}  # fmt: skip
SIZES = {model: SIZES_1_5 if "1-5" in model else SIZES_1_0 for model in RATES}
# 1080p is documented for 1.0 Pro; for Lite and 1.5 Pro it is not confirmed by what was read, so not offered.
for _lite in ("seedance-1-0-lite-t2v-250428", "seedance-1-0-lite-i2v-250428"):
    SIZES[_lite] = {r: SIZES_1_0[r] for r in ("480p", "720p")}


def tokens(width: int, height: int, seconds: float, fps: int = FPS) -> float:
    """Output tokens of a video, as BytePlus bills them."""
    return width * height * fps * seconds / 1024


def usd_per_second(model: str, resolution: str, audio: bool = False) -> float:
    """One second at `resolution` at the model's rate, for its largest size there (quoting high). Exact for
    that size at 24 fps, because tokens grow linearly with duration."""
    width, height = max(SIZES[model][resolution].values(), key=lambda size: size[0] * size[1])
    silent, with_audio = RATES[model]
    rate = with_audio if audio and with_audio is not None else silent
    return tokens(width, height, 1) * rate / 1_000_000


def price_rule(model: str) -> PriceRule:
    """A per-second rule from the token formula: the lowest resolution's rate and each resolution's factor."""
    resolutions = list(SIZES[model])
    base = usd_per_second(model, resolutions[0])
    audio = usd_per_second(model, resolutions[0], audio=True) if RATES[model][1] is not None else None
    silent, with_audio = RATES[model]
    rates = f"${silent:g}" + (f" (${with_audio:g} with audio)" if with_audio is not None else "")
    return PriceRule(
        per_second=base,
        per_second_audio=audio,
        resolution_factor={r: usd_per_second(model, r) / base for r in resolutions},
        note=f"{rates} per million output tokens, tokens = width x height x 24 fps x seconds / 1024, quoted at "
        "each resolution's largest size; the job records BytePlus's completion_tokens. Rates from third-party "
        "pages (BytePlus's own table was not readable here), highest where they differ",
    )


def _spec(model: str, name: str, description: str, **fields: Any) -> ModelSpec:
    resolutions = tuple(SIZES[model])
    values: dict[str, Any] = {
        "modes": ("text_to_video", "image_to_video"),
        "durations": tuple(float(s) for s in range(2, 13)),  # integer seconds, 2-12
        "default_duration": 5.0,
        "aspect_ratios": RATIOS,
        "default_aspect_ratio": "16:9",
        "resolutions": resolutions,
        "default_resolution": "720p",
        "max_images": 1,
        "end_image": True,
        "seed": True,
        "typical_seconds": 90.0,
        **fields,
    }
    return ModelSpec(
        id=model,
        name=name,
        description=description,
        price=price_rule(model),
        price_source=PRICE_SOURCE,
        price_checked=PRICE_CHECKED,
        **values,
    )


MODELS: tuple[ModelSpec, ...] = (
    _spec(
        "seedance-1-0-pro-250528",
        "Seedance 1.0 Pro",
        "ByteDance's Seedance 1.0 Pro: text or first (+last) frame, 2-12 s, up to 1080p.",
        default_resolution="1080p",
    ),
    _spec(
        "seedance-1-0-lite-t2v-250428",
        "Seedance 1.0 Lite (text)",
        "Cheaper Seedance 1.0 Lite from text only, 2-12 s, 480p or 720p.",
        modes=("text_to_video",),
        max_images=0,
        end_image=False,
        typical_seconds=60.0,
    ),
    _spec(
        "seedance-1-0-lite-i2v-250428",
        "Seedance 1.0 Lite (image)",
        "Cheaper Seedance 1.0 Lite from a first (+last) frame, 2-12 s, 480p or 720p.",
        modes=("image_to_video",),
        typical_seconds=60.0,
    ),
    _spec(
        "seedance-1-5-pro-251215",
        "Seedance 1.5 Pro",
        "Seedance 1.5 Pro with optional generated audio: text or first (+last) frame, 4-12 s, 480p or 720p.",
        durations=tuple(float(s) for s in range(4, 13)),
        audio=True,
        default_audio=False,  # audio doubles the price: an agent asks for it
    ),
)


# -- the declaration: BytePlus's answers (types/content_generation) as typed wire models, read tolerantly (a
# field of the wrong shape reads as absent), and what each state, error answer and failure means in our terms.


class Created(Accepted):
    id: Maybe[str] = None


class Failure(Wire):
    code: Maybe[str] = None
    message: Maybe[str] = None


class Content(Wire):
    video_url: Maybe[str] = None


class Usage(Wire):
    completion_tokens: Maybe[float] = None


class Task(TaskAnswer):
    id: Maybe[str] = None
    model: Maybe[str] = None
    status: Maybe[str] = None
    error: Maybe[Failure] = None
    content: Maybe[Content] = None
    usage: Maybe[Usage] = None
    generate_audio: Maybe[bool] = None

    def charged_usd(self, audio: bool) -> float | None:
        used = self.usage.completion_tokens if self.usage else None
        if used is None or self.model not in RATES:
            return None
        silent, with_audio = RATES[self.model]
        rate = with_audio if audio and with_audio is not None else silent
        return round(used * rate / 1_000_000, 6)

    def job_video(self) -> str | None:
        return self.content.video_url if self.content else None

    def job_failure(self) -> tuple[str, str]:
        return (self.error.code or "", self.error.message or "") if self.error else ("", "")


class Problem(ErrorAnswer):
    """{"error": {code, message, param, type}}; the SDK reads `error`, or the body itself when it has none."""

    error: Maybe[Failure] = None

    def _error(self) -> Failure:
        if isinstance(self.raw, dict) and "error" in self.raw:
            return self.error or Failure()
        return Failure.read(self.raw) or Failure()

    def error_code(self) -> str:
        code = self._error().code
        return "" if code in (None, "0") else str(code)

    def error_text(self) -> str:
        message = (self._error().message or "").strip()
        return message if len(message) <= 400 else message[:399] + "…"

    def fields(self, status: int | None) -> dict[str, Any]:
        code, message = self.error_code(), self.error_text()
        said = f" ({code}: {message.rstrip('.')})" if code else (f" ({message})" if message else "")
        return {"said": said}


STATUS = {
    "queued": State("queued", "waiting in {title}'s queue"),
    "running": State("running", "generating at {title}"),
    "succeeded": State("succeeded"),
    "failed": State("failed"),
    "expired": State(
        "failed",
        error=Rule(
            ErrorCode.TIMED_OUT,
            "{title} expired the task: it waited longer than its execution_expires_after (48 h by default) without "
            "running, and nothing was charged; submit it again.",
            retryable=True,
        ),
    ),
    "cancelled": State("cancelled", "cancelled at {title}"),
}
FAILURES = (  # a failed task's error {code, message}: moderation codes name SensitiveContent
    Rule(
        ErrorCode.CONTENT_POLICY,
        "{title}'s moderation blocked the video{said}; change the prompt or the image.",
        match="SensitiveContent",
    ),
    Rule(
        ErrorCode.INVALID_INPUT, "{title} could not use the input{said}.", match="^(InvalidParameter|MissingParameter)"
    ),
)
# HTTP errors (docs: Common Error Codes; the SDK's Ark*Error by status).
ERRORS = (
    Rule(
        ErrorCode.AUTH,
        "{title} rejected the API key (HTTP 401){said}. Check ARK_API_KEY: a ModelArk API key of the "
        "ap-southeast region (console, API Key Management); keys work in one region only.",
        status=401,
    ),
    Rule(
        ErrorCode.OUT_OF_CREDIT,
        "{title}: the account has an overdue balance (HTTP {status}){said}; top up in the BytePlus billing "
        "center, then submit again.",
        match="^AccountOverdueError$",
    ),
    Rule(
        ErrorCode.AUTH,
        "{title} denied access (HTTP 403){said}: activate this model for the account in the ModelArk console "
        "and check ARK_API_KEY's project and permissions.",
        status=403,
    ),
    Rule(
        ErrorCode.NOT_FOUND,
        "{title} has no such task or model (HTTP 404){said}: a task is seen only by its account, and "
        "a deleted one is gone; a model must be activated in the ModelArk console.",
        status=404,
    ),
    Rule(
        ErrorCode.CONTENT_POLICY,
        "{title}'s moderation refused the request{said}; change the prompt or the image.",
        match="SensitiveContent",
    ),
    Rule(ErrorCode.INVALID_INPUT, "{title} rejected the request (HTTP 400){said}.", status=400),
    Rule(
        ErrorCode.RATE_LIMITED,
        "{title} rate limit or quota reached (HTTP 429){said}; wait a minute and try again (at most 120 tasks "
        "may queue per account).",
        status=429,
    ),
    Rule(
        ErrorCode.TRANSIENT,
        "{title} had a server problem (HTTP {status}){said}; try again shortly.",
        status=range(500, 600),
    ),
)


class BytePlusProvider(TaskProvider[Created, Task]):
    name = "byteplus"
    title = TITLE
    env_vars = ("ARK_API_KEY",)
    base_url_default = "https://ark.ap-southeast.bytepluses.com"
    default_model = "seedance-1-0-pro-250528"
    models = MODELS
    supports_cancel = True  # DELETE: only while the task is queued
    supports_callbacks = True  # callback_url: the task, POSTed at each status change

    submit_path = TASKS
    status_path = TASKS + "/{ref}"
    cancel_path = TASKS + "/{ref}"
    cancel_refused = (
        "{title} cancels a task only while it is queued; task {ref} is already running, so it will finish and be "
        "charged. Its video can still be fetched from ModelArk by that task id."
    )
    id_field = "task id"
    where_to_check = "the ModelArk console's task list"
    unreadable = "{title} answered a status check with something not a task"
    accepted_model = Created
    status_model = Task
    error_model = Problem
    STATUS = STATUS
    ERRORS = ERRORS
    FAILURES = FAILURES
    FAILED_SOMEHOW = Rule(
        ErrorCode.PROVIDER_FAILED,
        "{title} could not generate the video{said}; submitting it again may work.",
        retryable=True,
    )
    NO_VIDEO = Rule(ErrorCode.TRANSIENT, "{title} reports the task done but gave no video_url yet.")

    def check(self, request: VideoRequest) -> None:
        if request.end_image and not request.images:
            raise InvalidRequest("BytePlus takes a last frame only with a first frame: pass the first in images")

    # -- request mapping -----------------------------------------------------------------------
    def body(self, request: VideoRequest) -> dict[str, Any]:
        """The JSON body for a validated request (field names as in the SDK's tasks.create)."""
        content: list[dict[str, Any]] = [{"type": "text", "text": request.prompt}]
        frames = [("first_frame", request.images[0])] if request.images else []
        if request.end_image:
            frames.append(("last_frame", request.end_image))
        for role, image in frames:
            content.append({"type": "image_url", "image_url": {"url": self.image_url(image)}, "role": role})
        body: dict[str, Any] = {
            "model": request.model,
            "content": content,
            "resolution": request.resolution,
            "ratio": request.aspect_ratio,
            "duration": int(request.duration),
            "watermark": False,  # no watermark unless asked (camera_fixed and watermark are not options yet)
        }
        if request.seed is not None:
            body["seed"] = request.seed
        spec = self.spec(request.model)
        if spec is not None and spec.audio:
            body["generate_audio"] = request.audio  # always said: BytePlus's default is true
        return body

    def image_url(self, value: str) -> str:
        """A URL as is; a local file or data URI as a data URI (BytePlus takes both)."""
        return images.to_data_uri(value, self.allowed_dirs)

    def charged_usd(self, task: Task, submission: Submission | None, request: VideoRequest | None) -> float | None:
        """A finished task's completion_tokens at the model's rate; a failed or expired one costs nothing."""
        if task.status in ("failed", "expired"):
            return 0.0
        if task.status != "succeeded":
            return None
        return task.charged_usd(request.audio if request is not None else bool(task.generate_audio))

    def failure_fields(self, task: Task, matched: str) -> dict[str, Any]:
        code, reason = task.job_failure()
        return {"said": f" ({code}{': ' + reason.rstrip('.') if reason else ''})" if code or reason else ""}


# Kept for callers of the module's functions (tests): the declaration's shared steps.
error_for = BytePlusProvider.error_for


def failure_error(error: Failure | None) -> ProviderErrorInfo:
    return BytePlusProvider({}).failure(Task(status="failed", error=error))


def snapshot(task: Task, audio: bool) -> Snapshot:
    return BytePlusProvider({}).snapshot(task.model_copy(update={"generate_audio": audio}))
