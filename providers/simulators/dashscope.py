"""A local copy of Alibaba Cloud Model Studio's DashScope video API (dashscope-intl.aliyuncs.com/api/v1), from the
official SDK (dashscope 2.0.2: aigc/video_synthesis.py, client/base_api.py, api_entities/http_request.py,
api_request_factory.py, api_request_data.py, common/utils.py, common/constants.py) and the Model Studio docs
(text-to-video, image-to-video (first frame) and first-and-last-frame API references and guides, error codes).

  POST /services/aigc/video-generation/video-synthesis   (X-DashScope-Async: enable): text-to-video and
       first-frame image-to-video {model, input: {prompt, negative_prompt, img_url, audio_url}, parameters:
       {size | resolution, duration, seed, prompt_extend, watermark, audio, shot_type}}
  POST /services/aigc/image2video/video-synthesis: first-and-last-frame models (*-kf2v-*; the SDK sends these
       here, task "image2video") {model, input: {prompt, negative_prompt, first_frame_url, last_frame_url},
       parameters: {resolution, duration, seed, prompt_extend, watermark}}
       -> {request_id, output: {task_id, task_status: "PENDING"}}
  GET  /tasks/{task_id} -> {request_id, output: {task_id, task_status, submit_time, scheduled_time, end_time,
       video_url, orig_prompt, code, message}, usage}; usage is {video_duration, video_ratio, video_count} up to
       Wan 2.5 and {duration, input_video_duration, output_video_duration, video_count, SR, size (text)} for
       Wan 2.6 (_usage); an unknown id (or another key's) answers 200 with task_status UNKNOWN, as the docs say
  POST /tasks/{task_id}/cancel -> {request_id} for a PENDING task; otherwise 400 UnsupportedOperation
Errors are {request_id, code, message} with the HTTP status. Auth is `Authorization: Bearer <key>` (default: any
"sk-..." key). A request without X-DashScope-Async: enable is refused with 403 AccessDenied (the docs: HTTP calls
to video synthesis are asynchronous only). Requests are checked the way the docs describe each model (MODELS):
known model on its own path, prompt required for text-to-video, img_url an http(s) URL or a data URI of a JPEG,
PNG, BMP or WebP 240-8000 px a side, at most 10 MB (first_frame_url, and last_frame_url when given, 360-2000 px
for kf2v); size (text) or resolution (image) from the model's tiers, duration from its list, seed in
[0, 2147483647]; input.audio_url only for the Wan 2.5 / 2.6 models (which make sound), parameters.audio only for
wan2.6-i2v-flash (the one with a switch), shot_type ("single" / "multi") only for Wan 2.6. Fields the SDK adds
that the models ignore (input.extend_prompt) are accepted. The exact wording of each error message is assumed
(the docs give the codes and some messages), and so is refusing audio / shot_type / audio_url on models whose
references do not list them. Per-model rules are from the Model Studio API references (Chinese edition, 2026,
"wan2.6 and earlier" protocol: text-to-video, image-to-video first frame, first-and-last frame).

Test switches (POST /_sim/config): {"api_keys": [...]} only these keys work; {"arrearage": true} the account is
overdue (400 Arrearage); {"errors": ["Throttling.RateQuota", "InternalError", ...]} the next requests answer
these error codes (ERRORS), {"retry_after": 1} sent with 429 and 503. Prompt directives: sim:fail=content (the
finished video fails output moderation), sim:fail=internal, sim:seconds=N, sim:queue=N.
"""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from providers.simulators.common import SimJob, Simulator, video_url

T2V_SIZES = {
    "480P": ("832*480", "480*832", "624*624"),
    "720P": ("1280*720", "720*1280", "960*960", "1088*832", "832*1088"),
    "1080P": ("1920*1080", "1080*1920", "1440*1440", "1632*1248", "1248*1632"),
}
SYNTHESIS = "/services/aigc/video-generation/video-synthesis"
KEYFRAMES = "/services/aigc/image2video/video-synthesis"


