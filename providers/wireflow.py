"""Wireflow: Kling video models run as small workflows on wireflow.ai.

Wireflow runs graphs, not single model calls. A job is a tiny graph: a text input, image inputs for the
start (and end) frame, and one Kling node. Each graph shape is saved once under a name made from its hash
(found again with GET /workflows, else saved with POST /workflows). A run is priced first (POST
/workflows/{id}/estimate: a quote above ours is refused before anything is spent), then executed with the
job's values in the nodes' `config` (POST /workflows/{id}/execute with the graph and targetNodeId = the Kling
node) and polled (GET /workflows/executions/{id}/poll) until the Kling node has a video URL.

Rate limits. Every answer carries X-RateLimit-Limit/Remaining/Reset, per API key: executes count against
10 a minute, everything else against the plan's requests a minute (Free 10). One RateLimit per bucket, shared
by every job of this provider, spreads requests over what is left of the window, so parallel jobs on a Free
key wait their turn instead of meeting 429.

Lost answers. The execute carries `Idempotency-Key: <our job id>`, and an execute whose answer was lost (a
reset, a timeout, a 500 from a gateway, a cut-off body) is sent again with the same key, during the submit
and when the engine reconciles (after a restart too). Only the spec document says that Wireflow replays an
identical key's answer for 24 hours; Wireflow's official docs do not mention the header, so a resend may
start (and bill) a second run: that risk stays with the resend. Saving a workflow, pricing it or uploading
an image costs nothing, so a lost answer there is simply asked for again.

Sources: wireflow.ai/docs/api (overview, executions, workflows, run, errors, rate-limits), wireflow.ai's Kling
2.5 API page ("Both paths run through the same video:kling_video_2_5_i2v node") and the official
wireflowINC/wireflow-skill (references/api.md, references/workflow-schema.md): node types input:text,
input:image, video:kling_video_2_5_i2v (config.model_version 2.5-pro, 2.5-standard, 2.6-pro, ...; text to
video when no image is wired in) and generate:kling_1_6_pro; the image port `in-image_url`; POST
/media/upload for local files. The end frame port `in-end_image_url` follows the spec document's
`end_image_url` and the skill's port naming. No cancel endpoint is documented, so jobs cannot be cancelled.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import anyio
import anyio.to_thread
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from providers.base import (
    TERMINAL,
    ErrorCode,
    InvalidRequest,
    ModelSpec,
    PriceRule,
    Provider,
    ProviderError,
    ProviderErrorInfo,
    Rule,
    Snapshot,
    Submission,
    Tuning,
    VideoRequest,
    find_rule,
    json_body,
)
from providers.http import RetryPolicy, backoff_delay, parse_retry_after
from providers.images import classify, to_bytes

if TYPE_CHECKING:
    import httpx

KLING_I2V = "video:kling_video_2_5_i2v"  # text to video too: the same node with no image wired in
KLING_16 = "generate:kling_1_6_pro"

# Fixed node ids: the same shape of graph hashes the same every time, so it is saved only once.
PROMPT_NODE, IMAGE_NODE, END_NODE, VIDEO_NODE = "prompt", "image", "end_image", "kling"
# No query strings: messages are redacted, and redaction drops them (signed URLs carry tokens there).
SETTINGS_PAGE = "https://www.wireflow.ai/settings"

# How often an answer that came back unreadable (cut off, not JSON) is asked for again, and how often
# `reconcile` resends a run that a passing fault kept from being confirmed.
ASKS = 3
# A request refused (429) this many times in a row, each sent in its turn under the limit, ends RATE_LIMITED.
MAX_REFUSALS = 30
# Polls take at most this share of the plan's requests a minute (see poll_interval); an execution not polled
# for FOLLOWED_SECONDS (or three of its intervals) no longer counts as followed.
POLL_SHARE = 0.75
FOLLOWED_SECONDS = 300.0
CHECKED = "2026-11-29"  # the fal.ai and Kling prices below, as checked in the team's provider-fidelity review
# Wireflow publishes no per-node Kling price. Its own estimate example bills 138 credits for $1.02 of
# provider cost (1.35x), so the quotes are Kling's price (fal.ai's is the same) x 1.43: high, on purpose.
CREDIT = "Wireflow bills credits (1 credit = $0.01) and publishes no Kling node price"
ASSUMED = "assumed: the fal.ai/Kling price x 1.43 (Wireflow's margin is unpublished); a run whose "
ESTIMATE = "POST /workflows/{id}/estimate quote is higher is refused before it starts"


def _kling(**fields: Any) -> ModelSpec:
    """Every Kling node on Wireflow: 5 or 10 s, three ratios, one start frame at most."""
    defaults: dict[str, Any] = {
        "modes": ("text_to_video", "image_to_video"),
        "durations": (5.0, 10.0),
        "default_duration": 5.0,
        "aspect_ratios": ("16:9", "9:16", "1:1"),
        "default_aspect_ratio": "16:9",
        "resolutions": ("1080p",),
        "default_resolution": "1080p",
        "max_prompt_chars": 2500,
        "typical_seconds": 90.0,  # 30-120 s per 5 s clip
        "price_checked": CHECKED,
    }
    spec = {**defaults, **fields}
    spec.setdefault("max_images", 1 if "image_to_video" in spec["modes"] else 0)
    return ModelSpec(**spec)


MODELS: tuple[ModelSpec, ...] = (
    _kling(
        id="kling-2.5-turbo",
        name="Kling 2.5 Turbo (Wireflow)",
        description="Kling 2.5 Turbo from text or a start frame: fast, fluid motion. 1080p (pro) or 720p "
        "(standard); no audio.",
        resolutions=("1080p", "720p"),
        end_image=True,
        price=PriceRule(
            by_duration={"5": 0.50, "10": 1.00},
            resolution_factor={"720p": 0.6},
            note=f"{CREDIT}; quoted 50 credits per 5 s at 1080p, 30 at 720p, {ASSUMED}{ESTIMATE}",
        ),
        price_source="https://fal.ai/models/fal-ai/kling-video/v2.5-turbo/pro/text-to-video",
    ),
    _kling(
        id="kling-2.6-pro",
        name="Kling 2.6 Pro (Wireflow)",
        description="Kling 2.6 Pro from text or a start frame, 1080p, with optional generated audio.",
        audio=True,
        end_image=True,
        price=PriceRule(
            per_second=0.10,
            per_second_audio=0.20,
            note=f"{CREDIT}; quoted 10 credits a second, 20 with audio, {ASSUMED}{ESTIMATE}",
        ),
        price_source="https://fal.ai/models/fal-ai/kling-video/v2.6/pro/text-to-video",
    ),
    _kling(
        id="kling-1.6-pro",
        name="Kling 1.6 Pro (Wireflow)",
        description="Kling 1.6 Pro, text to video only, 1080p.",
        modes=("text_to_video",),
        price=PriceRule(
            by_duration={"5": 0.70, "10": 1.40},
            note=f"{CREDIT}; quoted 70 credits per 5 s, {ASSUMED}{ESTIMATE}",
        ),
        price_source="https://app.klingai.com/global/dev/document-api",
    ),
)


@dataclass(frozen=True)
class Wiring:
    """How a model becomes a Kling node: its nodeType per mode and the config it needs."""

    node_types: Mapping[str, str]  # mode -> data.nodeType
    versions: Mapping[str, str] = field(default_factory=dict)  # resolution -> config.model_version
    audio_param: bool = True  # whether the node takes generate_audio


BOTH_MODES = {"text_to_video": KLING_I2V, "image_to_video": KLING_I2V}
WIRING: dict[str, Wiring] = {
    "kling-2.5-turbo": Wiring(BOTH_MODES, {"1080p": "2.5-pro", "720p": "2.5-standard"}),
    "kling-2.6-pro": Wiring(BOTH_MODES, {"1080p": "2.6-pro"}),
    "kling-1.6-pro": Wiring({"text_to_video": KLING_16}, audio_param=False),
}


# -- the graph ------------------------------------------------------------------------------------


def _node(node_id: str, node_type: str, label: str, config: dict[str, Any], x: int, y: int, **data: Any) -> dict:
    category = node_type.split(":", 1)[0]  # the engine branches on the nodeType's prefix
    fields = {"label": label, "nodeType": node_type, "category": category, "config": config, **data}
    return {"id": node_id, "type": "basedNode", "position": {"x": x, "y": y}, "data": fields}


def _edge(source: str, source_port: str, target: str, target_port: str) -> dict:
    handles = {"sourceHandle": f"out-{source_port}", "targetHandle": f"in-{target_port}"}
    return {"id": f"{source}-{target}", "source": source, "target": target, **handles}


def _port(port_id: str, kind: str, label: str) -> dict[str, str]:
    return {"id": port_id, "type": kind, "label": label}


def _label(spec: ModelSpec) -> str:
    return spec.name.removesuffix(" (Wireflow)")


def _image_node(node_id: str, label: str, url: str, y: int) -> dict:
    image = {"image": url, "imageUrl": url}
    outputs = [_port("image", "IMAGE", "Image")]
    return _node(node_id, "input:image", label, image, 100, y, inputType="image", outputs=outputs)


def build_graph(
    spec: ModelSpec, request: VideoRequest, image_url: str = "", end_url: str = ""
) -> dict[str, list[dict]]:
    """{nodes, edges} running `request`: the job's values sit in each node's config. Text to video is the
    Kling node with nothing wired to its image port."""
    wiring = WIRING[spec.id]
    config: dict[str, Any] = {"duration": int(request.duration), "aspect_ratio": request.aspect_ratio}
    if request.resolution in wiring.versions:
        config["model_version"] = wiring.versions[request.resolution]
    if wiring.audio_param:
        config["generate_audio"] = request.audio
    prompt_port = _port("prompt", "TEXT", "Prompt")
    nodes = [_node(PROMPT_NODE, "input:text", "Prompt", {"prompt": request.prompt}, 100, 100, outputs=[prompt_port])]
    edges = [_edge(PROMPT_NODE, "prompt", VIDEO_NODE, "prompt")]
    inputs = [prompt_port]
    if request.mode == "image_to_video":
        nodes.append(_image_node(IMAGE_NODE, "Start frame", image_url, 500))
        edges.append(_edge(IMAGE_NODE, "image", VIDEO_NODE, "image_url"))
        inputs.append(_port("image_url", "IMAGE", "Start frame"))
    if request.end_image:
        nodes.append(_image_node(END_NODE, "End frame", end_url, 900))
        edges.append(_edge(END_NODE, "image", VIDEO_NODE, "end_image_url"))
        inputs.append(_port("end_image_url", "IMAGE", "End frame"))
    node_type = wiring.node_types[request.mode]
    outputs = [_port("video", "VIDEO", "Video")]
    nodes.append(_node(VIDEO_NODE, node_type, _label(spec), config, 620, 250, inputs=inputs, outputs=outputs))
    return {"nodes": nodes, "edges": edges}


def saved_workflow(spec: ModelSpec, request: VideoRequest) -> dict[str, Any]:
    """The reusable workflow for this model and mode: the job's values blanked, the model's defaults."""
    blank = request.model_copy(
        update={
            "prompt": "",
            "duration": spec.default_duration,
            "aspect_ratio": spec.default_aspect_ratio,
            "resolution": spec.default_resolution,
            "audio": spec.default_audio,
        }
    )
    graph = build_graph(spec, blank)
    digest = hashlib.sha256(json.dumps(graph, sort_keys=True).encode()).hexdigest()
    mode = request.mode.replace("_", " ")
    return {
        "name": f"mcp-videogen: {_label(spec)}, {mode} ({digest[:8]})",
        "description": "Made by mcp-videogen; each run sets the prompt and image in the input nodes.",
        **graph,
        "tags": ["mcp-videogen"],
        "isActive": True,  # /execute runs only active workflows
    }


# -- reading Wireflow's answers: small, tolerant wire models ------------------------------------------
_CONTENT = re.compile(r"content.?polic|moderat|safety|nsfw|flagged|inappropriate|prohibited|sensitive", re.I)
_PASSING = re.compile(r"internal|timed? ?out|temporar|unavailable|overloaded|try again", re.I)
_WAITING = {"PENDING", "QUEUED", "WAITING", "IDLE"}


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _number(value: Any) -> float | None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    return float(value) if ok else None


def _string(value: Any) -> str | None:
    return str(value) if isinstance(value, (str, int)) and not isinstance(value, bool) and value != "" else None


Str = Annotated[str | None, BeforeValidator(_string)]
Num = Annotated[float | None, BeforeValidator(_number)]
Flag = Annotated[bool | None, BeforeValidator(lambda v: v if isinstance(v, bool) else None)]
Obj = Annotated[dict[str, Any], BeforeValidator(lambda v: v if isinstance(v, dict) else {})]


class _Wire(BaseModel):
    """A Wireflow answer: unknown fields kept, wrong-typed ones read as missing, never a crash."""

    model_config = ConfigDict(extra="allow")

    @classmethod
    def read(cls, body: Any) -> Any:
        try:
            return cls.model_validate(body if isinstance(body, dict) else {})
        except ValidationError:  # only through a shape no validator above foresaw
            return cls()


class NodeRun(_Wire):
    """One node of a run: the docs' {nodeId, status, output}, the skill script's outputUrl(s), an error."""

    nodeId: Str = None
    status: Str = None
    output: Any = None
    outputUrl: Any = None
    outputUrls: Any = None
    error: Any = None


Runs = Annotated[list[NodeRun], BeforeValidator(_dicts)]


class NodeResults(_Wire):
    nodeRuns: Runs = Field(default_factory=list)


class ExecutionRun(_Wire):
    id: Str = None
    status: Str = None
    nodeRuns: Runs = Field(default_factory=list)


class ExecuteAnswer(_Wire):
    """POST /execute: the docs' {workflowId, batchId, executionRuns}, the skill's {executionId, status}, or
    /run's {data: {executionId, status}} (unwrapped before reading)."""

    workflowId: Str = None
    batchId: Str = None
    executionRuns: Annotated[list[ExecutionRun], BeforeValidator(_dicts)] = Field(default_factory=list)
    executionId: Str = None
    status: Str = None

    @property
    def execution(self) -> str | None:
        return next((run.id for run in self.executionRuns[:1] if run.id), None) or self.executionId


