"""The MCP tasks extension (`io.modelcontextprotocol/tasks`, 2026-07-28 form) for generate_video.

A client that declares the extension on a request gets the job back at once as a task instead of a
bounded wait. Validation, pricing and any spending confirmation still happen first, inside the call, so
bad input is an ordinary tool error and a task exists only once the job does. The task id is the job id
and `tasks/get` / `tasks/cancel` are served from the job index, so a task survives a server restart.
The SDK has no tasks runtime: this builds one on its public extension API.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.extension import Extension, MethodBinding
from mcp.server.mcpserver import require_client_extension
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS, CallToolRequestParams, CallToolResult, RequestParams
from pydantic import ConfigDict, Field

from server.jobs import JobManager, UnknownJob, iso
from server.store import JobRow

IDENTIFIER = "io.modelcontextprotocol/tasks"
MODERN = frozenset({"2026-07-28"})
TASK_TOOLS = frozenset({"generate_video"})
# Terminal job states as task states; a failed job is a completed tool call whose Job says "failed"
# (the spec keeps `failed` for JSON-RPC errors).
TASK_STATUS = {"succeeded": "completed", "failed": "completed", "cancelled": "cancelled"}

_as_task: ContextVar[bool] = ContextVar("videogen_as_task", default=False)


def answering_as_task() -> bool:
    """True inside a tool call that will be answered with a task: the tool should not wait."""
    return _as_task.get()


class TaskParams(RequestParams):
    model_config = ConfigDict(populate_by_name=True)
    task_id: str = Field(alias="taskId")


class TaskUpdateParams(TaskParams):
    input_responses: dict[str, Any] = Field(default_factory=dict, alias="inputResponses")


class JobTasks(Extension):
    identifier = IDENTIFIER

    def methods(self) -> list[MethodBinding]:
        return [
            MethodBinding("tasks/get", TaskParams, self.get, protocol_versions=MODERN),
            MethodBinding("tasks/update", TaskUpdateParams, self.update, protocol_versions=MODERN),
            MethodBinding("tasks/cancel", TaskParams, self.cancel, protocol_versions=MODERN),
        ]

    async def intercept_tool_call(
        self, params: CallToolRequestParams, ctx: ServerRequestContext[Any, Any], call_next: CallNext
    ) -> HandlerResult:
        if params.name not in TASK_TOOLS or ctx.protocol_version not in MODERN or not _declared(ctx):
            return await call_next(ctx)
        token = _as_task.set(True)
        try:
            result = await call_next(ctx)
        finally:
            _as_task.reset(token)
        # Errors and elicitation rounds go back as they are; so does a job that is already finished
        # (an idempotency key naming a done job): its result is better than a task to poll.
        if not isinstance(result, CallToolResult) or result.is_error or not result.structured_content:
            return result
        manager: JobManager = ctx.lifespan_context
        row = await manager.job(result.structured_content["job_id"])
        if row.terminal:
            return result
        return {"resultType": "task", **task_view(row, manager)}

    async def get(self, ctx: ServerRequestContext[Any, Any], params: TaskParams) -> dict[str, Any]:
        manager, row = await _job(ctx, params.task_id)
        return {"resultType": "complete", **task_view(row, manager, detailed=True)}

    async def update(self, ctx: ServerRequestContext[Any, Any], params: TaskUpdateParams) -> dict[str, Any]:
        await _job(ctx, params.task_id)  # our tasks never ask for input: responses are acknowledged and ignored
        return {"resultType": "complete"}

    async def cancel(self, ctx: ServerRequestContext[Any, Any], params: TaskParams) -> dict[str, Any]:
        manager, row = await _job(ctx, params.task_id)
        await manager.cancel(row.job_id)
        return {"resultType": "complete"}


def _declared(ctx: ServerRequestContext[Any, Any]) -> bool:
    capabilities = ctx.session.client_capabilities
    return bool(capabilities and capabilities.extensions and IDENTIFIER in capabilities.extensions)


async def _job(ctx: ServerRequestContext[Any, Any], task_id: str) -> tuple[JobManager, JobRow]:
    require_client_extension(ctx, IDENTIFIER)
    manager: JobManager = ctx.lifespan_context
    try:
        return manager, await manager.job(task_id)
    except UnknownJob:
        raise MCPError(code=INVALID_PARAMS, message=f"Failed to retrieve task: no task {task_id!r}") from None


def task_view(row: JobRow, manager: JobManager, detailed: bool = False) -> dict[str, Any]:
    """The Task shape of a job; `detailed` adds the final result once it is done (tasks/get)."""
    from server.present import job_result, summary, to_job

    job = to_job(row, manager.settings.wait_seconds)
    view: dict[str, Any] = {
        "taskId": row.job_id,
        "status": TASK_STATUS.get(row.status, "working"),
        "statusMessage": summary(job),
        "createdAt": iso(row.created_at),
        "lastUpdatedAt": iso(row.updated_at),
        "ttlMs": None,  # the job index keeps every job
        "pollIntervalMs": poll_interval_ms(row, manager),
    }
    if detailed and view["status"] == "completed":
        view["result"] = job_result(job, manager.settings.result_links).model_dump(
            mode="json", by_alias=True, exclude_none=True
        )
    return view


def poll_interval_ms(row: JobRow, manager: JobManager) -> int:
    """The provider's own cadence for this model, so clients poll us as often as we poll it."""
    import time

    provider = manager.providers.get(row.provider)
    spec = provider.spec(row.model)
    if spec is None:
        return 5000
    seconds = provider.poll_interval(spec, time.time() - row.created_at) * manager.settings.poll_scale
    return max(50, int(seconds * 1000))
