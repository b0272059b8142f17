"""A local copy of runblob.io's Kling O3 video API, from docs.runblob.io (api-reference/kling/o3-video-*) and the
official SDK `runblob` 0.3.1 (KlingO3VideoGenerateParams, KlingVideoStatusResponse).

  POST /v1/kling/o3-video/generate                    -> 201 {generation_id, status: "pending", price}
  GET  /v1/kling/o3-video/generations/{generation_id} -> {generation_id, status, prompt, video_url, model, description}

As documented: Bearer auth (401 {"detail": ...}); FastAPI 422 lists for malformed fields; 400 {"detail": text,
"message": CODE} for INVALID_DURATION, INVALID_MODEL, TOO_MANY_IMAGES, MIXED_IMAGE_INPUTS; 402 INSUFFICIENT_CREDITS
(its two documented bodies alternate); 404 GENERATION_NOT_FOUND (also for another key's generation); `mode` std|pro
(sent by a guide example) stands for `model`; pending -> processing (10-30 s) -> completed | failed over the guide's
times (5 s: ~2.5 min, 10 s: ~4 min, 15 s: ~6 min, pro 40% longer); the 15-minute limit (TIMEOUT, credits
refunded); a real MP4 at video_url. There is no cancel. A `callback_url` gets the documented webhook
{generation_id, status: completed | failed, video_url, model, message: the failure code} when the generation ends,
tried 5 times 30 s apart (simulated time) until it is answered with a 2xx. The status has no `message` (the docs);
the SDK's `description` carries the failure code there (what runblob puts in it is not documented: an assumption).
The webhook is not signed: the SDK can verify an X-RunBlob-Signature (HMAC-SHA256 of the body with "your webhook
signing secret"), but neither it nor the docs say where that secret comes from, so no scheme can be copied.

The SDK's frames and multi-shot fields are taken: first_frame_url | first_frame_base64 with end_frame_url |
end_frame_base64 (the SDK: each needs the other; one frame alone is refused with 400 INVALID_PARAMETERS, an
assumed code), customize_multi_shots and prefer_multi_shots (booleans). The SDK's optional X-Idempotency-Key is
recorded (job.extra["idempotency_key"]) and changes nothing: the docs give it no behaviour.

Price of a call, returned as a string with 4 decimals: $0.03 per second for kling_o3, $0.06 for kling_o3_pro, so
the docs' example (a default 5 s standard video) costs "0.1500".

Test switches (POST /_sim/config): {"api_keys": [...]} only these keys work (default: any key);
{"credits": 1.0} a balance in USD (default: unlimited); {"submit_faults": [429, 503], "status_faults": [500]}
answer the next requests of that kind with these statuses; {"retry_after": 0} sent with 429/503 (default 1).
Prompt directives: sim:fail=content|image|inaccessible|timeout|internal, sim:seconds=N, sim:queue=N.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import uuid
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from providers.images import sniff
from providers.simulators.common import SimJob, Simulator, public_root, video_url

API = "/v1/kling/o3-video"
PER_SECOND = {"kling_o3": 0.03, "kling_o3_pro": 0.06}
MODES = {"std": "kling_o3", "pro": "kling_o3_pro"}
DURATIONS = ("5", "10", "15")
RATIOS = ("16:9", "9:16", "1:1")
TYPICAL_SECONDS = {"5": 150.0, "10": 240.0, "15": 360.0}
PRO_SLOWER = 1.4
QUEUE_SECONDS = 20.0
LIMIT_SECONDS = 15 * 60
MAX_IMAGES = 5
MAX_IMAGE_BYTES = 10 * 1024 * 1024
FAILURES = {
    "content": "CONTENT_POLICY_VIOLATION",
    "image": "INVALID_IMAGE",
    "inaccessible": "IMAGE_INACCESSIBLE",
    "timeout": "TIMEOUT",
    "internal": "INTERNAL_ERROR",
}
FAULT_TEXT = {429: "Rate limit exceeded", 500: "Internal server error", 503: "Service temporarily unavailable"}
NO_CREDIT_BODIES = ({"detail": "INSUFFICIENT_CREDITS"}, {"success": False, "message": "INSUFFICIENT_CREDITS"})
WIRE_STATUS = {"queued": "pending", "running": "processing", "succeeded": "completed", "failed": "failed"}
WEBHOOK_ATTEMPTS, WEBHOOK_SPACING = 5, 30.0  # the webhook guide: 5 attempts, 30 s apart
FRAME_FIELDS = ("first_frame_url", "first_frame_base64", "end_frame_url", "end_frame_base64")


def price_of(model: str, duration: str) -> float:
    return round(PER_SECOND[model] * int(duration), 4)


def model_label(model: str, duration: str) -> str:
    """The status's `model`, e.g. "kling-o3-video-10s-pro"."""
    return f"kling-o3-video-{duration}s" + ("-pro" if model == "kling_o3_pro" else "")


