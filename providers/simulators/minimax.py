"""A local copy of MiniMax's video generation API (api.minimax.io), from the official docs (platform.minimax.io/docs:
guides/video-generation, api-reference video-generation-t2v / -i2v / -fl2v / -query / -download, errorcode) and
MiniMax's own client (MiniMax-MCP: minimax_mcp/client.py, server.py generate_video):

  POST /v1/video_generation                -> {task_id, base_resp: {status_code: 0, status_msg: "success"}}
  GET  /v1/query/video_generation?task_id= -> {task_id, status: Preparing | Queueing | Processing | Success | Fail,
                                              file_id, video_width, video_height, base_resp}
  GET  /v1/files/retrieve?file_id=         -> {file: {file_id, bytes, created_at, filename, purpose,
                                              download_url}, base_resp}

Every answer is HTTP 200; an error is a non-zero base_resp.status_code with its status_msg (the docs' error
code table): 1004 a missing or malformed Authorization header, 2049 a key that is not a valid one, 1002 rate
limit, 1008 insufficient balance, 1026 sensitive input (the task is not created), 1027 sensitive output (the
task ends Fail), 2013 invalid parameters. The status_msg wordings other than the table's are assumed.

What the create call refuses (2013), per the API reference's model tables:
  text to video   MiniMax-Hailuo-2.3, MiniMax-Hailuo-02, T2V-01-Director, T2V-01 (prompt required)
  image to video  MiniMax-Hailuo-2.3, MiniMax-Hailuo-2.3-Fast, MiniMax-Hailuo-02, I2V-01-Director, I2V-01-live,
                  I2V-01 (first_frame_image required)
  first and last  MiniMax-Hailuo-02 only (first_frame_image and last_frame_image, 768P or 1080P)
  subject         S2V-01 (subject_reference: one character, one image; 720P 6 s; not offered by the adapter)
  resolution      Hailuo 2.3 / 2.3 Fast: 768P (default), 1080P; Hailuo-02: 768P (default), 1080P, and 512P from
                  a first frame; the 01 series: 720P
  duration        6 (default) or 10 for Hailuo, 10 s not at 1080P; 6 for the 01 series
  prompt          at most 2000 characters; prompt_optimizer, fast_pretreatment, aigc_watermark booleans
  images          a public http(s) URL (not fetched here) or data:image/(jpeg|png|webp);base64 of a JPG / PNG /
                  WebP under 20 MB, short side over 300 px, aspect ratio between 2:5 and 5:2
An unknown task_id or file_id (or another key's) is 2013 as well.

callback_url: MiniMax first POSTs {"challenge": <value>} and sends status updates only when the answer (within
3 s) is {"challenge": <the same value>}; then each change is POSTed with the query's body and the docs' callback
statuses processing / success / failed. The docs do not say whether the check holds up the create call; here it
runs after the create answers (assumed), and an unverified URL gets no updates.

Prices (USD per video, charged from the balance when the task is accepted) are those providers/minimax.py
quotes; the adapter's table is MiniMax's list, not the other way round.

Test switches (POST /_sim/config): {"api_keys": [...]} only these keys work (default: any key of MiniMax's
shapes, "sk-..." or a JWT "eyJ..."); {"balance_usd": 0.1} a balance (default: unlimited); {"errors": [1002,
1033]} the next requests answer these base_resp codes; {"http_errors": [503]} the next requests get these HTTP
statuses. Prompt directives: sim:fail=content (1026 at create) | output (ends Fail with 1027) | internal (ends
Fail), sim:seconds=N, sim:queue=N.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import io
import re
import secrets
import time
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from providers.simulators.common import SimJob, Simulator, public_root, video_url

HAILUO = ("MiniMax-Hailuo-2.3", "MiniMax-Hailuo-2.3-Fast", "MiniMax-Hailuo-02")
T2V = ("MiniMax-Hailuo-2.3", "MiniMax-Hailuo-02", "T2V-01-Director", "T2V-01")
I2V = ("MiniMax-Hailuo-2.3", "MiniMax-Hailuo-2.3-Fast", "MiniMax-Hailuo-02", "I2V-01-Director", "I2V-01-live", "I2V-01")
FL2V = ("MiniMax-Hailuo-02",)
S2V = ("S2V-01",)
MODELS = tuple(dict.fromkeys(T2V + I2V + S2V))
RESOLUTIONS = {
    "MiniMax-Hailuo-2.3": ("768P", "1080P"),
    "MiniMax-Hailuo-2.3-Fast": ("768P", "1080P"),
    "MiniMax-Hailuo-02": ("512P", "768P", "1080P"),
}
SIZES = {"512P": (912, 512), "720P": (1280, 720), "768P": (1366, 768), "1080P": (1920, 1080)}
PRICES: dict[str, dict[str, dict[int, float]]] = {
    "MiniMax-Hailuo-2.3": {"768P": {6: 0.28, 10: 0.56}, "1080P": {6: 0.49}},
    "MiniMax-Hailuo-2.3-Fast": {"768P": {6: 0.19, 10: 0.32}, "1080P": {6: 0.33}},
    "MiniMax-Hailuo-02": {"512P": {6: 0.10, 10: 0.15}, "768P": {6: 0.28, 10: 0.56}, "1080P": {6: 0.49}},
}
PRICE_01 = 0.43
PRICE_S2V = 0.65  # S2V-01, which the adapter does not offer: for the balance only (assumed)
TYPICAL_SECONDS = 240.0
MAX_PROMPT = 2000
MAX_IMAGE_BYTES = 20 * 1024 * 1024
CHALLENGE_TIMEOUT = 3.0  # real seconds: the docs' "within 3s"
CALLBACK_ATTEMPTS, CALLBACK_SPACING = 1, 1.0  # the docs name no retries
CALLBACK_STATUS = {"running": "processing", "succeeded": "success", "failed": "failed"}
MESSAGES = {
    0: "success",
    1000: "unknown error",
    1001: "request timeout",
    1002: "rate limit",
    1004: "login fail: Please carry the API secret key in the 'Authorization' field of the request header",
    1008: "insufficient balance",
    1024: "internal error",
    1026: "input new_sensitive",
    1027: "output new_sensitive",
    1033: "system error",
    2013: "invalid params",
    2049: "invalid api key",
}
_DATA_URL = re.compile(r"^data:image/(jpeg|jpg|png|webp);base64,(.*)$", re.IGNORECASE | re.DOTALL)


def base_resp(code: int = 0, detail: str = "") -> dict[str, Any]:
    message = MESSAGES.get(code, "error")
    return {"status_code": code, "status_msg": f"{message}, {detail}" if detail else message}


def refuse(code: int, detail: str = "", **fields: Any) -> JSONResponse:
    return JSONResponse({**fields, "base_resp": base_resp(code, detail)})


def price(model: str, resolution: str, duration: int) -> float:
    if model in S2V:
        return PRICE_S2V
    return PRICES[model][resolution][duration] if model in PRICES else PRICE_01


def image_problem(value: Any, name: str) -> str | None:
    """Why MiniMax would refuse this image (URL or data URL), or None."""
    if not isinstance(value, str) or not value:
        return f"{name} must be a string"
    if value.lower().startswith(("http://", "https://")):
        return None  # MiniMax fetches it; not fetched here
    match = _DATA_URL.match(value)
    if match is None:
        return f"{name} must be a public URL or a base64 data URL of a JPG, JPEG, PNG or WebP image"
    try:
        data = base64.b64decode(match.group(2), validate=True)
    except (binascii.Error, ValueError):
        return f"{name} is not valid base64"
    if len(data) >= MAX_IMAGE_BYTES:
        return f"{name} must be smaller than 20MB"
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as img:
            fmt, (width, height) = img.format, img.size
    except Exception:
        return f"{name} cannot be decoded"
    if fmt not in ("JPEG", "PNG", "WEBP"):
        return f"{name} must be JPG, JPEG, PNG or WebP"
    if min(width, height) <= 300:
        return f"{name} short side must be greater than 300px"
    if not 2 / 5 <= width / height <= 5 / 2:
        return f"{name} aspect ratio must be between 2:5 and 5:2"
    return None


def subject_problem(subjects: Any) -> str | None:
    """S2V-01's subject_reference: one {type: "character", image: [one image]} (duration and resolution are not
    among its parameters: the docs' example sends them, and they are ignored)."""
    if not isinstance(subjects, list) or len(subjects) != 1 or not isinstance(subjects[0], dict):
        return "subject_reference must hold exactly one subject"
    subject = subjects[0]
    if subject.get("type") != "character":
        return "subject_reference type must be character"
    pictures = subject.get("image")
    if not isinstance(pictures, list) or len(pictures) != 1:
        return "subject_reference image must hold exactly one image"
    return image_problem(pictures[0], "subject_reference image")


