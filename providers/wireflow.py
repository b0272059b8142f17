"""Wireflow: Kling video models run as small workflows on wireflow.ai.

Wireflow runs graphs, not single model calls. A job is a tiny graph: a text input, an image input
for image-to-video, and one Kling node. Each graph shape is saved once under a name made from its hash
(found again with GET /workflows, else saved with POST /workflows), then executed with the job's values
in the nodes' `config` (POST /workflows/{id}/execute with targetNodeId = the Kling node) and polled (GET
/workflows/executions/{id}/poll) until the Kling node has a video URL.

Lost answers. The execute carries `Idempotency-Key: <our job id>`; the spec document says identical keys
replay the original response for 24 hours, so an execute whose answer was lost (a reset, a timeout, a 500
from a gateway, a cut-off body) is sent again with the same key, during the submit and when the engine
reconciles (after a restart too): one run either way. Wireflow's official docs do not mention the header:
if the real API ignored it, a resend could start (and bill) a second run. Saving a workflow or uploading an
image costs nothing, so a lost answer there is simply asked for again.

Sources: wireflow.ai/docs/api and the official wireflowINC/wireflow-skill (references/api.md,
references/workflow-schema.md, scripts/wf.sh). Confirmed there: node types input:text, input:image,
video:kling_video_2_5_i2v (config.model_version 2.5-pro, 2.5-standard, 2.6-pro, ...) and
generate:kling_1_6_pro (text to video); the image port `in-image_url`; POST /media/upload for local
files. Not confirmed: `video:kling_video_2_5_t2v`, the text-to-video twin of the i2v node (the guide's
naming). No cancel endpoint is documented, so jobs cannot be cancelled at Wireflow.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import anyio.to_thread

from providers.base import (
    ErrorCode,
    ModelSpec,
    PriceRule,
    Provider,
    ProviderError,
    ProviderErrorInfo,
    Snapshot,
    Submission,
    VideoRequest,
    json_body,
)
from providers.http import RetryPolicy, backoff_delay, parse_retry_after
from providers.images import classify, to_bytes

if TYPE_CHECKING:
    import httpx

KLING_I2V = "video:kling_video_2_5_i2v"
KLING_T2V = "video:kling_video_2_5_t2v"  # unconfirmed: named after the i2v node, as the guide does
KLING_16 = "generate:kling_1_6_pro"

# Fixed node ids: the same shape of graph hashes the same every time, so it is saved only once.
PROMPT_NODE, IMAGE_NODE, VIDEO_NODE = "prompt", "image", "kling"
# No query strings: messages are redacted, and redaction drops them (signed URLs carry tokens there).
SETTINGS_PAGE = "https://www.wireflow.ai/settings"

# How often an answer that came back unreadable (cut off, not JSON) is asked for again, and how often
# `reconcile` resends a run that a passing fault kept from being confirmed.
ASKS = 3
CREDIT = "Wireflow bills credits (1 credit = $0.01)"
ESTIMATE = "POST /workflows/{id}/estimate gives the exact figure"


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
        price=PriceRule(
            by_duration={"5": 0.35, "10": 0.70},
            resolution_factor={"720p": 0.6},
            note=f"{CREDIT}: 35 per 5 s at 1080p, 21 at 720p; assumed from fal.ai's Kling price, {ESTIMATE}",
        ),
    ),
    _kling(
        id="kling-2.6-pro",
        name="Kling 2.6 Pro (Wireflow)",
        description="Kling 2.6 Pro from text or a start frame, 1080p, with optional generated audio.",
        audio=True,
        price=PriceRule(
            per_second=0.07,
            per_second_audio=0.14,
            note=f"{CREDIT}: 7 per second, 14 with audio; assumed from fal.ai's Kling price, {ESTIMATE}",
        ),
    ),
    _kling(
        id="kling-1.6-pro",
        name="Kling 1.6 Pro (Wireflow)",
        description="Kling 1.6 Pro, text to video only, 1080p.",
        modes=("text_to_video",),
        price=PriceRule(
            by_duration={"5": 0.50, "10": 1.00},
            note=f"{CREDIT}: 50 per 5 s; assumed (about fal.ai's Kling 1.6 Pro price), {ESTIMATE}",
        ),
    ),
)


@dataclass(frozen=True)
class Wiring:
    """How a model becomes a Kling node: its nodeType per mode and the config it needs."""

    node_types: Mapping[str, str]  # mode -> data.nodeType
    versions: Mapping[str, str] = field(default_factory=dict)  # resolution -> config.model_version
    audio_param: bool = True  # whether the node takes generate_audio


WIRING: dict[str, Wiring] = {
    "kling-2.5-turbo": Wiring(
        {"text_to_video": KLING_T2V, "image_to_video": KLING_I2V}, {"1080p": "2.5-pro", "720p": "2.5-standard"}
    ),
    "kling-2.6-pro": Wiring({"text_to_video": KLING_T2V, "image_to_video": KLING_I2V}, {"1080p": "2.6-pro"}),
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


def build_graph(spec: ModelSpec, request: VideoRequest, image_url: str = "") -> dict[str, list[dict]]:
    """{nodes, edges} running `request`: the job's values sit in each node's config."""
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
        image = {"image": image_url, "imageUrl": image_url}
        outputs = [_port("image", "IMAGE", "Image")]
        nodes.append(
            _node(IMAGE_NODE, "input:image", "Start frame", image, 100, 500, inputType="image", outputs=outputs)
        )
        edges.append(_edge(IMAGE_NODE, "image", VIDEO_NODE, "image_url"))
        inputs.append(_port("image_url", "IMAGE", "Start frame"))
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


# -- reading Wireflow's answers -------------------------------------------------------------------
_CONTENT = re.compile(r"content.?polic|moderat|safety|nsfw|flagged|inappropriate|prohibited|sensitive", re.I)
_PASSING = re.compile(r"internal|timed? ?out|temporar|unavailable|overloaded|try again", re.I)
_WAITING = {"PENDING", "QUEUED", "WAITING", "IDLE"}


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


def _text(value: Any) -> str:
    if isinstance(value, dict):
        value = value.get("message") or value.get("error") or ""
    return " ".join(str(value or "").split())


def _node_states(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per-node records by node id, from `nodeStates` (the skill), `nodeResults.nodeRuns` (the docs),
    or the `nodeRuns` of an execution run."""
    results = data.get("nodeResults")
    runs = data.get("executionRuns")
    lists = [
        data.get("nodeStates"),
        results.get("nodeRuns") if isinstance(results, dict) else None,
        data.get("nodeRuns"),
        runs[0].get("nodeRuns") if isinstance(runs, list) and runs and isinstance(runs[0], dict) else None,
    ]
    states: dict[str, dict[str, Any]] = {}
    for records in lists:
        for record in records if isinstance(records, list) else []:
            if isinstance(record, dict) and record.get("nodeId") is not None:
                states.setdefault(str(record["nodeId"]), record)
    return states


