"""How a job and the model catalogue read to agents: text, content blocks, and sizes kept small.

The structured content (the Job, the ModelList) is the source of truth; the content blocks are what a
framework hands its model, so they are chosen for the frameworks, not only for MCP-native clients:

- No resource_link to the job itself (videogen://jobs/{id}): langchain-mcp-adapters turns every non-image
  resource_link into a "file" block, which ChatOpenAI (Chat Completions) refuses ("does not support file
  URLs") and ChatGoogleGenerativeAI tries to download. MCP-native clients find the job resource anyway
  (resources/templates/list advertises videogen://jobs/{job_id}, and the text names it).
- The video as a file:// resource_link only with VIDEOGEN_RESULT_LINKS=file: only a local stdio client can
  read that file, and the same LangChain conversion crashes on it. The path is in the text and in
  structured content either way.
- Over HTTP, a succeeded job's video carries signed links (download_url, thumbnail_url; fresh on every
  answer) and its text names the download link instead of the path, which only the server's machine can open.
  Not as resource_link blocks either, for the same frameworks' sake. Under stdio: paths only, as before.
- The thumbnail a small JPEG (160 px wide, a few KB), sent once per job by this process: the first result
  that shows the job succeeded. Later polls carry text and structured content only; the full-size PNG stays
  readable as videogen://jobs/{id}/thumbnail.
"""

from __future__ import annotations

import base64
import itertools
import logging
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING

from mcp_types import CallToolResult, ImageContent, ResourceLink, TextContent

from server.jobs import iso
from server.models import Job, JobError, JobVideo, ModelList, ModelSummary, ProviderModels
from server.settings import RESULT_LINKS, ResultLinks, result_links
from server.store import JobRow

if TYPE_CHECKING:
    from server.delivery.links import Links

log = logging.getLogger(__name__)


# Progress is reported on a 0..100 scale: phases before and after the provider's own progress.
PHASE_FLOOR = {"pending": 0.0, "queued": 2.0, "running": 5.0, "downloading": 95.0}

THUMBNAIL_WIDTH = 160
THUMBNAIL_QUALITY = 70
REMEMBERED_JOBS = 10_000  # thumbnails-sent memory per process; the oldest are forgotten first


DONE = "Done: the video is at video.path (thumbnail at video.thumbnail_path)."


def next_step(row: JobRow, wait_default: float) -> str:
    if row.status == "succeeded":
        return DONE
    if row.status == "failed":
        retry = row.error and row.error.get("retryable")
        return (
            "Retrying the same request may work." if retry else "Fix the request as the error says; do not retry as is."
        )
    if row.status == "cancelled":
        return "Nothing more to do."
    return (
        f"Still {row.status}. Call get_status(job_id={row.job_id!r}, wait_seconds={wait_default:g}) to wait for "
        "it; do not submit it again."
    )


def to_job(row: JobRow, wait_default: float = 45) -> Job:
    step = next_step(row, wait_default)
    deduplicated = getattr(row, "deduplicated", False)
    if deduplicated:
        from server.jobs import dedupe_note  # the engine's words for a returned twin

        step = f"{dedupe_note(row)} {step}"
    return Job(
        job_id=row.job_id,
        status=row.status,
        progress=row.progress,
        queue_position=row.queue_position,
        message=row.message,
        provider=row.provider,
        model=row.model,
        request=row.request,
        cost=row.cost_charged if row.cost_charged is not None else row.cost_estimate,
        cost_is_estimate=row.cost_charged is None,
        provider_job_id=row.provider_ref,
        idempotency_key=row.idempotency_key,
        created_at=iso(row.created_at) or "",
        updated_at=iso(row.updated_at) or "",
        finished_at=iso(row.finished_at),
        video=JobVideo.model_validate(row.video) if row.video else None,
        error=JobError.model_validate(row.error) if row.error else None,
        deduplicated=deduplicated,
        next_step=step,
    )


def with_links(job: Job, links: Links, base: str) -> Job:
    """The job with fresh signed links to its video and thumbnail: only a succeeded job whose file exists."""
    if job.status != "succeeded" or not job.video:
        return job
    download = links.url(job.video.path, base)
    if download is None:
        return job
    video = job.video.model_copy(
        update={"download_url": download, "thumbnail_url": links.url(job.video.thumbnail_path, base)}
    )
    step = (
        f"Done: download it from video.download_url (valid {_duration(links.signer.ttl)}; get_status gives a "
        "fresh link)."
    )
    return job.model_copy(update={"video": video, "next_step": job.next_step.replace(DONE, step)})


def _duration(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.3g} h"
    return f"{seconds / 60:.3g} min" if seconds >= 60 else f"{seconds:.3g} s"


def summary(job: Job) -> str:
    head = f"Job {job.job_id} ({job.provider}/{job.model}): {job.status}"
    if job.status == "succeeded" and job.video:
        v = job.video
        return (
            f"{head}. Video: {v.download_url or v.path} ({v.width}x{v.height}, {v.duration_seconds:g} s, "
            f"{v.size_bytes / 1e6:.1f} MB). Cost: ${job.cost or 0:.2f}. {job.next_step}"
        )
    if job.status == "failed" and job.error:
        return f"{head}. {job.error.code.value}: {job.error.message} {job.next_step}"
    progress = f" {job.progress:.0%}" if job.progress is not None and job.status == "running" else ""
    return f"{head}{progress}. {job.message}. {job.next_step}"


