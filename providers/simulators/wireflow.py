"""A local copy of Wireflow's workflow API (the part mcp-videogen uses), for tests and `mcp-videogen simulate`.

Written from wireflow.ai/docs/api (overview, workflows, executions, run, errors, rate-limits) and the official
wireflowINC/wireflow-skill (references/api.md, references/workflow-schema.md). Routes, as under
https://www.wireflow.ai/api/v1:
  POST /workflows                        save {name, nodes, edges, ...} -> 201 {data: {id, ...}, meta}
  GET  /workflows?isActive=true          the saved workflows -> {data: [{id, name, isActive, ...}]}
  GET  /workflows/{id}                   -> {data: workflow}
  POST /workflows/{id}/estimate          {} (the saved graph) or {nodes, edges} -> {data: {estimatedCredits, ...}}
  POST /workflows/{id}/execute           {nodes, edges, targetNodeId?, triggerData?}: nodes and edges are required
                                         (the docs); both empty runs the saved graph; without targetNodeId every
                                         model node runs -> 201 {workflowId, batchId, executionRuns: [{id, status,
                                         nodeRuns}]} and a Location header
  GET  /workflows/{id}/run               the input nodes /run takes
  POST /workflows/{id}/run               {inputs: {nodeId: value}} -> 202 {data: {executionId, status}}
  GET  /workflows/executions/{id}/poll   the skill's {data: {status, nodeResults: {nodeRuns: [{nodeId, status,
                                         output}]}, finalOutput}}; a Kling node's output is {video: {url}}
  POST /media/upload                     multipart `file` (or JSON {url}) -> 201 {data: {id, url, ...}}
  GET  /media/files/{name}               an uploaded file, as the CDN serves it (no key needed)
Node types: input:text, input:image, video:kling_video_2_5_i2v (text to video when no image is wired to
in-image_url; an end frame on in-end_image_url), generate:kling_1_6_pro, and the docs' image examples
generate:flux_2 and model:fal:text-to-image; any other nodeType fails graph lint (422), as the skill says.
An execute with an `Idempotency-Key` header is remembered for 24 simulated hours per API key: the same key
again replays the first answer and starts nothing, charges nothing. Only the spec document describes this
("Identical keys within 24 hours replay the original response"); Wireflow's official docs do not, and the switch
`idempotency: ignore` makes the simulator ignore the header as the real API may.
Every answer carries X-Request-Id and X-RateLimit-Limit/Remaining/Reset (Reset in epoch seconds), counted per API
key in fixed simulated minutes: POST .../execute and .../run against the executions limit (10 a minute on every
plan), everything else against the requests limit (Free 10, Starter 20, Pro 60, Enterprise 200; here 200 unless
VIDEOGEN_SIM_WIREFLOW_RATE_LIMIT or the switch says otherwise). Past a limit: 429 with Retry-After (seconds) and
{"error": "...", "retryAfter": <epoch seconds>}. Errors are {"error": "message"}; a graph that fails lint gets 422
with {"error": {type, code, message}, "violations": [{rule, message, fix, nodeId, edgeId}]}. Keys must look like
"sk-..." (a key starting "sk-expired" has expired). No cancel route: Wireflow documents none.

Test switches (POST /_sim/config, or `sim.config` in-process):
  credits: N                 the balance; a run costing more gets 402 (a run is charged when it starts)
  price_factor: F            Wireflow's credits are CLIP_CREDITS x F (estimates and charges alike)
  rate_limit_per_min: N      requests per simulated minute (per API key) before 429
  executions_per_min: N      executes and runs per simulated minute (per API key) before 429; default 10
  output_shape: nodeRuns | docs | nodeStates | nodeOutputs
                             how the poll reports outputs: the skill's wrapped body with finalOutput (default);
                             the docs' bare {status, nodeResults: {nodeRuns}} with the video only in
                             nodeRuns[].output; the skill script's nodeStates; the spec document's nodeOutputs
  video_output: video | videos                  a video node's output: {video: {url}} or {videos: [{url}]}
  execute_shape: executionRuns | executionId | data        how /execute answers
  idempotency: replay | ignore                             whether an Idempotency-Key replays (see above)
  fail_polls: N              the next N polls answer 500
  fail_execute: N            the next N executes start the run, then answer 500 (a gateway timing out)
"""

from __future__ import annotations

import difflib
import math
import os
import secrets
import struct
import time
import zlib
from collections import Counter
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from providers.images import image_size, sniff
from providers.simulators.common import SimJob, Simulator, public_root, video_url