def _refusal(status: int, detail: Any, code: str | None = None, headers: dict[str, str] | None = None) -> JSONResponse:
    body = {"detail": detail, **({"message": code} if code else {})}
    return JSONResponse(body, status_code=status, headers=headers)


def _issue(kind: str, field: str, msg: str, value: Any = None) -> dict[str, Any]:
    return {"type": kind, "loc": ["body", field], "msg": msg, "input": value}


def _malformed(body: dict[str, Any]) -> list[dict[str, Any]]:
    """What FastAPI's request model would refuse with 422."""
    issues = []
    prompt = body.get("prompt")
    if prompt is None:
        issues.append(_issue("missing", "prompt", "Field required"))
    elif not isinstance(prompt, str):
        issues.append(_issue("string_type", "prompt", "Input should be a valid string", prompt))
    elif not prompt.strip():
        issues.append(_issue("string_too_short", "prompt", "String should have at least 1 character", prompt))
    elif len(prompt) > 2500:
        issues.append(_issue("string_too_long", "prompt", "String should have at most 2500 characters", prompt[:50]))
    for field in ("duration", "aspect_ratio", "model", "mode", "callback_url", *FRAME_FIELDS):
        value = body.get(field)
        if value is not None and not isinstance(value, str):
            issues.append(_issue("string_type", field, "Input should be a valid string", value))
    for field in ("images_url", "images_base64"):
        value = body.get(field)
        if value is not None and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            issues.append(_issue("list_type", field, "Input should be a valid list of strings", None))
    for field in ("keep_original_sound", "customize_multi_shots", "prefer_multi_shots"):
        value = body.get(field)
        if value is not None and not isinstance(value, bool):
            issues.append(_issue("bool_type", field, "Input should be a valid boolean", value))
    ratio = body.get("aspect_ratio")
    if isinstance(ratio, str) and ratio not in RATIOS:
        issues.append(_issue("enum", "aspect_ratio", "Input should be '16:9', '9:16' or '1:1'", ratio))
    return issues


def _image_problem(urls: list[str], encoded: list[str]) -> str | JSONResponse | None:
    """How the job will fail (a FAILURES key: runblob checks images while generating), or a 400 now."""
    if any(not url.lower().startswith(("https://", "http://")) for url in urls):
        return "inaccessible"
    for n, value in enumerate(encoded, 1):
        payload = value.partition(",")[2] if value.startswith("data:") else value
        try:
            data = base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError):
            return "image"
        if len(data) > MAX_IMAGE_BYTES:
            return _refusal(400, f"Image {n} is larger than 10 MB", "INVALID_PARAMETERS")
        if sniff(data) is None:
            return "image"
    return None


def _frames(body: dict[str, Any]) -> tuple[list[str], list[str]] | JSONResponse:
    """The first and end frames as (urls, base64s): both or neither, each given one way."""
    given = {name: [body[f"{name}_{kind}"] for kind in ("url", "base64") if body.get(f"{name}_{kind}")]
             for name in ("first_frame", "end_frame")}  # fmt: skip
    if any(len(values) > 1 for values in given.values()):
        return _refusal(400, "Give each frame as a URL or as base64, not both", "INVALID_PARAMETERS")
    if bool(given["first_frame"]) != bool(given["end_frame"]):
        return _refusal(400, "first_frame and end_frame must be given together", "INVALID_PARAMETERS")
    urls = [body[f"{n}_url"] for n in ("first_frame", "end_frame") if body.get(f"{n}_url")]
    encoded = [body[f"{n}_base64"] for n in ("first_frame", "end_frame") if body.get(f"{n}_base64")]
    return urls, encoded


