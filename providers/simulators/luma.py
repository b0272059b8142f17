"""A local copy of Luma's Dream Machine API (api.lumalabs.ai/dream-machine/v1), from the official SDK (lumaai
1.21.0: resources/generations/generations.py and video.py, resources/credits.py, types/generation.py,
generations/video_create_params.py, generation_list_response.py, _client.py) and the docs (docs.lumalabs.ai:
video generation, callbacks, the "Callbacks & Credits Balance" changelog).

  POST   /generations/video (and /generations, the docs' curl path) -> 201 the Generation {id, state: "queued", ...}
  GET    /generations/{id}                -> {id, generation_type, state, failure_reason, created_at, assets, model,
                                              request}: queued -> dreaming -> completed (assets.video) | failed
  DELETE /generations/{id}                -> 204; the generation is gone from GET and the list (nothing says a
                                              delete stops or refunds one still dreaming, so it does neither here)
  GET    /generations?limit&offset         -> {generations, count, has_more, limit, offset}, newest first
  GET    /credits                          -> {credit_balance}: USD cents

Auth is `Authorization: Bearer <key>`; keys look like the docs' "luma-xxxx". Request bodies are checked the way
the API's pydantic model would (422 {"detail": [{type, loc, msg, input}]}): model and aspect_ratio are the SDK's
literals, keyframes frame0/frame1 are {type: "image", url} or {type: "generation", id}, loop a boolean. duration
and resolution are free strings in the SDK (its Union[Literal, str]), so their values are refused the way the
API refuses in code, 400 {"detail": "400: <reason>"} (that shape is the API's, as reported by its users; the
wording here is assumed): durations "5s" | "9s", resolutions 540p | 720p | 1080p | 4k, image URLs http(s) only
(the docs: "upload and use your own cdn image urls"; URLs are not fetched here), a generation keyframe must name
a completed generation. A `callback_url` gets the Generation POSTed when it is dreaming, completed and failed,
tried 3 more times 100 ms apart (simulated time) until answered with a 2xx.

Price of a generation in cents (charged when accepted): width x height x 24 fps x seconds at the 16:9 frame size
of its resolution, $0.0064 (ray-2) or $0.0022 (ray-flash-2) per million pixels (the list price ComfyUI's API price
list gives: Luma's own page no longer lists these models). Out of credit answers 402 {"detail": "Insufficient
credits"}: the Dream Machine docs list no error codes; 402 is what Luma's Agents API documents for it.

Test switches (POST /_sim/config): {"api_keys": [...]} only these keys work (default: any "luma-..." key);
{"balance_cents": 50} a balance (default: unlimited); {"errors": [429, 503, 400]} the next requests get these
statuses, {"retry_after": 1} sent with them. Prompt directives: sim:fail=content|internal, sim:seconds=N,
sim:queue=N.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from providers.simulators.common import SimJob, Simulator, public_root, video_url

MODELS = ("ray-2", "ray-flash-2")
RATIOS = ("1:1", "16:9", "9:16", "4:3", "3:4", "21:9", "9:21")
DURATIONS = {"5s": 5, "9s": 9}
FRAME_PIXELS = {"540p": 960 * 540, "720p": 1280 * 720, "1080p": 1920 * 1080, "4k": 3840 * 2160}
USD_PER_MEGAPIXEL = {"ray-2": 0.0064, "ray-flash-2": 0.0022}
FPS = 24
TYPICAL_SECONDS = {"ray-2": 120.0, "ray-flash-2": 60.0}
CALLBACK_ATTEMPTS, CALLBACK_SPACING = 4, 0.1  # the docs: retried 3 times with a 100 ms delay
WIRE_STATE = {"queued": "queued", "running": "dreaming", "succeeded": "completed", "failed": "failed"}
FAILURES = {
    "content": "Prompt not allowed because advanced moderation failed",
    "internal": "Internal server error",
}
STATUS_TEXT = {
    400: "400: Bad request",
    429: "Too many requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


def cents(model: str, duration: str, resolution: str) -> float:
    pixels = FRAME_PIXELS[resolution] * FPS * DURATIONS[duration]
    return pixels / 1e6 * USD_PER_MEGAPIXEL[model] * 100


def _issue(kind: str, loc: list[Any], msg: str, value: Any = None) -> dict[str, Any]:
    return {"type": kind, "loc": ["body", *loc], "msg": msg, "input": value}


def _literal(allowed: tuple[str, ...]) -> str:
    names = [repr(a) for a in allowed]
    return f"Input should be {', '.join(names[:-1])} or {names[-1]}"


def _keyframe_issues(name: str, frame: Any) -> list[dict[str, Any]]:
    if not isinstance(frame, dict):
        return [_issue("model_attributes_type", ["keyframes", name], "Input should be a valid dictionary", frame)]
    kind = frame.get("type")
    field = {"image": "url", "generation": "id"}.get(kind) if isinstance(kind, str) else None
    if field is None:
        return [_issue("literal_error", ["keyframes", name, "type"], _literal(("generation", "image")), kind)]
    value = frame.get(field)
    if value is None:
        return [_issue("missing", ["keyframes", name, field], "Field required")]
    if not isinstance(value, str):
        return [_issue("string_type", ["keyframes", name, field], "Input should be a valid string", value)]
    return []


def malformed(body: Any) -> list[dict[str, Any]]:
    """What the request model would refuse with 422."""
    if not isinstance(body, dict):
        return [{"type": "model_attributes_type", "loc": ["body"], "msg": "Input should be a valid dictionary"}]
    issues = []
    model = body.get("model")
    if model is None:
        issues.append(_issue("missing", ["model"], "Field required"))
    elif model not in MODELS:
        issues.append(_issue("literal_error", ["model"], _literal(MODELS), model))
    ratio = body.get("aspect_ratio")
    if ratio is not None and ratio not in RATIOS:
        issues.append(_issue("literal_error", ["aspect_ratio"], _literal(RATIOS), ratio))
    for field in ("prompt", "duration", "resolution", "callback_url"):
        if body.get(field) is not None and not isinstance(body[field], str):
            issues.append(_issue("string_type", [field], "Input should be a valid string", body[field]))
    if body.get("loop") is not None and not isinstance(body["loop"], bool):
        issues.append(_issue("bool_type", ["loop"], "Input should be a valid boolean", body["loop"]))
    if body.get("generation_type") not in (None, "video"):
        issues.append(_issue("literal_error", ["generation_type"], "Input should be 'video'", body["generation_type"]))
    keyframes = body.get("keyframes")
    if keyframes is not None:
        if not isinstance(keyframes, dict):
            issues.append(_issue("model_attributes_type", ["keyframes"], "Input should be a valid dictionary"))
        else:
            for name in ("frame0", "frame1"):
                if keyframes.get(name) is not None:
                    issues += _keyframe_issues(name, keyframes[name])
    concepts = body.get("concepts")
    if concepts is not None and not (
        isinstance(concepts, list) and all(isinstance(c, dict) and isinstance(c.get("key"), str) for c in concepts)
    ):
        issues.append(_issue("list_type", ["concepts"], "Input should be a valid list of {key}", None))
    return issues


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _refusal(status: int, detail: Any, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


def create_app(speed: float = 1.0) -> Starlette:
    sim = Simulator("luma", speed=speed, typical_seconds=TYPICAL_SECONDS["ray-2"], queue_seconds=5.0)

    def caller(request: Request) -> str | JSONResponse:
        scheme, _, key = request.headers.get("authorization", "").partition(" ")
        key = key.strip()
        if scheme.lower() != "bearer" or not key:
            return _refusal(401, "Not authenticated")
        allowed = sim.config.get("api_keys")
        if (allowed and key not in allowed) or (not allowed and not key.startswith("luma-")):
            return _refusal(401, "Invalid API key")
        return key

    def injected() -> JSONResponse | None:
        with sim.lock:
            queue = sim.config.get("errors") or []
            status = int(queue.pop(0)) if queue else None
        if status is None:
            return None
        retry = sim.config.get("retry_after")
        headers = {"Retry-After": str(retry)} if retry is not None and status in (429, 503) else None
        return _refusal(status, STATUS_TEXT.get(status, f"{status}: Error"), headers)

    def refused(request: Request) -> str | JSONResponse:
        who = caller(request)
        if isinstance(who, JSONResponse):
            return who
        return injected() or who

    def owned(request: Request, who: str) -> SimJob | None:
        job = sim.get(request.path_params["id"]) if request.method == "GET" else sim.jobs.get(request.path_params["id"])
        if job is None or job.extra.get("deleted") or job.extra.get("owner") != who:
            return None
        return job

    def invalid(body: dict[str, Any], who: str) -> str | None:
        """Why the API would refuse these values in code (400), or None."""
        duration = body.get("duration") or "5s"
        if duration not in DURATIONS:
            return f"400: Invalid duration {duration!r}; supported durations are 5s and 9s"
        resolution = body.get("resolution") or "720p"
        if resolution not in FRAME_PIXELS:
            return f"400: Invalid resolution {resolution!r}; supported resolutions are 540p, 720p, 1080p and 4k"
        for name, frame in (body.get("keyframes") or {}).items():
            if not isinstance(frame, dict):
                continue
            if frame["type"] == "image" and not frame["url"].lower().startswith(("https://", "http://")):
                return f"400: Invalid image url for {name}; pass an http(s) URL to your own hosted image"
            if frame["type"] == "generation":
                ref = sim.jobs.get(frame["id"])
                if ref is None or ref.extra.get("owner") != who or ref.phase()[0] != "succeeded":
                    return f"400: Generation {frame['id']} for {name} is not a completed generation of yours"
        return None

    def generation(job: SimJob, root: str, phase: str | None = None) -> dict[str, Any]:
        """The Generation object, as it stands now or (for a callback) as it stood in `phase`."""
        state = WIRE_STATE.get(phase or job.phase()[0], "failed")
        done = state == "completed"
        return {
            "id": job.id,
            "generation_type": "video",
            "state": state,
            "failure_reason": FAILURES.get(job.fail or "", FAILURES["internal"]) if state == "failed" else None,
            "created_at": _iso(job.created),
            "assets": {"video": video_url(root, job), "image": None, "progress_video": None} if done else None,
            "model": job.payload["model"],
            "request": {"generation_type": "video", **job.payload},
        }

    async def create(request: Request) -> Response:
        who = refused(request)
        if isinstance(who, JSONResponse):
            return who
        try:
            body = await request.json()
        except ValueError:
            return _refusal(422, [{"type": "json_invalid", "loc": ["body"], "msg": "JSON decode error"}])
        if issues := malformed(body):
            return _refusal(422, issues)
        if problem := invalid(body, who):
            return _refusal(400, problem)
        duration, resolution = body.get("duration") or "5s", body.get("resolution") or "720p"
        price = cents(body["model"], duration, resolution)
        with sim.lock:
            balance = sim.config.get("balance_cents")
            if balance is not None and balance < price:
                return _refusal(402, "Insufficient credits")
            if balance is not None:
                sim.config["balance_cents"] = balance - price
        seconds = TYPICAL_SECONDS[body["model"]] * DURATIONS[duration] / 5
        job = sim.create(body, prompt=body.get("prompt"), job_id=str(uuid.uuid4()), seconds=seconds)
        job.extra.update(
            owner=who,
            cents=price,
            duration=DURATIONS[duration],
            aspect_ratio=body.get("aspect_ratio") or "16:9",
            root=public_root(request),
        )
        if body.get("callback_url"):
            sim.call_back(
                job,
                body["callback_url"],
                callback,
                on=("running", "succeeded", "failed"),
                attempts=CALLBACK_ATTEMPTS,
                spacing=CALLBACK_SPACING,
            )
        return JSONResponse(generation(job, job.extra["root"], "queued"), status_code=201)

    async def callback(job: SimJob, phase: str) -> dict[str, Any]:
        return generation(job, job.extra["root"], phase)

    async def one(request: Request) -> Response:
        who = refused(request)
        if isinstance(who, JSONResponse):
            return who
        job = owned(request, who)
        if job is None:
            return _refusal(404, "Generation not found")
        if request.method == "DELETE":
            job.extra["deleted"] = True
            return Response(status_code=204)
        return JSONResponse(generation(job, public_root(request)))

    async def listing(request: Request) -> Response:
        who = refused(request)
        if isinstance(who, JSONResponse):
            return who
        numbers: dict[str, int] = {}
        for name, default in (("limit", 10), ("offset", 0)):
            raw = request.query_params.get(name)
            try:
                numbers[name] = default if raw is None else int(raw)
            except ValueError:
                issue = {"type": "int_parsing", "loc": ["query", name], "msg": "Input should be a valid integer"}
                return _refusal(422, [issue])
        mine = [j for j in sim.jobs.values() if j.extra.get("owner") == who and not j.extra.get("deleted")]
        mine.sort(key=lambda j: j.created, reverse=True)
        limit, offset = numbers["limit"], numbers["offset"]
        page = mine[offset : offset + limit]
        root = public_root(request)
        return JSONResponse(
            {
                "generations": [generation(j, root) for j in page],
                "count": len(page),
                "has_more": offset + limit < len(mine),
                "limit": limit,
                "offset": offset,
            }
        )

    async def credits(request: Request) -> Response:
        who = refused(request)
        if isinstance(who, JSONResponse):
            return who
        balance = sim.config.get("balance_cents")
        return JSONResponse({"credit_balance": 1_000_000.0 if balance is None else balance})

    app = Starlette(
        routes=[
            Route("/generations/video", create, methods=["POST"]),
            Route("/generations", create, methods=["POST"]),
            Route("/generations", listing, methods=["GET"]),
            Route("/generations/{id}", one, methods=["GET", "DELETE"]),
            Route("/credits", credits, methods=["GET"]),
            *sim.routes(),
        ]
    )
    app.state.sim = sim
    return app