def progress_value(row: JobRow) -> float:
    if row.terminal:
        return 100.0
    floor = PHASE_FLOOR.get(row.status, 0.0)
    if row.status == "running" and row.progress is not None:
        return floor + 90.0 * max(0.0, min(1.0, row.progress))
    return floor


def job_result(job: Job, links: ResultLinks = "none", thumbnail: bytes | None = None) -> CallToolResult:
    """The Job as a tool result: a short text, the file link if `links` allows, the JPEG `thumbnail` if given."""
    content: list = [TextContent(type="text", text=summary(job))]
    if job.video and links == "file":
        path = Path(job.video.path)
        content.append(
            ResourceLink(
                type="resource_link",
                uri=path.as_uri(),
                name=path.name,
                mime_type="video/mp4",
                size=job.video.size_bytes,
            )
        )
    if thumbnail:
        content.append(ImageContent(type="image", data=base64.b64encode(thumbnail).decode(), mime_type="image/jpeg"))
    return CallToolResult(content=content, structured_content=job.model_dump(mode="json"))


class Presenter:
    """Job results for one server (build_server makes it). It remembers which jobs' thumbnails this process
    already sent: a finished job shows its picture in the first result that has it, not on every poll."""

    def __init__(self, *, thumbnail: bool = True, remember: int = REMEMBERED_JOBS):
        self.thumbnail = thumbnail
        self.remember = remember
        self._sent: OrderedDict[str, None] = OrderedDict()

    def job_result(self, job: Job, links: ResultLinks = "none") -> CallToolResult:
        jpeg = None
        if job.video and self.thumbnail and job.job_id not in self._sent:
            jpeg = preview(job.video)
            if jpeg:
                self._sent[job.job_id] = None
                while len(self._sent) > self.remember:
                    self._sent.popitem(last=False)
        return job_result(job, links, jpeg)


def preview(video: JobVideo) -> bytes | None:
    """The small JPEG of a finished video (from its PNG thumbnail, else a frame), or None when neither reads."""
    from server.media import MediaError, preview_jpeg

    source = video.thumbnail_path if video.thumbnail_path and Path(video.thumbnail_path).is_file() else video.path
    try:
        return preview_jpeg(source, THUMBNAIL_WIDTH, THUMBNAIL_QUALITY)
    except (MediaError, OSError) as error:
        log.warning("no preview for %s: %s", Path(video.path).name, error)
        return None


# -- the model catalogue ---------------------------------------------------------------------------


def _seconds(durations: list[float]) -> str:
    """1, 2, 3, 4 -> '1-4'; 5, 10 -> '5, 10'."""
    if len(durations) > 2 and all(b - a == 1 for a, b in itertools.pairwise(durations)):
        return f"{durations[0]:g}-{durations[-1]:g}"
    return ", ".join(f"{d:g}" for d in durations)


MODES = {"text_to_video": "text", "image_to_video": "image", "video_to_video": "video"}


def model_line(m: ModelSummary, default_model: str = "") -> str:
    flags = "".join(
        f for f, on in ((" default", f"{m.provider}/{m.model}" == default_model), (" ready", m.configured)) if on
    )
    return (
        f"{m.provider}/{m.model}{flags}: {'+'.join(MODES[x] for x in m.modes)}; "
        f"{_seconds(m.durations)} s; {', '.join(m.resolutions)}; {'audio' if m.audio else 'silent'}; "
        f"${m.example_cost_usd:.2f}"
    )


def others_line(p: ProviderModels) -> str:
    ready = f"set {', '.join(p.missing_env)}" if p.missing_env else "ready"
    return f"{p.provider} ({ready}): {', '.join(p.models)}"


def models_result(listing: ModelList, detail: bool) -> CallToolResult:
    """list_models: compact rows as text lines (what most frameworks show their model), the rows as
    structured content; with `detail`, the chosen model(s) in full, as JSON text too."""
    if detail:
        return CallToolResult(
            content=[TextContent(type="text", text=listing.model_dump_json(exclude_defaults=True))],
            structured_content=listing.model_dump(mode="json"),
        )
    head = (
        f"{len(listing.models)} model(s): provider/model; inputs; seconds; resolutions; audio; USD per default "
        f"video. ready: usable now. {listing.note}"
    )
    lines = [head.strip(), *(model_line(m, listing.default_model) for m in listing.models)]
    lines += [others_line(p) for p in listing.others]
    return CallToolResult(
        content=[TextContent(type="text", text="\n".join(lines))], structured_content=listing.model_dump(mode="json")
    )


__all__ = [
    "RESULT_LINKS",
    "Presenter",
    "ResultLinks",
    "job_result",
    "models_result",
    "next_step",
    "progress_value",
    "result_links",
    "summary",
    "to_job",
    "with_links",
]
