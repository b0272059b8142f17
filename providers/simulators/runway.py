"""A local Runway developer API (api.dev.runwayml.com/v1) that the official `runwayml` SDK can talk to.

Follows the documented behaviour: `Authorization: Bearer key_<128 hex>` (else 401), a required
`X-Runway-Version: 2024-11-06` (else 400), bodies validated per model as the SDK 5.24 types them
(*_create_params.py; 400 `{"error", "issues": [{"path", "message"}]}`, an unknown model included) on
POST /v1/text_to_video, /v1/image_to_video and /v1/video_to_video (seedance2: `promptVideo`), media
references as docs.dev.runwayml.com/assets/inputs limits them (https on a domain, data URIs under 5 MB for
images and videos, see MAX_DATA_URI; seedance2's data-URI videos MP4/MOV/WebM, at least 720p and at most 15 s,
read with PyAV), tasks
PENDING/THROTTLED -> RUNNING (progress 0..1) -> SUCCEEDED (`output: [mp4 url]`) | FAILED (`failure`,
`failureCode`), costs in credits. Refunds as documented: a failure is refunded except SAFETY.INPUT.*
("not refundable"); DELETE /v1/tasks/{id} (204) cancels an unfinished task (refunded only if it had not
started RUNNING) or deletes a finished one (no refund), and either way the task answers 404 from then on
("Aborted and deleted tasks will not be able to be fetched again"). A task flagged `cancelled` in the job
table (as one cancelled in the developer portal) reads CANCELLED.

Test switches (POST /_sim/config, or `app.state.sim.config`):
  {"credits": N}       the organisation's balance: a task costing more is refused with Runway's 400;
                       refunds are paid back into it
  {"errors": [429, 502, ...]}  the next API requests answer these statuses, one each
  {"throttled": true}  queued tasks report THROTTLED instead of PENDING
  {"price_factor": F}  every task costs F times the rates below (Runway changing its prices)
Prompt directives: sim:fail=content (SAFETY.INPUT.TEXT, charged), sim:fail=internal (INTERNAL.BAD_OUTPUT),
sim:fail=asset (ASSET.INVALID), sim:seconds=N, sim:queue=N.
"""

from __future__ import annotations

import base64
import binascii
import io
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
# Data URIs, encoded length: images under 5MB (docs.dev.runwayml.com/assets/inputs, "Size limits", and the SDK).
# Videos: the SDK (runwayml 5.24, types/video_to_video_create_params.py, promptVideo) says "up to 5MB", the docs'
# table 16MB; the simulator refuses past the limit both sources allow (5MB), so nothing passes here that Runway
# might refuse. Audio: 16MB (docs; the SDK says 5MB too, but nothing here sends audio).
MAX_DATA_URI = {"image": 5 * 1024 * 1024, "video": 5 * 1024 * 1024, "audio": 16 * 1024 * 1024}
# The video data-URI types taken: MP4, QuickTime and WebM (the SDK's example is data:video/mp4; Matroska and
# other containers are refused).
VIDEO_MIMES = ("video/mp4", "video/quicktime", "video/webm")
MAX_URL = 2048
SEED_MAX = 2**32 - 1


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
    prompt_units: int = 1000  # promptText limit in UTF-16 code units
    ratio_required: bool = True
    default_ratio: str = ""
    auto_duration: bool = False  # duration "auto": billed at the longest up front, the rest refunded
    reference_images: bool = False  # promptImage items without `position` are references (not frames)
    text_only: frozenset[str] = frozenset()  # fields only text_to_video takes
    video_ratios: tuple[str, ...] = ()  # empty: no video_to_video
    video_only: frozenset[str] = frozenset()  # fields only video_to_video takes (promptVideo is required)
    video_max_seconds: float = 0.0  # the input video's limits (0: none documented)
    video_min_side: int = 0


