"""Alibaba Cloud Model Studio (DashScope): Wan text-to-video and image-to-video, international (Singapore) endpoint.

Wire contract from the official SDK (dashscope 2.0.2: aigc/video_synthesis.py, client/base_api.py, common/env.py,
common/constants.py, api_entities/http_request.py, api_request_factory.py, common/utils.py) and the Model Studio
docs (alibabacloud.com/help/en/model-studio: text-to-video and image-to-video API references):
  POST /services/aigc/video-generation/video-synthesis, header `X-DashScope-Async: enable` (the docs: HTTP calls
       are asynchronous only), body {model, input: {prompt, negative_prompt, img_url}, parameters: {size "W*H" |
       resolution "480P"/"720P", duration, seed, prompt_extend, watermark}} -> {output: {task_id, task_status},
       request_id}
  GET  /tasks/{task_id} -> {output: {task_id, task_status: PENDING | RUNNING | SUSPENDED | SUCCEEDED | FAILED |
       CANCELED | UNKNOWN, video_url, code, message}, usage: {video_duration, video_ratio, video_count}}
  POST /tasks/{task_id}/cancel: a PENDING task only (the SDK: "Cancel PENDING task")
Auth is `Authorization: Bearer $DASHSCOPE_API_KEY`; errors are {request_id, code, message} with the HTTP status
(the SDK reads code and message). Keys belong to one region: the international key works with
https://dashscope-intl.aliyuncs.com/api/v1 (our default), a China (Beijing) key with
https://dashscope.aliyuncs.com/api/v1 (set VIDEOGEN_DASHSCOPE_BASE_URL). The SDK's own override is
DASHSCOPE_HTTP_BASE_URL / dashscope.base_http_api_url.

Choices:
- Models: only Wan models whose price Alibaba's own English Model Studio pages state (in USD). The wan2.6 / wan2.5 /
  wan2.2 models are left out: their international prices were found only on third-party pages.
- Images: img_url takes a public http(s) URL or a data URI (data:{MIME};base64,...; JPEG, PNG, BMP or WebP, 360 to
  2000 px a side, 10 MB at most), so a local file is sent as a data URI. The SDK's other path for local files
  (file:// uploaded to DashScope's temporary OSS storage, oss:// URLs resolved with X-DashScope-OssResourceResolve)
  is not used: the data URI needs no extra call.
- No callbacks (the video API documents none) and no lookup by an id of ours (GET /tasks lists by time, model and
  status only), so a lost submit cannot be reconciled. Task ids and video URLs last 24 hours; the engine
  downloads the video at once.
- The finished task's usage.video_duration times the model's rate is recorded as the charged cost.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import anyio
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
    json_body,
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
# The dates of the pages read (their "Last Updated"), not of today: newer versions of these pages could not be read.
T2V_CHECKED = "2025-05-22"
I2V_CHECKED = "2025-06-10"
PRICE_NOTE = "per second of video; one rate at every resolution (Alibaba's page as of mid-2025)"
MAX_PROMPT = 800  # wan2.1: longer prompts are cut off by DashScope
MAX_NEGATIVE = 500
MAX_SEED = 2_147_483_647
# The output sizes Wan 2.1 text-to-video takes (parameters.size), per resolution tier and aspect ratio.
SIZES: dict[str, dict[str, str]] = {
    "480p": {"16:9": "832*480", "9:16": "480*832", "1:1": "624*624"},
    "720p": {"16:9": "1280*720", "9:16": "720*1280", "1:1": "960*960", "4:3": "1088*832", "3:4": "832*1088"},
}
RATIOS = ("16:9", "9:16", "1:1", "4:3", "3:4")
IMAGE_SIDES = (360, 2000)
IMAGE_MIMES = {"image/jpeg", "image/png", "image/webp", "image/bmp"}


def _spec(
    model: str,
    name: str,
    description: str,
    *,
    image: bool,
    rate: float,
    resolutions: tuple[str, ...],
    durations: tuple[float, ...] = (5.0,),
    typical_seconds: float,
) -> ModelSpec:
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
        default_resolution="720p",
        max_images=1 if image else 0,
        negative_prompt=True,
        seed=True,
        max_prompt_chars=MAX_PROMPT,
        price=PriceRule(per_second=rate, note=PRICE_NOTE),
        price_source=I2V_SOURCE if image else T2V_SOURCE,
        price_checked=I2V_CHECKED if image else T2V_CHECKED,
        typical_seconds=typical_seconds,
    )


MODELS: tuple[ModelSpec, ...] = (
    _spec(
        "wan2.1-t2v-plus",
        "Wan 2.1 Plus (text)",
        "Wan 2.1 Plus: richer detail, silent 5 s at 720p, five shapes.",
        image=False,
        rate=0.10,
        resolutions=("720p",),
        typical_seconds=420.0,  # the docs: about 5-10 minutes
    ),
    _spec(
        "wan2.1-t2v-turbo",
        "Wan 2.1 Turbo (text)",
        "Wan 2.1 Turbo: faster and cheaper, silent 5 s at 480p or 720p.",
        image=False,
        rate=0.036,
        resolutions=("480p", "720p"),
        typical_seconds=240.0,
    ),
    _spec(
        "wan2.1-i2v-plus",
        "Wan 2.1 Plus (image)",
        "Wan 2.1 Plus: animates a start image, silent 5 s at 720p; shape follows the image.",
        image=True,
        rate=0.10,
        resolutions=("720p",),
        typical_seconds=420.0,
    ),
    _spec(
        "wan2.1-i2v-turbo",
        "Wan 2.1 Turbo (image)",
        "Wan 2.1 Turbo: animates a start image, silent 3-5 s at 480p or 720p; shape follows the image.",
        image=True,
        rate=0.036,
        resolutions=("480p", "720p"),
        durations=(3.0, 4.0, 5.0),
        typical_seconds=150.0,
    ),
)

# -- DashScope's answers (VideoSynthesisResponse and the tasks API), read tolerantly -------------------------------


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore")


class TaskOutput(_Wire):
    task_id: Maybe[str] = None
    task_status: Maybe[str] = None
    video_url: Maybe[str] = None
    code: Maybe[str] = None
    message: Maybe[str] = None


class Usage(_Wire):
    video_duration: Maybe[float] = None
    video_count: Maybe[int] = None


class Answer(_Wire):
    """The create and query answers: {request_id, output, usage}; an error is {request_id, code, message}."""

    request_id: Maybe[str] = None
    output: Maybe[TaskOutput] = None
    usage: Maybe[Usage] = None
    code: Maybe[str] = None
    message: Maybe[str] = None


def _answer(body: Any) -> Answer:
    return Answer.model_validate(body if isinstance(body, dict) else {})


class DashScopeProvider(Provider):
    name = "dashscope"
    title = TITLE
    env_vars = ("DASHSCOPE_API_KEY",)
    base_url_default = "https://dashscope-intl.aliyuncs.com/api/v1"
    default_model = "wan2.1-t2v-plus"
    models = MODELS
    supports_cancel = True  # POST /tasks/{id}/cancel, while the task is PENDING

    def check(self, request: VideoRequest) -> None:
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
        if request.images and images.classify(request.images[0]) == "url":
            images.check_url(request.images[0])  # files are read (and checked) when the job is submitted

    # -- the job life cycle --------------------------------------------------------------------
    async def submit(self, job_id: str, request: VideoRequest, callback_url: str | None = None) -> Submission:
        body = await anyio.to_thread.run_sync(self.body, request)  # may read and check a local image
        response = await self.http.request("POST", SYNTHESIS, json=body, headers={"X-DashScope-Async": "enable"})
        created = _answer(json_body(response))
        task_id = created.output.task_id if created.output else None
        if not task_id:
            raise ProviderError(
                ErrorCode.SUBMIT_UNCONFIRMED,
                f"DashScope accepted the request (HTTP {response.status_code}, request_id {created.request_id}) but "
                "sent no task_id; it may be generating and charged: check the task list in the Model Studio "
                "console before submitting again.",
                retryable=False,
            )
        return Submission(ref=task_id, state={"request_id": created.request_id or ""})

    async def poll(self, submission: Submission, request: VideoRequest) -> Snapshot:
        response = await self.http.request("GET", f"/tasks/{quote(submission.ref, safe='')}")
        answer = _answer(json_body(response))
        if answer.output is None or not answer.output.task_status:
            raise ProviderError(ErrorCode.TRANSIENT, "DashScope sent an unreadable task; will ask again shortly.")
        spec = self.spec(request.model)
        return snapshot(answer, spec.price.per_second if spec else None)

    async def cancel(self, submission: Submission, request: VideoRequest) -> None:
        path = f"/tasks/{quote(submission.ref, safe='')}/cancel"
        response = await self.http.request("POST", path, idempotent=True, expected=(200, 400))
        if response.status_code == 400:  # UnsupportedOperation: the task is no longer PENDING
            said = _answer(json_body(response))
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
        if request.mode == "image_to_video":
            inputs["img_url"] = self.image(request.images[0])
            parameters["resolution"] = request.resolution.upper()  # "720P": the shape follows the image
        else:
            parameters["size"] = SIZES[request.resolution][request.aspect_ratio]
        if request.seed is not None:
            parameters["seed"] = request.seed
        return {"model": request.model, "input": inputs, "parameters": parameters}

    def image(self, value: str) -> str:
        """img_url: a URL as is; a local file or data URI as a data URI DashScope takes (format and size checked)."""
        if images.classify(value) == "url":
            return images.check_url(value)
        data, mime = images.to_bytes(value, self.allowed_dirs)
        if mime not in IMAGE_MIMES:
            raise InvalidRequest(f"DashScope takes JPEG, PNG, BMP or WebP start images, not {mime}; convert it.")
        width, height = images.image_size(data)
        low, high = IMAGE_SIDES
        if not (low <= width <= high and low <= height <= high):
            raise InvalidRequest(
                f"the start image is {width}x{height} px; DashScope takes {low} to {high} px a side: resize it."
            )
        return images.data_uri(data, mime)

    # -- HTTP ----------------------------------------------------------------------------------
    def http_options(self) -> dict[str, Any]:
        key = self.env.get("DASHSCOPE_API_KEY", "").strip()
        if not key:
            raise ProviderError(ErrorCode.NOT_CONFIGURED, "DashScope is not configured: set DASHSCOPE_API_KEY.")
        return {"headers": {"Authorization": f"Bearer {key}"}, "error_mapper": error_for}


# -- statuses --------------------------------------------------------------------------------------


def snapshot(answer: Answer, rate: float | None) -> Snapshot:
    """A task answer (GET /tasks/{id}) in our terms."""
    output = answer.output or TaskOutput()
    status = output.task_status
    if status == "PENDING":
        return Snapshot(status="queued", message="waiting in DashScope's queue")
    if status in ("RUNNING", "SUSPENDED"):  # DashScope reports no progress figure
        return Snapshot(status="running", message=f"DashScope task {status.lower()}")
    if status == "SUCCEEDED":
        if not output.video_url:
            error = ProviderErrorInfo(
                code=ErrorCode.PROVIDER_FAILED,
                message="DashScope marked the task SUCCEEDED but gave no video_url; submitting again may work.",
                retryable=True,
            )
            return Snapshot(status="failed", message=error.message, error=error)
        seconds = answer.usage.video_duration if answer.usage else None
        charged = round(seconds * rate, 4) if seconds is not None and rate is not None else None
        return Snapshot(
            status="succeeded", progress=1.0, message="generated", video_url=output.video_url, charged_usd=charged
        )
    if status == "CANCELED":
        return Snapshot(status="cancelled", message="cancelled at DashScope")
    if status == "FAILED":
        error = failure(output.code or "", output.message or "")
        return Snapshot(status="failed", message=error.message, error=error)
    if status == "UNKNOWN":
        error = ProviderErrorInfo(
            code=ErrorCode.NOT_FOUND,
            message="DashScope does not know this task (UNKNOWN): task ids expire after 24 hours, and a task made "
            "with another API key or region is not visible.",
        )
        return Snapshot(status="failed", message=error.message, error=error)
    return Snapshot(status="running", message=f"DashScope reports task_status {status!r}; still watching")


def failure(code: str, message: str) -> ProviderErrorInfo:
    """A FAILED task's code and message in our terms."""
    said = f"{code}: {message.rstrip('.')}" if message else code or "no reason given"
    if "DataInspection" in code or "inappropriate" in message.lower():
        return ProviderErrorInfo(
            code=ErrorCode.CONTENT_POLICY,
            message=f"DashScope's content moderation refused the video ({said}); change the prompt or the image.",
        )
    if code.startswith(("InvalidParameter", "InvalidURL", "InvalidFile")):
        return ProviderErrorInfo(
            code=ErrorCode.INVALID_INPUT,
            message=f"DashScope could not use the input ({said}); fix the image or parameters and submit again.",
        )
    return ProviderErrorInfo(
        code=ErrorCode.PROVIDER_FAILED,
        message=f"DashScope could not generate the video ({said}); submitting again may work.",
        retryable=True,
    )


