"""A local Kling API (api-singapore.klingai.com) for tests and benchmarks, written from Kling's docs.

It takes either of Kling's credentials: a single API key sent as `Bearer <key>`, or the HS256 JWT made from
an access/secret key pair, checked like Kling does (signature with the secret key of the token's `iss`, `nbf`,
`exp`). It validates text2video / image2video bodies with Kling's error codes and messages, runs tasks
through submitted -> processing -> succeed | failed over simulated time, answers single-task queries
by task_id or by external_task_id (a finished task with `final_unit_deduction`, the units of Kling's price
table), lists tasks, and serves a real MP4 at the result URL. No cancel
endpoint, like Kling. A `callback_url` gets the task's `data` POSTed at every status change (processing, then
succeed or failed); Kling documents no retry policy, so a failed delivery is tried CALLBACK_ATTEMPTS times,
CALLBACK_SPACING simulated seconds apart.

Keys: `sim.config["keys"]` maps access key -> secret key, `sim.config["api_keys"]` lists API keys; the
defaults are DEFAULT_ACCESS_KEY / DEFAULT_SECRET_KEY and DEFAULT_API_KEY below.
Test switches (POST /_sim/config or `sim.config`):
  {"balance": 0}                  every submit answers 429 code 1102 (resource pack depleted)
  {"fail_create": [1302, ...]}    the next submits answer these Kling error codes, one each
  {"fail_query": [5000, ...]}     the next task queries do the same
  {"drop_response": true}         the next submit creates the task, then the connection drops mid-reply
  {"hang_seconds": 2}             the next submit creates the task, then waits this long before answering
"""

from __future__ import annotations

import base64
import binascii
import io
import secrets
from collections import Counter
from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from providers.simulators.common import SimJob, Simulator, public_root, video_url

DEFAULT_ACCESS_KEY = "kling-sim-access-key-4f1d9a2b7c"
DEFAULT_SECRET_KEY = "kling-sim-secret-key-8e27c3b5d1f04a69e0"
DEFAULT_API_KEY = "kling-sim-api-key-5c0e7a91d24b8f36"

# Kling's documented error codes: HTTP status and message.
CODES: dict[int, tuple[int, str]] = {
    1000: (401, "Authentication failed"),
    1001: (401, "Authorization is empty"),
    1002: (401, "Authorization is invalid"),
    1003: (401, "Authorization is not yet valid"),
    1004: (401, "Authorization has expired"),
    1100: (429, "Account exception"),
    1101: (429, "Account in arrears (postpaid scenario)"),
    1102: (429, "Resource pack depleted or expired (prepaid scenario)"),
    1103: (403, "Unauthorized access to requested resource, such as API/model"),
    1200: (400, "Invalid request parameters"),
    1201: (400, "Invalid parameters, such as incorrect key or illegal value"),
    1202: (404, "The requested method is invalid"),
    1203: (404, "The requested resource does not exist, such as the model"),
    1300: (400, "Trigger strategy of the platform"),
    1301: (400, "Trigger the content security policy of the platform"),
    1302: (429, "The API request is too fast, exceeding the platform's rate limit"),
    1303: (429, "Concurrency or QPS exceeds the prepaid resource package limit"),
    1304: (429, "Trigger the platform's IP whitelisting policy"),
    5000: (500, "Server internal error"),
    5001: (503, "Server temporarily unavailable, usually due to maintenance"),
    5002: (504, "Server internal timeout, usually due to a backlog"),
}