GEN4_RATIOS = ("1280:720", "720:1280", "1104:832", "960:960", "832:1104", "1584:672")
VEO_RATIOS = ("1280:720", "720:1280", "1080:1920", "1920:1080")
SEEDANCE_RATIOS = (
    *("992:432", "864:496", "752:560", "640:640", "560:752", "496:864"),  # 480p
    *("1470:630", "1280:720", "1112:834", "960:960", "834:1112", "720:1280"),  # 720p
    *("2206:946", "1920:1080", "1664:1248", "1440:1440", "1248:1664", "1080:1920"),  # 1080p
    *("3840:1646", "3840:2160", "3840:2880", "3840:3840", "2880:3840", "2160:3840"),  # 4K
)
OUTPUT_FORMATS = (
    *("mp4", "prores", "png_sequence", "hdr10", "hlg", "sdr_rec709_10bit", "hdr_pq_12bit_master", "hdr_prores"),
    *("hdr_png_sequence", "hdr_exr_sequence", "hdr_exr_acescg_sequence_1_3", "hdr_exr_acescg_sequence_2_0"),
)
PRORES_PROFILES = ("422", "4444", "422 Proxy", "422 LT", "422 HQ", "4444 XQ")
_GEN4_EXTRAS = frozenset({"seed", "contentModeration"})
_VEO_EXTRAS = frozenset({"seed", "audio", "negativePrompt"})
MODELS: dict[str, Model] = {
    "gen4.5": Model(
        text_ratios=("1280:720", "720:1280"),
        image_ratios=GEN4_RATIOS,
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
        image_ratios=GEN4_RATIOS,
        durations=tuple(range(2, 11)),  # "gen4_turbo must specify a duration of 2-10 seconds" (API spec)
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
    # Runway publishes one rate (36 credits/s) with no split by size or audio; charged at every size here.
    "seedance2": Model(
        text_ratios=SEEDANCE_RATIOS,
        image_ratios=SEEDANCE_RATIOS,
        durations=tuple(range(4, 16)),  # the API spec: integer 4 to 15, or "auto"
        duration_required=False,
        default_duration=5,
        positions=("first", "last"),
        optional=frozenset({"seed", "audio", "referenceAudio"}),
        credits=36,
        seconds=120.0,
        prompt_units=3500,
        ratio_required=False,
        default_ratio="1280:720",
        auto_duration=True,
        reference_images=True,
        text_only=frozenset({"references", "referenceVideos"}),
        video_ratios=SEEDANCE_RATIOS,
        video_only=frozenset({"promptVideo", "references", "referenceVideos"}),
        # runwayml/skills rw-api-reference (main): "VTV input requirements: max 15 seconds, max 32 MB, min 720p"
        video_max_seconds=15.0,
        video_min_side=720,
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


def _uri_problem(uri: Any, kind: str = "image") -> str | None:
    """Why Runway would refuse a media reference (docs: assets/inputs, errors/troubleshooting); `kind` is
    image, audio or video (data URIs: MAX_DATA_URI by kind, as the docs' size limits say)."""
    if not isinstance(uri, str):
        return "Expected string"
    if uri.startswith("runway://"):
        return None
    if uri.startswith("data:"):
        if len(uri) >= MAX_DATA_URI[kind]:
            return f"Data URI is too large: the encoded data URI must be under {MAX_DATA_URI[kind] // 2**20}MB."
        header, comma, payload = uri[5:].partition(",")
        if not comma or not header.endswith(";base64"):
            return "Invalid data URI."
        mime = header[: -len(";base64")]
        if kind == "image" and mime not in ("image/jpeg", "image/png", "image/webp"):
            return "Unsupported asset type. Data URIs must be JPEG, PNG or WebP images."
        if kind == "video" and mime not in VIDEO_MIMES:
            return "Unsupported asset type. Video data URIs must be MP4, QuickTime (MOV) or WebM videos."
        if kind not in ("image", "video") and not mime.startswith(f"{kind}/"):
            return f"Unsupported asset type. Expected a {kind} data URI."
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
    model = MODELS.get(str(body.get("model")))
    names = tuple(m for m, rules in MODELS.items() if _serves(rules, endpoint))
    if model is None or not _serves(model, endpoint):
        return [_issue(["model"], f"Invalid discriminator value. Expected {' | '.join(repr(n) for n in names)}")]
    issues: list[dict[str, Any]] = []
    known = {"model", "promptText", "ratio", "duration", *model.optional}
    if endpoint == "image_to_video":
        known.add("promptImage")
    elif endpoint == "video_to_video":
        known |= model.video_only
    else:
        known |= model.text_only
    if unknown := sorted(set(body) - known):
        issues.append(_issue([], "Unrecognized key(s) in object: " + ", ".join(repr(k) for k in unknown)))

    text = body.get("promptText")
    text_required = endpoint == "text_to_video" or model.image_prompt_text_required
    if text is None:
        if text_required:
            issues.append(_issue(["promptText"], "Required"))
    elif not isinstance(text, str) or not text.strip():
        issues.append(_issue(["promptText"], "Expected a non-empty string"))
    elif _utf16_units(text) > model.prompt_units:
        issues.append(_issue(["promptText"], f"String must contain at most {model.prompt_units} character(s)"))

    ratios = {"text_to_video": model.text_ratios, "video_to_video": model.video_ratios}.get(
        endpoint, model.image_ratios
    )
    if "ratio" not in body:
        if model.ratio_required:
            issues.append(_issue(["ratio"], "Required"))
    elif body["ratio"] not in ratios:
        issues.append(_issue(["ratio"], _enum(ratios, body["ratio"])))

    duration = body.get("duration")
    if duration is None:
        if model.duration_required:
            issues.append(_issue(["duration"], "Required"))
    elif not (model.auto_duration and duration == "auto") and (
        isinstance(duration, bool) or not isinstance(duration, int) or duration not in model.durations
    ):
        allowed = f"{model.durations[0]} to {model.durations[-1]}" if len(model.durations) > 3 else model.durations
        auto = ' or "auto"' if model.auto_duration else ""
        issues.append(_issue(["duration"], f"Expected an integer, {allowed}{auto}"))

    if endpoint == "image_to_video":
        issues += _image_issues(body.get("promptImage"), model)
    if endpoint == "video_to_video":
        if "promptVideo" not in body:
            issues.append(_issue(["promptVideo"], "Required"))
        elif problem := _uri_problem(body["promptVideo"], "video") or _video_problem(body["promptVideo"], model):
            issues.append(_issue(["promptVideo"], problem))
    return issues + _option_issues(body)


def _video_problem(uri: str, model: Model) -> str | None:
    """A data-URI video against the model's documented input limits (its length and shorter side), read from
    the container with PyAV (nothing decoded; packets demuxed when no header states the length). URLs and
    runway:// uploads are fetched by Runway, not here, so only data URIs are probed."""
    if not uri.startswith("data:") or not (model.video_max_seconds or model.video_min_side):
        return None
    import av

    data = base64.b64decode(uri.partition(",")[2])
    try:
        with av.open(io.BytesIO(data)) as container:
            if not container.streams.video:
                return "Invalid asset: the video has no video track."
            stream = container.streams.video[0]
            width, height = stream.codec_context.width, stream.codec_context.height
            if stream.duration is not None and stream.time_base is not None:
                seconds = float(stream.duration * stream.time_base)
            elif container.duration is not None:
                seconds = container.duration / av.time_base
            else:
                ends = [p.pts + (p.duration or 0) for p in container.demux(stream) if p.pts is not None]
                seconds = float(max(ends) * stream.time_base) if ends else 0.0
    except Exception:  # PyAV's errors: not a video it can read
        return "Invalid asset: the video could not be read."
    if not width or not height or not seconds:
        return "Invalid asset: the video could not be read."
    if model.video_min_side and min(width, height) < model.video_min_side:
        return f"Video resolution is too low ({width}x{height}): the minimum is {model.video_min_side}p."
    if model.video_max_seconds and seconds > model.video_max_seconds + 0.05:
        return f"Video is too long ({seconds:.1f} seconds): the maximum is {model.video_max_seconds:g} seconds."
    return None


def _serves(model: Model, endpoint: str) -> bool:
    """Whether a model is one of the endpoint's (its discriminator's) models."""
    if endpoint == "text_to_video":
        return bool(model.text_ratios)
    if endpoint == "video_to_video":
        return bool(model.video_ratios)
    return bool(model.image_ratios)


def _option_issues(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The optional fields' types (which fields a model takes is checked against its `optional` set)."""
    issues: list[dict[str, Any]] = []
    seed = body.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= SEED_MAX):
        issues.append(_issue(["seed"], f"Expected an integer from 0 to {SEED_MAX}"))
    if "audio" in body and not isinstance(body["audio"], bool):
        issues.append(_issue(["audio"], "Expected boolean"))
    negative = body.get("negativePrompt")
    if "negativePrompt" in body and (not isinstance(negative, str) or not 1 <= _utf16_units(negative) <= 1000):
        issues.append(_issue(["negativePrompt"], "Expected a string of 1 to 1000 characters"))
    if "outputFormat" in body and body["outputFormat"] not in OUTPUT_FORMATS:
        issues.append(_issue(["outputFormat"], _enum(OUTPUT_FORMATS, body["outputFormat"])))
    if "proresProfile" in body and body["proresProfile"] not in PRORES_PROFILES:
        issues.append(_issue(["proresProfile"], _enum(PRORES_PROFILES, body["proresProfile"])))
    moderation = body.get("contentModeration")
    if "contentModeration" in body and (
        not isinstance(moderation, dict)
        or set(moderation) - {"publicFigureThreshold"}
        or moderation.get("publicFigureThreshold", "auto") not in ("auto", "low")
    ):
        issues.append(_issue(["contentModeration"], "Expected {publicFigureThreshold?: 'auto' | 'low'}"))
    for field, kind in (("references", "image"), ("referenceAudio", "audio"), ("referenceVideos", "video")):
        if field in body:
            issues += _reference_issues(field, kind, body[field])
    return issues


MAX_IMAGE_REFERENCES = 9  # seedance2 `references`: "An optional array of image references (up to 9)"


def _reference_issues(field: str, kind: str, value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        return [_issue([field], "Expected array")]
    if kind == "image" and len(value) > MAX_IMAGE_REFERENCES:
        return [_issue([field], f"Array must contain at most {MAX_IMAGE_REFERENCES} element(s)")]
    issues = []
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            issues.append(_issue([field, i], "Expected object"))
            continue
        if kind != "image" and item.get("type") != kind:
            issues.append(_issue([field, i, "type"], f"Invalid literal value, expected {kind!r}"))
        if problem := _uri_problem(item.get("uri"), kind):
            issues.append(_issue([field, i, "uri"], problem))
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
        if position is None and model.reference_images:
            pass  # a reference image, not a frame
        elif position not in model.positions:
            issues.append(_issue(["promptImage", i, "position"], _enum(model.positions, position)))
        seen.append(position)
        if problem := _uri_problem(item.get("uri")):
            issues.append(_issue(["promptImage", i, "uri"], problem))
    frames = [p for p in seen if p is not None]
    if frames and len(frames) != len(seen):
        issues.append(_issue(["promptImage"], "Keyframes (with a position) and reference images cannot be mixed."))
    elif len(set(frames)) != len(frames):
        issues.append(_issue(["promptImage"], "Each position may be used only once."))
    elif frames and "first" not in frames and not issues:
        issues.append(_issue(["promptImage"], "This model does not support generating with only a last frame."))
    return issues


def _surcharge(body: dict[str, Any]) -> float:
    """gen4.5's outputFormat surcharge per second: 5 for prores and png_sequence, 20 for 10-bit and deeper
    (40 above 4 megapixels, which gen4.5's sizes never reach)."""
    output = body.get("outputFormat", "mp4")
    return 0.0 if output == "mp4" else 5.0 if output in ("prores", "png_sequence") else 20.0


def task_credits(body: dict[str, Any]) -> float:
    """The estimate Runway answers at submit: the most the task may charge."""
    model = MODELS[body["model"]]
    seconds = body.get("duration", model.default_duration)
    if seconds == "auto":
        seconds = model.durations[-1]  # billed at the longest up front
    audio = body.get("audio", True)  # Runway's default is undocumented; assume Veo's (with sound)
    rate = model.credits_audio if audio and model.credits_audio is not None else model.credits
    return (rate + _surcharge(body)) * seconds


def charged(job: SimJob) -> int:
    """Credits a finished task stays charged: all of it, but a failure is refunded unless moderation refused
    the input (SAFETY.INPUT.* "not refundable"), and "auto" gives back what the chosen length did not use."""
    phase, _ = job.phase()
    if phase == "failed":
        code = FAILURES.get(job.fail or "", ("INTERNAL",))[0]
        return int(job.extra["credits"]) if code.startswith("SAFETY.INPUT") else 0
    return int(job.extra.get("final_credits", job.extra["credits"]))


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
        task.update(status="SUCCEEDED", output=[video_url(request, job)], cost={"credits": charged(job)})
    elif phase == "failed":
        code, failure = FAILURES.get(job.fail or "", ("INTERNAL", "An unexpected error occurred."))
        task.update(status="FAILED", failure=failure, failureCode=code, cost={"credits": charged(job)})
    else:  # cancelled elsewhere (the developer portal): what it cost then
        task.update(status="CANCELLED", cost={"credits": int(job.extra.get("cancel_credits", 0))})
    return task


def settle(sim: Simulator, job: SimJob, credits: int) -> None:
    """Pay back into the balance (when tests track one) what a task no longer costs, once."""
    with sim.lock:
        if job.extra.get("settled"):
            return
        job.extra["settled"] = True
        if sim.config.get("credits") is not None:
            sim.config["credits"] += job.extra["credits"] - credits


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
        credits = task_credits(body) * float(sim.config.get("price_factor", 1))
        with sim.lock:
            balance = sim.config.get("credits")
            if balance is not None and balance < credits:
                return _error(400, "You do not have enough credits to run this task.")
            if balance is not None:
                sim.config["credits"] = balance - credits
        model = MODELS[body["model"]]
        job = sim.create(body, prompt=body.get("promptText"), job_id=str(uuid.uuid4()), seconds=model.seconds)
        duration = body.get("duration", model.default_duration)
        if duration == "auto":  # the model chooses; the simulator chooses the default and refunds the rest
            duration = model.default_duration
            job.extra["final_credits"] = credits * duration / model.durations[-1]
        job.extra.update(duration=duration, aspect_ratio=body.get("ratio", model.default_ratio), credits=credits)
        return JSONResponse({"id": job.id, "estimatedCost": {"credits": credits}})

    async def text_to_video(request: Request) -> Response:
        return await create(request, "text_to_video")

    async def image_to_video(request: Request) -> Response:
        return await create(request, "image_to_video")

    async def video_to_video(request: Request) -> Response:
        return await create(request, "video_to_video")

    async def task(request: Request) -> Response:
        if (response := refused(request)) is not None:
            return response
        task_id = request.path_params["task_id"]
        job = sim.get(task_id) if request.method == "GET" else sim.jobs.get(task_id)
        if job is None or job.extra.get("deleted"):
            return _error(404, "Task not found.")
        phase = job.phase()[0]
        if request.method == "GET":
            if phase in ("succeeded", "failed"):
                settle(sim, job, charged(job))
            return JSONResponse(task_json(request, job, sim))
        # DELETE: cancelled if unfinished, deleted if finished; gone either way (kept in the table, marked,
        # so tests can audit it). Only a task not yet RUNNING is refunded.
        if phase in ("queued", "running"):
            job.cancelled = True
            settle(sim, job, 0 if phase == "queued" else int(job.extra["credits"]))
        elif phase != "cancelled":
            settle(sim, job, charged(job))
        job.extra["deleted"] = True
        return Response(status_code=204)

    app = Starlette(
        routes=[
            Route("/v1/text_to_video", text_to_video, methods=["POST"]),
            Route("/v1/image_to_video", image_to_video, methods=["POST"]),
            Route("/v1/video_to_video", video_to_video, methods=["POST"]),
            Route("/v1/tasks/{task_id}", task, methods=["GET", "DELETE"]),
            *sim.routes(),
        ]
    )
    app.state.sim = sim
    return app
