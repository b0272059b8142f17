"""A local copy of BytePlus ModelArk's video generation tasks API, from the official SDK (byteplus-python-sdk-v2
3.0.63: byteplussdkarkruntime/resources/content_generation/tasks.py, types/content_generation/*, _exceptions.py)
and the ModelArk docs (docs.byteplus.com/en/docs/ModelArk/1520757 Video Generation API, 1299023 Common Error Codes).

  POST   /api/v3/contents/generations/tasks       -> {"id": "cgt-..."}
  GET    /api/v3/contents/generations/tasks/{id}  -> the task: {id, model, status, error, content: {video_url},
         usage: {completion_tokens, total_tokens}, created_at, updated_at, seed, resolution, ratio, duration,
         framespersecond, service_tier, execution_expires_after, generate_audio (1.5 Pro), draft}
  GET    /api/v3/contents/generations/tasks?page_num&page_size&filter.status&filter.task_ids&filter.model
         -> {"total", "items": [task, ...]}
  DELETE /api/v3/contents/generations/tasks/{id}  -> {}: a queued task becomes cancelled; a succeeded, failed or
         expired one is deleted (404 afterwards); a running or cancelled one is refused

As documented: Bearer auth (401 AuthenticationError); errors as {"error": {code, message, param, type}} (the
SDK's _make_status_error reads `error`); 400 MissingParameter / InvalidParameter with the parameter named;
403 AccountOverdueError; 404 for an unknown model; statuses queued -> running -> succeeded | failed, plus
cancelled and expired; usage.completion_tokens = width x height x 24 x seconds / 1024 at the documented output
sizes. The top-level fields are strictly checked (resolution, ratio, duration 2-12 or 4-12 for 1.5 Pro, frames
25+4n, seed -1..2^32-1, booleans, service_tier default | flex, execution_expires_after 3600-259200); text
commands in the prompt (--rs 720p --rt 16:9 --dur 5 --seed 1 --cf true --wm true) are read where a top-level
field is absent, and ignored when malformed (the docs: weak validation). Images are http(s) URLs or data URIs
`data:image/<format>;base64,...` (format in lower case), 300-6000 px a side, width/height 0.4-2.5, under 30 MB;
roles first_frame / last_frame (a last frame needs a first), reference_image for 1.0 Lite i2v only; 1.0 Lite
t2v takes no image and 1.0 Lite i2v needs one.

Assumed where the sources are silent: the error code of a refused DELETE (400 InvalidParameter), of an unknown
task (404 ResourceNotFound), and the callback's retries (3 tries, 10 s apart). A `callback_url` gets the task, as
GET returns it, at each status change.

Test switches (POST /_sim/config): {"api_keys": [...]} only these keys work (default: any); {"overdue": true}
403 AccountOverdueError on create; {"errors": [429, 500, 503]} the next requests get these statuses.
Prompt directives: sim:fail=content (OutputVideoSensitiveContentDetected while generating) | input (400
InputTextSensitiveContentDetected at once) | internal | expired, sim:seconds=N, sim:queue=N.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
import time
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from providers.images import header_size, sniff
from providers.simulators.common import SimJob, Simulator, directives, public_root, video_url

TASKS = "/api/v3/contents/generations/tasks"
FPS = 24
RATIOS = ("16:9", "4:3", "1:1", "3:4", "9:16", "21:9")
# The docs' output sizes (width, height) by resolution and ratio: the 1.0 family, and 1.5 Pro's own. Kept here,
# not imported from the adapter, so the simulator stays an oracle of the docs.
SIZES_1_0 = {
    "480p": {"16:9": (864, 480), "4:3": (736, 544), "1:1": (640, 640), "3:4": (544, 736), "9:16": (480, 864),
             "21:9": (960, 416)},
    "720p": {"16:9": (1248, 704), "4:3": (1120, 832), "1:1": (960, 960), "3:4": (832, 1120), "9:16": (704, 1248),
             "21:9": (1504, 640)},
    "1080p": {"16:9": (1920, 1088), "4:3": (1664, 1248), "1:1": (1440, 1440), "3:4": (1248, 1664),
              "9:16": (1088, 1920), "21:9": (2176, 928)},
}  # fmt: skip
SIZES_1_5 = {
    "480p": {"16:9": (864, 496), "4:3": (752, 560), "1:1": (640, 640), "3:4": (560, 752), "9:16": (496, 864),
             "21:9": (992, 432)},
    "720p": {"16:9": (1280, 720), "4:3": (1112, 834), "1:1": (960, 960), "3:4": (834, 1112), "9:16": (720, 1280),
             "21:9": (1470, 630)},
}  # fmt: skip
_LITE = {r: SIZES_1_0[r] for r in ("480p", "720p")}  # 1080p for Lite is not confirmed: refused, the safe side
SIZES: dict[str, dict[str, dict[str, tuple[int, int]]]] = {
    "seedance-1-0-pro-250528": SIZES_1_0,
    "seedance-1-0-lite-t2v-250428": _LITE,
    "seedance-1-0-lite-i2v-250428": _LITE,
    "seedance-1-5-pro-251215": SIZES_1_5,
}


def tokens(width: int, height: int, seconds: float) -> float:
    """The docs' billing formula: width x height x fps x duration / 1024."""
    return width * height * FPS * seconds / 1024


