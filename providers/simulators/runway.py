"""A local Runway developer API (api.dev.runwayml.com/v1) that the official `runwayml` SDK can talk to.

Follows the documented behaviour: `Authorization: Bearer key_<128 hex>` (else 401), a required
`X-Runway-Version: 2024-11-06` (else 400), bodies validated per model as the SDK types them (400
`{"error", "issues": [{"path", "message"}]}`), tasks PENDING/THROTTLED -> RUNNING (progress 0..1) ->
SUCCEEDED (`output: [mp4 url]`) | FAILED (`failure`, `failureCode`) | CANCELLED, costs in credits,
and DELETE /v1/tasks/{id} (204) cancelling an unfinished task or deleting a finished one.

Test switches (POST /_sim/config, or `app.state.sim.config`):
  {"credits": N}       the organisation's balance: a task costing more is refused with Runway's 400
  {"errors": [429, 502, ...]}  the next API requests answer these statuses, one each
  {"throttled": true}  queued tasks report THROTTLED instead of PENDING
Prompt directives: sim:fail=content (SAFETY.INPUT.TEXT), sim:fail=internal (INTERNAL.BAD_OUTPUT),
sim:fail=asset (ASSET.INVALID), sim:seconds=N, sim:queue=N.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from providers.simulators.common import SimJob, Simulator, video_url

VERSION = "2024-11-06"
KEY = re.compile(r"^key_[0-9a-f]{128}$")
MAX_DATA_URI = 5 * 1024 * 1024
MAX_URL = 2048
SEED_MAX = 2**32 - 1
GEN4_IMAGE_RATIOS = ("1280:720", "720:1280", "1104:832", "960:960", "832:1104", "1584:672")
VEO_RATIOS = ("1280:720", "720:1280", "1080:1920", "1920:1080")


@dataclass(frozen=True)
class Model:
    """One model's rules, per endpoint, as the SDK's *_create_params types state them."""

    text_ratios: tuple[str, ...]  # empty: no text_to_video
    image_ratios: tuple[str, ...]
    durations: tuple[int, ...]
    duration_required: bool
    default_duration: int
    positions: tuple[str, ...]  # promptImage positions allowed
    optional: frozenset[str]  # body fields beyond model, promptText, promptImage, ratio, duration
    credits: float  # per second
    credits_audio: float | None = None
    seconds: float = 75.0  # simulated generation time
    image_prompt_text_required: bool = False


_GEN4_EXTRAS = frozenset({"seed", "contentModeration"})
_VEO_EXTRAS = frozenset({"seed", "audio", "negativePrompt"})
MODELS: dict[str, Model] = {
    "gen4.5": Model(
        text_ratios=("1280:720", "720:1280"),
        image_ratios=GEN4_IMAGE_RATIOS,
        durations=tuple(range(2, 11)),
        duration_required=True,
        default_duration=5,
        positions=("first",),
        optional=_GEN4_EXTRAS | {"outputFormat", "proresProfile"},
        credits=12,
        image_prompt_text_required=True,
    ),
    "gen4_turbo": Model(
        text_ratios=(),
        image_ratios=GEN4_IMAGE_RATIOS,
        durations=tuple(range(2, 11)),  # the SDK types a plain int; accept the whole 2-10 range
        duration_required=False,
        default_duration=10,
        positions=("first",),
        optional=_GEN4_EXTRAS,
        credits=5,
        seconds=30.0,
    ),
    "veo3.1": Model(
        text_ratios=VEO_RATIOS,
        image_ratios=VEO_RATIOS,
        durations=(4, 6, 8),
        duration_required=False,
        default_duration=8,
        positions=("first", "last"),
        optional=_VEO_EXTRAS,
        credits=20,
        credits_audio=40,
        seconds=90.0,
    ),
    "veo3.1_fast": Model(
        text_ratios=VEO_RATIOS,
        image_ratios=VEO_RATIOS,
        durations=(4, 6, 8),
        duration_required=False,
        default_duration=8,
        positions=("first", "last"),
        optional=_VEO_EXTRAS,
        credits=10,
        credits_audio=15,
        seconds=50.0,
    ),
    # In the API reference this project was specified from (2024-11-06): 8 s, first frame only.
    "veo3": Model(
        text_ratios=("1280:720", "720:1280"),
        image_ratios=("1280:720", "720:1280"),
        durations=(8,),
        duration_required=False,
        default_duration=8,
        positions=("first",),
        optional=frozenset({"seed"}),
        credits=40,
        seconds=120.0,
    ),
}

FAILURES = {
    "content": ("SAFETY.INPUT.TEXT", "The prompt did not pass content moderation."),
    "asset": ("ASSET.INVALID", "The input image could not be processed."),
    "internal": ("INTERNAL.BAD_OUTPUT", "An unexpected error occurred while generating the output."),
}
STATUS_ERRORS = {
    400: "Bad request.",
    401: "Unauthorized.",
    404: "Not found.",
    429: "You have exceeded the rate limit. Please try again later.",
    500: "An internal error occurred.",
    502: "Runway is temporarily shedding load. Please retry.",
    503: "Runway is temporarily shedding load. Please retry.",
    504: "Runway is overloaded. Please retry.",
}


def _error(status: int, message: str, issues: list[dict[str, Any]] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"error": message}
    if issues is not None:
        body["issues"] = issues
    return JSONResponse(body, status_code=status)


def _issue(path: list[str | int], message: str) -> dict[str, Any]:
    return {"path": path, "message": message}


def _enum(values: tuple[Any, ...], got: Any) -> str:
    return f"Invalid enum value. Expected {' | '.join(repr(v) for v in values)}, received {got!r}"


def _uri_problem(uri: Any) -> str | None:
    """Why Runway would refuse an image reference (docs: assets/inputs, errors/troubleshooting)."""
    if not isinstance(uri, str):
        return "Expected string"
    if uri.startswith("runway://"):
        return None
    if uri.startswith("data:"):
        if len(uri) >= MAX_DATA_URI:
            return "Data URI is too large: the encoded data URI must be under 5MB."
        header, comma, payload = uri[5:].partition(",")
        if not comma or not header.endswith(";base64"):
            return "Invalid data URI."
        if header[: -len(";base64")] not in ("image/jpeg", "image/png", "image/webp"):
            return "Unsupported asset type. Data URIs must be JPEG, PNG or WebP images."
        try:
            base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError):
            return "Invalid data URI."
        return None
    if len(uri) > MAX_URL:
        return "URLs must be at most 2048 characters."
    try:
        parts = urlsplit(uri)
    except ValueError:
        return "Invalid URL"
    if parts.scheme != "https":
        return "Only HTTPS URLs are allowed."
    host = parts.hostname or ""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return None if host else "Invalid URL"
    return "URLs must be hosted on a domain, not an IP address."


def _utf16_units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def validate(endpoint: str, body: Any) -> list[dict[str, Any]]:
    """The issues Runway would report for this body (empty: acceptable)."""
    if not isinstance(body, dict):
        return [_issue([], "Expected object")]
    model = MODELS.get(body.get("model"))
    names = tuple(m for m, rules in MODELS.items() if endpoint == "image_to_video" or rules.text_ratios)
    if model is None or (endpoint == "text_to_video" and not model.text_ratios):
        return [_issue(["model"], f"Invalid discriminator value. Expected {' | '.join(repr(n) for n in names)}")]
    issues: list[dict[str, Any]] = []
    known = {"model", "promptText", "ratio", "duration", *model.optional}
    if endpoint == "image_to_video":
        known.add("promptImage")
    if unknown := sorted(set(body) - known):
        issues.append(_issue([], "Unrecognized key(s) in object: " + ", ".join(repr(k) for k in unknown)))

    text = body.get("promptText")
    text_required = endpoint == "text_to_video" or model.image_prompt_text_required
    if text is None:
        if text_required:
            issues.append(_issue(["promptText"], "Required"))
    elif not isinstance(text, str) or not text.strip():
        issues.append(_issue(["promptText"], "Expected a non-empty string"))
    elif _utf16_units(text) > 1000:
        issues.append(_issue(["promptText"], "String must contain at most 1000 character(s)"))

    ratios = model.text_ratios if endpoint == "text_to_video" else model.image_ratios
    if "ratio" not in body:
        issues.append(_issue(["ratio"], "Required"))
    elif body["ratio"] not in ratios:
        issues.append(_issue(["ratio"], _enum(ratios, body["ratio"])))

    duration = body.get("duration")
    if duration is None:
        if model.duration_required:
            issues.append(_issue(["duration"], "Required"))
    elif isinstance(duration, bool) or not isinstance(duration, int) or duration not in model.durations:
        allowed = model.durations
        issues.append(_issue(["duration"], f"Expected an integer, one of {', '.join(map(str, allowed))}"))

    if endpoint == "image_to_video":
        issues += _image_issues(body.get("promptImage"), model)
    seed = body.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= SEED_MAX):
        issues.append(_issue(["seed"], f"Expected an integer from 0 to {SEED_MAX}"))
    if "audio" in body and not isinstance(body["audio"], bool):
        issues.append(_issue(["audio"], "Expected boolean"))
    if "negativePrompt" in body and not isinstance(body["negativePrompt"], str):
        issues.append(_issue(["negativePrompt"], "Expected string"))
    return issues


def _image_issues(value: Any, model: Model) -> list[dict[str, Any]]:
    if value is None:
        return [_issue(["promptImage"], "Required")]
    if isinstance(value, str):
        problem = _uri_problem(value)
        return [_issue(["promptImage"], problem)] if problem else []
    if not isinstance(value, list) or not value:
        return [_issue(["promptImage"], "Expected a string or a non-empty array of {uri, position}")]
    issues, seen = [], []
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            issues.append(_issue(["promptImage", i], "Expected object"))
            continue
        position = item.get("position")
        if position not in model.positions:
            issues.append(_issue(["promptImage", i, "position"], _enum(model.positions, position)))
        seen.append(position)
        if problem := _uri_problem(item.get("uri")):
            issues.append(_issue(["promptImage", i, "uri"], problem))
    if len(set(seen)) != len(seen):
        issues.append(_issue(["promptImage"], "Each position may be used only once."))
    elif "first" not in seen and not issues:
        issues.append(_issue(["promptImage"], "This model does not support generating with only a last frame."))
    return issues


def task_credits(body: dict[str, Any]) -> float:
    model = MODELS[body["model"]]
    seconds = body.get("duration", model.default_duration)
    audio = body.get("audio", True)  # Runway's default is undocumented; assume Veo's (with sound)
    rate = model.credits_audio if audio and model.credits_audio is not None else model.credits
    return rate * seconds


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def task_json(request: Request, job: SimJob, sim: Simulator) -> dict[str, Any]:
    phase, progress = job.phase()
    task: dict[str, Any] = {"id": job.id, "createdAt": _iso(job.created)}
    estimated = {"credits": job.extra["credits"]}
    if phase == "queued":
        task.update(status="THROTTLED" if sim.config.get("throttled") else "PENDING", estimatedCost=estimated)
    elif phase == "running":
        task.update(status="RUNNING", progress=round(progress, 4), estimatedCost=estimated)
    elif phase == "succeeded":
        task.update(status="SUCCEEDED", output=[video_url(request, job)], cost={"credits": int(job.extra["credits"])})
    elif phase == "failed":
        code, failure = FAILURES.get(job.fail or "", ("INTERNAL", "An unexpected error occurred."))
        task.update(status="FAILED", failure=failure, failureCode=code, cost={"credits": 0})  # failures are refunded
    else:
        task.update(status="CANCELLED", cost={"credits": 0})
    return task


def create_app(speed: float = 1.0) -> Starlette:
    sim = Simulator("runway", speed=speed, typical_seconds=75.0, queue_seconds=5.0)

    def refused(request: Request) -> Response | None:
        """Auth, version and injected errors: what every /v1 request passes first."""
        scheme, _, key = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not KEY.match(key.strip()):
            return _error(401, "Invalid API key. Keys start with key_ followed by 128 hexadecimal characters.")
        version = request.headers.get("x-runway-version")
        if not version:
            return _error(400, f"The X-Runway-Version header is required. Set it to {VERSION}.")
        if version != VERSION:
            return _error(400, f"Unsupported X-Runway-Version {version!r}. Set it to {VERSION}.")
        with sim.lock:
            queued = sim.config.get("errors") or []
            status = queued.pop(0) if queued else None
        if status is not None:
            return _error(int(status), STATUS_ERRORS.get(int(status), "Error."))
        return None

    async def create(request: Request, endpoint: str) -> Response:
        if (response := refused(request)) is not None:
            return response
        try:
            body = await request.json()
        except ValueError:
            return _error(400, "Invalid JSON body.")
        if issues := validate(endpoint, body):
            return _error(400, "Validation of body failed", issues)
        credits = task_credits(body)
        with sim.lock:
            balance = sim.config.get("credits")
            if balance is not None and balance < credits:
                return _error(400, "You do not have enough credits to run this task.")
            if balance is not None:
                sim.config["credits"] = balance - credits
        model = MODELS[body["model"]]
        job = sim.create(body, prompt=body.get("promptText"), job_id=str(uuid.uuid4()), seconds=model.seconds)
        job.extra.update(
            duration=body.get("duration", model.default_duration), aspect_ratio=body["ratio"], credits=credits
        )
        return JSONResponse({"id": job.id, "estimatedCost": {"credits": credits}})

    async def text_to_video(request: Request) -> Response:
        return await create(request, "text_to_video")

    async def image_to_video(request: Request) -> Response:
        return await create(request, "image_to_video")

    async def task(request: Request) -> Response:
        if (response := refused(request)) is not None:
            return response
        task_id = request.path_params["task_id"]
        job = sim.get(task_id) if request.method == "GET" else sim.jobs.get(task_id)
        if job is None or job.extra.get("deleted"):
            return _error(404, "Task not found.")
        if request.method == "GET":
            return JSONResponse(task_json(request, job, sim))
        if job.phase()[0] in ("queued", "running"):
            job.cancelled = True  # unfinished: cancelled, and reads as CANCELLED from now on
        else:  # finished: deleted, output included (kept in the table, marked, so tests can audit it)
            job.extra["deleted"] = True
        return Response(status_code=204)

    app = Starlette(
        routes=[
            Route("/v1/text_to_video", text_to_video, methods=["POST"]),
            Route("/v1/image_to_video", image_to_video, methods=["POST"]),
            Route("/v1/tasks/{task_id}", task, methods=["GET", "DELETE"]),
            *sim.routes(),
        ]
    )
    app.state.sim = sim
    return app
