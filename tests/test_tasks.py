"""The tasks extension (io.modelcontextprotocol/tasks) through the SDK's client, and the Inspector CLI."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from typing import Any, Literal

import anyio
import pytest
from conftest import PYTHON, ROOT, subprocess_env
from mcp import Client
from mcp.client.extension import ClaimContext, ClientExtension, ResultClaim
from mcp.shared.exceptions import MCPError
from mcp_types import CallToolResult, Request, RequestParams, Result
from pydantic import ConfigDict, Field

from server.app import build_server
from server.settings import Settings
from server.tasks import IDENTIFIER

pytestmark = pytest.mark.anyio
FAST = {"resolution": "360p", "duration": 1}


class TaskResult(Result):
    """CreateTaskResult and GetTaskResult share the Task fields."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)
    result_type: Literal["task"] = Field("task", alias="resultType")
    task_id: str = Field(alias="taskId")
    status: str
    status_message: str | None = Field(None, alias="statusMessage")
    poll_interval_ms: int | None = Field(None, alias="pollIntervalMs")
    ttl_ms: int | None = Field(alias="ttlMs")
    result: dict[str, Any] | None = None


class Polled(TaskResult):
    result_type: Literal["complete"] = Field("complete", alias="resultType")  # type: ignore[assignment]


class TaskIdParams(RequestParams):
    model_config = ConfigDict(populate_by_name=True)
    task_id: str = Field(alias="taskId")


def task_request(method: str, task_id: str) -> Request:
    class TaskRequest(Request[TaskIdParams, str]):
        name_param = "taskId"

    return TaskRequest(method=method, params=TaskIdParams(task_id=task_id))


async def tasks_get(session, task_id: str) -> Polled:
    return await session.send_request(task_request("tasks/get", task_id), Polled)


class TasksExtension(ClientExtension):
    """What a task-aware client does: poll tasks/get at the server's interval until the task is done."""

    identifier = IDENTIFIER

    def __init__(self) -> None:
        self.created: list[TaskResult] = []
        self.polls = 0

    def claims(self):
        return [ResultClaim(result_type="task", model=TaskResult, resolve=self.resolve)]

    async def resolve(self, task: TaskResult, ctx: ClaimContext) -> CallToolResult:
        self.created.append(task)
        while True:
            polled = await tasks_get(ctx.session, task.task_id)
            self.polls += 1
            if polled.status == "completed":
                return CallToolResult.model_validate(polled.result)
            if polled.status in ("failed", "cancelled"):
                raise RuntimeError(f"task {polled.status}: {polled.status_message}")
            await anyio.sleep((polled.poll_interval_ms or 1000) / 1000)


async def test_a_task_aware_client_gets_a_task_and_polls_it_to_the_video(settings: Settings):
    tasks = TasksExtension()
    async with Client(build_server(settings), extensions=[tasks]) as client:
        started = time.monotonic()
        result = await client.call_tool("generate_video", {"prompt": "as a task", **FAST})
    job = result.structured_content
    assert job["status"] == "succeeded" and job["video"]["path"].endswith(".mp4")
    [created] = tasks.created
    assert created.task_id == job["job_id"] and created.status == "working"
    assert created.poll_interval_ms and created.poll_interval_ms > 0 and created.ttl_ms is None
    assert tasks.polls >= 2 and time.monotonic() - started < 20


async def test_tasks_get_and_cancel_are_served_from_the_job_index(env: dict[str, str]):
    settings = Settings.from_env({**env, "VIDEOGEN_DEMO_LATENCY": "30"})
    async with Client(build_server(settings), extensions=[TasksExtension()]) as client:
        created = await client.session.call_tool("generate_video", {"prompt": "cancel me"}, allow_claimed=True)
        assert isinstance(created, TaskResult) and created.status == "working"
        polled = await tasks_get(client.session, created.task_id)
        assert polled.status == "working" and polled.result is None and "demo" in polled.status_message
        await client.session.send_request(task_request("tasks/cancel", created.task_id), Result)
        assert (await tasks_get(client.session, created.task_id)).status == "cancelled"
        with pytest.raises(MCPError, match="no task 'job_nope'") as error:
            await tasks_get(client.session, "job_nope")
        assert error.value.error.code == -32602