# Models by endpoint (the docs' enums, kling-v3 included); which take an end frame (pro mode only), sound,
# and which durations.
TEXT_MODELS = {
    "kling-v1",
    "kling-v1-6",
    "kling-v2-master",
    "kling-v2-1-master",
    "kling-v2-5-turbo",
    "kling-v2-6",
    "kling-v3",
}
IMAGE_MODELS = TEXT_MODELS | {"kling-v1-5", "kling-v2-1"}
TAIL_MODELS = {"kling-v1", "kling-v1-5", "kling-v1-6", "kling-v2-1", "kling-v2-5-turbo", "kling-v2-6"}
SOUND_MODELS = {"kling-v2-6", "kling-v3"}
SOUND_PRO_ONLY = {"kling-v2-6"}  # the capability map: v2.6 std makes silent video only
SILENT_TAIL = {"kling-v2-6"}  # the capability map: v2.6 pro start/end frame, no audio
DURATIONS = {"kling-v3": tuple(str(s) for s in range(3, 16))}  # the others: "5" | "10"
# The capability map's camera control: (endpoint, model, mode, duration) -> the types it takes.
CAMERA_TYPES = ("simple", "down_back", "forward_up", "right_turn_forward", "left_turn_forward")
CAMERA = {
    ("text2video", "kling-v1", "std", "5"): CAMERA_TYPES,
    ("image2video", "kling-v1-5", "pro", "5"): ("simple",),
}
# Kling's price table in units per 5 s (10 s doubles): (std, pro, pro with sound); kling-v3 per second below.
UNITS_PER_5S = {
    "kling-v1": (1, 3.5, None),
    "kling-v1-5": (2, 3.5, None),
    "kling-v1-6": (2, 3.5, None),
    "kling-v2-1": (2, 3.5, None),
    "kling-v2-master": (10, 10, None),
    "kling-v2-1-master": (10, 10, None),
    "kling-v2-5-turbo": (1.5, 2.5, None),
    "kling-v2-6": (1.5, 2.5, 5),
}
UNITS_PER_SECOND = {"kling-v3": {("std", False): 0.6, ("std", True): 0.9, ("pro", False): 0.8, ("pro", True): 1.2}}
RATIOS = ("16:9", "9:16", "1:1")
MAX_TEXT = 2500
MAX_IMAGE_BYTES = 10 * 1024 * 1024

STATUS = {"queued": "submitted", "running": "processing", "succeeded": "succeed", "failed": "failed"}
CALLBACK_ATTEMPTS, CALLBACK_SPACING = 3, 60.0  # not documented by Kling: an assumption
FAILURES = {
    "content": "Failure to pass the risk control system: the content may violate the safety policy; "
    "modify the prompt or image",
    "internal": "Video generation failed due to an internal error, please try again later",
}


class KlingError(Exception):
    def __init__(self, code: int, detail: str = ""):
        super().__init__(detail)
        self.code, self.detail = code, detail


class KlingSimulator(Simulator):
    def __init__(self, speed: float = 1.0):
        super().__init__("kling", speed=speed, typical_seconds=90.0, queue_seconds=10.0)
        self.config["keys"] = {DEFAULT_ACCESS_KEY: DEFAULT_SECRET_KEY}
        self.config["api_keys"] = [DEFAULT_API_KEY]
        self.by_external: dict[str, str] = {}  # external_task_id -> task_id (unique per account)
        self.errors: Counter[int] = Counter()  # error codes answered

    def stats(self) -> dict[str, Any]:
        return {**super().stats(), "errors": {str(code): n for code, n in self.errors.items()}}

    def answer_error(self, code: int, detail: str = "") -> JSONResponse:
        self.errors[code] += 1
        status, message = CODES[code]
        body = {"code": code, "message": f"{message}: {detail}" if detail else message, "request_id": _request_id()}
        return JSONResponse(body, status_code=status)

    def switch(self, name: str) -> Any:
        """Take a one-shot test switch (or the next entry of a list of them)."""
        with self.lock:
            value = self.config.get(name)
            if isinstance(value, list):
                return value.pop(0) if value else None
            return self.config.pop(name, None)

    def authenticate(self, request: Request) -> None:
        import jwt

        header = request.headers.get("authorization", "")
        if not header.strip():
            raise KlingError(1001)
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise KlingError(1002, "expected 'Bearer <token>'")
        if token.strip() in self.config.get("api_keys", ()):
            return
        try:
            claims = jwt.decode(token.strip(), options={"verify_signature": False})
        except jwt.PyJWTError:
            raise KlingError(1002, "the token is not a JWT") from None
        secret = self.config["keys"].get(claims.get("iss"))
        if secret is None:
            raise KlingError(1000, "unknown access key")
        try:
            jwt.decode(token.strip(), secret, algorithms=["HS256"], options={"require": ["iss", "exp", "nbf"]})
        except jwt.ExpiredSignatureError:
            raise KlingError(1004) from None
        except jwt.ImmatureSignatureError:
            raise KlingError(1003) from None
        except jwt.PyJWTError as error:
            raise KlingError(1002, type(error).__name__) from None

    # -- tasks -------------------------------------------------------------------------------------
    def task(self, job: SimJob, where: Request | str, phase: str | None = None) -> dict[str, Any]:
        """A task's `data`, for a query (`where`: the request) or a callback (`where`: the simulator's root,
        `phase`: the one it announces)."""
        phase = phase or job.phase()[0]
        created = int(job.created * 1000)
        changed = job.created + (job.queue_seconds if phase == "running" else 0)
        if phase in ("succeeded", "failed"):
            changed = job.created + job.queue_seconds + job.run_seconds
        data: dict[str, Any] = {
            "task_id": job.id,
            "task_status": STATUS[phase],
            "task_status_msg": FAILURES.get(job.fail or "", FAILURES["internal"]) if phase == "failed" else "",
            "task_info": {"external_task_id": job.extra.get("external_task_id")},
            "created_at": created,
            "updated_at": int(changed * 1000),
        }
        if phase == "succeeded":
            video = {"id": f"{job.id}-0", "url": video_url(where, job), "duration": f"{job.extra['duration']:g}"}
            data["task_result"] = {"videos": [video]}
            data["final_unit_deduction"] = f"{units(job.payload):g}"
        elif phase == "failed":
            data["final_unit_deduction"] = "0"  # failed tasks are not charged
        return data