KLING_I2V = "video:kling_video_2_5_i2v"  # text to video too, when nothing is wired to in-image_url
KLING_16 = "generate:kling_1_6_pro"
# The docs' own examples: a text-to-image node (executions) and the overview's quick start.
IMAGE_TYPES = frozenset({"model:fal:text-to-image", "generate:flux_2"})
# nodeType -> (input ports, output ports); anything else is an unknown nodeType.
PORTS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "input:text": (frozenset(), frozenset({"prompt", "text"})),
    "input:image": (frozenset(), frozenset({"image", "media", "url"})),
    KLING_I2V: (frozenset({"prompt", "image_url", "end_image_url"}), frozenset({"video"})),
    KLING_16: (frozenset({"prompt"}), frozenset({"video"})),
    **dict.fromkeys(IMAGE_TYPES, (frozenset({"prompt"}), frozenset({"image", "images"}))),
    "utility:sticky_note": (frozenset(), frozenset()),
}
VIDEO_TYPES = frozenset({KLING_I2V, KLING_16})
# Credits for a 5 s clip per model_version (generate:kling_1_6_pro has none); audio doubles them. Wireflow
# publishes no Kling node prices: these are fal.ai's (1 credit = $0.01); `price_factor` scales them.
CLIP_CREDITS = {
    "2.5-pro": 35,
    "2.5-standard": 21,
    "2.6-pro": 35,
    "3.0-pro": 56,
    "3.0-standard": 42,
    "o1": 56,
    "2.1-master": 70,
    KLING_16: 50,
}
IMAGE_CREDITS = 10  # the docs' 402 example: "Text to Image", 10 credits
AUDIO_VERSIONS = frozenset({"2.6-pro", "3.0-pro", "3.0-standard"})
# Kling's start+end frame support (its capability map): 2.5 Turbo only as pro, 2.6 Pro only silent.
END_FRAME_VERSIONS = frozenset({"2.5-pro", "2.6-pro", "2.1-master", "3.0-pro", "3.0-standard", "o1"})
DEFAULT_VERSION = "2.5-pro"
REPLAY_SECONDS = 24 * 3600  # how long an Idempotency-Key replays, in simulated seconds
RATIOS = ("16:9", "9:16", "1:1")
MAX_NODES, MAX_EDGES, MAX_PROMPT = 100, 500, 2500
MIN_IMAGE_SIDE = 300  # Kling's minimum for a start frame
REQUESTS_PER_MIN, EXECUTIONS_PER_MIN = 200, 10  # Enterprise's requests; executions are 10 on every plan
RATE_ENV = "VIDEOGEN_SIM_WIREFLOW_RATE_LIMIT"
FAILURES = {
    "content": "Content moderation: the prompt was flagged by the provider's safety system (content policy violation)",
    "internal": "Kling API error: internal server error at the upstream provider; please try again",
}


def _error(status: int, message: str, headers: dict[str, str] | None = None, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status_code=status, headers=headers)


def _now_iso(when: float | None = None) -> str:
    moment = datetime.fromtimestamp(time.time() if when is None else when, timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _violation(rule: str, message: str, fix: str = "", **where: str) -> dict[str, str]:
    return {"rule": rule, "message": message, **({"fix": fix} if fix else {}), **where}


def _config(node: dict[str, Any]) -> dict[str, Any]:
    """A node's values: `config` is the source of truth; older graphs use `params` (the docs' examples even put
    the prompt straight in `data`)."""
    data = node.get("data") or {}
    loose = {"prompt": data["prompt"]} if isinstance(data.get("prompt"), str) else {}
    return {**loose, **(data.get("params") or {}), **(data.get("config") or {})}


def _png(width: int = 64, height: int = 64) -> bytes:
    """A real, plain PNG (what a text-to-image node makes, as far as a test can tell)."""
    rows = b"".join(b"\x00" + bytes((200, 120, 40)) * width for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


class RequestIds:
    """ASGI middleware: an X-Request-Id on every answer, as Wireflow sends."""

    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = f"req_{secrets.token_hex(10)}".encode()

        async def stamped(message: dict) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id)]
            await send(message)

        await self.app(scope, receive, stamped)


