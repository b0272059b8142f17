"""The MCP face of videogen: tools that translate between agents and the JobManager. It does not decide."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, nullcontext
from typing import Annotated, Any, Literal, cast

import anyio
from mcp.server import MCPServer
from mcp.server.apps import APP_MIME_TYPE, Apps
from mcp.server.mcpserver import AcceptedElicitation, Context, Elicit, ElicitationResult, Resolve
from mcp.server.mcpserver.exceptions import ResourceNotFoundError, ToolError
from mcp.server.mcpserver.resources import Resource
from mcp.server.subscriptions import InMemorySubscriptionBus
from mcp.shared.exceptions import MCPError
from mcp_types import (
    INVALID_PARAMS,
    CallToolResult,
    SubscribeRequestParams,
    ToolAnnotations,
    UnsubscribeRequestParams,
)
from pydantic import BaseModel, Field

from providers.base import ErrorCode, ProviderError
from server.arguments import VideogenServer
from server.delivery.links import Links, LinkSigner, origin
from server.jobs import JobManager, UnknownJob
from server.models import CostReport, Job, JobList, ModelList, SameJob
from server.notify import JOBS_URI, JobNotifier
from server.present import Presenter, models_result, progress_value, to_job, with_links
from server.request import RequestArgs, takes_request
from server.settings import Settings
from server.store import JobRow, StoreError
from server.tasks import JobTasks, answering_as_task

INSTRUCTIONS = """\
Make videos from text or images with commercial video models (and an offline demo renderer).
Call estimate_cost first when price matters, then generate_video. Generation takes minutes: if the job is
not finished when generate_video returns, call get_status with the job_id and wait_seconds (it long-polls);
never start the same video twice. Finished videos are local MP4 files (video.path) with a thumbnail."""

# Without a progress token a client cannot tell a long wait from a hung server and gives up on its own
# timeout: openai-agents after 5 s (its MCP default), others later. So such calls wait at most 4 s and
# return the running job, whose next_step tells the agent to call get_status; with a token, heartbeats
# keep the client waiting as long as asked.
NO_PROGRESS_WAIT_SECONDS = 4.0

Wait = Annotated[
    float | None,
    Field(
        strict=True,
        ge=0,
        le=3600,
        description="Seconds to wait before returning the job unfinished.",
    ),
]


def progress_requested(ctx: Context) -> bool:
    """Whether the caller listens for progress: a progressToken in the request's _meta, or a progress
    callback on the SDK's in-process Client (which passes progress on without a token)."""
    meta = ctx.request_context.meta or {}
    if meta.get("progress_token", meta.get("progressToken")) is not None:
        return True
    # The SDK's in-process dispatcher hands progress to the caller's callback and has no token to show; its
    # request context (wrapped by the runner) holds that callback. Not found: treated as no progress.
    outbound = getattr(ctx.request_context.session, "_request_outbound", None)
    while outbound is not None:
        if (
            getattr(outbound, "_on_progress", None) is not None
            or getattr(outbound, "_progress_token", None) is not None
        ):
            return True
        outbound = getattr(outbound, "_inner", None)
    return False


class ProgressReporter:
    """Sends progress for one waiting call. Values must rise with every notification (spec), so
    heartbeats without news add a hair."""

    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.last = -1.0

    async def __call__(self, row: JobRow) -> None:
        value = max(progress_value(row), min(self.last + 0.01, 99.99 if not row.terminal else 100.0))
        if value <= self.last:
            return
        self.last = value
        pct = f" {row.progress:.0%}" if row.progress is not None and row.status == "running" else ""
        queue = f" (queue position {row.queue_position})" if row.queue_position is not None else ""
        await self.ctx.report_progress(value, 100.0, f"{row.status}{pct}{queue}: {row.message}")


class SpendApproval(BaseModel):
    approve: bool = Field(description="Start this paid video generation?")


NOT_NEEDED = "no confirmation needed"
CANNOT_ASK = "confirmation needed, but the client cannot ask"