def create_app(speed: float = 1.0) -> Starlette:
    sim = KlingSimulator(speed=speed)

    def guarded(handler):
        async def endpoint(request: Request) -> Response:
            try:
                sim.authenticate(request)
                return await handler(request)
            except KlingError as error:
                return sim.answer_error(error.code, error.detail)

        return endpoint

    async def create(request: Request) -> Response:
        endpoint = request.url.path.rstrip("/").rsplit("/", 1)[-1]
        if (code := sim.switch("fail_create")) is not None:
            raise KlingError(int(code))
        if sim.config.get("balance") is not None and sim.config["balance"] <= 0:
            raise KlingError(1102)
        try:
            body = await request.json()
        except ValueError:
            raise KlingError(1200, "the body is not JSON") from None
        if not isinstance(body, dict):
            raise KlingError(1200, "the body must be a JSON object")
        duration, ratio = validate(endpoint, body)
        external = body.get("external_task_id")
        with sim.lock:
            if external and external in sim.by_external:
                raise KlingError(1201, f"external_task_id {external!r} already exists")
        task_id = str(secrets.randbelow(9 * 10**17) + 10**17)  # Kling's ids are 18-digit strings
        job = sim.create(body, prompt=body.get("prompt"), job_id=task_id)
        job.extra.update(endpoint=endpoint, external_task_id=external, duration=duration, aspect_ratio=ratio)
        if external:
            sim.by_external[external] = task_id
        if body.get("callback_url"):
            root = public_root(request)

            async def callback(job: SimJob, phase: str) -> dict[str, Any]:
                return sim.task(job, root, phase)

            sim.call_back(
                job,
                body["callback_url"],
                callback,
                on=("running", "succeeded", "failed"),
                attempts=CALLBACK_ATTEMPTS,
                spacing=CALLBACK_SPACING,
            )
        if sim.switch("drop_response"):
            return DroppedResponse()
        if hang := sim.switch("hang_seconds"):
            await anyio.sleep(float(hang))
        data = {key: value for key, value in sim.task(job, request).items() if key != "task_status_msg"}
        return JSONResponse({"code": 0, "message": "SUCCEED", "request_id": _request_id(), "data": data})

    async def query(request: Request) -> Response:
        endpoint = request.url.path.rstrip("/").split("/")[-2]
        if (code := sim.switch("fail_query")) is not None:
            raise KlingError(int(code))
        key = request.path_params["task_id"]
        job = sim.get(sim.by_external.get(key, key))  # the path takes a task_id or an external_task_id
        if job is None or job.extra["endpoint"] != endpoint:
            raise KlingError(1203, f"task {key} not found")
        return JSONResponse(
            {"code": 0, "message": "SUCCEED", "request_id": _request_id(), "data": sim.task(job, request)}
        )

    async def listing(request: Request) -> Response:
        endpoint = request.url.path.rstrip("/").rsplit("/", 1)[-1]
        try:
            page = max(1, int(request.query_params.get("pageNum", 1)))
            size = min(500, max(1, int(request.query_params.get("pageSize", 30))))
        except ValueError:
            raise KlingError(1201, "pageNum and pageSize must be integers") from None
        external = request.query_params.get("external_task_id")
        jobs = [
            job
            for job in sorted(sim.jobs.values(), key=lambda j: j.created, reverse=True)
            if job.extra["endpoint"] == endpoint and (external is None or job.extra["external_task_id"] == external)
        ]
        data = [sim.task(job, request) for job in jobs[(page - 1) * size : page * size]]
        return JSONResponse({"code": 0, "message": "SUCCEED", "request_id": _request_id(), "data": data})

    routes = [
        *(Route(f"/v1/videos/{name}", guarded(create), methods=["POST"]) for name in ("text2video", "image2video")),
        *(Route(f"/v1/videos/{name}", guarded(listing), methods=["GET"]) for name in ("text2video", "image2video")),
        *(
            Route(f"/v1/videos/{name}/{{task_id}}", guarded(query), methods=["GET"])
            for name in ("text2video", "image2video")
        ),
        *sim.routes(),
    ]
    app = Starlette(routes=routes)
    app.state.sim = sim
    return app