class WireflowSim(Simulator):
    def __init__(self, speed: float = 1.0, rate_limit: int | None = None):
        super().__init__("wireflow", speed=speed, typical_seconds=60.0, queue_seconds=5.0)
        self.workflows: dict[str, dict[str, Any]] = {}
        self.media: dict[str, tuple[bytes, str]] = {}  # file name -> (bytes, mime)
        # (API key, Idempotency-Key) -> (when, status, answer, run id) of the execute that first carried it
        self.replays: dict[tuple[str, str], tuple[float, int, dict[str, Any], str]] = {}
        self.replayed = 0  # executes answered from `replays`: nothing started, nothing charged
        self.rate_limit = rate_limit
        self.counted: Counter[tuple[str, str, int]] = Counter()  # (API key, bucket, window) -> requests let in
        self.throttled = 0
        self.estimates = 0
        self.last_workflow: dict[str, Any] | None = None  # the last POST /workflows body

    def stats(self) -> dict[str, Any]:
        return {
            **super().stats(),
            "workflows": len(self.workflows),
            "uploads": len(self.media),
            "throttled": self.throttled,
            "replayed": self.replayed,
            "estimates": self.estimates,
        }

    def take(self, switch: str) -> bool:
        """Use up one of a counted fault switch (fail_polls, fail_execute)."""
        with self.lock:
            left = int(self.config.get(switch, 0))
            if left > 0:
                self.config[switch] = left - 1
            return left > 0

    def replay(self, request: Request) -> tuple[tuple[str, str] | None, Response | None]:
        """(the key this execute's answer is kept under, the kept answer if the key was seen in the last 24 h)."""
        key = request.headers.get("idempotency-key")
        if not key or self.config.get("idempotency") == "ignore":
            return None, None
        owner = request.headers.get("authorization", "").partition(" ")[2].strip()
        with self.lock:
            kept = self.replays.get((owner, key))
            if kept is None or time.time() - kept[0] > REPLAY_SECONDS / self.speed:
                return (owner, key), None
            self.replayed += 1
        return (owner, key), JSONResponse(kept[2], status_code=kept[1])

    # -- the gate every API call passes -----------------------------------------------------------
    def gate(self, request: Request) -> tuple[Response | None, dict[str, str]]:
        """(a refusal or None, the X-RateLimit-* headers for the answer)."""
        scheme, _, key = request.headers.get("authorization", "").partition(" ")
        key = key.strip()
        execution = request.method == "POST" and request.url.path.endswith(("/execute", "/run"))
        bucket = "executions" if execution else "requests"
        if scheme.lower() != "bearer" or not key.startswith("sk-"):
            return _error(401, "Invalid API key format. Expected: Bearer sk-..."), self._limits(key, bucket, False)
        if key.startswith("sk-expired"):
            return _error(401, "API key has expired"), self._limits(key, bucket, False)
        headers = self._limits(key, bucket, True)
        if headers["X-RateLimit-Remaining"] != "-1":
            return None, headers
        self.throttled += 1
        reset, now = int(headers["X-RateLimit-Reset"]), time.time()
        wait = max(0.0, self._window_end(now) - now)
        headers = {
            **headers,
            "X-RateLimit-Remaining": "0",
            "Retry-After": str(math.ceil(wait)) if wait >= 1 else f"{wait:.2f}",
        }
        limit = headers["X-RateLimit-Limit"]
        message = (
            "Too many workflow executions. Please try again later."
            if execution
            else f"Rate limit exceeded: {limit} requests per minute. Retry after {math.ceil(wait)} seconds."
        )
        return _error(429, message, headers, retryAfter=reset), headers

    def _limit(self, bucket: str) -> int:
        if bucket == "executions":
            return int(self.config.get("executions_per_min", EXECUTIONS_PER_MIN))
        limit = self.config.get("rate_limit_per_min", self.rate_limit)
        return int(REQUESTS_PER_MIN if limit is None else limit)

    def _window_end(self, now: float) -> float:
        window = 60.0 / self.speed  # a simulated minute
        return (math.floor(now / window) + 1) * window

    def _limits(self, key: str, bucket: str, count: bool) -> dict[str, str]:
        """Count one request in this key's current window (if `count`); its X-RateLimit-* headers, with
        Remaining -1 when the request is over the limit (not counted)."""
        now, limit = time.time(), self._limit(bucket)
        window = math.floor(now * self.speed / 60.0)
        with self.lock:
            used = self.counted[(key, bucket, window)]
            over = count and used >= limit
            if count and not over:
                used = self.counted[(key, bucket, window)] = used + 1
        remaining = -1 if over else max(0, limit - used)
        return {
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": str(math.ceil(self._window_end(now))),
        }

    # -- graphs -----------------------------------------------------------------------------------
    def lint(self, nodes: list[Any], edges: list[Any]) -> list[dict[str, str]]:
        """The graph-lint gate of create and execute: caps, ids, node types, dangling edges, handles."""
        found: list[dict[str, str]] = []
        if len(nodes) > MAX_NODES:
            found.append(_violation("max-nodes", f"{len(nodes)} nodes; a workflow may have at most {MAX_NODES}"))
        if len(edges) > MAX_EDGES:
            found.append(_violation("max-edges", f"{len(edges)} edges; a workflow may have at most {MAX_EDGES}"))
        types: dict[str, Any] = {}  # node id -> its nodeType, whatever was sent
        for node in nodes:
            node_id = node.get("id") if isinstance(node, dict) else None
            if not isinstance(node_id, str) or not node_id:
                found.append(_violation("missing-id", "every node needs a string id"))
                continue
            if node_id in types:
                found.append(_violation("duplicate-id", f"node id {node_id!r} is used twice", nodeId=node_id))
            data = node.get("data")
            node_type = data.get("nodeType") if isinstance(data, dict) else None
            if node_type not in PORTS:
                close = difflib.get_close_matches(str(node_type), PORTS, n=1)
                fix = f'Did you mean "{close[0]}"?' if close else "See GET /nodes for the node catalog."
                found.append(_violation("unknown-node-type", f"unknown nodeType {node_type!r}", fix, nodeId=node_id))
            types[node_id] = node_type
        for edge in edges:
            edge = edge if isinstance(edge, dict) else {}
            edge_id = str(edge.get("id", ""))
            source, target = edge.get("source"), edge.get("target")
            if source not in types or target not in types:
                found.append(_violation("dangling-edge", f"edge {edge_id!r} joins missing nodes", edgeId=edge_id))
                continue
            for side, node_id, prefix, index in (("source", source, "out-", 1), ("target", target, "in-", 0)):
                if types[node_id] not in PORTS:
                    continue  # reported above
                ports = PORTS[types[node_id]][index]
                handle = str(edge.get(f"{side}Handle", ""))
                if not handle.startswith(prefix) or handle[len(prefix) :] not in ports:
                    options = ", ".join(sorted(prefix + p for p in ports)) or "none"
                    message = f"edge {edge_id!r}: {types[node_id]} has no port {handle!r}"
                    fix = f"Ports: {options}"
                    found.append(_violation(f"bad-{side}-handle", message, fix, edgeId=edge_id, nodeId=node_id))
        return found

    def lint_error(self, violations: list[dict[str, str]]) -> JSONResponse:
        message = f"Workflow graph failed validation ({len(violations)} errors). Fix the violations and retry."
        error = {"type": "invalid_request_error", "code": "invalid_graph", "message": message}
        return JSONResponse({"error": error, "violations": violations, "warnings": [], "migrations": []}, 422)

    # -- runs -------------------------------------------------------------------------------------
    def _upstream(self, nodes: dict[str, dict], edges: list[dict], target: str, port: str) -> dict | None:
        for edge in edges:
            if edge.get("target") == target and edge.get("targetHandle") == f"in-{port}":
                return nodes.get(str(edge.get("source")))
        return None

    def _prompt(self, nodes: dict[str, dict], edges: list[dict], target: str) -> str:
        source = self._upstream(nodes, edges, target, "prompt")
        values = _config(source) if source else _config(nodes[target])
        return str(values.get("prompt") or values.get("text") or "")

    def _frame(self, nodes: dict[str, dict], edges: list[dict], target: str, port: str) -> str:
        """The image URL wired to `port` of `target`, "" when nothing is."""
        source = self._upstream(nodes, edges, target, port)
        if source is None:
            return ""
        image = _config(source)
        return str(image.get("image") or image.get("imageUrl") or "")

    def _check_node(self, nodes: dict[str, dict], edges: list[dict], target: str) -> tuple[str, dict, int] | str:
        """(prompt, config, credits) for the model node `target`, or what is wrong, in Wireflow's words."""
        node = nodes[target]
        node_type = node["data"]["nodeType"]
        label = node["data"].get("label") or target
        config = _config(node)
        prompt = self._prompt(nodes, edges, target)
        if not prompt.strip():
            return f"Node '{label}' needs a prompt: connect a Text Input with a non-empty prompt to in-prompt"
        if len(prompt) > MAX_PROMPT:
            return f"Node '{label}': prompt is {len(prompt)} characters; at most {MAX_PROMPT} are accepted"
        factor = float(self.config.get("price_factor", 1.0))
        if node_type in IMAGE_TYPES:
            return prompt, config, math.ceil(IMAGE_CREDITS * factor)
        if str(config.get("duration", 5)) not in ("5", "10"):
            return f"Node '{label}': duration must be 5 or 10 seconds, got {config.get('duration')!r}"
        if config.get("aspect_ratio", "16:9") not in RATIOS:
            return f"Node '{label}': aspect_ratio must be one of {', '.join(RATIOS)}"
        version = config.get("model_version", DEFAULT_VERSION) if node_type != KLING_16 else KLING_16
        if version not in CLIP_CREDITS:
            valid = ", ".join(v for v in CLIP_CREDITS if v != KLING_16)
            return f"Node '{label}': model_version {version!r} is not a Kling variant; valid values: {valid}"
        if config.get("generate_audio") and version not in AUDIO_VERSIONS:
            return f"Node '{label}': generate_audio is not supported by Kling {version}"
        if node_type == KLING_I2V:
            start = self._frame(nodes, edges, target, "image_url")
            end = self._frame(nodes, edges, target, "end_image_url")
            for what, url in (("start", start), ("end", end)):
                if url and not str(url).startswith(("http://", "https://")):
                    return (
                        f"Node '{label}' needs an http(s) URL for its {what} image (upload local files with "
                        "POST /media/upload)"
                    )
                if url and (problem := self._check_image(str(url))):
                    return f"Node '{label}': {problem}"
            if end and not start:
                return f"Node '{label}': an end image (in-end_image_url) needs a start image on in-image_url"
            if end and (version not in END_FRAME_VERSIONS or config.get("generate_audio")):
                return f"Node '{label}': Kling {version} takes no end image" + (
                    " with generate_audio" if version in END_FRAME_VERSIONS else ""
                )
        duration = int(config.get("duration", 5))
        credits = CLIP_CREDITS[version] * duration // 5 * (2 if config.get("generate_audio") else 1)
        return prompt, config, math.ceil(credits * factor)

    def _check_image(self, url: str) -> str:
        """Kling's size rule, for images we host (others would be fetched by the executor)."""
        name = urlsplit(url).path.rsplit("/", 1)[-1]
        if "/media/files/" not in url or name not in self.media:
            return ""
        width, height = image_size(self.media[name][0])
        if min(width, height) < MIN_IMAGE_SIDE:
            return f"the start image is {width}x{height}; Kling needs at least {MIN_IMAGE_SIDE} px on each side"
        return ""

    def plan(self, nodes: list, edges: list, target: str | None) -> list[tuple[str, str, dict, int]] | Response:
        """Lint, then check the model nodes that run (`target` and what it depends on, or all of them):
        [(node id, prompt, config, credits)], or a Response saying why not."""
        if violations := self.lint(nodes, edges):
            return self.lint_error(violations)
        by_id = {n["id"]: n for n in nodes}
        if target is not None and target not in by_id:
            return _error(400, f"targetNodeId {target!r} is not a node of this workflow")
        models = [n["id"] for n in nodes if n["data"].get("nodeType") in VIDEO_TYPES | IMAGE_TYPES]
        if target is not None:
            wanted, queue = set(), [target]
            while queue:
                node_id = queue.pop()
                wanted.add(node_id)
                queue += [e["source"] for e in edges if e.get("target") == node_id and e["source"] not in wanted]
            models = [m for m in models if m in wanted]
        if not models:
            return _error(400, "Nothing to execute: the workflow has no model node to run")
        planned = []
        for node_id in models:
            checked = self._check_node(by_id, edges, node_id)
            if isinstance(checked, str):
                return _error(400, checked)
            planned.append((node_id, *checked))
        return planned

    def start(self, workflow: dict, body: dict, nodes: list, edges: list) -> SimJob | Response:
        """Lint, check, charge and start a run; a Response says why not."""
        target = body.get("targetNodeId")
        planned = self.plan(nodes, edges, str(target) if target is not None else None)
        if isinstance(planned, Response):
            return planned
        labels = {n["id"]: n["data"].get("label") or n["id"] for n in nodes}
        breakdown = [{"nodeId": n, "nodeLabel": labels[n], "credits": c} for n, _, _, c in planned]
        credits = sum(c for *_, c in planned)
        with self.lock:
            balance = self.config.get("credits")
            if balance is not None and balance < credits:
                return _error(
                    402,
                    f"Insufficient credits. Required: {credits}, Available: {balance}",
                    insufficientCredits=True,
                    requiredCredits=credits,
                    availableCredits=balance,
                    breakdown=breakdown,
                )
            if balance is not None:
                self.config["credits"] = balance - credits
        by_id = {n["id"]: n for n in nodes}
        videos = [(n, p, c) for n, p, c, _ in planned if by_id[n]["data"]["nodeType"] in VIDEO_TYPES]
        prompt = videos[0][1] if videos else planned[0][1]
        duration = int(videos[0][2].get("duration", 5)) if videos else 0
        seconds = 60.0 * duration / 5 if videos else 10.0
        job = self.create(body, prompt=prompt, job_id=f"exec_{secrets.token_hex(12)}", seconds=seconds)
        ran = {n for n, *_ in planned}
        job.extra.update(
            duration=duration or 5,
            aspect_ratio=videos[0][2].get("aspect_ratio", "16:9") if videos else "16:9",
            workflow_id=workflow["id"],
            video_node=videos[0][0] if videos else None,
            models={n: by_id[n]["data"]["nodeType"] for n in ran},
            inputs={n["id"]: self._input_output(n) for n in nodes if n["id"] not in ran},
            labels=labels,
            credits=credits,
            breakdown=breakdown,
        )
        return job

    @staticmethod
    def _input_output(node: dict) -> dict[str, Any]:
        config = _config(node)
        if node["data"].get("nodeType") == "input:image":
            url = config.get("image") or config.get("imageUrl")
            return {"image": url, "url": url}
        text = config.get("prompt") or config.get("text") or ""
        return {"prompt": text, "text": text}

    def node_runs(self, request: Request, job: SimJob) -> list[dict[str, Any]]:
        """The docs' node runs: [{nodeId, status, output}], inputs done at once, model nodes with the job."""
        phase, _ = job.phase()
        status = {"queued": "PENDING", "succeeded": "COMPLETED"}.get(phase, phase.upper())
        runs = [{"nodeId": n, "status": "COMPLETED", "output": out} for n, out in job.extra["inputs"].items()]
        for node_id, node_type in job.extra["models"].items():
            run: dict[str, Any] = {"nodeId": node_id, "status": status, "output": None}
            if phase == "succeeded":
                run["output"] = self._model_output(request, job, node_type)
            elif phase == "failed":
                run["error"] = FAILURES.get(job.fail or "", f"generation failed ({job.fail})")
            runs.append(run)
        return runs

    def _model_output(self, request: Request, job: SimJob, node_type: str) -> dict[str, Any]:
        if node_type in IMAGE_TYPES:
            return {"images": [{"url": f"{public_root(request)}/_sim/images/{job.id}.png"}]}
        url = video_url(request, job)
        return {"videos": [{"url": url}]} if self.config.get("video_output") == "videos" else {"video": {"url": url}}

    def poll_body(self, request: Request, job: SimJob) -> dict[str, Any]:
        phase, progress = job.phase()
        status = {"queued": "RUNNING", "running": "RUNNING", "succeeded": "COMPLETED"}.get(phase, phase.upper())
        error = FAILURES.get(job.fail or "", f"generation failed ({job.fail})") if phase == "failed" else None
        runs = self.node_runs(request, job)
        done = 1.0 if phase == "succeeded" else progress
        base = {"executionId": job.id, "status": status, "progress": round(100 * done)}
        failed = {"error": error} if error else {}
        video = job.extra["video_node"]
        mine = next((r for r in runs if r["nodeId"] == video), None)
        url = video_url(request, job) if phase == "succeeded" and video else None
        shape = self.config.get("output_shape", "nodeRuns")
        if shape == "docs":  # the overview: { "status": "COMPLETED", "nodeResults": { "nodeRuns": [...] } }
            return {**base, "nodeResults": {"nodeRuns": runs}, **failed}
        if shape == "nodeOutputs":  # the spec document's guide: the video as a plain URL per node
            outputs = {**job.extra["inputs"], **({video: {"video": url} if url else {}} if video else {})}
            return {**base, "nodeOutputs": outputs, **failed}
        if shape == "nodeStates":  # the skill script's reading (wf.sh wait): outputUrl per node
            states = []
            for run in runs:
                link = url if run is mine else (run.get("output") or {}).get("url")
                state = {"nodeId": run["nodeId"], "status": run["status"]}
                state |= {"outputUrl": link, "outputUrls": [link]} if link else {}
                states.append(state | ({"error": run["error"]} if run.get("error") else {}))
            return {**base, "nodeStates": states, **failed}
        final = {"url": url, "type": "video"} if url else None  # the skill: {data: {..., finalOutput: {url}}}
        return {"data": {**base, "nodeResults": {"nodeRuns": runs}, "finalOutput": final, **failed}}

    def estimate(self, workflow: dict, nodes: list, edges: list, key: str) -> Response:
        """The skill's POST /workflows/{id}/estimate answer for this graph."""
        planned = self.plan(nodes, edges, None)
        if isinstance(planned, Response):
            return planned
        labels = {n["id"]: n["data"].get("label") or n["id"] for n in nodes}
        types = {n["id"]: n["data"]["nodeType"] for n in nodes}
        breakdown = [
            {
                "nodeId": node_id,
                "nodeLabel": labels[node_id],
                "model": types[node_id],
                "credits": credits,
                "unitCredits": credits,
                "iterations": 1,
                "unknownIterations": False,
                "fanOutUncertainty": "none",
            }
            for node_id, _, _, credits in planned
        ]
        total = sum(entry["credits"] for entry in breakdown)
        balance = self.config.get("credits")
        with self.lock:
            self.estimates += 1
        data = {
            "workflowId": workflow["id"],
            "estimatedCredits": total,
            "estimatedProviderCostUsd": round(total / 100 / 1.35, 2),
            "availableCredits": balance,
            "creditSource": "user:1",
            "sufficient": balance is None or balance >= total,
            "estimateComplete": True,
            "breakdown": breakdown,
            "warnings": [],
        }
        return JSONResponse({"data": data})