class PollAnswer(_Wire):
    """GET /workflows/executions/{id}/poll, in every shape seen: the docs' nodeResults.nodeRuns, the skill's
    finalOutput, the skill script's nodeStates, the spec document's nodeOutputs."""

    status: Str = None
    progress: Num = None
    nodeResults: Annotated[NodeResults, BeforeValidator(lambda v: v if isinstance(v, dict) else {})] = Field(
        default_factory=NodeResults
    )
    nodeStates: Runs = Field(default_factory=list)
    nodeRuns: Runs = Field(default_factory=list)
    executionRuns: Annotated[list[ExecutionRun], BeforeValidator(_dicts)] = Field(default_factory=list)
    nodeOutputs: Obj = Field(default_factory=dict)
    finalOutput: Any = None
    error: Any = None

    def node(self, node_id: str) -> NodeRun:
        """The node's record, from the first list that has it."""
        runs = self.executionRuns[0].nodeRuns if self.executionRuns else []
        for record in (*self.nodeStates, *self.nodeResults.nodeRuns, *self.nodeRuns, *runs):
            if record.nodeId == node_id:
                return record
        return NodeRun()


class Violation(_Wire):
    rule: Str = None
    message: Str = None
    fix: Str = None
    nodeId: Str = None
    edgeId: Str = None


