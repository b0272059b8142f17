"""What the client-compatibility tests share: cached per-framework virtual environments, a scripted fake model
server speaking three wire formats, and running one framework scenario against a real server process.

The frameworks do not fit one environment (langchain-mcp-adapters pins mcp 1.x, the server needs mcp 2.x), so
each scenario is a script run by its own venv's python; the server always runs from the project's interpreter.
"""

from __future__ import annotations

import fcntl
import hashlib
import itertools
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from conftest import PYTHON, ROOT, subprocess_env
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from providers.simulators.common import running

HERE = Path(__file__).resolve().parent
CACHE = Path(os.environ.get("VIDEOGEN_CLIENTS_CACHE") or Path.home() / ".cache" / "mcp-videogen-test-clients")
PROMPT = "a paper boat drifting down a rainy street"
STATUSES = ("pending", "queued", "running", "downloading", "succeeded", "failed", "cancelled")
MODEL_SETTINGS = ("OPENAI_", "GOOGLE_", "GEMINI_", "ANTHROPIC_", "LANGCHAIN_", "LANGSMITH_", "LOGFIRE_", "OTEL_")
JOB_ID = re.compile(r"job_[0-9a-f]{16}")


class KnownBug(AssertionError):
    """A failure caused by a bug listed in issue 8: the only failure an xfail marker of this suite accepts."""


def known_bug(seen: bool, what: str) -> None:
    if seen:
        raise KnownBug(what)


# --- virtual environments -------------------------------------------------------------------------------------


