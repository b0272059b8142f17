"""A local copy of Wireflow's workflow API (the part mcp-videogen uses), for tests and `mcp-videogen simulate`.

Routes, as under https://www.wireflow.ai/api/v1:
  POST /workflows                        save {name, nodes, edges, ...} -> 201 {data: {id, ...}, meta}
  GET  /workflows?isActive=true          the saved workflows -> {data: [{id, name, isActive, ...}]}
  GET  /workflows/{id}                   -> {data: workflow}
  POST /workflows/{id}/execute           {nodes?, edges?, targetNodeId?, triggerData?}
                                         -> 201 {workflowId, batchId, executionRuns: [{id, status, nodeRuns}]}
  GET  /workflows/{id}/run               the input nodes /run takes
  POST /workflows/{id}/run               {inputs: {nodeId: value}} -> 202 {data: {executionId, status}}
  GET  /workflows/executions/{id}/poll   {status: RUNNING | COMPLETED | FAILED | CANCELLED, progress, outputs}
  POST /media/upload                     multipart `file` (or JSON {url}) -> 201 {data: {id, url, ...}}
  GET  /media/files/{name}               an uploaded file, as the CDN serves it (no key needed)
An execute with an `Idempotency-Key` header is remembered for 24 simulated hours per API key: the same key
again replays the first answer (the spec document: "Identical keys within 24 hours replay the original
response"; it names no error for a different body, so none is given) and starts nothing, charges nothing.
Every answer carries X-Request-Id. Errors are {"error": "message"}; a graph that fails lint gets 422 with
{"error": {type, code, message}, "violations": [{rule, message, fix, nodeId, edgeId}]}. Keys must look like
"sk-..." (a key starting "sk-expired" has expired). No cancel route: Wireflow documents none.

Test switches (POST /_sim/config, or `sim.config` in-process):
  credits: N                 the balance; a run costing more gets 402 (a run is charged when it starts)
  rate_limit_per_min: N      requests per simulated minute before 429 with Retry-After and X-RateLimit-*
  output_shape: nodeStates | nodeOutputs | finalOutput        how the poll reports outputs
  execute_shape: executionRuns | executionId | data           how /execute answers
  fail_polls: N              the next N polls answer 500
  fail_execute: N            the next N executes start the run, then answer 500 (a gateway timing out)
"""

from __future__ import annotations

import difflib
import math
import secrets
import time
from collections import deque
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from providers.images import image_size, sniff
from providers.simulators.common import SimJob, Simulator, video_url

KLING_I2V = "video:kling_video_2_5_i2v"
KLING_T2V = "video:kling_video_2_5_t2v"
KLING_16 = "generate:kling_1_6_pro"
# nodeType -> (input ports, output ports); anything else is an unknown nodeType.
PORTS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "input:text": (frozenset(), frozenset({"prompt", "text"})),
    "input:image": (frozenset(), frozenset({"image", "media", "url"})),
    KLING_I2V: (frozenset({"prompt", "image_url"}), frozenset({"video"})),
    KLING_T2V: (frozenset({"prompt"}), frozenset({"video"})),
    KLING_16: (frozenset({"prompt"}), frozenset({"video"})),
    "utility:sticky_note": (frozenset(), frozenset()),
}
VIDEO_TYPES = frozenset({KLING_I2V, KLING_T2V, KLING_16})
# Credits for a 5 s clip per model_version (generate:kling_1_6_pro has none); audio doubles them.
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
AUDIO_VERSIONS = frozenset({"2.6-pro", "3.0-pro", "3.0-standard"})
DEFAULT_VERSION = "2.5-pro"
REPLAY_SECONDS = 24 * 3600  # how long an Idempotency-Key replays, in simulated seconds
RATIOS = ("16:9", "9:16", "1:1")
MAX_NODES, MAX_EDGES, MAX_PROMPT = 100, 500, 2500
MIN_IMAGE_SIDE = 300  # Kling's minimum for a start frame
FAILURES = {
    "content": "Content moderation: the prompt was flagged by the provider's safety system (content policy violation)",
    "internal": "Kling API error: internal server error at the upstream provider; please try again",
}


def _error(status: int, message: str, headers: dict[str, str] | None = None, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status_code=status, headers=headers)


def _now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _root(request: Request) -> str:
    root = str(request.base_url).rstrip("/")
    mount = request.scope.get("root_path", "")
    return root + mount if mount and not root.endswith(mount) else root