# -- HTTP errors -----------------------------------------------------------------------------------


def error_for(response: Any) -> ProviderError | None:
    """DashScope's {code, message} errors (the docs' error code page) in our terms; None leaves the rest to the
    shared default."""
    status = response.status_code
    body = _answer(json_body(response))
    code, message = body.code or "", (body.message or "").strip().rstrip(".")
    said = f"{code}: {message}" if code and message else code or message or f"HTTP {status}"
    said = said if len(said) <= 300 else said[:299] + "…"
    if code == "Arrearage" or code.startswith("Arrearage"):
        return ProviderError(
            ErrorCode.OUT_OF_CREDIT,
            f"DashScope refused: the Alibaba Cloud account is overdue ({said}). Top up or settle the bill in the "
            "Alibaba Cloud Billing console, then submit again.",
        )
    if "DataInspection" in code:
        return ProviderError(
            ErrorCode.CONTENT_POLICY,
            f"DashScope's content moderation refused the request ({said}); change the prompt or the image.",
        )
    if status == 401 or code in ("InvalidApiKey", "InvalidApiKey.Expired"):
        return ProviderError(ErrorCode.AUTH, f"DashScope rejected the API key ({said}). {KEY_HELP}.")
    if status == 403 or code.startswith("AccessDenied"):
        return ProviderError(
            ErrorCode.AUTH,
            f"DashScope denied access ({said}): the model may not be activated for this account or region, or "
            f"the key lacks permission. Activate the model in the Model Studio console. {KEY_HELP}.",
        )
    if status == 429 or code.startswith("Throttling"):
        return ProviderError(
            ErrorCode.RATE_LIMITED,
            f"DashScope is rate limiting this account ({said}): too many requests or tasks at once. Wait and try "
            "again.",
        )
    if status in (400, 422) or code.startswith(("InvalidParameter", "InvalidURL", "InvalidFile")):
        return ProviderError(
            ErrorCode.INVALID_INPUT, f"DashScope rejected the request ({said}); fix the request and submit it."
        )
    if status == 404:
        return ProviderError(ErrorCode.NOT_FOUND, f"DashScope has no such resource ({said}).")
    if status >= 500:
        return ProviderError(
            ErrorCode.TRANSIENT, f"DashScope had a server problem ({said}); try again in a minute.", retryable=True
        )
    return None