class ErrorBody(_Wire):
    """{"error": "..."} (the docs), {"error": {type, code, message}} (the skill), 402's credit figures, 422's
    graph-lint violations, 429's retryAfter (epoch seconds)."""

    error: Any = None
    message: Any = None
    insufficientCredits: Flag = None
    requiredCredits: Num = None
    availableCredits: Num = None
    breakdown: Annotated[list[dict[str, Any]], BeforeValidator(_dicts)] = Field(default_factory=list)
    violations: Annotated[list[Violation], BeforeValidator(_dicts)] = Field(default_factory=list)
    retryAfter: Num = None


class Estimate(_Wire):
    """POST /workflows/{id}/estimate's data (the skill): the predicted credits of one run."""

    estimatedCredits: Num = None
    availableCredits: Num = None
    sufficient: Flag = None
    estimateComplete: Flag = None
    breakdown: Annotated[list[dict[str, Any]], BeforeValidator(_dicts)] = Field(default_factory=list)


class Saved(_Wire):
    """POST /workflows and POST /media/upload: {data: {id, url, ...}} (unwrapped before reading)."""

    id: Str = None
    url: Any = None


def _unwrap(body: Any) -> dict[str, Any]:
    """The payload, whether or not it comes wrapped in {"data": ...}."""
    if not isinstance(body, dict):
        return {}
    inner = body.get("data")
    return inner if isinstance(inner, dict) and "status" not in body else body