@dataclass(frozen=True)
class Model:
    """What one model takes (the API references' parameter lists, per model)."""

    kind: str  # "t2v" (parameters.size), "i2v" (img_url, parameters.resolution), "kf2v" (first + last frame)
    tiers: tuple[str, ...]  # resolution tiers, lowest first
    durations: tuple[int, ...]
    seconds: float  # how long a 5 s task usually takes
    default: str = ""  # the default tier when the request names none (else the highest)
    sound: bool = False  # makes audio: takes input.audio_url (Wan 2.5 / 2.6)
    audio_switch: bool = False  # takes parameters.audio (wan2.6-i2v-flash)
    shot_type: bool = False  # takes parameters.shot_type (Wan 2.6)

    @property
    def default_tier(self) -> str:
        return self.default or self.tiers[-1]


WAN26_SECONDS = tuple(range(2, 16))  # the references: any whole number of seconds from 2 to 15
MODELS: dict[str, Model] = {
    "wan2.1-t2v-plus": Model("t2v", ("720P",), (5,), 420.0),
    "wan2.1-t2v-turbo": Model("t2v", ("480P", "720P"), (5,), 240.0),
    "wan2.1-i2v-plus": Model("i2v", ("720P",), (5,), 420.0),
    "wan2.1-i2v-turbo": Model("i2v", ("480P", "720P"), (3, 4, 5), 150.0),
    "wan2.1-kf2v-plus": Model("kf2v", ("720P",), (5,), 420.0),
    "wan2.2-t2v-plus": Model("t2v", ("480P", "1080P"), (5,), 90.0),
    "wan2.2-i2v-plus": Model("i2v", ("480P", "1080P"), (5,), 90.0),
    "wan2.2-i2v-flash": Model("i2v", ("480P", "720P", "1080P"), (5,), 45.0, default="720P"),
    "wan2.2-kf2v-flash": Model("kf2v", ("480P", "720P", "1080P"), (5,), 45.0, default="720P"),
    "wan2.5-t2v-preview": Model("t2v", ("480P", "720P", "1080P"), (5, 10), 150.0, sound=True),
    "wan2.5-i2v-preview": Model("i2v", ("480P", "720P", "1080P"), (5, 10), 150.0, sound=True),
    "wan2.6-t2v": Model("t2v", ("720P", "1080P"), WAN26_SECONDS, 150.0, sound=True, shot_type=True),
    "wan2.6-i2v": Model("i2v", ("720P", "1080P"), WAN26_SECONDS, 150.0, sound=True, shot_type=True),
    "wan2.6-i2v-flash": Model(
        "i2v", ("720P", "1080P"), WAN26_SECONDS, 60.0, sound=True, audio_switch=True, shot_type=True
    ),
}
TYPICAL_SECONDS = {model: spec.seconds for model, spec in MODELS.items()}
I2V_SHAPE = {"480P": "832*480", "720P": "1280*720", "1080P": "1920*1080"}  # what a 16:9 start image comes out as
MAX_SEED = 2_147_483_647
IMAGE_BYTES = 10 * 1024 * 1024
IMAGE_SIDES = {"i2v": (240, 8000), "kf2v": (360, 2000)}  # px a side: first-frame img_url, kf2v frames
_DATA_URI = re.compile(r"^data:(image/[\w.+-]+);base64,(.*)$", re.DOTALL)
# code -> (HTTP status, message): the docs' error code page (messages partly assumed).
ERRORS: dict[str, tuple[int, str]] = {
    "InvalidApiKey": (401, "Invalid API-key provided."),
    "Arrearage": (400, "Access denied, please make sure your account is in good standing."),
    "AccessDenied": (403, "Access denied."),
    "Throttling": (429, "Requests throttling triggered."),
    "Throttling.RateQuota": (429, "Requests rate limit exceeded, please try again later."),
    "DataInspectionFailed": (400, "Input data may contain inappropriate content."),
    "InvalidParameter": (400, "The request is invalid."),
    "InternalError": (500, "An internal error has occured, please try again later or contact service support."),
    "ServiceUnavailable": (503, "Service temporarily unavailable, possibly overloaded or not ready."),
}
FAILURES = {
    "content": ("DataInspectionFailed", "Output data may contain inappropriate content."),
    "internal": ("InternalError", "An internal error has occured, please try again later or contact service support."),
}
WIRE_STATUS = {"queued": "PENDING", "running": "RUNNING", "succeeded": "SUCCEEDED", "failed": "FAILED"}