def video_url(data: dict[str, Any], video_node: str = VIDEO_NODE) -> str | None:
    """The finished video: the video node's own output first, then the run's final output."""
    outputs = data.get("nodeOutputs")
    mine = outputs.get(video_node) if isinstance(outputs, dict) else None
    state = _node_states(data).get(video_node, {})
    candidates = (
        mine.get("video") if isinstance(mine, dict) else mine,
        state.get("outputUrl"),
        state.get("outputUrls"),
        data.get("finalOutput"),
    )
    return next(filter(None, map(_url, candidates)), None)


def _progress(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return max(0.0, min(1.0, value / 100 if value > 1 else float(value)))


def failure(text: str, where: str = "") -> ProviderErrorInfo:
    """A failed run in our terms: refusals on content grounds apart, passing faults marked retryable."""
    text = text or "no reason given"
    if _CONTENT.search(text):
        message = (
            f"Wireflow: Kling refused the request on content grounds: {text}. "
            f"Rephrase the prompt or use another image{where}."
        )
        return ProviderErrorInfo(code=ErrorCode.CONTENT_POLICY, message=message, retryable=False)
    passing = bool(_PASSING.search(text))
    hint = "this looks temporary: submitting again may work" if passing else "check the prompt and the image"
    message = f"Wireflow: the Kling node failed: {text}; {hint}{where}."
    return ProviderErrorInfo(code=ErrorCode.PROVIDER_FAILED, message=message, retryable=passing)


def read_poll(body: Any, video_node: str = VIDEO_NODE, where: str = "") -> Snapshot:
    """A Snapshot from GET /workflows/executions/{id}/poll, in any of its known shapes."""
    data = _unwrap(body)
    status = str(data.get("status", "")).upper()
    state = _node_states(data).get(video_node, {})
    if status == "COMPLETED":
        url = video_url(data, video_node)
        if url:
            return Snapshot(status="succeeded", progress=1.0, message="the Kling video is ready", video_url=url)
        info = failure(f"the run completed without a video from node {video_node!r}", where)
        return Snapshot(status="failed", message=info.message, error=info)
    if status == "FAILED":
        info = failure(_text(state.get("error")) or _text(data.get("error")), where)
        return Snapshot(status="failed", message=info.message, error=info)
    if status in ("CANCELLED", "CANCELED"):
        return Snapshot(status="cancelled", message="the run was cancelled in Wireflow")
    if str(state.get("status", "")).upper() in _WAITING:
        return Snapshot(status="queued", message="waiting for the Kling node to start")
    progress = _progress(data.get("progress"))
    shown = f" ({progress:.0%})" if progress is not None else ""
    return Snapshot(status="running", progress=progress, message=f"Kling is rendering{shown}")


def execution_id(body: Any) -> str | None:
    """The execution id from /execute ({executionRuns: [{id}]} or {executionId}) or /run ({data: {executionId}})."""
    data = _unwrap(body)
    runs = data.get("executionRuns")
    if isinstance(runs, list) and runs and isinstance(runs[0], dict) and runs[0].get("id"):
        return str(runs[0]["id"])
    value = data.get("executionId")
    return str(value) if value else None


def _error_text(body: Any) -> str:
    """{"error": "..."} or the Stripe-style {"error": {type, code, message}}, plus graph-lint violations."""
    if not isinstance(body, dict):
        return ""
    error = body.get("error")
    parts = [_text(error) or _text(body.get("message"))]
    for violation in body.get("violations") or []:
        if isinstance(violation, dict) and violation.get("message"):
            fix = f" ({violation['fix']})" if violation.get("fix") else ""
            parts.append(f"{violation['message']}{fix}")
    return "; ".join(part.rstrip(". ") for part in parts if part)[:500]


def map_error(response: httpx.Response) -> ProviderError:
    """Wireflow's error answers, each with what to do about it and the request id for its support."""
    status = response.status_code
    body = json_body(response)
    detail = _error_text(body) or f"HTTP {status}"
    request_id = response.headers.get("x-request-id")
    ref = f" (request id {request_id})" if request_id else ""
    where = f"{response.request.method} {response.request.url.path}"
    if status in (401, 403):
        return ProviderError(
            ErrorCode.AUTH,
            f"Wireflow rejected the API key (HTTP {status}: {detail}). Set WIREFLOW_API_KEY to a valid key; "
            f"keys start with sk- and are made under API keys at {SETTINGS_PAGE}{ref}.",
        )
    if status == 402:
        need = body.get("requiredCredits") if isinstance(body, dict) else None
        have = body.get("availableCredits") if isinstance(body, dict) else None
        amounts = f"this run needs {need} credits and the account has {have}" if need is not None else detail
        return ProviderError(
            ErrorCode.OUT_OF_CREDIT,
            f"Wireflow: not enough credits: {amounts}. Top up under Billing at {SETTINGS_PAGE}, or pick a shorter or "
            f"cheaper video{ref}.",
        )
    if status in (404, 410):
        return ProviderError(ErrorCode.NOT_FOUND, f"Wireflow: not found ({detail}) on {where}{ref}.")
    if status == 429:
        wait = parse_retry_after(response.headers)
        limit = response.headers.get("x-ratelimit-limit")
        plan = f" ({limit} requests a minute on this plan)" if limit else ""
        after = f"; retry in {math.ceil(wait)} s" if wait is not None else ""
        return ProviderError(
            ErrorCode.RATE_LIMITED,
            f"Wireflow rate limit reached{plan}: {detail}{after}{ref}.",
            retry_after=wait,
        )
    if status >= 500 or status == 408:
        return ProviderError(
            ErrorCode.TRANSIENT, f"Wireflow server error (HTTP {status}) on {where}: {detail}; it may pass{ref}."
        )
    return ProviderError(ErrorCode.INVALID_INPUT, f"Wireflow refused the request (HTTP {status}): {detail}{ref}.")


# -- the provider ---------------------------------------------------------------------------------


class WireflowProvider(Provider):
    name = "wireflow"
    title = "Wireflow"
    env_vars = ("WIREFLOW_API_KEY",)
    default_model = "kling-2.5-turbo"
    models = MODELS
    supports_cancel = False  # Wireflow documents no way to stop an execution
    reconcile_within = 23 * 3600  # an Idempotency-Key replays for 24 h; past that a resend would run again
    base_url_default = "https://www.wireflow.ai/api/v1"

    def __init__(self, env: Mapping[str, str] | None = None, allowed_dirs: Sequence[Path] = ()):
        super().__init__(env, allowed_dirs)
        self._workflows: dict[str, str] = {}  # saved body hash -> workflow id
        self._uploads: dict[str, str] = {}  # image sha256 -> hosted URL
        self._saving = anyio.Lock()  # two jobs of a new shape save one workflow, not two

    def http_options(self) -> dict[str, Any]:
        return {
            "headers": {"Authorization": f"Bearer {self.env.get('WIREFLOW_API_KEY', '')}"},
            "error_mapper": map_error,
        }

    def retry_policy(self) -> RetryPolicy:
        # Wireflow's docs: retry a 500 once. A 429 also gets one more try, after its Retry-After.
        return replace(super().retry_policy(), attempts=2)

    def poll_interval(self, spec: ModelSpec, elapsed: float) -> float:
        # Wireflow's advice: 1 s, growing x1.5 per poll, at most 10 s. After n polls 2 * (1.5**n - 1)
        # seconds have passed, so the next wait is 1 + elapsed / 2. At 10 s a job spends 6 of the
        # Free plan's 10 requests a minute.
        return min(10.0, 1.0 + elapsed / 2)

    async def submit(self, job_id: str, request: VideoRequest, callback_url: str | None = None) -> Submission:
        spec = self.spec(request.model)
        assert spec is not None, "the catalog resolved the model"
        image = await self._hosted(request.images[0]) if request.images else ""
        saved = saved_workflow(spec, request)
        run = {**build_graph(spec, request, image), "targetNodeId": VIDEO_NODE}
        workflow_id = await self._workflow(saved)
        try:
            execution, response = await self._execute(workflow_id, run, job_id)
        except ProviderError as error:
            if error.code is not ErrorCode.NOT_FOUND:
                raise
            # The saved workflow was deleted in Wireflow: save it again, once.
            workflow_id = await self._workflow(saved, fresh=True)
            execution, response = await self._execute(workflow_id, run, job_id)
        state = {
            "workflow_id": workflow_id,
            "video_node": VIDEO_NODE,
            "request_id": response.headers.get("x-request-id", ""),
        }
        return Submission(ref=execution, state=state)

    async def reconcile(self, job_id: str, request: VideoRequest) -> Submission | None:
        """Send the run again under the same Idempotency-Key: Wireflow replays the first answer (the run it
        started) or, if the first request never arrived, starts it now. Passing faults are waited out here,
        as the engine does not resend after a reconcile. Safe only within the key's 24 h: the engine calls
        this right after a lost answer, or when it restarts with a job caught mid-submit."""
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
        response = await self.http.request("GET", f"/workflows/executions/{submission.ref}/poll")
        request_id = response.headers.get("x-request-id")
        where = f" (execution {submission.ref}" + (f", request id {request_id})" if request_id else ")")
        snapshot = read_poll(json_body(response), submission.state.get("video_node", VIDEO_NODE), where)
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
            response = await self.http.request("GET", "/workflows", params={"isActive": "true"})
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
                response = await self.http.request("POST", "/workflows", json=saved)
                workflow_id = _unwrap(json_body(response)).get("id")
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

    async def _execute(self, workflow_id: str, run: dict[str, Any], job_id: str) -> tuple[str, httpx.Response]:
        """Start the run: (its execution id, the answer). The Idempotency-Key makes a resend replay the first
        answer, so a lost or unreadable answer is asked for again rather than given up on."""
        headers = {"Idempotency-Key": job_id}
        path = f"/workflows/{workflow_id}/execute"
        request_ids = []
        for _ in range(ASKS):
            response = await self.http.request("POST", path, json=run, headers=headers, idempotent=True)
            execution = execution_id(json_body(response))
            if execution:
                return execution, response
            request_ids.append(response.headers.get("x-request-id") or "none")
        raise ProviderError(
            ErrorCode.SUBMIT_UNCONFIRMED,
            f"Wireflow accepted the run of workflow {workflow_id} but named no execution in {ASKS} answers "
            f"(request ids {', '.join(request_ids)}); check the workflow's runs in Wireflow before submitting again.",
            retryable=False,
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
            response = await self.http.request(
                "POST", "/media/upload", files={"file": (name, data, mime)}, idempotent=True, expected=(200, 201)
            )
            if url := _url(_unwrap(json_body(response)).get("url")):
                self._uploads[digest] = url
                return url
        raise ProviderError(
            ErrorCode.TRANSIENT, f"Wireflow took the image upload but sent no URL back {ASKS} times; it may pass."
        )