def _url(value: Any) -> str | None:
    """A URL from a string, {url}, or a list of either."""
    if isinstance(value, list):
        return next(filter(None, map(_url, value)), None)
    if isinstance(value, dict):
        return _url(value.get("url"))
    return value if isinstance(value, str) and value.startswith(("http://", "https://")) else None


def _output_url(output: Any) -> str | None:
    """A video node's `output`: {video: {url}}, {videos: [{url}]} or {url}; an image output is not a video."""
    if not isinstance(output, dict):
        return None
    return next(filter(None, (_url(output.get(key)) for key in ("video", "videos", "url"))), None)


def _text(value: Any) -> str:
    if isinstance(value, dict):
        value = value.get("message") or value.get("error") or ""
    return " ".join(str(value or "").split())


def video_url(data: Any, video_node: str = VIDEO_NODE) -> str | None:
    """The finished video: the video node's own output first, then the run's final output."""
    answer = data if isinstance(data, PollAnswer) else PollAnswer.read(data)
    mine = answer.nodeOutputs.get(video_node)
    state = answer.node(video_node)
    candidates = (
        mine.get("video") if isinstance(mine, dict) else mine,
        _output_url(state.output),
        state.outputUrl,
        state.outputUrls,
        answer.finalOutput,
    )
    return next(filter(None, map(_url, candidates)), None)


def _progress(value: float | None) -> float | None:
    return None if value is None else max(0.0, min(1.0, value / 100 if value > 1 else value))


# A failed run's reason (the Kling node's error) -> what it is and what to do; {where} names the execution.
FAILURES = (
    Rule(
        ErrorCode.CONTENT_POLICY,
        "Wireflow: Kling refused the request on content grounds: {reason}. Rephrase the prompt or use another "
        "image{where}.",
        text=_CONTENT.pattern,
        retryable=False,
    ),
    Rule(
        ErrorCode.PROVIDER_FAILED,
        "Wireflow: the Kling node failed: {reason}; this looks temporary: submitting again may work{where}.",
        text=_PASSING.pattern,
        retryable=True,
    ),
    Rule(
        ErrorCode.PROVIDER_FAILED,
        "Wireflow: the Kling node failed: {reason}; check the prompt and the image{where}.",
        retryable=False,
    ),
)


def failure(text: str, where: str = "") -> ProviderErrorInfo:
    """A failed run in our terms, by FAILURES: refusals on content grounds apart, passing faults retryable."""
    text = text or "no reason given"
    found = find_rule(FAILURES, text=text)
    assert found is not None  # the last row has no condition
    rule = found[0]
    return ProviderErrorInfo(
        code=rule.code, message=rule.render({"reason": text, "where": where}), retryable=bool(rule.retryable)
    )


def read_poll(body: Any, video_node: str = VIDEO_NODE, where: str = "") -> Snapshot:
    """A Snapshot from GET /workflows/executions/{id}/poll, in any of its known shapes."""
    answer = PollAnswer.read(_unwrap(body))
    status = (answer.status or "").upper()
    state = answer.node(video_node)
    if status == "COMPLETED":
        url = video_url(answer, video_node)
        if url:
            return Snapshot(status="succeeded", progress=1.0, message="the Kling video is ready", video_url=url)
        info = failure(f"the run completed without a video from node {video_node!r}", where)
        return Snapshot(status="failed", message=info.message, error=info)
    if status == "FAILED":
        info = failure(_text(state.error) or _text(answer.error), where)
        return Snapshot(status="failed", message=info.message, error=info)
    if status in ("CANCELLED", "CANCELED"):
        return Snapshot(status="cancelled", message="the run was cancelled in Wireflow")
    if (state.status or "").upper() in _WAITING:
        return Snapshot(status="queued", message="waiting for the Kling node to start")
    progress = _progress(answer.progress)
    shown = f" ({progress:.0%})" if progress is not None else ""
    return Snapshot(status="running", progress=progress, message=f"Kling is rendering{shown}")


def execution_id(body: Any) -> str | None:
    """The execution id from /execute ({executionRuns: [{id}]} or {executionId}) or /run ({data: {executionId}})."""
    return ExecuteAnswer.read(_unwrap(body)).execution


def _error_text(error: ErrorBody) -> str:
    """{"error": "..."} or the Stripe-style {"error": {type, code, message}}, plus graph-lint violations."""
    parts = [_text(error.error) or _text(error.message)]
    parts += [f"{v.message}" + (f" ({v.fix})" if v.fix else "") for v in error.violations if v.message]
    return "; ".join(part.rstrip(". ") for part in parts if part)[:500]