def _time(ts: float) -> str:
    """DashScope's timestamps: "2025-02-24 15:03:29.017" (China Standard Time in the docs; UTC here)."""
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def _error(
    code: str, message: str | None = None, status: int | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    known_status, known_message = ERRORS.get(code, (400, "The request is invalid."))
    body = {"request_id": str(uuid.uuid4()), "code": code, "message": message or known_message}
    return JSONResponse(body, status_code=status or known_status, headers=headers or None)


def _image_problem(url: Any, field: str = "img_url", sides: tuple[int, int] = IMAGE_SIDES["i2v"]) -> str | None:
    """Why DashScope would refuse this image (img_url, first_frame_url, last_frame_url), or None."""
    if not isinstance(url, str) or not url:
        return f"Field required: input.{field}"
    if url.lower().startswith(("http://", "https://")):
        return None  # not fetched here
    match = _DATA_URI.match(url)
    if not match:
        return "url error, please check url!"
    mime, encoded = match.groups()
    try:
        data = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        return "The image is not valid base64 data."
    if len(data) > IMAGE_BYTES:
        return "The image file size exceeds 10MB."
    size = _image_size(data)
    if size is None or mime not in ("image/jpeg", "image/jpg", "image/png", "image/bmp", "image/webp"):
        return "The image format is not supported; use JPEG, JPG, PNG, BMP or WEBP."
    low, high = sides
    if not all(low <= side <= high for side in size):
        return f"The image resolution must be between {low} and {high} pixels for width and height."
    return None


def _image_size(data: bytes) -> tuple[int, int] | None:
    from io import BytesIO

    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(BytesIO(data)) as image:
            if image.format not in ("JPEG", "PNG", "BMP", "WEBP"):
                return None
            return image.size
    except (UnidentifiedImageError, OSError):
        return None


def invalid(body: Any, path: str = SYNTHESIS) -> str | None:
    """Why DashScope would refuse this create request on `path` (400 InvalidParameter), or None."""
    if not isinstance(body, dict):
        return "Request body must be a JSON object."
    model = body.get("model")
    if not isinstance(model, str) or not model:
        return "Field required: model"
    if model not in MODELS or (MODELS[model].kind == "kf2v") != (path == KEYFRAMES):
        return "Model not exist."
    inputs, parameters = body.get("input"), body.get("parameters") or {}
    if not isinstance(inputs, dict):
        return "Field required: input"
    if not isinstance(parameters, dict):
        return "parameters must be an object"
    spec = MODELS[model]
    prompt = inputs.get("prompt")
    if prompt is not None and not isinstance(prompt, str):
        return "input.prompt must be a string"
    if spec.kind == "t2v" and not prompt:
        return "Field required: input.prompt"
    if inputs.get("negative_prompt") is not None and not isinstance(inputs["negative_prompt"], str):
        return "input.negative_prompt must be a string"
    if spec.kind == "i2v" and (problem := _image_problem(inputs.get("img_url"))):
        return problem
    if spec.kind == "kf2v":  # last_frame_url is optional (the first frame alone, or with a template)
        sides = IMAGE_SIDES["kf2v"]
        if problem := _image_problem(inputs.get("first_frame_url"), "first_frame_url", sides):
            return problem
        if "last_frame_url" in inputs and (
            problem := _image_problem(inputs["last_frame_url"], "last_frame_url", sides)
        ):
            return problem
    if "audio_url" in inputs:
        if not spec.sound:
            return f"input.audio_url is not supported by {model}."
        audio_url = inputs["audio_url"]
        if not isinstance(audio_url, str) or not audio_url.lower().startswith(("http://", "https://")):
            return "url error, please check url!"
    duration = parameters.get("duration", 5)
    if isinstance(duration, bool) or not isinstance(duration, int) or duration not in spec.durations:
        allowed = ", ".join(map(str, spec.durations))
        return f"The duration {duration!r} is not supported by {model}; allowed: {allowed}."
    if spec.kind == "t2v":
        size = parameters.get("size", T2V_SIZES[spec.default_tier][0])
        allowed_sizes = [s for tier in spec.tiers for s in T2V_SIZES[tier]]
        if size not in allowed_sizes:
            return f"The size {size!r} is not supported by {model}; allowed: {', '.join(allowed_sizes)}."
    else:
        resolution = parameters.get("resolution", spec.default_tier)
        if resolution not in spec.tiers:
            return f"The resolution {resolution!r} is not supported by {model}; allowed: {', '.join(spec.tiers)}."
    seed = parameters.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED):
        return f"parameters.seed must be an integer in [0, {MAX_SEED}]."
    for flag in ("prompt_extend", "watermark", "audio"):
        if parameters.get(flag) is not None and not isinstance(parameters[flag], bool):
            return f"parameters.{flag} must be a boolean."
    if "audio" in parameters and not spec.audio_switch:
        return f"parameters.audio is not supported by {model}."
    if "shot_type" in parameters:
        if not spec.shot_type:
            return f"parameters.shot_type is not supported by {model}."
        if parameters["shot_type"] not in ("single", "multi"):
            return "parameters.shot_type must be 'single' or 'multi'."
    return None