DEFAULT_RESOLUTION = {
    "seedance-1-0-pro-250528": "1080p",
    "seedance-1-0-lite-t2v-250428": "720p",
    "seedance-1-0-lite-i2v-250428": "720p",
    "seedance-1-5-pro-251215": "720p",
}
MIN_SECONDS = {"seedance-1-5-pro-251215": 4}
TYPICAL_SECONDS = {"seedance-1-0-lite-t2v-250428": 60.0, "seedance-1-0-lite-i2v-250428": 60.0}
ROLES = ("first_frame", "last_frame", "reference_image")
IMAGE_FORMATS = ("jpeg", "png", "webp", "bmp", "tiff", "gif")
MAX_IMAGE_BYTES = 30 * 1024 * 1024
WIRE = {"queued": "queued", "running": "running", "succeeded": "succeeded", "failed": "failed"}
FAILURES = {
    "content": ("OutputVideoSensitiveContentDetected", "The request failed because the output video may contain "
                "sensitive information."),
    "internal": ("InternalServiceError", "The service encountered an unexpected internal error."),
}  # fmt: skip
FAULTS = {
    429: ("RateLimitExceeded.EndpointRPMExceeded", "TooManyRequests", "Request rate exceeds the endpoint's RPM"),
    500: ("InternalServiceError", "InternalServerError", "The service encountered an unexpected internal error"),
    503: ("ServiceUnavailable", "ServiceUnavailable", "The service is temporarily unavailable"),  # assumed code
}
COMMANDS = {"rs": "resolution", "resolution": "resolution", "rt": "ratio", "ratio": "ratio", "dur": "duration",
            "duration": "duration", "seed": "seed", "cf": "camera_fixed", "camerafixed": "camera_fixed",
            "wm": "watermark", "watermark": "watermark"}  # fmt: skip
_COMMAND = re.compile(r"--(\w+)\s+(\S+)")
WEBHOOK_ATTEMPTS, WEBHOOK_SPACING = 3, 10.0


def _request_id() -> str:
    return time.strftime("%Y%m%d%H%M%S") + secrets.token_hex(10)


def refusal(status: int, code: str, message: str, param: str = "", kind: str = "BadRequest") -> JSONResponse:
    body = {"error": {"code": code, "message": f"{message} Request id: {_request_id()}", "param": param, "type": kind}}
    return JSONResponse(body, status_code=status)


def invalid(param: str, why: str) -> JSONResponse:
    return refusal(
        400, "InvalidParameter", f"The parameter `{param}` specified in the request is not valid: {why}.", param
    )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _given(body: dict[str, Any], name: str, default: Any) -> Any:
    return default if body.get(name) is None else body[name]


def _commands(text: str) -> list[tuple[str, Any]]:
    """The prompt's text commands as (field, value), read loosely (a malformed one is dropped, as the docs say)."""
    found: list[tuple[str, Any]] = []
    for name, raw in _COMMAND.findall(text):
        field = COMMANDS.get(name.lower())
        if field in ("duration", "seed"):
            try:
                found.append((field, int(raw)))
            except ValueError:
                continue
        elif field in ("camera_fixed", "watermark") and raw.lower() in ("true", "false"):
            found.append((field, raw.lower() == "true"))
        elif field:
            found.append((field, raw))
    return found