_SERVER = "Wireflow server error (HTTP {status}) on {where}: {detail}; it may pass: retry in a minute{ref}."
# Wireflow's error answers by status, each with what to do and the request id for its support; the last row
# takes every status the others do not.
ERRORS = (
    Rule(
        ErrorCode.AUTH,
        "Wireflow rejected the API key (HTTP {status}: {detail}). Set WIREFLOW_API_KEY to a valid key; keys start "
        f"with sk- and are made under API keys at {SETTINGS_PAGE}{{ref}}.",
        status=(401, 403),
    ),
    Rule(
        ErrorCode.OUT_OF_CREDIT,
        f"Wireflow: not enough credits: {{amounts}}. Top up under Billing at {SETTINGS_PAGE}, or pick a shorter or "
        "cheaper video{ref}.",
        status=402,
    ),
    Rule(ErrorCode.NOT_FOUND, "Wireflow: not found ({detail}) on {where}{ref}.", status=(404, 410)),
    Rule(ErrorCode.RATE_LIMITED, "Wireflow rate limit reached{plan}: {detail}{after}{ref}.", status=429),
    Rule(ErrorCode.TRANSIENT, _SERVER, status=range(500, 1000)),
    Rule(ErrorCode.TRANSIENT, _SERVER, status=408),
    Rule(ErrorCode.INVALID_INPUT, "Wireflow refused the request (HTTP {status}): {detail}{ref}."),
)


def map_error(response: httpx.Response) -> ProviderError:
    """Wireflow's error answers in our terms, by ERRORS; the figures its messages quote come from the body
    (402's credits, 429's retryAfter) and the headers (the request id, the plan's limit, Retry-After)."""
    status = response.status_code
    body = ErrorBody.read(json_body(response))
    detail = _error_text(body) or f"HTTP {status}"
    request_id = response.headers.get("x-request-id")
    wait = None
    if status == 429:
        wait = parse_retry_after(response.headers)
        if wait is None and body.retryAfter is not None:  # the docs' body: {"error", "retryAfter": <epoch>}
            wait = parse_retry_after({"x-ratelimit-reset": f"{body.retryAfter:.0f}"})
    need, have = body.requiredCredits, body.availableCredits
    balance = f"{have:g}" if have is not None else "fewer"
    limit = response.headers.get("x-ratelimit-limit")
    fields = {
        "status": status,
        "detail": detail,
        "ref": f" (request id {request_id})" if request_id else "",
        "where": f"{response.request.method} {response.request.url.path}",
        "amounts": f"this run needs {need:g} credits and the account has {balance}" if need is not None else detail,
        "plan": f" ({limit} requests a minute on this plan)" if limit else "",
        "after": f"; retry in {math.ceil(wait)} s" if wait is not None else "",
    }
    found = find_rule(ERRORS, status=status, text=detail)
    assert found is not None  # the last row has no condition
    rule = found[0]
    return ProviderError(rule.code, rule.render(fields), retryable=rule.retryable, retry_after=wait)


# -- rate limits ----------------------------------------------------------------------------------
def _bucket(method: str, path: str) -> str:
    """Wireflow counts executions (10 a minute on every plan) apart from all other requests."""
    execution = method.upper() == "POST" and path.rstrip("/").endswith(("/execute", "/run"))
    return "executions" if execution else "requests"


class RateLimit:
    """One X-RateLimit-* window of one API key, as Wireflow's answers tell it. Requests are spread evenly over
    what is left of the window; none is sent past Remaining until Reset. Until an answer has told, requests go
    at once (the first ones learn the limit). Safe from any task of one event loop, and from threads."""

    MAX_WAIT = 60.0  # a window is a minute: a longer Reset is someone's clock being wrong

    def __init__(self, clock: Any = time.time):
        self.clock = clock
        self.limit: int | None = None
        self.remaining: int | None = None
        self.reset_at: float | None = None  # epoch seconds
        self.next_at = 0.0
        self.in_flight = 0
        self._lock = threading.Lock()
        self._turn = anyio.Lock()  # the queue of waiting requests (see acquire)

    async def acquire(self) -> None:
        """Wait for a slot, in turn: requests are let through in the order they asked (a submit queued behind
        900 others is not overtaken forever), and only the first in line sleeps on the clock (not every waiter
        waking at every slot)."""
        async with self._turn:
            while (wait := self.reserve()) > 0:  # noqa: ASYNC110 - the clock frees a slot, no task sets an event
                await anyio.sleep(wait)

    def reserve(self) -> float:
        """0: a slot is booked for a request sent now; else the seconds to wait before asking again."""
        with self._lock:
            now = self.clock()
            if self.reset_at is not None and now >= self.reset_at:
                self.remaining, self.reset_at, self.next_at = self.limit, None, 0.0  # a fresh window
            if self.reset_at is not None:
                if (self.remaining or 0) <= 0:
                    return min(self.reset_at - now + 0.01, self.MAX_WAIT)
                if now < self.next_at:
                    return min(self.next_at - now, self.MAX_WAIT)
                self.next_at = now + (self.reset_at - now) / self.remaining
            elif self.remaining is not None and self.remaining <= 0 and self.in_flight:
                return 0.05  # a new window's allowance is spent before any answer told its Reset: wait for one
            if self.remaining is not None:
                self.remaining -= 1
            self.in_flight += 1
            return 0.0

    def release(self) -> None:
        with self._lock:
            self.in_flight = max(0, self.in_flight - 1)

    def observe(self, status: int, headers: Mapping[str, str]) -> None:
        """Learn from an answer's X-RateLimit-Limit/Remaining/Reset (and a 429's Retry-After)."""
        limit, left, reset = (_number_header(headers, f"x-ratelimit-{n}") for n in ("limit", "remaining", "reset"))
        if left is None or reset is None:
            return
        with self._lock:
            now = self.clock()
            reset = reset / 1000 if reset > 1e12 else reset if reset > 1e9 else now + reset
            if status == 429:
                left = 0
                reset = max(reset, now + (parse_retry_after(headers, now) or 0.0))
            self.limit = int(limit) if limit is not None else self.limit
            if self.reset_at is None or reset > self.reset_at + 0.5:  # a newer window than we knew
                others = max(0, self.in_flight - 1)  # sent, not yet counted there
                self.reset_at, self.remaining = reset, max(0, int(left) - others)
            elif reset >= self.reset_at - 0.5:  # the same window: trust the lower count
                self.remaining = min(int(left), self.remaining if self.remaining is not None else int(left))