@takes_request()
async def spend_approval(
    request: RequestArgs, idempotency_key: str | None, ctx: Context
) -> str | Elicit[SpendApproval]:
    """Ask the person before a job costs more than VIDEOGEN_CONFIRM_ABOVE. Runs before the tool body."""
    m = cast(JobManager, ctx.request_context.lifespan_context)
    try:
        if idempotency_key and await m.read(m.db.by_idempotency_key, idempotency_key.strip()) is not None:
            return NOT_NEEDED  # that job exists already; nothing new is spent
    except StoreError as error:  # the index cannot be read: ask nobody, start nothing
        raise ToolError(str(error)) from None
    try:
        await m.catalog.prepare(request.provider, request.model)  # an aggregator's uncurated model, read first
        report = m.catalog.estimate(request)
        if not (idempotency_key or "").strip() and await m.read(m.twin, request) is not None:
            return NOT_NEEDED  # an identical job is returned instead: nothing new is spent
    except (ProviderError, ValueError):
        return NOT_NEEDED  # the tool body reports what is wrong with the request
    except StoreError as error:
        raise ToolError(str(error)) from None
    try:
        check = await m.read(m.budget.check, report.usd)
    except StoreError as error:
        raise ToolError(str(error)) from None
    if not check.needs_confirmation:
        return NOT_NEEDED
    capabilities = ctx.client_capabilities
    if capabilities is None or capabilities.elicitation is None:
        return CANNOT_ASK
    budget = f" of a ${check.daily_budget_usd:.2f} daily budget" if check.daily_budget_usd is not None else ""
    return Elicit(
        f"Generate a {report.model} video with {report.provider} for about ${report.usd:.2f}? "
        f"Spent today: ${check.today_spent_usd:.2f}{budget}.\n\n{quoted_prompt(request.prompt)}",
        SpendApproval,
    )


def quoted_prompt(prompt: str, limit: int = 200) -> str:
    """The agent's prompt as data for the person to read, never as part of the question: after the figures,
    on its own line, JSON-quoted (newlines, quotes and control characters escaped) and shortened."""
    shown = prompt if len(prompt) <= limit else prompt[:limit] + "…"
    return f"The agent's prompt (quoted): {json.dumps(shown, ensure_ascii=False)}"


def _approved(confirmation: ElicitationResult[SpendApproval], m: JobManager) -> None:
    """Raise unless the person approved (or no approval was needed)."""
    if not isinstance(confirmation, AcceptedElicitation):
        raise ToolError(
            f"{ErrorCode.NEEDS_CONFIRMATION.value}: the person did not approve the cost; nothing was started"
        )
    data = confirmation.data
    if data == CANNOT_ASK:
        raise ToolError(
            f"{ErrorCode.NEEDS_CONFIRMATION.value}: this video costs more than ${m.settings.limits.confirm_above:.2f}, "
            "the amount above which the person must confirm (VIDEOGEN_CONFIRM_ABOVE), and this client cannot ask "
            "them (it does not support elicitation). Choose a cheaper request (see estimate_cost), or the person "
            "running this server can raise VIDEOGEN_CONFIRM_ABOVE."
        )
    if isinstance(data, SpendApproval) and not data.approve:
        raise ToolError(f"{ErrorCode.NEEDS_CONFIRMATION.value}: the person declined the cost; nothing was started")


def _tool_error(error: Exception) -> ToolError:
    if isinstance(error, ProviderError):
        return ToolError(f"{error.code.value}: {error.message}")
    return ToolError(str(error))


PLAYER_URI = "ui://videogen/player.html"
NO_PLAYER = (
    '<!DOCTYPE html><html><head><meta charset="utf-8"><title>videogen</title></head><body>'
    "<p>The videogen player is not installed in this server (server/delivery/player.py is missing). "
    "The tool result's text and structured content have the job.</p></body></html>"
)


def player_meta(origins: list[str]) -> dict[str, Any]:
    """The player's `_meta.ui`: media and images from the server's own origin(s) (the signed links), nothing else."""
    return {"ui": {"csp": {"resourceDomains": origins, "connectDomains": []}, "prefersBorder": True}}


class PlayerPage(Resource):
    """The MCP Apps player (ui://videogen/player.html), read from server.delivery.player when it is installed."""

    async def read(self) -> str:
        try:
            from server.delivery.player import player_html
        except ImportError:
            return NO_PLAYER
        return player_html()