def _image_problem(url: Any) -> str | None:
    """Why an image_url.url is refused, or None. URLs are taken as given (the service fetches them later)."""
    if not isinstance(url, str) or not url:
        return "image_url.url must be a non-empty string"
    if url.lower().startswith(("http://", "https://")):
        return None
    match = re.fullmatch(r"data:image/([a-z]+);base64,(.+)", url, re.DOTALL)
    if not match or match.group(1) not in IMAGE_FORMATS:
        return "an image must be an http(s) URL or data:image/<format>;base64,<data> with a lower-case format"
    try:
        data = base64.b64decode(match.group(2), validate=True)
    except (binascii.Error, ValueError):
        return "the image's base64 data does not decode"
    if len(data) > MAX_IMAGE_BYTES:
        return "the image is larger than 30 MB"
    size = header_size(data) if sniff(data) else None
    if size is None:
        return "the image data is not a readable image"
    width, height = size
    if not (300 <= min(width, height) and max(width, height) <= 6000):
        return f"the image is {width}x{height} px; each side must be 300-6000 px"
    if not 0.4 <= width / height <= 2.5:
        return f"the image is {width}x{height} px; its width/height must be 0.4-2.5"
    return None


def _content(model: str, content: Any) -> tuple[str, list[str]] | JSONResponse:
    """(prompt text, image roles) of a valid `content` list, or the 400 the service sends."""
    if not isinstance(content, list) or not content:
        return invalid("content", "content must be a non-empty list")
    texts, roles = [], []
    for item in content:
        kind = item.get("type") if isinstance(item, dict) else None
        if kind == "text":
            if not isinstance(item.get("text"), str):
                return invalid("content.text", "text must be a string")
            texts.append(item["text"])
        elif kind == "image_url":
            image = item.get("image_url")
            if problem := _image_problem(image.get("url") if isinstance(image, dict) else None):
                return invalid("content.image_url", problem)
            role = item.get("role") or "first_frame"
            if role not in ROLES:
                return invalid("content.role", f"role must be one of {', '.join(ROLES)}")
            roles.append(role)
        else:
            return invalid("content.type", f"type {kind!r} is not supported by {model}; use text or image_url")
    if len(texts) > 1:
        return invalid("content.text", "at most one text item is allowed")
    if "lite-t2v" in model and roles:
        return invalid("content.image_url", f"{model} generates from text only")
    if "lite-i2v" in model and not roles:
        return invalid("content.image_url", f"{model} needs a first frame image")
    if "reference_image" in roles and ("lite-i2v" not in model or {"first_frame", "last_frame"} & set(roles)):
        return invalid("content.role", "reference_image is taken by seedance-1-0-lite-i2v only, without frames")
    frames = [role for role in roles if role != "reference_image"]
    if len(frames) > 2 or len(set(frames)) < len(frames) or (frames and frames[0] != "first_frame"):
        return invalid("content.role", "give one first_frame, optionally followed by one last_frame")
    if roles.count("reference_image") > 4:
        return invalid("content.role", "at most 4 reference images")
    return (texts[0] if texts else ""), roles


def _fields(model: str, body: dict[str, Any], roles: list[str]) -> dict[str, Any] | JSONResponse:
    """The task's settings from the top-level fields (strict) over the prompt's commands (loose)."""
    settings = {key: body[key] for key in COMMANDS.values() if body.get(key) is not None}
    loose = _commands(next((i["text"] for i in body["content"] if i.get("type") == "text"), ""))
    resolutions = tuple(SIZES[model])
    ratios = (*RATIOS, "adaptive")
    for key, value in loose:  # weak validation: a wrong command is dropped; the first good one counts
        fine = {"resolution": value in resolutions, "ratio": value in ratios, "duration": _is_int(value)}
        if key not in settings and fine.get(key, True):
            settings[key] = value
    if (res := settings.setdefault("resolution", DEFAULT_RESOLUTION[model])) not in resolutions:
        return invalid("resolution", f"{model} takes {', '.join(resolutions)}, not {res!r}")
    if settings.setdefault("ratio", "adaptive" if roles else "16:9") not in ratios:
        return invalid("ratio", f"ratio must be one of {', '.join(ratios)}")
    if body.get("duration") is not None and body.get("frames") is not None:
        return invalid("frames", "duration and frames are mutually exclusive")
    frames = body.get("frames")
    if frames is not None and not (_is_int(frames) and 29 <= frames <= 289 and (frames - 25) % 4 == 0):
        return invalid("frames", "frames must be 25 + 4n, from 29 to 289")
    low = MIN_SECONDS.get(model, 2)
    seconds = settings.setdefault("duration", 5 if frames is None else round(frames / FPS))
    if not (_is_int(seconds) and low <= seconds <= 12):
        return invalid("duration", f"{model} takes a whole number of seconds from {low} to 12")
    seed = settings.get("seed", -1)
    if not (_is_int(seed) and -1 <= seed <= 2**32 - 1):
        return invalid("seed", "seed must be an integer from -1 to 4294967295")
    for flag in ("camera_fixed", "watermark", "generate_audio", "return_last_frame", "draft"):
        if body.get(flag) is not None and not isinstance(body[flag], bool):
            return invalid(flag, f"{flag} must be a boolean")
    if settings.get("camera_fixed") is not None and not isinstance(settings["camera_fixed"], bool):
        return invalid("camera_fixed", "camera_fixed must be a boolean")
    # The SDK sends every unset field as null: null means absent.
    if (tier := _given(body, "service_tier", "default")) not in ("default", "flex"):
        return invalid("service_tier", "service_tier must be default or flex")
    expires = _given(body, "execution_expires_after", 172800)
    if not (_is_int(expires) and 3600 <= expires <= 259200):
        return invalid("execution_expires_after", "execution_expires_after must be 3600-259200 seconds")
    if body.get("callback_url") is not None and not isinstance(body["callback_url"], str):
        return invalid("callback_url", "callback_url must be a string")
    audio = _given(body, "generate_audio", True) if "1-5" in model else None
    return {**settings, "seed": seed if seed != -1 else secrets.randbelow(2**32), "service_tier": tier,
            "execution_expires_after": expires, "generate_audio": audio}  # fmt: skip