def _number_header(headers: Mapping[str, str], name: str) -> float | None:
    try:
        value = float(str(headers.get(name, "")).strip())
    except ValueError:
        return None
    return value if math.isfinite(value) else None


# -- the provider ---------------------------------------------------------------------------------


class WireflowProvider(Provider):
    name = "wireflow"
    title = "Wireflow"
    env_vars = ("WIREFLOW_API_KEY",)
    default_model = "kling-2.5-turbo"
    models = MODELS
    supports_cancel = False  # Wireflow documents no way to stop an execution
    # The spec document's 24 h replay of an Idempotency-Key (not in the official docs): past it a resend would
    # surely run again; within it, it may too, if the real API ignores the header.
    reconcile_within = 23 * 3600
    base_url_default = "https://www.wireflow.ai/api/v1"
    id_field, where_to_check = "execution id", "the workflow's runs in Wireflow"  # for no_id

    def __init__(
        self, env: Mapping[str, str] | None = None, allowed_dirs: Sequence[Path] = (), tuning: Tuning | None = None
    ):
        super().__init__(env, allowed_dirs, tuning)
        self._workflows: dict[str, str] = {}  # saved body hash -> workflow id
        self._uploads: dict[str, str] = {}  # image sha256 -> hosted URL
        self._saving = anyio.Lock()  # two jobs of a new shape save one workflow, not two
        self._executing = anyio.Lock()  # the runs waiting for the executions allowance (see submit)
        # This provider's one API key: one window per bucket, shared by every job.
        self.limits = {"requests": RateLimit(), "executions": RateLimit()}
        self._polled: dict[str, float] = {}  # execution id -> monotonic time of its latest poll (see _followed)
        self._pruned_at = -math.inf

    def http_options(self) -> dict[str, Any]:
        return {
            "headers": {"Authorization": f"Bearer {self.env.get('WIREFLOW_API_KEY', '')}"},
            "error_mapper": self._map_error,
        }

    def _map_error(self, response: httpx.Response) -> ProviderError:
        self._observe(response)  # a refusal's X-RateLimit-* count as much as a success's
        return map_error(response)

    def _observe(self, response: httpx.Response) -> None:
        bucket = _bucket(response.request.method, response.request.url.path)
        self.limits[bucket].observe(response.status_code, response.headers)

    def check(self, request: VideoRequest) -> None:
        # Kling's start+end frame support (its capability map): 2.5 Turbo only as pro, 2.6 Pro only silent.
        if request.end_image and request.model == "kling-2.5-turbo" and request.resolution != "1080p":
            raise InvalidRequest("kling-2.5-turbo takes an end_image only at 1080p (Kling 2.5 Turbo Pro)")
        if request.end_image and request.model == "kling-2.6-pro" and request.audio:
            raise InvalidRequest("kling-2.6-pro takes an end_image only without audio; set audio to false")

    async def _send(self, method: str, path: str, **options: Any) -> httpx.Response:
        """One API call, in its turn under this key's rate limit. A 429 proves the request was not acted on, so
        it waits its turn again (the limit has learned the window from the 429) and is resent: a queue of runs
        longer than the executions allowance waits, it does not fail. Only a plan allowing no request at all
        (X-RateLimit-Limit 0; one more try, as before) or MAX_REFUSALS refusals in a row, though every send was
        paced (another client spending the same key), end with RATE_LIMITED."""
        limit = self.limits[_bucket(method, path)]
        refusals = 0
        while True:
            await limit.acquire()
            try:
                response = await self.http.request(method, path, **options)
                self._observe(response)  # while still counted in flight (as a refusal is, in _map_error)
                return response
            except ProviderError as error:
                if error.code is not ErrorCode.RATE_LIMITED:
                    raise
                refusals += 1
                if refusals >= (2 if limit.limit == 0 else MAX_REFUSALS):
                    if refusals > 2:
                        error.message += (
                            f" Refused {refusals} times in a row though this server spaced its requests to the "
                            "limit: another client may be spending the same key (WIREFLOW_API_KEY); give this "
                            "server a key of its own, or a plan with a higher limit."
                        )
                        error.args = (error.message,)
                    raise
            finally:
                limit.release()

    def retry_policy(self) -> RetryPolicy:
        # Wireflow's docs: retry a 500 once. A 429 is resent by _send, in its turn under the rate limit: the
        # shared client's own resend (after Retry-After, at the window's start) would bypass that turn and
        # collide with the requests the new window lets through, again and again.
        base = super().retry_policy()
        return replace(base, attempts=2, retry_statuses=base.retry_statuses - {429})

    def poll_interval(self, spec: ModelSpec, elapsed: float) -> float:
        # Wireflow's advice: 1 s, growing x1.5 per poll, at most 10 s. After n polls 2 * (1.5**n - 1)
        # seconds have passed, so the next wait is 1 + elapsed / 2. At 10 s a job spends 6 of the
        # Free plan's 10 requests a minute: with more jobs than the plan's requests a minute can poll at that
        # cadence, each is polled less often, so that all the polls together take POLL_SHARE of the limit
        # (the rest is for submits: saving, pricing, uploads). Polling faster would only queue the polls in
        # the limiter, each holding one of the engine's few poll workers, and stall every other provider's.
        cadence = min(10.0, 1.0 + elapsed / 2)
        allowed = self.limits["requests"].limit
        if not allowed:
            return cadence
        return max(cadence, self._followed() * 60.0 / (POLL_SHARE * allowed))

    def _followed(self) -> int:
        """How many executions this process polls now: polled within FOLLOWED_SECONDS and not finished."""
        now = time.monotonic()
        if now >= self._pruned_at + 1.0:
            self._pruned_at = now
            spacing = len(self._polled) * 60.0 / (POLL_SHARE * (self.limits["requests"].limit or 1))
            horizon = now - max(FOLLOWED_SECONDS, 3 * spacing)
            self._polled = {ref: at for ref, at in self._polled.items() if at >= horizon}
        return len(self._polled)

    async def submit(self, job_id: str, request: VideoRequest, callback_url: str | None = None) -> Submission:
        spec = self.spec(request.model)
        assert spec is not None, "the catalog resolved the model"
        image = await self._hosted(request.images[0]) if request.images else ""
        end = await self._hosted(request.end_image) if request.end_image else ""
        saved = saved_workflow(spec, request)
        run = {**build_graph(spec, request, image, end), "targetNodeId": VIDEO_NODE}
        quote = spec.price_for(request.duration, request.resolution, request.audio)[0]
        workflow_id = await self._workflow(saved)
        # Runs wait for the executions allowance one at a time, in order, each priced just before it runs:
        # 900 jobs queued at 10 runs a minute do not all price theirs at once (900 requests ahead of every
        # poll in the requests allowance), and the credit check is made when the run starts, not an hour early.
        async with self._executing:
            try:
                credits = await self._estimate(workflow_id, run, quote)
                execution, response = await self._execute(workflow_id, run, job_id)
            except ProviderError as error:
                if error.code is not ErrorCode.NOT_FOUND:
                    raise
                # The saved workflow was deleted in Wireflow: save it again, once.
                workflow_id = await self._workflow(saved, fresh=True)
                credits = await self._estimate(workflow_id, run, quote)
                execution, response = await self._execute(workflow_id, run, job_id)
        state = {
            "workflow_id": workflow_id,
            "video_node": VIDEO_NODE,
            "request_id": response.headers.get("x-request-id", ""),
            "estimated_credits": credits,
        }
        return Submission(ref=execution, state=state)

    async def reconcile(self, job_id: str, request: VideoRequest) -> Submission | None:
        """Send the run again under the same Idempotency-Key. If Wireflow replays it (the spec document says it
        does for 24 h; the official docs say nothing), the first run comes back, or, if the first request never
        arrived, the run starts now; if it ignores the key, a second run may start and be billed. Passing faults
        are waited out here, as the engine does not resend after a reconcile. Only within the 24 h: the engine
        calls this right after a lost answer, or when it restarts with a job caught mid-submit."""
        for attempt in range(ASKS):
            try:
                return await self.submit(job_id, request)
            except ProviderError as error:
                if not error.retryable or attempt == ASKS - 1:
                    raise
                policy = self.http.policy
                await anyio.sleep(min(error.retry_after or backoff_delay(attempt, policy), policy.max_retry_after))
        raise AssertionError("unreachable")

    async def poll(self, submission: Submission, request: VideoRequest) -> Snapshot:
        self._polled[submission.ref] = time.monotonic()
        response = await self._send("GET", f"/workflows/executions/{submission.ref}/poll")
        request_id = response.headers.get("x-request-id")
        where = f" (execution {submission.ref}" + (f", request id {request_id})" if request_id else ")")
        snapshot = read_poll(json_body(response), submission.state.get("video_node", VIDEO_NODE), where)
        if snapshot.status in TERMINAL:
            self._polled.pop(submission.ref, None)
        if snapshot.error is not None:  # the node's error text is Wireflow's: redact it like any other
            snapshot.error.message = snapshot.message = self.http.redact(snapshot.error.message)
        return snapshot

    # -- internals -----------------------------------------------------------------------------
    async def _workflow(self, saved: dict[str, Any], fresh: bool = False) -> str:
        """The id of the saved workflow with this body: remembered, found again by its name, or saved now."""
        key = hashlib.sha256(json.dumps(saved, sort_keys=True).encode()).hexdigest()
        async with self._saving:
            if fresh:
                self._workflows.pop(key, None)
            if key not in self._workflows:
                # Found again after a restart, so a resent run goes to the same workflow as the first.
                found = None if fresh else await self._find_workflow(saved["name"])
                self._workflows[key] = found or await self._save(saved)
            return self._workflows[key]

    async def _find_workflow(self, name: str) -> str | None:
        """The id of an active saved workflow called `name` (GET /workflows), or None."""
        try:
            response = await self._send("GET", "/workflows", params={"isActive": "true"})
        except ProviderError as error:
            if error.retryable:
                raise
            return None  # no listing for this key (or this API): saving another copy costs nothing
        body = json_body(response)
        listed = body.get("data") if isinstance(body, dict) else body
        for workflow in listed if isinstance(listed, list) else []:
            if isinstance(workflow, dict) and workflow.get("name") == name and workflow.get("isActive") is not False:
                if workflow.get("id"):
                    return str(workflow["id"])
        return None

    async def _save(self, saved: dict[str, Any]) -> str:
        """POST /workflows. Saving costs nothing, but a lost answer (a reset, a 500, a cut-off body) is not
        simply re-sent: the workflow is looked for by its name first, so the account gains no spare copies."""
        for _ in range(ASKS):
            try:
                response = await self._send("POST", "/workflows", json=saved)
                workflow_id = Saved.read(_unwrap(json_body(response))).id
            except ProviderError as error:
                if error.code is not ErrorCode.SUBMIT_UNCONFIRMED:
                    raise
                workflow_id = None
            workflow_id = workflow_id or await self._find_workflow(saved["name"])
            if workflow_id:
                return str(workflow_id)
        raise ProviderError(
            ErrorCode.TRANSIENT,
            f"Wireflow: saving the workflow {saved['name']!r} lost its answer {ASKS} times and the workflow was "
            "not found by its name; it may pass.",
        )

    async def _estimate(self, workflow_id: str, run: dict[str, Any], quote: float) -> float | None:
        """Wireflow's predicted credits for this run (POST /workflows/{id}/estimate, free), checked against our
        quote before anything is spent. None: no figure came back (the run goes ahead at our quote)."""
        body = {"nodes": run["nodes"], "edges": run["edges"]}
        try:
            response = await self._send("POST", f"/workflows/{workflow_id}/estimate", json=body, idempotent=True)
        except ProviderError as error:
            if error.code is not ErrorCode.NOT_FOUND:
                raise
            return None  # no estimate route (or the workflow is gone, which the execute will say)
        estimate = Estimate.read(_unwrap(json_body(response)))
        credits = estimate.estimatedCredits
        if estimate.sufficient is False:
            have = f"{estimate.availableCredits:g}" if estimate.availableCredits is not None else "fewer"
            raise ProviderError(
                ErrorCode.OUT_OF_CREDIT,
                f"Wireflow: not enough credits: this run needs {credits or 0:g} credits and the account has {have}. "
                f"Top up under Billing at {SETTINGS_PAGE}, or pick a shorter or cheaper video; nothing was run.",
            )
        if credits is not None and credits / 100 > quote + 1e-9:
            raise ProviderError(
                ErrorCode.OVER_BUDGET,
                f"Wireflow prices this run at {credits:g} credits (${credits / 100:.2f}), above the ${quote:.2f} "
                "quoted and reserved for it; nothing was run. Our Wireflow prices are assumptions: tell the "
                "maintainers, or pick a shorter or cheaper video.",
                retryable=False,
            )
        return credits

    async def _execute(self, workflow_id: str, run: dict[str, Any], job_id: str) -> tuple[str, httpx.Response]:
        """Start the run: (its execution id, the answer). A lost or unreadable answer is asked for again under
        the same Idempotency-Key, which the spec document (not Wireflow's docs) says replays the first answer."""
        headers = {"Idempotency-Key": job_id}
        path = f"/workflows/{workflow_id}/execute"
        request_ids = []
        for _ in range(ASKS):
            response = await self._send("POST", path, json=run, headers=headers, idempotent=True)
            execution = execution_id(json_body(response))
            if execution:
                return execution, response
            request_ids.append(response.headers.get("x-request-id") or "none")
        raise self.no_id(
            response.status_code,
            job_id,
            what=f"the run of workflow {workflow_id}",
            detail=f" in {ASKS} answers (request ids {', '.join(request_ids)})",
        )

    async def _hosted(self, image: str) -> str:
        """A URL Wireflow can fetch: URLs as they are, local files uploaded (POST /media/upload) once."""
        if classify(image) == "url":
            return image
        data, mime = await anyio.to_thread.run_sync(to_bytes, image, self.allowed_dirs)
        digest = hashlib.sha256(data).hexdigest()
        if digest in self._uploads:
            return self._uploads[digest]
        name = f"start-frame-{digest[:12]}.{mime.split('/')[-1].replace('jpeg', 'jpg')}"
        for _ in range(ASKS):
            # Uploading twice costs nothing (a spare asset at worst): a lost or unreadable answer is asked again.
            response = await self._send(
                "POST", "/media/upload", files={"file": (name, data, mime)}, idempotent=True, expected=(200, 201)
            )
            if url := _url(Saved.read(_unwrap(json_body(response))).url):
                self._uploads[digest] = url
                return url
        raise ProviderError(
            ErrorCode.TRANSIENT, f"Wireflow took the image upload but sent no URL back {ASKS} times; it may pass."
        )
