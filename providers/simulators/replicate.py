"""A local Replicate API (api.replicate.com/v1) that the official `replicate` SDK (1.0.x) can talk to.

Follows the SDK source and Replicate's docs: `Authorization: Bearer <token>` (else 401); errors as problem
details {title, detail, status} (422 adds invalid_fields); POST /v1/models/{owner}/{name}/predictions and
POST /v1/predictions {version, input, webhook, webhook_events_filter} with an optional `Prefer: wait[=N]`;
GET /v1/predictions/{id}; POST /v1/predictions/{id}/cancel; GET /v1/models/{owner}/{name} with the latest
version's OpenAPI schema; GET /v1/search?query= (the search API: {query, models: [{model, metadata}],
collections, pages}) and QUERY /v1/models (the SDK's models.search, a text/plain body); GET
/v1/webhooks/default/secret. A prediction goes starting -> processing (tqdm
progress lines in `logs`, which the SDK's Prediction.progress parses) -> succeeded (`output`: the MP4's URL,
as these models' output schemas say: one uri) | failed (`error`) | canceled. Inputs are validated against each
model's Input schema (types, enums, ranges, required fields), 422 as Replicate words it. Webhooks POST the
prediction for the filtered events (start, output, logs, completed; default output + completed), signed as
Replicate signs them (webhook-id / webhook-timestamp / webhook-signature, HMAC-SHA256 with the whsec_ secret).

Stricter than Replicate in one way, on purpose: an input field the model's schema does not declare is refused
(Replicate's behaviour for unknown input keys is not documented), so a wrong field name in an adapter shows.

Test switches (POST /_sim/config, or `app.state.sim.config`):
  {"tokens": [...]}                      the API tokens accepted (default: DEFAULT_TOKEN)
  {"credit": false}                      creating a prediction answers 402 (billing)
  {"rate_limit": N, "retry_after": S}    the next N creates answer 429 with Retry-After: S
  {"server_errors": N, "error_status": 503}   the next N creates answer that status
  {"output_ttl": S}                      simulated seconds a finished prediction keeps its output (default
                                         3600: "deleted after an hour"); then data_removed, output null, video 404
Prompt directives: sim:fail=content (E005, flagged as sensitive), sim:fail=internal, sim:seconds=N, sim:queue=N.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import secrets
import time
from datetime import datetime, timezone
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from providers.simulators.common import CALLBACK_TIMEOUT, SimJob, Simulator, public_root, video_url

DEFAULT_TOKEN = "r8_sim" + "7c" * 17  # Replicate's shape: r8_ and 37 more characters
WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"replicate-simulator-signing-key!").decode()
EVENTS = ("start", "output", "logs", "completed")
WEBHOOK_ATTEMPTS = 3
WEBHOOK_SPACING = 5.0  # simulated seconds between retries of one webhook
MAX_WAIT = 60  # Prefer: wait holds a request at most this long ("between 1 and 60", the SDK)
FAILURES = {
    "content": "The input or output was flagged as sensitive. Please try again with different inputs. (E005)",
    "internal": "Director: unexpected error handling prediction (E8765)",
}


def _uri(description: str) -> dict[str, Any]:
    return {"type": "string", "format": "uri", "description": description}


def _enum(values: list[Any], default: Any, kind: str = "integer") -> dict[str, Any]:
    return {"type": kind, "enum": values, "default": default}


PROMPT = {"type": "string", "description": "Text prompt for video generation"}
NEGATIVE = {"type": "string", "default": "", "description": "Things you do not want to see in the video"}
SEED = {"type": "integer", "description": "Random seed. Set for reproducible generation"}
WAN_COMMON: dict[str, Any] = {
    "prompt": PROMPT,
    "resolution": _enum(["480p", "720p"], "480p", "string"),
    "num_frames": {"type": "integer", "default": 81, "minimum": 81, "maximum": 121},
    "frames_per_second": {"type": "integer", "default": 16, "minimum": 5, "maximum": 30},
    "go_fast": {"type": "boolean", "default": True},
    "sample_shift": {"type": "number", "default": 12, "minimum": 1, "maximum": 20},
    "seed": SEED,
    "disable_safety_checker": {"type": "boolean", "default": False},
}
# Each model's Input schema, as its latest version's OpenAPI schema publishes it (enums inlined).
SCHEMAS: dict[str, dict[str, Any]] = {
    "kwaivgi/kling-v2.6": {
        "required": ["prompt"],
        "properties": {
            "prompt": PROMPT,
            "negative_prompt": NEGATIVE,
            "start_image": _uri("First frame of the video"),
            "aspect_ratio": _enum(["16:9", "9:16", "1:1"], "16:9", "string"),
            "duration": _enum([5, 10], 5),
            "generate_audio": {"type": "boolean", "default": True},
        },
    },
    "google/veo-3.1-fast": {
        "required": ["prompt"],
        "properties": {
            "prompt": PROMPT,
            "negative_prompt": {"type": "string"},
            "image": _uri("Input image to start generating from"),
            "last_frame": _uri("Ending image for interpolation"),
            "aspect_ratio": _enum(["16:9", "9:16"], "16:9", "string"),
            "duration": _enum([4, 6, 8], 8),
            "resolution": _enum(["720p", "1080p"], "1080p", "string"),
            "generate_audio": {"type": "boolean", "default": True},
            "seed": SEED,
        },
    },
    "bytedance/seedance-1-pro": {
        "required": ["prompt"],
        "properties": {
            "prompt": PROMPT,
            "image": _uri("Input image for image-to-video generation"),
            "last_frame_image": _uri("Input image for last frame generation (needs image)"),
            "duration": {"type": "integer", "default": 5, "minimum": 2, "maximum": 12},
            "resolution": _enum(["480p", "720p", "1080p"], "1080p", "string"),
            "aspect_ratio": _enum(["16:9", "4:3", "1:1", "3:4", "9:16", "21:9", "9:21"], "16:9", "string"),
            "fps": _enum([24], 24),
            "camera_fixed": {"type": "boolean", "default": False},
            "seed": SEED,
        },
    },
    "wan-video/wan-2.2-t2v-fast": {
        "required": ["prompt"],
        "properties": {
            **WAN_COMMON,
            "aspect_ratio": _enum(["16:9", "9:16"], "16:9", "string"),
            "interpolate_output": {"type": "boolean", "default": True},
            "optimize_prompt": {"type": "boolean", "default": False},
        },
    },
    "wan-video/wan-2.2-i2v-fast": {
        "required": ["image", "prompt"],
        "properties": {
            **WAN_COMMON,
            "image": _uri("Input image to generate video from"),
            "last_image": _uri("Optional last image to condition the video generation"),
            "interpolate_output": {"type": "boolean", "default": False},
        },
    },
}
# Models the adapter has no declaration for (reached by owner/name through their published schema).
SCHEMAS["minimax/hailuo-02"] = {  # replicate.com/minimax/hailuo-02 (version c43b610e, API page)
    "required": ["prompt"],
    "properties": {
        "prompt": {"type": "string", "description": "Text prompt for generation"},
        "first_frame_image": _uri("First frame image for video generation"),
        "last_frame_image": _uri("Last frame image for video generation"),
        "duration": _enum([6, 10], 6),
        "resolution": _enum(["512p", "768p", "1080p"], "1080p", "string"),
        "prompt_optimizer": {"type": "boolean", "default": True},
    },
}
SCHEMAS["kwaivgi/kling-v2.1"] = {  # replicate.com/kwaivgi/kling-v2.1: image to video only
    "required": ["prompt", "start_image"],
    "properties": {
        "prompt": PROMPT,
        "negative_prompt": NEGATIVE,
        "start_image": _uri("First frame of the video (required)"),
        "end_image": _uri("Last frame of the video (pro mode only)"),
        "mode": _enum(["standard", "pro"], "standard", "string"),
        "duration": _enum([5, 10], 5),
    },
}
SCHEMAS["black-forest-labs/flux-dev"] = {  # an image model: found by a search, never offered as a video one
    "required": ["prompt"],
    "properties": {"prompt": PROMPT, "num_outputs": {"type": "integer", "default": 1, "minimum": 1, "maximum": 4}},
}
# What the search API's metadata says of each model (tags), so a search for "video" finds the video models.
TAGS: dict[str, tuple[str, ...]] = {name: ("video", "text-to-video") for name in SCHEMAS}
TAGS["wan-video/wan-2.2-i2v-fast"] = TAGS["kwaivgi/kling-v2.1"] = ("video", "image-to-video")
TAGS["black-forest-labs/flux-dev"] = ("image", "text-to-image")
# A stable version id per model (sha256 of its name, as Replicate's are 64 hex digits).
VERSIONS = {hashlib.sha256(name.encode()).hexdigest(): name for name in SCHEMAS}
VERSION_OF = {name: version for version, name in VERSIONS.items()}
TYPES: dict[str, type | tuple[type, ...]] = {
    "string": str,
    "integer": int,
    "number": (int, float),
    "boolean": bool,
    "array": list,
    "object": dict,
}


def problem(status: int, title: str, detail: str, **extra: Any) -> JSONResponse:
    headers = {"Retry-After": str(extra.pop("retry_after"))} if "retry_after" in extra else None
    body = {"title": title, "detail": detail, "status": status, **extra}
    return JSONResponse(body, status_code=status, headers=headers, media_type="application/problem+json")


def _is_uri(value: str) -> bool:
    return value.startswith(("https://", "http://")) or (value.startswith("data:") and ";base64," in value)


def field_problem(name: str, rule: dict[str, Any], value: Any) -> tuple[str, str] | None:
    """(type, description) of what is wrong with one input value, as Replicate's validation words it."""
    kind = rule.get("type", "string")
    wanted = TYPES[kind]
    if (isinstance(value, bool) and kind != "boolean") or not isinstance(value, wanted):
        return "invalid_type", f"Invalid type. Expected: {kind}, given: {type(value).__name__}"
    if "enum" in rule and value not in rule["enum"]:
        allowed = ", ".join(str(v) for v in rule["enum"])
        return "enum", f"{name} must be one of the following: {allowed}"
    if "minimum" in rule and value < rule["minimum"]:
        return "number_gte", f"Must be greater than or equal to {rule['minimum']}"
    if "maximum" in rule and value > rule["maximum"]:
        return "number_lte", f"Must be less than or equal to {rule['maximum']}"
    if rule.get("format") == "uri" and not _is_uri(str(value)):
        return "format", "Does not match format 'uri'"
    return None