class Delivery:
    """How finished videos reach a server's clients beyond file paths. `serve` runs when an HTTP app is built
    for the server (server.transport.http_app): from then on, results over HTTP carry signed links. Under stdio
    it never runs: results keep file paths only, and the player reads the video as a resource."""

    def __init__(self, settings: Settings | None):
        self.settings = settings
        self.links: Links | None = None
        self.player = PlayerPage(
            uri=PLAYER_URI,
            name="player",
            title="videogen player",
            description="Shows a job live and plays the finished video (MCP Apps).",
            mime_type=APP_MIME_TYPE,
            meta=player_meta([]),
        )

    def serve(self, host: str, port: int, allowed_hosts: list[str]) -> Any:
        """Start handing out links for an HTTP server on host:port; the /files/ ASGI app that answers them."""
        from server.delivery.files import files_app

        settings = self.settings or Settings.from_env()
        signer = LinkSigner.from_data_dir(settings.data_dir, settings.link_ttl_seconds)
        every = host in ("0.0.0.0", "::", "")
        base = settings.public_url or (None if every else f"http://{_netloc(host)}:{port}")
        self.links = Links(signer, settings.output_dir, base)
        names = ["127.0.0.1", "localhost", *allowed_hosts]
        self.player.meta = player_meta([origin(base)] if base else [f"http://{_netloc(n)}:{port}" for n in names])
        return files_app(settings.output_dir, signer)

    def job(self, job: Job, ctx: Context) -> Job:
        """The job with fresh links when this request came over HTTP to a server that hands them out."""
        request = ctx.request_context.request
        if self.links is None or request is None or job.status != "succeeded":
            return job
        base = self.links.base_for(request.url.scheme, request.headers.get("host"))
        return with_links(job, self.links, base) if base else job