def _violation(rule: str, message: str, fix: str = "", **where: str) -> dict[str, str]:
    return {"rule": rule, "message": message, **({"fix": fix} if fix else {}), **where}


def _config(node: dict[str, Any]) -> dict[str, Any]:
    """A node's values: `config` is the source of truth; older graphs use `params`."""
    data = node.get("data") or {}
    return {**(data.get("params") or {}), **(data.get("config") or {})}


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
    def __init__(self, speed: float = 1.0):
        super().__init__("wireflow", speed=speed, typical_seconds=60.0, queue_seconds=5.0)
        self.workflows: dict[str, dict[str, Any]] = {}
        self.media: dict[str, tuple[bytes, str]] = {}  # file name -> (bytes, mime)
        # (API key, Idempotency-Key) -> (when, status, answer, run id) of the execute that first carried it
        self.replays: dict[tuple[str, str], tuple[float, int, dict[str, Any], str]] = {}
        self.replayed = 0  # executes answered from `replays`: nothing started, nothing charged
        self.hits: deque[float] = deque()  # request times in the rate window
        self.throttled = 0
        self.last_workflow: dict[str, Any] | None = None  # the last POST /workflows body

    def stats(self) -> dict[str, Any]:
        return {
            **super().stats(),
            "workflows": len(self.workflows),
            "uploads": len(self.media),
            "throttled": self.throttled,
            "replayed": self.replayed,
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
        if not key:
            return None, None
        owner = request.headers.get("authorization", "").partition(" ")[2].strip()
        with self.lock:
            kept = self.replays.get((owner, key))
            if kept is None or time.time() - kept[0] > REPLAY_SECONDS / self.speed:
                return (owner, key), None
            self.replayed += 1
        return (owner, key), JSONResponse(kept[2], status_code=kept[1])

    # -- the gate every API call passes -----------------------------------------------------------
    def gate(self, request: Request) -> Response | None:
        scheme, _, key = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not key.strip().startswith("sk-"):
            return _error(401, "Invalid API key format. Expected: Bearer sk-...")
        if key.strip().startswith("sk-expired"):
            return _error(401, "API key has expired")
        return self._throttle()

    def _throttle(self) -> Response | None:
        limit = self.config.get("rate_limit_per_min")
        if limit is None:
            return None
        window = 60.0 / self.speed  # a simulated minute
        now = time.time()
        with self.lock:
            while self.hits and self.hits[0] <= now - window:
                self.hits.popleft()
            if len(self.hits) < int(limit):
                self.hits.append(now)
                return None
            self.throttled += 1
            reset = (self.hits[0] if self.hits else now) + window
        wait = max(0.0, reset - now)
        headers = {
            "Retry-After": str(math.ceil(wait)) if wait >= 1 else f"{wait:.2f}",
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": str(math.ceil(reset)),
        }
        return _error(
            429, f"Rate limit exceeded: {limit} requests per minute. Retry after {math.ceil(wait)} seconds.", headers
        )

    # -- graphs -----------------------------------------------------------------------------------
    def lint(self, nodes: list[Any], edges: list[Any]) -> list[dict[str, str]]:
        """The graph-lint gate of create and execute: caps, ids, node types, dangling edges, handles."""
        found: list[dict[str, str]] = []
        if len(nodes) > MAX_NODES:
            found.append(_violation("max-nodes", f"{len(nodes)} nodes; a workflow may have at most {MAX_NODES}"))
        if len(edges) > MAX_EDGES:
            found.append(_violation("max-edges", f"{len(edges)} edges; a workflow may have at most {MAX_EDGES}"))
        types: dict[str, str] = {}
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
                return nodes.get(edge.get("source"))
        return None

    def _check_run(self, nodes: dict[str, dict], edges: list[dict], target: str) -> tuple[str, dict] | str:
        """(prompt, kling config) for the video node `target`, or what is wrong, in Wireflow's words."""
        node = nodes[target]
        node_type = node["data"]["nodeType"]
        label = node["data"].get("label") or target
        config = _config(node)
        source = _config(self._upstream(nodes, edges, target, "prompt") or {})
        prompt = str(source.get("prompt") or source.get("text") or "")
        if not prompt.strip():
            return f"Node '{label}' needs a prompt: connect a Text Input with a non-empty prompt to in-prompt"
        if len(prompt) > MAX_PROMPT:
            return f"Node '{label}': prompt is {len(prompt)} characters; Kling accepts at most {MAX_PROMPT}"
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
            image = _config(self._upstream(nodes, edges, target, "image_url") or {})
            url = str(image.get("image") or image.get("imageUrl") or "")
            if not url.startswith(("http://", "https://")):
                return (
                    f"Node '{label}' needs a start image: connect an Image Input whose image is an http(s) URL "
                    "(upload local files with POST /media/upload)"
                )
            if problem := self._check_image(url):
                return f"Node '{label}': {problem}"
        return prompt, config

    def _check_image(self, url: str) -> str:
        """Kling's size rule, for images we host (others would be fetched by the executor)."""
        name = urlsplit(url).path.rsplit("/", 1)[-1]
        if "/media/files/" not in url or name not in self.media:
            return ""
        width, height = image_size(self.media[name][0])
        if min(width, height) < MIN_IMAGE_SIDE:
            return f"the start image is {width}x{height}; Kling needs at least {MIN_IMAGE_SIDE} px on each side"
        return ""

    def start(self, workflow: dict, body: dict, nodes: list, edges: list) -> SimJob | Response:
        """Lint, check, charge and start a run of the target video node; a Response says why not."""
        if violations := self.lint(nodes, edges):
            return self.lint_error(violations)
        by_id = {n["id"]: n for n in nodes}
        videos = [n["id"] for n in nodes if n["data"].get("nodeType") in VIDEO_TYPES]
        target = body.get("targetNodeId") or (videos[0] if videos else None)
        if target not in videos:
            return _error(400, f"targetNodeId {target!r} is not a video node of this workflow")
        checked = self._check_run(by_id, edges, target)
        if isinstance(checked, str):
            return _error(400, checked)
        prompt, config = checked
        node_type = by_id[target]["data"]["nodeType"]
        version = KLING_16 if node_type == KLING_16 else config.get("model_version", DEFAULT_VERSION)
        duration = int(config.get("duration", 5))
        credits = CLIP_CREDITS[version] * duration // 5 * (2 if config.get("generate_audio") else 1)
        label = by_id[target]["data"].get("label") or target
        with self.lock:
            balance = self.config.get("credits")
            if balance is not None and balance < credits:
                return _error(
                    402,
                    f"Insufficient credits. Required: {credits}, Available: {balance}",
                    insufficientCredits=True,
                    requiredCredits=credits,
                    availableCredits=balance,
                    breakdown=[{"nodeId": target, "nodeLabel": label, "credits": credits}],
                )
            if balance is not None:
                self.config["credits"] = balance - credits
        job = self.create(body, prompt=prompt, job_id=f"exec_{secrets.token_hex(12)}", seconds=60.0 * duration / 5)
        outputs = {n["id"]: self._input_output(n) for n in nodes if n["id"] != target}
        labels = {n["id"]: n["data"].get("label") or n["id"] for n in nodes}
        job.extra.update(
            duration=duration,
            aspect_ratio=config.get("aspect_ratio", "16:9"),
            workflow_id=workflow["id"],
            video_node=target,
            outputs=outputs,
            labels=labels,
            credits=credits,
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

    def poll_body(self, request: Request, job: SimJob) -> dict[str, Any]:
        phase, progress = job.phase()
        status = {"queued": "RUNNING", "running": "RUNNING", "succeeded": "COMPLETED"}.get(phase, phase.upper())
        node_status = {"queued": "PENDING", "succeeded": "COMPLETED"}.get(phase, phase.upper())
        video = job.extra["video_node"]
        url = video_url(request, job) if phase == "succeeded" else None
        error = FAILURES.get(job.fail or "", f"generation failed ({job.fail})") if phase == "failed" else None
        states = [
            {"nodeId": node_id, "label": job.extra["labels"][node_id], "status": "COMPLETED"}
            | ({"outputUrl": out["url"]} if out.get("url") else {})
            for node_id, out in job.extra["outputs"].items()
        ]
        mine: dict[str, Any] = {"nodeId": video, "label": job.extra["labels"][video], "status": node_status}
        if url:
            mine |= {"outputUrl": url, "outputUrls": [url]}
        if error:
            mine["error"] = error
        states.append(mine)
        base = {"executionId": job.id, "status": status, "progress": round(100 * (1.0 if url else progress))}
        failed = {"error": error} if error else {}
        shape = self.config.get("output_shape", "nodeStates")
        if shape == "nodeOutputs":  # the guide's shape, video as a plain URL
            outputs = {**job.extra["outputs"], video: {"video": url} if url else {}}
            return {**base, "nodeOutputs": outputs, **failed}
        if shape == "finalOutput":  # the docs' shape, wrapped in data
            final = {"url": url, "type": "video"} if url else None
            return {"data": {**base, "nodeResults": {"nodeRuns": states}, "finalOutput": final, **failed}}
        return {**base, "nodeStates": states, **failed}  # the skill's shape (wf.sh wait)


def create_app(speed: float = 1.0) -> Starlette:
    sim = WireflowSim(speed=speed)

    def api(handler: Any) -> Any:
        async def endpoint(request: Request) -> Response:
            return sim.gate(request) or await handler(request)

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
        nodes, edges = body.get("nodes"), body.get("edges", [])
        if not isinstance(nodes, list) or not isinstance(edges, list):
            return _error(400, "Missing required fields: nodes and edges must be arrays")
        if not nodes and not edges:
            return _error(400, "Empty workflows (0 nodes, 0 edges) are rejected")
        if violations := sim.lint(nodes, edges):
            return sim.lint_error(violations)
        workflow_id = body.get("id") if body.get("id") in sim.workflows else f"cm{secrets.token_hex(11)}"
        workflow = {
            "id": workflow_id,
            "name": str(body.get("name") or "Untitled workflow"),
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

    async def execute(request: Request) -> Response:
        key, replayed = sim.replay(request)
        if replayed is not None:
            return replayed
        workflow = stored(request)
        if workflow is None:
            return _error(404, "Workflow not found")
        if not workflow["isActive"]:
            return _error(400, "Workflow is not active; activate it before executing")
        body = await json_body(request)
        if body is None:
            return _error(400, "Request body must be a JSON object")
        nodes, edges = body.get("nodes", workflow["nodes"]), body.get("edges", workflow["edges"])
        if not isinstance(nodes, list) or not isinstance(edges, list):
            return _error(400, "nodes and edges must be arrays")
        job = sim.start(workflow, body, nodes, edges)
        if isinstance(job, Response):
            return job
        run = {"id": job.id, "status": "RUNNING", "nodeRuns": [{"nodeId": n["id"], "status": "PENDING"} for n in nodes]}
        answer = {
            "executionRuns": {
                "workflowId": workflow["id"],
                "batchId": f"batch_{secrets.token_hex(8)}",
                "executionRuns": [run],
            },
            "executionId": {"executionId": job.id, "status": "RUNNING"},
            "data": {"data": {"executionId": job.id, "status": "RUNNING"}},
        }[sim.config.get("execute_shape", "executionRuns")]
        if key:
            sim.replays[key] = (time.time(), 201, answer, job.id)
        if sim.take("fail_execute"):
            return _error(500, "Internal server error")
        return JSONResponse(answer, status_code=201)

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
            url = f"{_root(request)}/media/files/{name}"
            return JSONResponse({"data": {"id": name, "url": url, "mimeType": f"image/{kind}", "size": len(data)}}, 201)
        body = await json_body(request)
        url = (body or {}).get("url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            return _error(400, 'Send multipart/form-data with a \'file\', or JSON {"url": "https://..."}')
        return JSONResponse({"data": {"id": secrets.token_hex(10), "url": url}}, status_code=201)

    async def media_file(request: Request) -> Response:
        found = sim.media.get(request.path_params["name"])
        if found is None:
            return _error(404, "Not found")
        return Response(found[0], media_type=found[1])

    async def not_found(request: Request, exc: Exception) -> Response:
        status = getattr(exc, "status_code", 404)
        return _error(status, "Not found" if status == 404 else "Method not allowed")

    app = Starlette(
        routes=[
            Route("/workflows", api(save_workflow), methods=["POST"]),
            Route("/workflows", api(list_workflows), methods=["GET"]),
            Route("/workflows/executions/{execution_id}/poll", api(poll), methods=["GET"]),
            Route("/workflows/{workflow_id}", api(get_workflow), methods=["GET"]),
            Route("/workflows/{workflow_id}/execute", api(execute), methods=["POST"]),
            Route("/workflows/{workflow_id}/run", api(run_inputs), methods=["GET"]),
            Route("/workflows/{workflow_id}/run", api(run), methods=["POST"]),
            Route("/media/upload", api(upload), methods=["POST"]),
            Route("/media/files/{name}", media_file, methods=["GET"]),
            *sim.routes(),
        ],
        middleware=[Middleware(RequestIds)],
        exception_handlers={404: not_found, 405: not_found},
    )
    app.state.sim = sim
    return app