def client_python(name: str) -> str:
    """The python of the cached venv built from requirements-<name>.txt; built under a file lock on first use
    (xdist workers share the cache). Skips when it cannot be built outside CI (no registry), fails in CI."""
    requirements = HERE / f"requirements-{name}.txt"
    key = hashlib.sha256(requirements.read_bytes() + sys.version.encode()).hexdigest()[:12]
    target = CACHE / f"{name}-{key}"
    python = target / "bin" / "python"
    done = target / ".complete"
    if done.exists():
        return str(python)
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / f"{name}-{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another worker may be building it: wait for that build
        if done.exists():
            return str(python)
        shutil.rmtree(target, ignore_errors=True)  # a build that died half-way
        steps = [
            [PYTHON, "-m", "venv", str(target)],
            [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r", str(requirements)],
        ]
        for step in steps:
            built = subprocess.run(step, capture_output=True, text=True, timeout=900)
            if built.returncode != 0:
                shutil.rmtree(target, ignore_errors=True)
                reason = (
                    f"cannot build the {name} client environment from {requirements.name} "
                    f"({' '.join(step[:4])} ...): {(built.stderr or built.stdout).strip()[-600:]}"
                )
                if os.environ.get("CI"):
                    pytest.fail(reason + "\nCI reaches the package registry, so this is a real failure.")
                pytest.skip(reason + "\nNeeds the package registry once; later runs use the cache in " + str(CACHE))
        done.write_text(requirements.read_text())
    return str(python)


# --- the fake model -------------------------------------------------------------------------------------------


def _text_of(content: Any) -> str:
    """The text a framework sent as a tool's result, whatever its shape (string, parts, dict)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(p.get("text", json.dumps(p)) if isinstance(p, dict) else str(p) for p in content)
    return json.dumps(content)


def conversation(api: str, body: dict[str, Any]) -> list[tuple[str, str, Any]]:
    """The tool calls and tool results in a request, in order: ("call", name, args) and ("result", "", text)."""
    events: list[tuple[str, str, Any]] = []
    if api == "chat":
        for message in body.get("messages", []):
            for call in message.get("tool_calls") or []:
                events.append(("call", call["function"]["name"], json.loads(call["function"]["arguments"] or "{}")))
            if message.get("role") == "tool":
                events.append(("result", "", _text_of(message.get("content"))))
    elif api == "responses":
        items = body.get("input")
        for item in items if isinstance(items, list) else []:
            if item.get("type") == "function_call":
                events.append(("call", item["name"], json.loads(item.get("arguments") or "{}")))
            elif item.get("type") == "function_call_output":
                events.append(("result", "", _text_of(item.get("output"))))
    else:
        for content in body.get("contents", []):
            for part in content.get("parts", []):
                if "functionCall" in part or "function_call" in part:
                    call = part.get("functionCall") or part.get("function_call")
                    events.append(("call", call["name"], call.get("args") or {}))
                elif "functionResponse" in part or "function_response" in part:
                    answer = part.get("functionResponse") or part.get("function_response")
                    events.append(("result", "", json.dumps(answer.get("response"))))
    return events


def job_status(text: str) -> tuple[str | None, str | None]:
    """The job id and status a tool result reports, read the way a model would: from its JSON or its text."""
    ids = JOB_ID.findall(text)
    status = re.search(r'\\?"status\\?":\s*\\?"(\w+)', text) or re.search(r"\): (\w+)", text)
    return (ids[0] if ids else None), (status.group(1) if status and status.group(1) in STATUSES else None)


class FakeModel:
    """A scripted model: generate_video -> get_status (until the job is finished) -> a final answer. Stateless
    like a real API, it decides from the conversation each request carries. A failed tool call (no job in the
    result) is retried as is, which is what real models do when a framework tells them a call timed out."""

    def __init__(
        self, generate: dict[str, Any] | None = None, status_wait: float = 10, max_calls: int = 8, retries: int = 1
    ):
        self.generate = {"prompt": PROMPT, "provider": "demo", "duration": 2, **(generate or {})}
        self.status_wait = status_wait
        self.max_calls = max_calls  # 0: answer at once (a test that only looks at the tools sent)
        self.retries = retries  # how often a failed call is tried again before the model gives up
        self.requests: list[dict[str, Any]] = []  # {"api", "path", "body"} of every request received
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def next_step(self, events: list[tuple[str, str, Any]]) -> tuple[str, dict[str, Any]] | str:
        """A tool call (name, arguments) or the final answer (text)."""
        calls = [e for e in events if e[0] == "call"]
        results = [e[2] for e in events if e[0] == "result"]
        if len(calls) >= self.max_calls:
            return f"I stop after {len(calls)} tool calls."
        if not calls:
            return "generate_video", dict(self.generate)
        last_name, last_args = calls[-1][1], calls[-1][2]
        job_id, status = job_status(results[-1]) if results else (None, None)
        if job_id is None:
            failures = len(list(itertools.takewhile(lambda r: job_status(r)[0] is None, reversed(results))))
            if failures > self.retries:
                return f"The tool failed {failures} times, I give up: {results[-1][:300]}"
            return last_name, dict(last_args)  # the call failed: try again, as models do
        if last_name == "get_status" and status in ("succeeded", "failed", "cancelled"):
            return f"Job {job_id} {status}. Done."
        return "get_status", {"job_id": job_id, "wait_seconds": self.status_wait}

    def record(self, api: str, request: Request, body: dict[str, Any]) -> tuple[str, dict[str, Any]] | str:
        with self._lock:
            self.requests.append({"api": api, "path": request.url.path, "body": body})
        return self.next_step(conversation(api, body))

    def app(self) -> Starlette:
        async def chat(request: Request) -> JSONResponse:
            body = await request.json()
            step = self.record("chat", request, body)
            n = next(self._ids)
            if isinstance(step, str):
                message, finish = {"role": "assistant", "content": step, "refusal": None}, "stop"
            else:
                call = {
                    "id": f"call_{n}",
                    "type": "function",
                    "function": {"name": step[0], "arguments": json.dumps(step[1])},
                }
                message, finish = (
                    {"role": "assistant", "content": None, "refusal": None, "tool_calls": [call]},
                    "tool_calls",
                )
            return JSONResponse(
                {
                    "id": f"chatcmpl-{n}",
                    "object": "chat.completion",
                    "created": 1_790_000_000,
                    "model": body.get("model", "fake"),
                    "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
                    "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
                }
            )

        async def responses(request: Request) -> JSONResponse:
            body = await request.json()
            step = self.record("responses", request, body)
            n = next(self._ids)
            if isinstance(step, str):
                content = [{"type": "output_text", "text": step, "annotations": [], "logprobs": []}]
                item = {
                    "type": "message",
                    "id": f"msg_{n}",
                    "role": "assistant",
                    "status": "completed",
                    "content": content,
                }
            else:
                item = {
                    "type": "function_call",
                    "id": f"fc_{n}",
                    "call_id": f"call_{n}",
                    "name": step[0],
                    "arguments": json.dumps(step[1]),
                    "status": "completed",
                }
            return JSONResponse(
                {
                    "id": f"resp_{n}",
                    "object": "response",
                    "created_at": 1_790_000_000,
                    "status": "completed",
                    "model": body.get("model", "fake"),
                    "output": [item],
                    "parallel_tool_calls": True,
                    "tool_choice": body.get("tool_choice", "auto"),
                    "tools": body.get("tools", []),
                    "temperature": 1.0,
                    "top_p": 1.0,
                    "error": None,
                    "incomplete_details": None,
                    "instructions": body.get("instructions"),
                    "metadata": {},
                    "usage": {
                        "input_tokens": 10,
                        "input_tokens_details": {"cached_tokens": 0},
                        "output_tokens": 5,
                        "output_tokens_details": {"reasoning_tokens": 0},
                        "total_tokens": 15,
                    },
                }
            )

        async def gemini(request: Request) -> JSONResponse:
            body = await request.json()
            step = self.record("gemini", request, body)
            part = {"text": step} if isinstance(step, str) else {"functionCall": {"name": step[0], "args": step[1]}}
            return JSONResponse(
                {
                    "candidates": [{"content": {"role": "model", "parts": [part]}, "finishReason": "STOP", "index": 0}],
                    "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 5, "totalTokenCount": 15},
                    "modelVersion": request.path_params["model"],
                    "responseId": f"gemini-{next(self._ids)}",
                }
            )

        async def unknown(request: Request) -> JSONResponse:
            with self._lock:
                self.requests.append({"api": "unknown", "path": request.url.path, "body": None})
            return JSONResponse({"error": {"message": f"the fake model does not serve {request.url.path}"}}, 404)

        return Starlette(
            routes=[
                Route("/v1/chat/completions", chat, methods=["POST"]),
                Route("/v1/responses", responses, methods=["POST"]),
                Route("/v1beta/models/{model}:generateContent", gemini, methods=["POST"]),
                Route("/v1/models/{model}:generateContent", gemini, methods=["POST"]),  # the stable API version
                Route("/{path:path}", unknown, methods=["GET", "POST"]),
            ]
        )

    # What the model was sent, for the tests' assertions.

    def unknown(self) -> list[str]:
        """Paths requested that the fake model does not serve (a framework speaking another wire format)."""
        return [r["path"] for r in self.requests if r["api"] == "unknown"]

    def _last(self) -> dict[str, Any]:
        return [r for r in self.requests if r["api"] != "unknown"][-1]

    def tools(self) -> dict[str, dict[str, Any]]:
        """The tools of the first request, by name: {"parameters": schema, "strict": ..., "description": ...}."""
        first = next(r for r in self.requests if r["api"] != "unknown")
        body, api = first["body"], first["api"]
        found: dict[str, dict[str, Any]] = {}
        for tool in body.get("tools") or []:
            if api == "chat":
                f = tool["function"]
                found[f["name"]] = {"parameters": f.get("parameters"), "strict": f.get("strict"), **f}
            elif api == "responses":
                found[tool["name"]] = {**tool, "strict": tool.get("strict")}
            else:
                for f in tool.get("functionDeclarations") or tool.get("function_declarations") or []:
                    schema = f.get("parametersJsonSchema") or f.get("parameters_json_schema") or f.get("parameters")
                    found[f["name"]] = {**f, "parameters": schema}
        return found

    def tool_results(self) -> list[str]:
        """Every tool result the model was sent, as text, from the last request (which carries them all)."""
        last = self._last()
        return [e[2] for e in conversation(last["api"], last["body"]) if e[0] == "result"]

    def calls(self) -> list[tuple[str, Any]]:
        last = self._last()
        return [(e[1], e[2]) for e in conversation(last["api"], last["body"]) if e[0] == "call"]


@contextmanager
def fake_model(**script: Any) -> Iterator[tuple[FakeModel, str]]:
    model = FakeModel(**script)
    with running(model.app()) as url:
        yield model, url


# --- the server and a scenario ------------------------------------------------------------------------------


def server_env(env: dict[str, str], **extra: str) -> dict[str, str]:
    """The full environment of a server process for a scenario: the test's settings, the demo provider."""
    return subprocess_env({**env, "VIDEOGEN_DEFAULT_PROVIDER": "demo", **extra})


def client_env(**extra: str) -> dict[str, str]:
    """The environment of a framework's process: no provider or model keys, no tracing to a hosted service,
    none of this interpreter's paths; then `extra`."""
    clean = {
        k: v
        for k, v in subprocess_env({}).items()
        if k not in ("PYTHONPATH", "VIRTUAL_ENV") and not k.startswith(MODEL_SETTINGS)
    }
    return {**clean, **extra}


def run_scenario(name: str, script: str, config: dict[str, Any], tmp_path: Path, timeout: float = 240) -> dict:
    """Run tests/clients/<script> with the <name> venv's python; return the JSON summary it prints last."""
    python = client_python(name)
    config_file = tmp_path / f"{Path(script).stem}.json"
    config_file.write_text(
        json.dumps({"server": {"command": PYTHON, "args": ["-m", "server"], "cwd": str(ROOT)}, **config})
    )
    done = subprocess.run(
        [python, str(HERE / script), str(config_file)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=client_env(),
        cwd=tmp_path,
    )
    lines = done.stdout.strip().splitlines()
    try:
        summary = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        raise AssertionError(
            f"{script} printed no JSON summary (exit {done.returncode}).\nstdout:\n{done.stdout[-3000:]}\n"
            f"stderr:\n{done.stderr[-5000:]}"
        ) from None
    summary["stderr"] = done.stderr[-5000:]
    return summary


def server_tools(env: dict[str, str]) -> dict[str, dict[str, Any]]:
    """The server's own tools/list (input schemas by name), read with the project's MCP SDK: the ground truth."""
    import anyio
    from mcp import Client, StdioServerParameters

    async def read() -> dict[str, dict[str, Any]]:
        params = StdioServerParameters(command=PYTHON, args=["-m", "server"], env=server_env(env), cwd=str(ROOT))
        async with Client(params) as client:
            return {tool.name: tool.input_schema for tool in (await client.list_tools()).tools}

    return anyio.run(read)


def _description(schema: dict[str, Any]) -> str:
    """A property's description, also where a converter moved it into one branch of anyOf."""
    found = [schema.get("description") or ""]
    found += [_description(branch) for branch in schema.get("anyOf") or schema.get("any_of") or []]
    return " ".join(d for d in found if d)


def losses(sent: dict[str, dict[str, Any]], truth: dict[str, dict[str, Any]]) -> list[str]:
    """What the model did not get of each tool's parameters: a missing tool or parameter, a lost description."""
    lost = []
    for name, schema in truth.items():
        if name not in sent:
            lost.append(f"{name}: tool not sent")
            continue
        got = (sent[name].get("parameters") or {}).get("properties") or {}
        for param, spec in (schema.get("properties") or {}).items():
            if param not in got:
                lost.append(f"{name}.{param}: not sent")
            elif spec.get("description") and spec["description"] not in _description(got[param]):
                lost.append(f"{name}.{param}: description lost")
    return lost


def jobs(env: dict[str, str]) -> list[dict[str, Any]]:
    """Every job in the server's index (jobs.sqlite3 in VIDEOGEN_DATA_DIR)."""
    path = Path(env["VIDEOGEN_DATA_DIR"]) / "jobs.sqlite3"
    if not path.exists():
        return []
    with sqlite3.connect(path) as db:
        db.row_factory = sqlite3.Row
        return [
            dict(row) for row in db.execute("SELECT job_id, status, provider, request FROM jobs ORDER BY created_at")
        ]