def _netloc(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def build_server(settings: Settings | None = None, manager: JobManager | None = None) -> MCPServer:
    """The MCP server. With `manager`, the caller owns the engine (HTTP transports: one per process)."""

    bus = InMemorySubscriptionBus()
    presenter = Presenter()  # sends each finished job's thumbnail once
    notifier = JobNotifier(bus)
    running: list[JobManager] = []  # engines serving now: static resources get no Context to find theirs
    delivery = Delivery(settings or (manager.settings if manager else None))
    apps = Apps()  # announces MCP Apps; generate_video and get_status name the player in their _meta
    apps.add_resource(delivery.player)

    @asynccontextmanager
    async def lifespan(_: MCPServer) -> AsyncIterator[JobManager]:
        async with (
            nullcontext(manager) if manager else JobManager(settings or Settings.from_env()) as m,
            notifier.running(),  # sends to resources/subscribe clients, never from the engine's own tasks
        ):
            m.listeners.append(notifier.job_changed)
            running.append(m)
            try:
                yield m
            finally:
                running.remove(m)
                m.listeners.remove(notifier.job_changed)

    mcp = VideogenServer(
        "videogen",
        title="videogen: video generation for agents",
        instructions=INSTRUCTIONS,
        version=_version(),
        lifespan=lifespan,
        subscriptions=bus,
        # Task support is announced as the 2026-07-28 tasks extension defines it: in the server's capabilities
        # (extensions), each call then decided by the server. The extension has no per-tool flag in tools/list;
        # the 2025-11-25 `execution.taskSupport` would promise that era's task protocol, not served here.
        extensions=[JobTasks(), apps],
    )
    mcp.delivery = delivery  # type: ignore[attr-defined]  # server.transport.http_app starts it
    # MCPServer serves subscriptions/listen (2026-07-28) but not the older resources/subscribe.
    mcp._lowlevel_server.add_request_handler("resources/subscribe", SubscribeRequestParams, notifier.subscribe)
    mcp._lowlevel_server.add_request_handler("resources/unsubscribe", UnsubscribeRequestParams, notifier.unsubscribe)

    def engine(ctx: Context) -> JobManager:
        return cast(JobManager, ctx.request_context.lifespan_context)

    def shown(row: JobRow, ctx: Context) -> Job:
        return delivery.job(to_job(row, engine(ctx).settings.wait_seconds), ctx)

    def wait_for(ctx: Context, wait_seconds: float | None) -> float:
        m = engine(ctx)
        wait = min(m.settings.wait_seconds if wait_seconds is None else wait_seconds, m.settings.max_wait_seconds)
        return wait if progress_requested(ctx) else min(wait, NO_PROGRESS_WAIT_SECONDS)

    @mcp.tool(
        title="Generate a video",
        meta={"ui": {"resourceUri": PLAYER_URI}},
        annotations=ToolAnnotations(
            read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=True
        ),
    )
    @takes_request()
    async def generate_video(
        request: RequestArgs,
        ctx: Context,
        wait_seconds: Wait = None,
        idempotency_key: Annotated[
            str | None,
            Field(
                description="Same key, same job. Without one, an identical recent request returns its job; a new "
                "key makes a new variation."
            ),
        ] = None,
        *,
        # Keyword-only without a default: before 3.11, `= None` would make get_type_hints wrap it in Optional.
        confirmation: Annotated[ElicitationResult[SpendApproval], Resolve(spend_approval)],
    ) -> Annotated[CallToolResult, SameJob]:
        """Start a video job (text-to-video; image-to-video with `images`; video-to-video with `video`) and wait
        up to `wait_seconds`, sending progress. Returns the Job; if unfinished, call get_status with its job_id
        (it runs on in the background). Check the price with estimate_cost first."""
        m = engine(ctx)
        _approved(confirmation, m)
        try:
            await m.catalog.prepare(request.provider, request.model)  # an aggregator's uncurated model, read first
            row = await m.submit(request, idempotency_key)
        except (ProviderError, ValueError, StoreError) as error:
            raise _tool_error(error) from None
        deduplicated = row.deduplicated
        # Answered as a task, the client polls tasks/get instead of waiting here.
        wait = 0.0 if answering_as_task() else wait_for(ctx, wait_seconds)
        row = await m.wait(row.job_id, wait, ProgressReporter(ctx))
        row.deduplicated = deduplicated  # wait reads the row afresh: keep what submit found
        return presenter.job_result(shown(row, ctx), m.settings.result_links)

    @mcp.tool(
        title="Get a job's status",
        meta={"ui": {"resourceUri": PLAYER_URI}},
        annotations=ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=False),
    )
    async def get_status(
        job_id: Annotated[str, Field(description="The job_id that generate_video returned.")],
        ctx: Context,
        wait_seconds: Annotated[
            float | None,
            Field(
                strict=True,
                ge=0,
                le=3600,
                description="Wait up to this long for it to finish, sending progress (0: answer at once).",
            ),
        ] = 0,
    ) -> Annotated[CallToolResult, Job]:
        """A job's current state; with wait_seconds, long-poll until it finishes. Works for every job this server
        made, also after a restart."""
        m = engine(ctx)
        try:
            await m.job(job_id)
            row = await m.wait(job_id.strip(), wait_for(ctx, wait_seconds or 0), ProgressReporter(ctx))
        except (UnknownJob, StoreError) as error:
            raise ToolError(str(error)) from None
        return presenter.job_result(shown(row, ctx), m.settings.result_links)

    @mcp.tool(
        title="List video models",
        annotations=ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=False),
    )
    async def list_models(
        ctx: Context,
        provider: Annotated[str | None, Field(description="Only this provider's models.")] = None,
        mode: Annotated[
            Literal["text_to_video", "image_to_video", "video_to_video"] | None,
            Field(description="Only models taking this input."),
        ] = None,
        audio: Annotated[
            bool | None, Field(strict=True, description="true: only models with sound; false: only silent ones.")
        ] = None,
        max_usd: Annotated[
            float | None, Field(ge=0, description="Only models whose default video costs at most this (USD).")
        ] = None,
        model: Annotated[str | None, Field(description="A model id (or provider/id): that model in full.")] = None,
        search: Annotated[str | None, Field(description="Words; also searches fal's, Replicate's catalogues.")] = None,
    ) -> Annotated[CallToolResult, ModelList]:
        """Models as compact rows (inputs, seconds, resolutions, audio, price of a default video), filtered as
        asked; with `model`, that model in full."""
        try:
            listing = await engine(ctx).catalog.amodels(
                provider, mode=mode, audio=audio, max_usd=max_usd, model=model, search=search, compact=model is None
            )
        except (ProviderError, StoreError) as error:
            raise _tool_error(error) from None
        return models_result(listing, detail=model is not None and not search)

    @mcp.tool(
        title="Estimate a video's cost",
        annotations=ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=False),
    )
    @takes_request(brief=True)
    async def estimate_cost(request: RequestArgs, ctx: Context) -> CostReport:
        """The USD price of the request generate_video would make, with a breakdown; validated the same way.
        Creates no job, calls no provider."""
        try:
            m = engine(ctx)
            await m.catalog.prepare(request.provider, request.model)  # an aggregator's uncurated model, read first
            report = m.catalog.estimate(request)
            return report.model_copy(update={"budget": await m.read(m.budget.check, report.usd)})
        except (ProviderError, StoreError) as error:
            raise _tool_error(error) from None

    @mcp.tool(
        title="List recent jobs",
        annotations=ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=False),
    )
    async def list_jobs(
        ctx: Context,
        status: Annotated[
            Literal["pending", "queued", "running", "downloading", "succeeded", "failed", "cancelled"] | None,
            Field(description="Only jobs in this state."),
        ] = None,
        limit: Annotated[int, Field(strict=True, ge=1, le=200, description="How many, newest first.")] = 20,
    ) -> JobList:
        """Recent jobs, newest first."""
        m = engine(ctx)
        try:
            rows = await m.read(m.db.list, status, limit)
        except StoreError as error:
            raise _tool_error(error) from None
        return JobList(jobs=[shown(r, ctx) for r in rows])

    @mcp.tool(
        title="Cancel a job",
        annotations=ToolAnnotations(
            read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=True
        ),
    )
    async def cancel_job(
        job_id: Annotated[str, Field(description="The job to cancel.")],
        ctx: Context,
    ) -> Annotated[CallToolResult, SameJob]:
        """Cancel an unfinished job (at the provider too, where it can). Finished jobs are returned unchanged."""
        m = engine(ctx)
        try:
            row = await m.cancel(job_id)
        except (UnknownJob, ProviderError, StoreError) as error:
            raise _tool_error(error) from None
        return presenter.job_result(shown(row, ctx), m.settings.result_links)

    @mcp.resource(
        JOBS_URI,
        name="recent_jobs",
        title="Recent video jobs",
        mime_type="application/json",
        description="The 50 most recent jobs, newest first. Updated whenever any job changes.",
    )
    async def recent_jobs() -> str:
        m = running[-1]
        rows = await m.read(m.db.list, None, 50)
        return JobList(jobs=[to_job(r, m.settings.wait_seconds) for r in rows]).model_dump_json()

    @mcp.resource(
        JOBS_URI + "/{job_id}",
        name="job",
        title="A video job",
        mime_type="application/json",
        description="One job as JSON (the Job shape). Subscribe to hear of every state change.",
    )
    async def job_resource(job_id: str, ctx: Context) -> str:
        m = engine(ctx)
        try:
            return shown(await m.job(job_id), ctx).model_dump_json()
        except UnknownJob as error:  # -32602 (invalid params), as for any resource that does not exist
            raise ResourceNotFoundError(str(error)) from None

    @mcp.resource(
        JOBS_URI + "/{job_id}/video",
        name="job_video",
        title="A finished video",
        mime_type="video/mp4",
        description="The MP4 as a blob, up to VIDEOGEN_RESOURCE_MAX_MB (25 by default); a larger one: "
        "video.download_url or video.path from get_status.",
    )
    async def job_video(job_id: str, ctx: Context) -> bytes:
        return await finished_file(job_id, "path", "video", ctx)

    @mcp.resource(
        JOBS_URI + "/{job_id}/thumbnail",
        name="job_thumbnail",
        title="A finished video's thumbnail",
        mime_type="image/png",
    )
    async def job_thumbnail(job_id: str, ctx: Context) -> bytes:
        return await finished_file(job_id, "thumbnail_path", "thumbnail", ctx)

    async def finished_file(job_id: str, field: str, what: str, ctx: Context) -> bytes:
        """A finished job's video or thumbnail as bytes, at most VIDEOGEN_RESOURCE_MAX_MB; -32602 otherwise."""
        m = engine(ctx)
        try:
            row = await m.job(job_id)
        except UnknownJob as error:  # -32602 (invalid params), as for any resource that does not exist
            raise ResourceNotFoundError(str(error)) from None
        path = anyio.Path(row.video[field]) if row.video and row.video.get(field) else None
        if path is None or not await path.is_file():
            wait = f" yet; get_status(job_id={row.job_id!r}, wait_seconds=...) waits for it" if not row.terminal else ""
            raise ResourceNotFoundError(f"job {row.job_id} has no {what}{wait} (status: {row.status})")
        size, limit = (await path.stat()).st_size, m.settings.resource_max_bytes
        if size > limit:
            job = shown(row, ctx)
            link = (job.video.download_url if what == "video" else job.video.thumbnail_url) if job.video else None
            where = (
                f"download it from {link}" if link else "read it from video.path (get_status) on the server's machine"
            )
            raise MCPError(
                INVALID_PARAMS,
                f"the {what} of job {row.job_id} is {size / 2**20:.1f} MB, above the {limit / 2**20:.3g} MB a resource "
                f"read returns (VIDEOGEN_RESOURCE_MAX_MB); {where}",
                {"uri": f"{JOBS_URI}/{row.job_id}/{what}", "size_bytes": size, "limit_bytes": limit},
            )
        return await path.read_bytes()

    return mcp


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("mcp-videogen")
    except PackageNotFoundError:
        return "0.0.0"