def create_app(speed: float = 1.0) -> Starlette:
    sim = Simulator("runblob", speed=speed, typical_seconds=TYPICAL_SECONDS["5"], queue_seconds=QUEUE_SECONDS)
    refusals = itertools.count()  # alternates the two documented 402 bodies

    def caller(request: Request) -> str | JSONResponse:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return _refusal(401, "Missing credentials")
        keys = sim.config.get("api_keys")
        if keys and token.strip() not in keys:
            return _refusal(401, "Invalid API key")
        return token.strip()

    def fault(kind: str) -> JSONResponse | None:
        with sim.lock:
            queue = sim.config.get(kind) or []
            if not queue:
                return None
            status = int(queue.pop(0))
        headers = {"Retry-After": str(sim.config.get("retry_after", 1))} if status in (429, 503) else None
        return _refusal(status, FAULT_TEXT.get(status, "Error"), headers=headers)

    async def generate(request: Request) -> JSONResponse:
        who = caller(request)
        if isinstance(who, JSONResponse):
            return who
        if refused := fault("submit_faults"):
            return refused
        try:
            body = await request.json()
        except ValueError:
            return JSONResponse({"detail": [_issue("json_invalid", "body", "JSON decode error")]}, status_code=422)
        if not isinstance(body, dict):
            return JSONResponse({"detail": [_issue("model_attributes_type", "body", "Input should be an object")]}, 422)
        if issues := _malformed(body):
            return JSONResponse({"detail": issues}, status_code=422)

        duration = body.get("duration") or "5"
        if duration not in DURATIONS:
            return _refusal(400, "Duration must be 5, 10, or 15 seconds", "INVALID_DURATION")
        mode = body.get("mode")
        if mode is not None and mode not in MODES:
            return _refusal(400, "Mode must be 'std' or 'pro'", "INVALID_MODEL")
        model = body.get("model") or MODES.get(mode or "std")
        if model not in PER_SECOND:
            return _refusal(400, "Model must be 'kling_o3' or 'kling_o3_pro'", "INVALID_MODEL")
        urls, encoded = body.get("images_url") or [], body.get("images_base64") or []
        if urls and encoded:
            return _refusal(400, "Cannot provide both images_base64 and images_url", "MIXED_IMAGE_INPUTS")
        if len(urls) + len(encoded) > MAX_IMAGES:
            return _refusal(400, f"Maximum 5 images allowed, got {len(urls) + len(encoded)}", "TOO_MANY_IMAGES")
        frames = _frames(body)
        if isinstance(frames, JSONResponse):
            return frames
        problem = _image_problem(urls + frames[0], encoded + frames[1])
        if isinstance(problem, JSONResponse):
            return problem

        price = price_of(model, duration)
        with sim.lock:  # charged when accepted, like the real service
            credits = sim.config.get("credits")
            if credits is not None and credits < price:
                return JSONResponse(NO_CREDIT_BODIES[next(refusals) % 2], status_code=402)
            if credits is not None:
                sim.config["credits"] = round(credits - price, 4)

        seconds = TYPICAL_SECONDS[duration] * (PRO_SLOWER if model == "kling_o3_pro" else 1.0)
        job = sim.create(body, prompt=body["prompt"], job_id=str(uuid.uuid4()), seconds=seconds)
        if problem:  # found in the first seconds of processing
            job.fail, job.run_seconds = problem, 5.0 / speed
        if job.queue_seconds + job.run_seconds > LIMIT_SECONDS / speed:
            job.fail, job.run_seconds = "timeout", max(LIMIT_SECONDS / speed - job.queue_seconds, 0.001)
        ratio = body.get("aspect_ratio") or "16:9"
        job.extra.update(
            owner=who, label=model_label(model, duration), price=price, duration=int(duration), aspect_ratio=ratio
        )
        job.extra["idempotency_key"] = request.headers.get("x-idempotency-key")
        if body.get("callback_url"):
            job.extra["root"] = public_root(request)
            sim.call_back(
                job,
                body["callback_url"],
                webhook,
                on=("succeeded", "failed"),
                attempts=WEBHOOK_ATTEMPTS,
                spacing=WEBHOOK_SPACING,
            )
        return JSONResponse({"generation_id": job.id, "status": "pending", "price": f"{price:.4f}"}, status_code=201)

    async def status(request: Request) -> JSONResponse:
        who = caller(request)
        if isinstance(who, JSONResponse):
            return who
        if refused := fault("status_faults"):
            return refused
        job = sim.get(request.path_params["generation_id"])
        if job is None or job.extra.get("owner") != who:
            return _refusal(404, "Generation not found", "GENERATION_NOT_FOUND")
        answer = generation(job, public_root(request))
        reason = answer.pop("message")  # the status has no `message`: the SDK's `description` instead
        return JSONResponse({**answer, "prompt": job.payload.get("prompt"), "description": reason})

    def generation(job: SimJob, root: str) -> dict[str, Any]:
        """What runblob says about a generation: the status answer (less the prompt), and the webhook body."""
        phase, _ = job.phase()
        wire = WIRE_STATUS[phase]
        code = FAILURES.get(job.fail or "", "INTERNAL_ERROR") if wire == "failed" else None
        if code == "TIMEOUT":
            refund(job)
        return {
            "generation_id": job.id,
            "status": wire,
            "video_url": video_url(root, job) if wire == "completed" else None,
            "model": job.extra["label"],
            "message": code,
        }

    async def webhook(job: SimJob, phase: str) -> dict[str, Any]:
        return generation(job, job.extra["root"])

    def refund(job: SimJob) -> None:
        with sim.lock:
            if sim.config.get("credits") is not None and not job.extra.get("refunded"):
                sim.config["credits"] = round(sim.config["credits"] + job.extra["price"], 4)
            job.extra["refunded"] = True

    app = Starlette(
        routes=[
            Route(f"{API}/generate", generate, methods=["POST"]),
            Route(f"{API}/generations/{{generation_id}}", status, methods=["GET"]),
            *sim.routes(),
        ]
    )
    app.state.sim = sim
    return app