async def test_a_task_survives_a_server_restart(env: dict[str, str]):
    settings = Settings.from_env({**env, "VIDEOGEN_DEMO_LATENCY": "1.5"})
    async with Client(build_server(settings), extensions=[TasksExtension()]) as client:
        created = await client.session.call_tool("generate_video", {"prompt": "restart", **FAST}, allow_claimed=True)
    # That server is gone; a new one answers for the same task id and finishes the job.
    async with Client(build_server(settings), extensions=[TasksExtension()]) as client:
        with anyio.fail_after(20):
            while (polled := await tasks_get(client.session, created.task_id)).status == "working":
                await anyio.sleep(0.1)
    assert polled.status == "completed" and polled.result["structuredContent"]["status"] == "succeeded"


async def test_bad_input_is_a_plain_tool_error_not_a_task(settings: Settings):
    tasks = TasksExtension()
    async with Client(build_server(settings), extensions=[tasks]) as client:
        result = await client.call_tool("generate_video", {"prompt": "x", "duration": 99})
    assert result.is_error and "allowed" in result.content[0].text and not tasks.created


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_clients_without_the_extension_keep_the_bounded_wait(settings: Settings, mode: str):
    async with Client(build_server(settings), mode=mode) as client:
        result = await client.call_tool("generate_video", {"prompt": "plain", **FAST})
        assert result.structured_content["status"] == "succeeded"
        if mode == "auto":  # tasks/* is for declaring clients only
            with pytest.raises(MCPError) as error:
                await tasks_get(client.session, result.structured_content["job_id"])
            assert error.value.error.code == -32021


def test_the_mcp_inspector_cli_runs_a_task(env: dict[str, str]):
    """A third-party client: the MCP Inspector CLI in the modern era declares the extension and polls.

    With VIDEOGEN_WAIT_SECONDS=0 a plain call would return the job still running; only a client that
    received a task and polled tasks/get can print it succeeded."""
    npx = shutil.which("npx")
    if npx is None:
        pytest.skip("npx is not installed on this machine")
    server_env = {**env, "VIDEOGEN_WAIT_SECONDS": "0", "VIDEOGEN_DEMO_LATENCY": "1", "PYTHONPATH": str(ROOT)}
    env_args = [arg for key, value in server_env.items() for arg in ("-e", f"{key}={value}")]
    command = [
        npx,
        "-y",
        "@modelcontextprotocol/inspector@2.12",
        "--cli",
        *env_args,
        PYTHON,
        "-m",
        "server",
        "--protocol-era",
        "modern",
        "--method",
        "tools/call",
        "--tool-name",
        "generate_video",
        "--tool-arg",
        "prompt=inspector task",
        "--tool-arg",
        "duration=1",
        "--tool-arg",
        "resolution=360p",
    ]
    try:
        done = subprocess.run(
            command, env={**subprocess_env(env), "CI": "true"}, cwd=ROOT, capture_output=True, text=True, timeout=240
        )
    except subprocess.TimeoutExpired:
        pytest.skip("the Inspector could not be installed in time")
    if done.returncode != 0 and any(s in done.stderr for s in ("npm ERR", "npm error", "ENOTFOUND", "E404")):
        pytest.skip(f"npx could not install the Inspector: {done.stderr[-300:]}")
    assert done.returncode == 0, done.stderr[-2000:]
    job = json.loads(done.stdout)["structuredContent"]
    assert job["status"] == "succeeded", job
    assert job["video"]["path"].startswith(env["VIDEOGEN_OUTPUT_DIR"])