def create_app(speed: float = 1.0) -> Starlette:
    limit = os.environ.get(RATE_ENV, "").strip()
    sim = WireflowSim(speed=speed, rate_limit=int(limit) if limit else None)

    def api(handler: Any) -> Any:
        async def endpoint(request: Request) -> Response:
            refused, limits = sim.gate(request)
            response = refused or await handler(request)
            response.headers.update(limits)  # every answer, as the docs say
            return response

        return endpoint

    async def json_body(request: Request) -> dict[str, Any] | None:
        try:
            value = await request.json()
        except ValueError:
            return None
        return value if isinstance(value, dict) else None

    def stored(request: Request) -> dict[str, Any] | None:
        return sim.workflows.get(request.path_params["workflow_id"])

    async def save_workflow(request: Request) -> Response:
        body = await json_body(request)
        if body is None:
            return _error(400, "Request body must be a JSON object")
        name, nodes, edges = body.get("name"), body.get("nodes"), body.get("edges")
        if not isinstance(name, str) or not name.strip() or not isinstance(nodes, list) or not isinstance(edges, list):
            return _error(400, "Missing required fields: name, nodes, edges")
        if not nodes and not edges:
            frontend = "This appears to be a frontend bug. Reload the page."
            return _error(400, f"Cannot save workflow with 0 nodes and 0 edges. {frontend}")
        if violations := sim.lint(nodes, edges):
            return sim.lint_error(violations)
        workflow_id = str(body["id"]) if body.get("id") in sim.workflows else f"cm{secrets.token_hex(11)}"
        workflow = {
            "id": workflow_id,
            "name": name,
            "description": body.get("description", ""),
            "nodes": nodes,
            "edges": edges,
            "tags": body.get("tags", []),
            "isActive": body.get("isActive", True),
            "createdAt": sim.workflows.get(workflow_id, {}).get("createdAt", _now_iso()),
            "updatedAt": _now_iso(),
        }
        sim.workflows[workflow_id] = workflow
        sim.last_workflow = body
        data = {**workflow, "url": f"https://www.wireflow.ai/workflows/{workflow_id}"}
        return JSONResponse({"data": data, "meta": {"migrations": [], "warnings": []}}, status_code=201)

    async def get_workflow(request: Request) -> Response:
        workflow = stored(request)
        return JSONResponse({"data": workflow}) if workflow else _error(404, "Workflow not found")

    async def list_workflows(request: Request) -> Response:
        active = request.query_params.get("isActive")
        found = [
            {key: workflow[key] for key in ("id", "name", "description", "tags", "isActive", "createdAt", "updatedAt")}
            for workflow in sim.workflows.values()
            if active is None or str(workflow["isActive"]).lower() == active.lower()
        ]
        return JSONResponse({"data": found})

    def graph(workflow: dict, body: dict) -> tuple[list, list] | Response:
        """The graph a run or an estimate is about: the body's, or the saved one when both lists are empty."""
        nodes, edges = body.get("nodes"), body.get("edges")
        if not isinstance(nodes, list) or not isinstance(edges, list):
            return _error(400, "Missing required fields: nodes, edges")
        if not nodes and not edges:
            return workflow["nodes"], workflow["edges"]
        return nodes, edges

    async def estimate(request: Request) -> Response:
        workflow = stored(request)
        if workflow is None:
            return _error(404, "Workflow not found")
        body = await json_body(request) if await request.body() else {}
        if body is None:
            return _error(400, "Request body must be a JSON object")
        chosen = graph(workflow, {"nodes": [], "edges": [], **body})  # the body is optional: {} is the saved graph
        if isinstance(chosen, Response):
            return chosen
        owner = request.headers.get("authorization", "").partition(" ")[2].strip()
        return sim.estimate(workflow, *chosen, owner)

    async def execute(request: Request) -> Response:
        key, replayed = sim.replay(request)
        if replayed is not None:
            return replayed
        workflow = stored(request)
        if workflow is None:
            return _error(404, "Workflow not found")
        if not workflow["isActive"]:
            return _error(400, "Workflow is not active")
        body = await json_body(request)
        if body is None:
            return _error(400, "Request body must be a JSON object")
        chosen = graph(workflow, body)
        if isinstance(chosen, Response):
            return chosen
        nodes, edges = chosen
        job = sim.start(workflow, body, nodes, edges)
        if isinstance(job, Response):
            return job
        batch = secrets.token_hex(16)
        batch = f"{batch[:8]}-{batch[8:12]}-{batch[12:16]}-{batch[16:20]}-{batch[20:]}"
        node_runs = [{"nodeId": n["id"], "status": "PENDING", "output": None} for n in nodes]
        run = {
            "id": job.id,
            "startTime": _now_iso(job.created),
            "endTime": None,
            "status": "RUNNING",
            "error": None,
            "nodeRuns": node_runs,
            "batchId": batch,
            "runIndexInBatch": 0,
            "inputIndex": 0,
        }
        answer = {
            "executionRuns": {"workflowId": workflow["id"], "batchId": batch, "executionRuns": [run]},
            "executionId": {"executionId": job.id, "status": "RUNNING"},
            "data": {"data": {"executionId": job.id, "status": "RUNNING"}},
        }[sim.config.get("execute_shape", "executionRuns")]
        if key:
            sim.replays[key] = (time.time(), 201, answer, job.id)
        if sim.take("fail_execute"):
            return _error(500, "Internal server error")
        location = f"{public_root(request)}/workflows/executions/{job.id}/poll"
        return JSONResponse(answer, status_code=201, headers={"Location": location})

    def input_nodes(workflow: dict) -> list[dict]:
        return [n for n in workflow["nodes"] if str(n["data"].get("nodeType", "")).startswith("input:")]

    async def run_inputs(request: Request) -> Response:
        workflow = stored(request)
        if workflow is None:
            return _error(404, "Workflow not found")
        inputs = [
            {
                "nodeId": n["id"],
                "label": n["data"].get("label"),
                "nodeType": n["data"]["nodeType"],
                "default": _config(n),
            }
            for n in input_nodes(workflow)
        ]
        return JSONResponse({"data": {"workflowId": workflow["id"], "inputs": inputs}})

    async def run(request: Request) -> Response:
        workflow = stored(request)
        if workflow is None:
            return _error(404, "Workflow not found")
        body = await json_body(request)
        inputs = (body or {}).get("inputs")
        if not isinstance(inputs, dict):
            return _error(400, 'Body must be {"inputs": {nodeId: value}}')
        known = {n["id"]: n for n in input_nodes(workflow)}
        if unknown := sorted(set(inputs) - set(known)):
            return _error(400, f"Unknown input node(s): {', '.join(unknown)}; GET this URL lists the inputs")
        nodes = []
        for node in workflow["nodes"]:
            if node["id"] in inputs:
                value = inputs[node["id"]]
                keys = ("image", "imageUrl") if node["data"]["nodeType"] == "input:image" else ("prompt",)
                node = {**node, "data": {**node["data"], "config": {**_config(node), **dict.fromkeys(keys, value)}}}
            nodes.append(node)
        job = sim.start(workflow, body or {}, nodes, workflow["edges"])
        if isinstance(job, Response):
            return job
        return JSONResponse({"data": {"executionId": job.id, "status": "RUNNING"}}, status_code=202)

    async def poll(request: Request) -> Response:
        if sim.take("fail_polls"):
            return _error(500, "Internal server error")
        job = sim.get(request.path_params["execution_id"])
        if job is None:
            return _error(404, "Execution not found")
        return JSONResponse(sim.poll_body(request, job))

    async def upload(request: Request) -> Response:
        if request.headers.get("content-type", "").startswith("multipart/form-data"):
            form = await request.form()
            file = form.get("file")
            if file is None or isinstance(file, str):
                return _error(400, "Send the file as the multipart field 'file'")
            data = await file.read()
            kind = sniff(data)
            if kind is None:
                return _error(400, "Unsupported file type; upload an image (JPEG, PNG, WebP or GIF)")
            name = f"{secrets.token_hex(10)}.{kind.replace('jpeg', 'jpg')}"
            sim.media[name] = (data, f"image/{kind}")
            url = f"{public_root(request)}/media/files/{name}"
            return JSONResponse({"data": {"id": name, "url": url, "mimeType": f"image/{kind}", "size": len(data)}}, 201)
        body = await json_body(request)
        link = (body or {}).get("url")
        if not isinstance(link, str) or not link.startswith(("http://", "https://")):
            return _error(400, 'Send multipart/form-data with a \'file\', or JSON {"url": "https://..."}')
        return JSONResponse({"data": {"id": secrets.token_hex(10), "url": link}}, status_code=201)

    async def media_file(request: Request) -> Response:
        found = sim.media.get(request.path_params["name"])
        if found is None:
            return _error(404, "Not found")
        return Response(found[0], media_type=found[1])

    async def image_file(request: Request) -> Response:
        job = sim.jobs.get(request.path_params["job_id"])
        if job is None or job.phase()[0] != "succeeded":
            return _error(404, "Not found")
        return Response(_png(), media_type="image/png")

    async def not_found(request: Request, exc: Exception) -> Response:
        status = getattr(exc, "status_code", 404)
        return _error(status, "Not found" if status == 404 else "Method not allowed")

    app = Starlette(
        routes=[
            Route("/workflows", api(save_workflow), methods=["POST"]),
            Route("/workflows", api(list_workflows), methods=["GET"]),
            Route("/workflows/executions/{execution_id}/poll", api(poll), methods=["GET"]),
            Route("/workflows/{workflow_id}", api(get_workflow), methods=["GET"]),
            Route("/workflows/{workflow_id}/estimate", api(estimate), methods=["POST"]),
            Route("/workflows/{workflow_id}/execute", api(execute), methods=["POST"]),
            Route("/workflows/{workflow_id}/run", api(run_inputs), methods=["GET"]),
            Route("/workflows/{workflow_id}/run", api(run), methods=["POST"]),
            Route("/media/upload", api(upload), methods=["POST"]),
            Route("/media/files/{name}", media_file, methods=["GET"]),
            Route("/_sim/images/{job_id}.png", image_file, methods=["GET"]),
            *sim.routes(),
        ],
        middleware=[Middleware(RequestIds)],
        exception_handlers={404: not_found, 405: not_found},
    )
    app.state.sim = sim
    return app