def validate(endpoint: str, body: dict[str, Any]) -> tuple[float, str]:
    """Kling's documented limits; (duration, aspect ratio) of the video to make."""
    model = body.get("model_name", "kling-v1")
    if model not in (TEXT_MODELS if endpoint == "text2video" else IMAGE_MODELS):
        raise KlingError(1201, f"model_name {model!r} is not supported by {endpoint}")
    prompt = body.get("prompt")
    if endpoint == "text2video" and not (isinstance(prompt, str) and prompt.strip()):
        raise KlingError(1201, "prompt is required")
    for field in ("prompt", "negative_prompt"):
        value = body.get(field)
        if value is not None and (not isinstance(value, str) or len(value) > MAX_TEXT):
            raise KlingError(1201, f"{field} must be a string of at most {MAX_TEXT} characters")
    mode = body.get("mode", "std")
    if mode not in ("std", "pro"):
        raise KlingError(1201, "mode must be 'std' or 'pro'")
    duration = body.get("duration", "5")
    durations = DURATIONS.get(model, ("5", "10"))
    if duration not in durations:
        raise KlingError(1201, f"duration must be the string {' | '.join(durations)} for {model}")
    cfg = body.get("cfg_scale")
    if cfg is not None and (isinstance(cfg, bool) or not isinstance(cfg, int | float) or not 0 <= cfg <= 1):
        raise KlingError(1201, "cfg_scale must be a number from 0 to 1")
    if (camera := body.get("camera_control")) is not None:
        where = f"{model} {mode} {duration}s {endpoint}"
        check_camera(camera, CAMERA.get((endpoint, model, mode, duration), ()), where)
    sound = body.get("sound")
    if sound is not None:
        if sound not in ("on", "off"):
            raise KlingError(1201, "sound must be 'on' or 'off'")
        if model not in SOUND_MODELS:
            raise KlingError(1201, f"{model} does not support sound")
        if sound == "on" and mode != "pro" and model in SOUND_PRO_ONLY:
            raise KlingError(1201, "sound is only supported in pro mode")
    ratio = body.get("aspect_ratio", "16:9")
    if ratio not in RATIOS:
        raise KlingError(1201, f"aspect_ratio must be one of {', '.join(RATIOS)}")
    external = body.get("external_task_id")
    if external is not None and (not isinstance(external, str) or not external):
        raise KlingError(1201, "external_task_id must be a non-empty string")
    callback = body.get("callback_url")
    if callback is not None and not (isinstance(callback, str) and callback.startswith(("http://", "https://"))):
        raise KlingError(1201, "callback_url must be an http(s) URL")
    if endpoint == "image2video":
        image, tail = body.get("image"), body.get("image_tail")
        if not image and not tail:
            raise KlingError(1201, "image or image_tail is required")
        if tail:
            if model not in TAIL_MODELS or mode != "pro":
                raise KlingError(1201, f"image_tail is not supported by {model} in {mode} mode")
            if body.get("camera_control"):
                raise KlingError(1201, "image_tail and camera_control cannot be used together")
            if body.get("sound") == "on" and model in SILENT_TAIL:
                raise KlingError(1201, f"{model} with image_tail makes silent video only: sound must be 'off'")
            check_image("image_tail", tail)
        if image:
            ratio = check_image("image", image) or "16:9"
    return float(duration), ratio