def create_app(speed: float = 1.0) -> Starlette:
    sim = Simulator("byteplus", speed=speed, typical_seconds=90.0, queue_seconds=5.0)

    def caller(request: Request) -> str | JSONResponse:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        keys = sim.config.get("api_keys")
        if scheme.lower() != "bearer" or not token.strip() or (keys and token.strip() not in keys):
            return refusal(
                401,
                "AuthenticationError",
                "The API key or AK/SK in the request is missing or invalid.",
                kind="Unauthorized",
            )
        return token.strip()

    def fault() -> JSONResponse | None:
        with sim.lock:
            queue = sim.config.get("errors") or []
            if not queue:
                return None
            status = int(queue.pop(0))
        code, kind, text = FAULTS.get(status, ("InternalServiceError", "InternalServerError", "Error"))
        return refusal(status, code, text + ".", kind=kind)

    async def create(request: Request) -> JSONResponse:
        who = caller(request)
        if isinstance(who, JSONResponse):
            return who
        if refused := fault():
            return refused
        try:
            body = await request.json()
        except ValueError:
            return invalid("body", "the request body is not valid JSON")
        if not isinstance(body, dict):
            return invalid("body", "the request body must be a JSON object")
        for name in ("model", "content"):
            if body.get(name) is None:
                return refusal(
                    400,
                    "MissingParameter",
                    f"The request failed because it is missing one or multiple required parameters: {name}.",
                    name,
                )
        model = body["model"]
        if model not in SIZES:
            return refusal(
                404,
                "InvalidEndpointOrModel.NotFound",
                f"The model or endpoint {model} does not exist or you do not have access to it.",
                "model",
                "NotFound",
            )
        read = _content(model, body["content"])
        if isinstance(read, JSONResponse):
            return read
        prompt, roles = read
        fields = _fields(model, body, roles)
        if isinstance(fields, JSONResponse):
            return fields
        if directives(prompt).get("fail") == "input":
            return refusal(
                400,
                "InputTextSensitiveContentDetected",
                "The request failed because the input text may contain sensitive information.",
            )
        if sim.config.get("overdue"):
            return refusal(
                403,
                "AccountOverdueError",
                "The request failed because your account has an overdue balance.",
                kind="Forbidden",
            )
        seconds = TYPICAL_SECONDS.get(model, sim.typical_seconds) * fields["duration"] / 5
        job_id = f"cgt-{time.strftime('%Y%m%d%H%M%S')}-{secrets.token_hex(3)}"
        job = sim.create(body, prompt=prompt, job_id=job_id, seconds=seconds)
        ratio = fields["ratio"] if fields["ratio"] != "adaptive" else "16:9"
        job.extra.update(owner=who, model=model, fields=fields, duration=fields["duration"], aspect_ratio=ratio)
        if body.get("callback_url"):
            job.extra["root"] = public_root(request)
            sim.call_back(
                job,
                body["callback_url"],
                announce,
                on=("queued", "running", "succeeded", "failed", "cancelled"),
                attempts=WEBHOOK_ATTEMPTS,
                spacing=WEBHOOK_SPACING,
            )
        return JSONResponse({"id": job.id})

    def found(request: Request, who: str) -> SimJob | None:
        job = sim.get(request.path_params["task_id"])
        if job is None or job.extra.get("owner") != who or job.extra.get("deleted"):
            return None
        return job

    def missing(task_id: str) -> JSONResponse:
        return refusal(404, "ResourceNotFound", f"The specified task {task_id} is not found.", "id", "NotFound")

    async def retrieve(request: Request) -> JSONResponse:
        who = caller(request)
        if isinstance(who, JSONResponse):
            return who
        if refused := fault():
            return refused
        job = found(request, who)
        if job is None:
            return missing(request.path_params["task_id"])
        return JSONResponse(task(job, public_root(request)))

    async def delete(request: Request) -> JSONResponse:
        who = caller(request)
        if isinstance(who, JSONResponse):
            return who
        job = found(request, who)
        if job is None:
            return missing(request.path_params["task_id"])
        status = wire_status(job)
        if status == "queued":
            job.cancelled = True
        elif status in ("succeeded", "failed", "expired"):
            job.extra["deleted"] = True
        else:
            return invalid("id", f"a {status} task cannot be cancelled or deleted")
        return JSONResponse({})

    async def listing(request: Request) -> JSONResponse:
        who = caller(request)
        if isinstance(who, JSONResponse):
            return who
        query = request.query_params
        try:
            page, size = int(query.get("page_num", 1)), int(query.get("page_size", 10))
        except ValueError:
            return invalid("page_num", "page_num and page_size must be integers")
        if not (1 <= page <= 500 and 1 <= size <= 500):
            return invalid("page_size", "page_num and page_size must be 1-500")
        ids = set(query.getlist("filter.task_ids"))
        root = public_root(request)
        items = [
            task(job, root)
            for job in reversed(list(sim.jobs.values()))
            if job.extra.get("owner") == who and not job.extra.get("deleted") and (not ids or job.id in ids)
        ]
        items = [
            item
            for item in items
            if query.get("filter.status") in (None, item["status"])
            and query.get("filter.model") in (None, item["model"])
        ]
        return JSONResponse({"total": len(items), "items": items[(page - 1) * size : page * size]})

    def wire_status(job: SimJob) -> str:
        phase, _ = job.phase()
        if phase == "cancelled":
            return "cancelled"
        if phase == "failed" and job.fail == "expired":
            return "expired"
        return WIRE[phase]

    def task(job: SimJob, root: str, status: str | None = None) -> dict[str, Any]:
        """The task as GET answers it, or as it was in `status` (what a callback for that change carries)."""
        fields, model = job.extra["fields"], job.extra["model"]
        status = status or wire_status(job)
        answer: dict[str, Any] = {
            "id": job.id,
            "model": model,
            "status": status,
            "error": None,
            "created_at": int(job.created),
            "updated_at": int(time.time()),
            "seed": fields["seed"],
            "resolution": fields["resolution"],
            "ratio": fields["ratio"],
            "duration": fields["duration"],
            "framespersecond": FPS,
            "service_tier": fields["service_tier"],
            "execution_expires_after": fields["execution_expires_after"],
            "draft": False,
        }
        if fields["generate_audio"] is not None:
            answer["generate_audio"] = fields["generate_audio"]
        if status == "succeeded":
            answer["content"] = {"video_url": video_url(root, job)}
            if job.payload.get("return_last_frame"):
                answer["content"]["last_frame_url"] = f"{root}/_sim/frames/{job.id}.png"
            width, height = SIZES[model][fields["resolution"]][job.extra["aspect_ratio"]]
            used = round(tokens(width, height, fields["duration"]))
            answer["usage"] = {"completion_tokens": used, "total_tokens": used}
        elif status == "failed":
            code, message = FAILURES.get(job.fail or "", FAILURES["internal"])
            answer["error"] = {"code": code, "message": message}
        return answer

    async def announce(job: SimJob, phase: str) -> dict[str, Any]:
        final = phase in ("succeeded", "failed")  # the final phase is read as it is now (expired included)
        return task(job, job.extra["root"], None if final else phase)

    app = Starlette(
        routes=[
            Route(TASKS, create, methods=["POST"]),
            Route(TASKS, listing, methods=["GET"]),
            Route(f"{TASKS}/{{task_id}}", retrieve, methods=["GET"]),
            Route(f"{TASKS}/{{task_id}}", delete, methods=["DELETE"]),
            *sim.routes(),
        ]
    )
    app.state.sim = sim
    return app