def _shape(model: str, parameters: dict[str, Any]) -> str:
    """The W*H a valid request comes out at (an image model's 16:9 shape at its resolution)."""
    spec = MODELS[model]
    if spec.kind == "t2v":
        return str(parameters.get("size", T2V_SIZES[spec.default_tier][0]))
    return I2V_SHAPE[parameters.get("resolution", spec.default_tier)]


def _usage(model: str, seconds: int, shape: str) -> dict[str, Any]:
    """A finished task's usage, in each model's shape (the references): Wan 2.6 bills `duration` (with SR, and
    size for text-to-video); the older models `video_duration` (with video_ratio "W*H", "standard" for
    wan2.1-kf2v-plus, SR for wan2.2-kf2v-flash)."""
    spec, tier = MODELS[model], int(min(shape.split("*"), key=int))
    if model.startswith("wan2.6"):
        usage: dict[str, Any] = {"duration": seconds, "input_video_duration": 0, "output_video_duration": seconds}
        usage.update(video_count=1, SR=tier)
        if spec.kind == "t2v":
            usage["size"] = shape
        return usage
    usage = {"video_duration": seconds, "video_count": 1}
    if spec.kind != "kf2v":
        usage["video_ratio"] = shape
    elif model.startswith("wan2.1"):
        usage["video_ratio"] = "standard"
    else:
        usage["SR"] = tier
    return usage


def _has_sound(model: str, parameters: dict[str, Any]) -> bool:
    spec = MODELS[model]
    return spec.sound and (parameters.get("audio", True) if spec.audio_switch else True)