def check_camera(camera: Any, types: tuple[str, ...], where: str) -> None:
    """camera_control where the capability map offers it: a type it lists; for `simple`, a config of axes in
    [-10, 10]."""
    if not types:
        raise KlingError(1201, f"camera_control is not supported by {where}")
    axes = ("horizontal", "vertical", "pan", "tilt", "roll", "zoom")
    config = camera.get("config") if isinstance(camera, dict) else None
    if not isinstance(camera, dict) or camera.get("type") not in types:
        raise KlingError(1201, f"camera_control.type must be one of {', '.join(types)} for {where}")
    if (camera["type"] == "simple") != (config is not None) or (
        config is not None
        and (
            not isinstance(config, dict)
            or set(config) - set(axes)
            or any(isinstance(v, bool) or not isinstance(v, int | float) or not -10 <= v <= 10 for v in config.values())
        )
    ):
        raise KlingError(1201, "camera_control.config is required for type simple only, values in [-10, 10]")


def units(body: dict[str, Any]) -> float:
    """What Kling's price table charges for a validated task, in units."""
    model, mode = body.get("model_name", "kling-v1"), body.get("mode", "std")
    seconds, sound = int(body.get("duration", "5")), body.get("sound") == "on"
    if model in UNITS_PER_SECOND:
        return round(UNITS_PER_SECOND[model][(mode, sound)] * seconds, 4)
    std, pro, pro_sound = UNITS_PER_5S[model]
    per_5s = (pro_sound if sound else pro) if mode == "pro" else std
    assert per_5s is not None, f"{model} has no sound price: its request was checked before pricing"
    return per_5s * seconds / 5


def check_image(field: str, value: Any) -> str | None:
    """A URL (not fetched here: no internet) or raw base64 of a JPG/PNG within limits; the nearest ratio."""
    if not isinstance(value, str):
        raise KlingError(1201, f"{field} must be a string")
    if value.startswith(("http://", "https://")):
        return None
    if value.startswith("data:"):
        raise KlingError(1201, f"{field}: Base64 must not carry a 'data:' prefix")
    try:
        data = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise KlingError(1201, f"{field} is neither a URL nor valid Base64") from None
    if len(data) > MAX_IMAGE_BYTES:
        raise KlingError(1201, f"{field} is larger than 10MB")
    if not data.startswith((b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n")):
        raise KlingError(1201, f"{field} must be .jpg / .jpeg / .png")
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as picture:
            width, height = picture.size
    except Exception:
        raise KlingError(1201, f"{field} cannot be decoded") from None
    if min(width, height) < 300:
        raise KlingError(1201, f"{field} must be at least 300px on each side")
    if not 1 / 2.5 <= width / height <= 2.5:
        raise KlingError(1201, f"{field} aspect ratio must be between 1:2.5 and 2.5:1")
    return min(RATIOS, key=lambda r: abs(width / height - _value(r)))


def _value(ratio: str) -> float:
    a, b = ratio.split(":")
    return float(a) / float(b)


def _request_id() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(16)).decode().rstrip("=")


class DroppedResponse(Response):
    """Headers and half a body, then the connection is cut: the client cannot tell if the task exists."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        headers = [(b"content-type", b"application/json"), (b"content-length", b"512")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b'{"code": 0, "data": {', "more_body": True})
        raise ConnectionAbortedError("simulated: the connection dropped after the task was created")