def invalid(body: Any) -> str | None:
    """Why the create call would refuse this body (2013), or None."""
    if not isinstance(body, dict):
        return "request body must be a JSON object"
    model = body.get("model")
    if not isinstance(model, str) or not model:
        return "model is required"
    if model not in MODELS:
        return f"model {model} not support"
    prompt = body.get("prompt")
    if prompt is not None and not isinstance(prompt, str):
        return "prompt must be a string"
    if prompt and len(prompt) > MAX_PROMPT:
        return f"prompt exceeds {MAX_PROMPT} characters"
    for flag in ("prompt_optimizer", "fast_pretreatment", "aigc_watermark"):
        if body.get(flag) is not None and not isinstance(body[flag], bool):
            return f"{flag} must be a boolean"
    if body.get("callback_url") is not None and not isinstance(body["callback_url"], str):
        return "callback_url must be a string"
    if model == "S2V-01":
        return subject_problem(body.get("subject_reference"))
    first, last = body.get("first_frame_image"), body.get("last_frame_image")
    for name, image in (("first_frame_image", first), ("last_frame_image", last)):
        if image is not None and (problem := image_problem(image, name)):
            return problem
    if last is not None:
        if model not in FL2V:
            return f"last_frame_image is not supported by {model}"
        if first is None:
            return "first_frame_image is required with last_frame_image"
    if first is None and model not in T2V:
        return f"first_frame_image is required for {model}"
    if first is not None and model not in I2V:
        return f"{model} does not take first_frame_image"
    if first is None and not (prompt or "").strip():
        return "prompt is required"
    resolution = body.get("resolution") or default_resolution(model)
    allowed = RESOLUTIONS.get(model, ("720P",))
    if resolution not in allowed:
        return f"resolution {resolution} not support for {model}, supported: {', '.join(allowed)}"
    if resolution == "512P" and (first is None or last is not None):
        return "512P is only supported for image to video with a first frame only"
    duration = body.get("duration", 6)
    if not isinstance(duration, int) or isinstance(duration, bool):
        return "duration must be an integer"
    lengths = (6, 10) if model in HAILUO else (6,)
    if duration not in lengths:
        return f"duration {duration} not support for {model}, supported: {', '.join(map(str, lengths))}"
    if resolution == "1080P" and duration != 6:
        return "1080P only supports a duration of 6"
    return None