def create_app(speed: float = 1.0) -> Starlette:
    sim = Simulator("dashscope", speed=speed, typical_seconds=TYPICAL_SECONDS["wan2.1-t2v-plus"], queue_seconds=5.0)

    def caller(request: Request) -> str | JSONResponse:
        scheme, _, key = request.headers.get("authorization", "").partition(" ")
        key = key.strip()
        allowed = sim.config.get("api_keys")
        if scheme.lower() != "bearer" or not key or (allowed and key not in allowed) or not key.startswith("sk-"):
            return _error("InvalidApiKey")
        return key

    def injected() -> JSONResponse | None:
        with sim.lock:
            queue = sim.config.get("errors") or []
            code = str(queue.pop(0)) if queue else None
        if code is None:
            return None
        retry = sim.config.get("retry_after")
        status = ERRORS.get(code, (400, ""))[0]
        headers = {"Retry-After": str(retry)} if retry is not None and status in (429, 503) else {}
        return _error(code, headers=headers)

    def refused(request: Request) -> str | JSONResponse:
        who = caller(request)
        if isinstance(who, JSONResponse):
            return who
        return injected() or who

    def mine(request: Request, who: str) -> SimJob | None:
        job = sim.get(request.path_params["task_id"])
        return job if job is not None and job.extra.get("owner") == who else None

    def task(job: SimJob, request: Request) -> dict[str, Any]:
        phase = "cancelled" if job.cancelled else job.phase()[0]
        status = "CANCELED" if phase == "cancelled" else WIRE_STATUS.get(phase, "FAILED")
        output: dict[str, Any] = {
            "task_id": job.id,
            "task_status": status,
            "submit_time": _time(job.created),
        }
        if status != "PENDING":
            output["scheduled_time"] = _time(job.created + job.queue_seconds)
        usage = None
        if status in ("SUCCEEDED", "FAILED", "CANCELED"):
            output["end_time"] = _time(job.created + job.queue_seconds + job.run_seconds)
        if status == "SUCCEEDED":
            output.update(video_url=video_url(request, job), orig_prompt=job.payload["input"].get("prompt", ""))
            usage = _usage(job.payload["model"], job.extra["duration"], job.extra["shape"])
        if status == "FAILED":
            output["code"], output["message"] = FAILURES.get(job.fail or "", FAILURES["internal"])
        answer: dict[str, Any] = {"request_id": str(uuid.uuid4()), "output": output}
        if usage:
            answer["usage"] = usage
        return answer

    async def create(request: Request) -> Response:
        who = refused(request)
        if isinstance(who, JSONResponse):
            return who
        if request.headers.get("x-dashscope-async", "").lower() != "enable":
            return _error("AccessDenied", "current user api does not support synchronous calls.")
        if sim.config.get("arrearage"):
            return _error("Arrearage")
        try:
            body = await request.json()
        except ValueError:
            return _error("InvalidParameter", "Request body is not valid JSON.")
        path = KEYFRAMES if request.url.path.endswith(KEYFRAMES) else SYNTHESIS
        if problem := invalid(body, path):
            return _error("InvalidParameter", problem)
        model, parameters = body["model"], body.get("parameters") or {}
        duration = parameters.get("duration", 5)
        shape = _shape(model, parameters)
        width, height = (int(n) for n in shape.split("*"))
        seconds = TYPICAL_SECONDS[model] * duration / 5
        job = sim.create(body, prompt=body["input"].get("prompt"), job_id=str(uuid.uuid4()), seconds=seconds)
        job.extra.update(
            owner=who,
            duration=duration,
            shape=shape,
            aspect_ratio=f"{width}:{height}",
            sound=_has_sound(model, parameters),
        )
        return JSONResponse({"request_id": str(uuid.uuid4()), "output": {"task_id": job.id, "task_status": "PENDING"}})

    async def query(request: Request) -> Response:
        who = refused(request)
        if isinstance(who, JSONResponse):
            return who
        job = mine(request, who)
        if job is None:
            output = {"task_id": request.path_params["task_id"], "task_status": "UNKNOWN"}
            return JSONResponse({"request_id": str(uuid.uuid4()), "output": output})
        return JSONResponse(task(job, request))

    async def cancel(request: Request) -> Response:
        who = refused(request)
        if isinstance(who, JSONResponse):
            return who
        job = mine(request, who)
        with sim.lock:
            if job is None or job.cancelled or job.phase()[0] != "queued":
                message = "Failed to cancel the task, please confirm if the task is in PENDING status."
                return _error("UnsupportedOperation", message, status=400)
            job.cancelled = True
        return JSONResponse({"request_id": str(uuid.uuid4())})

    app = Starlette(
        routes=[
            Route(SYNTHESIS, create, methods=["POST"]),
            Route(KEYFRAMES, create, methods=["POST"]),
            Route("/tasks/{task_id}", query, methods=["GET"]),
            Route("/tasks/{task_id}/cancel", cancel, methods=["POST"]),
            *sim.routes(),
        ]
    )
    app.state.sim = sim
    return app