def invalid_fields(model: str, data: Any) -> list[dict[str, str]]:
    """What Replicate would list in a 422's invalid_fields for this input (empty: acceptable)."""
    if not isinstance(data, dict):
        return [{"type": "invalid_type", "field": "input", "description": "Invalid type. Expected: object"}]
    schema = SCHEMAS[model]
    found = []
    for name in schema["required"]:
        if name not in data:
            found.append({"type": "required", "field": "input", "description": f"{name} is required"})
    for name, value in data.items():
        rule = schema["properties"].get(name)
        if rule is None:
            found.append(
                {
                    "type": "additional_property_not_allowed",
                    "field": "input",
                    "description": f"Additional property {name} is not allowed",
                }
            )
        elif (wrong := field_problem(name, rule, value)) is not None:
            found.append({"type": wrong[0], "field": f"input.{name}", "description": wrong[1]})
    if model == "bytedance/seedance-1-pro" and "last_frame_image" in data and "image" not in data:
        found.append(
            {
                "type": "condition",
                "field": "input.last_frame_image",
                "description": "last_frame_image only works if image is also given",
            }
        )
    return found


def _iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _logs(progress: float) -> str:
    steps = int(progress * 50)
    bar = "█" * (steps // 5)
    return f"Generating video\n{int(progress * 100):3d}%|{bar:<10}| {steps}/50 [00:{steps:02d}<00:{50 - steps:02d}]"


def seconds_of(model: str, data: dict[str, Any]) -> float:
    """How long the output video is: the duration input, or frames over frame rate (Wan)."""
    props = SCHEMAS[model]["properties"]
    if "num_frames" in props:
        frames = data.get("num_frames", props["num_frames"]["default"])
        return frames / data.get("frames_per_second", props["frames_per_second"]["default"])
    return float(data.get("duration", props["duration"]["default"]))


class ReplicateSimulator(Simulator):
    """The shared job table, with webhooks signed as Replicate signs them."""

    async def _deliver(self, job: SimJob, url: str, body: dict[str, Any], attempts: int, spacing: float) -> None:
        import httpx

        job.extra.setdefault("callbacks_sent", []).append(body)
        content = json.dumps(body)
        async with httpx.AsyncClient(timeout=CALLBACK_TIMEOUT) as client:
            for attempt in range(attempts):
                if attempt:
                    await asyncio.sleep(spacing / self.speed)
                self.callbacks[job.id] += 1
                headers = {"content-type": "application/json", **signed(content)}
                try:
                    response = await client.post(url, content=content, headers=headers)
                except httpx.HTTPError:
                    continue
                if response.is_success:
                    self.callbacks_delivered[job.id] += 1
                    return


def signed(content: str, secret: str = WEBHOOK_SECRET, now: float | None = None) -> dict[str, str]:
    """Standard Webhooks headers: HMAC-SHA256 of "{id}.{timestamp}.{body}" with the secret's key bytes."""
    webhook_id, timestamp = f"msg_{secrets.token_hex(12)}", str(int(time.time() if now is None else now))
    key = base64.b64decode(secret.split("_", 1)[1])
    digest = hmac.new(key, f"{webhook_id}.{timestamp}.{content}".encode(), hashlib.sha256).digest()
    signature = "v1," + base64.b64encode(digest).decode()
    return {"webhook-id": webhook_id, "webhook-timestamp": timestamp, "webhook-signature": signature}


def create_app(speed: float = 1.0) -> Starlette:
    sim = ReplicateSimulator("replicate", speed=speed, typical_seconds=60.0, queue_seconds=3.0)

    def denied(request: Request) -> Response | None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or token.strip() not in sim.config.get("tokens", [DEFAULT_TOKEN]):
            return problem(401, "Unauthenticated", "You did not pass a valid authentication token")
        return None

    def refused() -> Response | None:
        """The create-time switches: server errors, throttling, billing."""
        config = sim.config
        with sim.lock:
            if config.get("server_errors", 0) > 0:
                config["server_errors"] -= 1
                status = int(config.get("error_status", 503))
                return problem(status, "Service Unavailable", "The service is temporarily unavailable")
            if config.get("rate_limit", 0) > 0:
                config["rate_limit"] -= 1
                wait = config.get("retry_after", 1)
                detail = f"Request was throttled. Expected available in {wait} second."
                return problem(429, "Request was throttled", detail, retry_after=wait)
        if config.get("credit", True) is False:
            return problem(
                402,
                "Insufficient credit",
                "You have insufficient credit to run this model. Go to https://replicate.com/account/billing#billing "
                "to purchase credit. Once you purchase credit, please wait a few minutes before retrying.",
            )
        return None

    def removed(job: SimJob) -> bool:
        """Whether the output is gone: Replicate deletes it an hour after the prediction ends."""
        ended = job.created + job.queue_seconds + job.run_seconds
        return job.phase()[0] == "succeeded" and (time.time() - ended) * sim.speed > sim.config.get("output_ttl", 3600)

    def prediction(root: str, job: SimJob, phase: str | None = None) -> dict[str, Any]:
        now_phase, progress = job.phase()
        phase = phase or now_phase
        started = job.created + job.queue_seconds
        done = started + job.run_seconds
        body: dict[str, Any] = {
            "id": job.id,
            "model": job.extra["model"],
            "version": VERSION_OF[job.extra["model"]],
            "input": job.payload["input"],
            "logs": "",
            "output": None,
            "data_removed": False,
            "error": None,
            "source": "api",
            "status": {"queued": "starting", "running": "processing", "cancelled": "canceled"}.get(phase, phase),
            "created_at": _iso(job.created),
            "started_at": _iso(started) if phase != "queued" else None,
            "completed_at": None,
            "metrics": {},
            "urls": {
                "cancel": f"{root}/v1/predictions/{job.id}/cancel",
                "get": f"{root}/v1/predictions/{job.id}",
                "web": f"https://replicate.com/p/{job.id}",
            },
        }
        if phase == "running":
            body["logs"] = _logs(progress if now_phase == "running" else 0.0)
        elif phase in ("succeeded", "failed"):
            body.update(logs=_logs(1.0), completed_at=_iso(done))
            body["metrics"] = {"predict_time": round(job.run_seconds * sim.speed, 3)}
            if phase == "succeeded" and removed(job):
                body["data_removed"] = True
            elif phase == "succeeded":
                body["output"] = video_url(root, job)
            else:
                body["error"] = FAILURES.get(job.fail or "", FAILURES["internal"])
        elif phase == "cancelled":
            body["completed_at"] = _iso(job.extra.get("cancelled_at", time.time()))
        return body

    async def create(request: Request, model: str | None) -> Response:
        if (answer := denied(request)) is not None:
            return answer
        try:
            body = await request.json()
        except ValueError:
            return problem(400, "Bad request", "The request body is not valid JSON")
        if not isinstance(body, dict):
            return problem(422, "Invalid request", "- (root): Invalid type. Expected: object\n")
        allowed = {"input", "webhook", "webhook_completed", "webhook_events_filter", "stream"}
        if model is None:
            allowed.add("version")
            model = VERSIONS.get(str(body.get("version", "")).rpartition(":")[2])
            if model is None:
                return problem(
                    422,
                    "Invalid version or not permitted",
                    "The specified version does not exist (or perhaps you don't have permission to use it?)",
                )
        found = [f"(root): Additional property {key} is not allowed" for key in body if key not in allowed]
        if "input" not in body:
            found.append("(root): input is required")
        hooks = body.get("webhook_events_filter")
        if hooks is not None and (not isinstance(hooks, list) or not set(hooks) <= set(EVENTS)):
            found.append(f"webhook_events_filter: each item must be one of: {', '.join(EVENTS)}")
        hook = body.get("webhook")
        if hook is not None and not (isinstance(hook, str) and hook.startswith(("https://", "http://"))):
            found.append("webhook: Does not match format 'uri'")
        if found:
            return problem(422, "Invalid request", "".join(f"- {line}\n" for line in found))
        fields = invalid_fields(model, body["input"])
        if field := sim.config.get("invalid_field"):  # a value only Replicate can judge (e.g. an image it cannot read)
            fields = [{"type": "invalid_value", "field": f"input.{field}", "description": "could not be processed"}]
        if fields:
            detail = "".join(f"- {f['field']}: {f['description']}\n" for f in fields)
            return problem(422, "Input validation failed", detail, invalid_fields=fields)
        if (answer := refused()) is not None:
            return answer
        data = body["input"]
        job = sim.create(body, prompt=data.get("prompt"), job_id=_prediction_id())
        image = any(key in data for key in ("image", "start_image"))
        ratio = data.get("aspect_ratio", "16:9") if not image else "16:9"
        root = public_root(request)
        job.extra.update(model=model, duration=seconds_of(model, data), aspect_ratio=ratio, root=root)
        if hook:
            on = _phases(hooks if hooks is not None else ["output", "completed"])
            sim.call_back(job, hook, webhook, on=on, attempts=WEBHOOK_ATTEMPTS, spacing=WEBHOOK_SPACING)
        await hold(request, job)
        return JSONResponse(prediction(root, job), status_code=201)

    async def hold(request: Request, job: SimJob) -> None:
        """Prefer: wait[=N]: keep the request open until the prediction ends or N seconds pass."""
        prefer = request.headers.get("prefer", "")
        if not prefer.startswith("wait"):
            return
        _, _, value = prefer.partition("=")
        seconds = min(MAX_WAIT, int(value)) if value.strip().isdigit() else MAX_WAIT
        deadline = time.time() + seconds / sim.speed
        while job.phase()[0] in ("queued", "running") and time.time() < deadline:  # noqa: ASYNC110 (simulated time)
            await asyncio.sleep(min(0.05, max(job.until_change(), 0.001)))

    async def webhook(job: SimJob, phase: str) -> dict[str, Any]:
        return prediction(job.extra["root"], job, phase)

    async def create_for_model(request: Request) -> Response:
        model = f"{request.path_params['owner']}/{request.path_params['name']}"
        if (answer := denied(request)) is not None:
            return answer
        if model not in SCHEMAS:
            return problem(404, "Not found", "The requested resource could not be found.")
        return await create(request, model)

    async def create_for_version(request: Request) -> Response:
        return await create(request, None)

    def found(request: Request) -> SimJob | Response:
        if (answer := denied(request)) is not None:
            return answer
        job = sim.get(request.path_params["id"])
        return job if job is not None else problem(404, "Not found", "The requested resource could not be found.")

    async def get(request: Request) -> Response:
        job = found(request)
        return job if isinstance(job, Response) else JSONResponse(prediction(public_root(request), job))

    async def cancel(request: Request) -> Response:
        job = found(request)
        if isinstance(job, Response):
            return job
        if job.phase()[0] in ("queued", "running"):
            job.cancelled = True
            job.extra["cancelled_at"] = time.time()
        return JSONResponse(prediction(public_root(request), job))

    async def model(request: Request) -> Response:
        if (answer := denied(request)) is not None:
            return answer
        owner, name = request.path_params["owner"], request.path_params["name"]
        if f"{owner}/{name}" not in SCHEMAS:
            return problem(404, "Not found", "The requested resource could not be found.")
        return JSONResponse(model_json(owner, name))

    def found_models(query: str, limit: int) -> list[dict[str, Any]]:
        words = query.lower().split()
        hits = []
        for full in SCHEMAS:
            owner, name = full.split("/", 1)
            entry = model_json(owner, name)
            text = f"{full} {entry['description']} {' '.join(TAGS.get(full, ()))}".lower()
            if words and all(word in text for word in words):
                hits.append(entry)
        return hits[:limit]

    async def search(request: Request) -> Response:
        """GET /v1/search?query=&limit= (Replicate's search API, beta): models, collections and docs pages."""
        if (answer := denied(request)) is not None:
            return answer
        query = request.query_params.get("query", "")
        if not query.strip():
            return problem(400, "Bad request", "query is required")
        try:
            limit = int(request.query_params.get("limit", "20"))
        except ValueError:
            return problem(400, "Bad request", "limit must be an integer from 1 to 50")
        if not 1 <= limit <= 50:
            return problem(400, "Bad request", "limit must be an integer from 1 to 50")
        models = [
            {
                "model": {k: v for k, v in entry.items() if k != "latest_version"} | {"latest_version": None},
                "metadata": {
                    "generated_description": entry["description"],
                    "score": 1.0,
                    "tags": list(TAGS.get(f"{entry['owner']}/{entry['name']}", ())),
                },
            }
            for entry in found_models(query, limit)
        ]
        return JSONResponse({"query": query, "models": models, "collections": [], "pages": []})

    async def query_models(request: Request) -> Response:
        """QUERY /v1/models with the search text as a text/plain body (the SDK's models.search): a page."""
        if (answer := denied(request)) is not None:
            return answer
        text = (await request.body()).decode("utf-8", "replace")
        results = found_models(text, 20)
        return JSONResponse({"previous": None, "next": None, "results": results})

    async def secret(request: Request) -> Response:
        return answer if (answer := denied(request)) is not None else JSONResponse({"key": WEBHOOK_SECRET})

    shared = sim.routes()
    serve_video = next(route.endpoint for route in shared if route.path.startswith("/_sim/videos/"))

    async def video(request: Request) -> Response:
        job = sim.jobs.get(request.path_params["job_id"])
        if job is not None and removed(job):
            return problem(404, "Not found", "The requested resource could not be found.")
        return await serve_video(request)

    app = Starlette(
        routes=[
            Route("/_sim/videos/{job_id}.mp4", video, methods=["GET"]),
            *shared,
            Route("/v1/predictions", create_for_version, methods=["POST"]),
            Route("/v1/predictions/{id}", get, methods=["GET"]),
            Route("/v1/predictions/{id}/cancel", cancel, methods=["POST"]),
            Route("/v1/search", search, methods=["GET"]),
            Route("/v1/models", query_models, methods=["QUERY"]),
            Route("/v1/models/{owner}/{name}", model, methods=["GET"]),
            Route("/v1/models/{owner}/{name}/predictions", create_for_model, methods=["POST"]),
            Route("/v1/webhooks/default/secret", secret, methods=["GET"]),
        ]
    )
    app.state.sim = sim
    return app


def _phases(events: list[str]) -> tuple[str, ...]:
    """Our job phases a webhook events filter asks for (no model here streams output or logs before the end)."""
    phases: list[str] = []
    if "start" in events:
        phases.append("queued")
    if "logs" in events:
        phases.append("running")
    if "completed" in events or "output" in events:
        phases += ["succeeded", "failed", "cancelled"]
    return tuple(phases)


def _prediction_id() -> str:
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(secrets.choice(alphabet) for _ in range(26))


def model_json(owner: str, name: str) -> dict[str, Any]:
    """GET /v1/models/{owner}/{name}: the model, its latest version with the OpenAPI schema."""
    full = f"{owner}/{name}"
    schema = SCHEMAS[full]
    properties: dict[str, Any] = {}
    enums: dict[str, Any] = {}
    for order, (key, rule) in enumerate(schema["properties"].items()):
        shown = {"title": key.replace("_", " ").title(), "x-order": order, **rule}
        if "enum" in rule:  # Cog publishes an enum as its own component, referenced through allOf
            enums[key] = {"title": key, "description": "An enumeration.", "type": rule["type"], "enum": rule["enum"]}
            shown = {k: v for k, v in shown.items() if k not in ("type", "enum")}
            shown["allOf"] = [{"$ref": f"#/components/schemas/{key}"}]
        properties[key] = shown
    input_schema = {"type": "object", "title": "Input", "required": schema["required"], "properties": properties}
    return {
        "url": f"https://replicate.com/{full}",
        "owner": owner,
        "name": name,
        "description": f"{full} (simulated)",
        "visibility": "public",
        "is_official": True,
        "github_url": None,
        "paper_url": None,
        "license_url": None,
        "run_count": 1000,
        "cover_image_url": None,
        "default_example": None,
        "latest_version": {
            "id": VERSION_OF[full],
            "created_at": "2026-01-16T00:00:00.000000Z",
            "cog_version": "0.16.8",
            "openapi_schema": {
                "openapi": "3.0.2",
                "info": {"title": "Cog", "version": "0.1.0"},
                "components": {
                    "schemas": {
                        "Input": input_schema,
                        "Output": {"type": "string", "title": "Output", "format": "uri"},
                        **enums,
                    }
                },
            },
        },
    }