def default_resolution(model: str) -> str:
    return "768P" if model in RESOLUTIONS else "720P"


def create_app(speed: float = 1.0) -> Starlette:
    sim = Simulator("minimax", speed=speed, typical_seconds=TYPICAL_SECONDS, queue_seconds=5.0)
    pending: set[asyncio.Task[None]] = set()

    def caller(request: Request) -> str | JSONResponse:
        scheme, _, key = request.headers.get("authorization", "").partition(" ")
        key = key.strip()
        if scheme.lower() != "bearer" or not key:
            return refuse(1004)
        allowed = sim.config.get("api_keys")
        if (allowed and key not in allowed) or (not allowed and not key.startswith(("sk-", "eyJ"))):
            return refuse(2049)
        return key

    def injected() -> Response | None:
        with sim.lock:
            statuses = sim.config.get("http_errors") or []
            status = int(statuses.pop(0)) if statuses else None
            codes = sim.config.get("errors") or []
            code = int(codes.pop(0)) if codes and status is None else None
        if status is not None:
            return JSONResponse({"error": f"HTTP {status}"}, status_code=status)
        return refuse(code) if code is not None else None

    def refused(request: Request) -> str | Response:
        who = caller(request)
        if isinstance(who, JSONResponse):
            return who
        return injected() or who

    def mine(job_id: str | None, who: str) -> SimJob | None:
        job = sim.get(job_id) if job_id else None
        return job if job is not None and job.extra.get("owner") == who else None

    def task(job: SimJob, phase: str | None = None) -> dict[str, Any]:
        """The query's body, as the task stands now (or stood in `phase`, for a callback)."""
        now = phase or job.phase()[0]
        status = {"queued": "Queueing", "running": "Processing", "succeeded": "Success"}.get(now, "Fail")
        if status == "Queueing" and time.time() - job.created < 1.0 / sim.speed:
            status = "Preparing"
        body: dict[str, Any] = {"task_id": job.id, "status": status, "file_id": ""}
        failed_output = status == "Fail" and job.fail == "output"
        if status == "Success":
            width, height = SIZES[job.extra["resolution"]]
            body.update(file_id=job.extra["file_id"], video_width=width, video_height=height)
        body["base_resp"] = base_resp(1027 if failed_output else 0)
        return body

    async def create(request: Request) -> Response:
        who = refused(request)
        if isinstance(who, Response):
            return who
        try:
            body = await request.json()
        except ValueError:
            return refuse(2013, "request body is not valid JSON")
        if problem := invalid(body):
            return refuse(2013, problem, task_id="")
        prompt = body.get("prompt") or ""
        if "sim:fail=content" in prompt:
            return refuse(1026, task_id="")
        model = body["model"]
        resolution, duration = body.get("resolution") or default_resolution(model), body.get("duration", 6)
        if model in S2V:
            resolution, duration = "720P", 6  # not its parameters: S2V-01 makes 6 s at 720P
        usd = price(model, resolution, duration)
        with sim.lock:
            balance = sim.config.get("balance_usd")
            if balance is not None and balance < usd:
                return refuse(1008, task_id="")
            if balance is not None:
                sim.config["balance_usd"] = round(balance - usd, 6)
        job = sim.create(body, prompt=prompt, job_id=str(secrets.randbelow(9 * 10**14) + 10**14))
        job.extra.update(
            owner=who,
            usd=usd,
            duration=duration,
            resolution=resolution,
            aspect_ratio="16:9",
            file_id=str(secrets.randbelow(9 * 10**14) + 10**14),
            root=public_root(request),
        )
        if body.get("callback_url"):
            work = asyncio.get_running_loop().create_task(verify_then_call_back(job, body["callback_url"]))
            pending.add(work)
            work.add_done_callback(pending.discard)
        return JSONResponse({"task_id": job.id, "base_resp": base_resp()})

    async def verify_then_call_back(job: SimJob, url: str) -> None:
        import httpx

        challenge = secrets.token_urlsafe(16)
        job.extra["challenge"] = challenge
        try:
            async with httpx.AsyncClient(timeout=CHALLENGE_TIMEOUT) as client:
                answer = (await client.post(url, json={"challenge": challenge})).json()
        except (httpx.HTTPError, ValueError):
            answer = None
        verified = isinstance(answer, dict) and answer.get("challenge") == challenge
        job.extra["callback_verified"] = verified
        if verified:
            sim.call_back(
                job,
                url,
                update,
                on=("running", "succeeded", "failed"),
                attempts=CALLBACK_ATTEMPTS,
                spacing=CALLBACK_SPACING,
            )

    async def update(job: SimJob, phase: str) -> dict[str, Any]:
        return {**task(job, phase), "status": CALLBACK_STATUS[phase]}

    async def query(request: Request) -> Response:
        who = refused(request)
        if isinstance(who, Response):
            return who
        job = mine(request.query_params.get("task_id"), who)
        if job is None:
            return refuse(2013, "task_id not found", task_id=request.query_params.get("task_id", ""))
        return JSONResponse(task(job))

    async def retrieve(request: Request) -> Response:
        who = refused(request)
        if isinstance(who, Response):
            return who
        file_id = request.query_params.get("file_id")
        job = next(
            (j for j in sim.jobs.values() if file_id and j.extra.get("file_id") == file_id and j.extra["owner"] == who),
            None,
        )
        if job is None or job.phase()[0] != "succeeded":
            return refuse(2013, "file_id not found")
        file = {
            "file_id": int(file_id or 0),
            "bytes": 0,
            "created_at": int(job.created),
            "filename": "output.mp4",
            "purpose": "video_generation",
            "download_url": video_url(request, job),
        }
        return JSONResponse({"file": file, "base_resp": base_resp()})

    app = Starlette(
        routes=[
            Route("/v1/video_generation", create, methods=["POST"]),
            Route("/v1/query/video_generation", query, methods=["GET"]),
            Route("/v1/files/retrieve", retrieve, methods=["GET"]),
            *sim.routes(),
        ]
    )
    app.state.sim = sim
    return app
