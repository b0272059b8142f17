"""Delivering a finished job: download (or render) the video next to a temp name, verify it, rename it into
place, probe it and make its thumbnail. Heavy work (decoding, fsync) runs in worker threads."""

from __future__ import annotations

import logging
import time
from contextlib import suppress
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeGuard

import anyio

from providers.base import ErrorCode, ModelSpec, Provider, ProviderError, Snapshot, Submission, VideoRequest

from . import common
from .parts import EngineParts

log = logging.getLogger("videogen.jobs")


class Delivering(EngineParts):
    """The JobManager's delivering part (see server/jobs/manager.py for the attributes it uses)."""

    async def _deliver(
        self,
        job_id: str,
        provider: Provider,
        spec: ModelSpec,
        submission: Submission,
        request: VideoRequest,
        snapshot: Snapshot,
    ) -> None:
        """Download (or render) the video next to a temp name, verify it, then rename it into place.

        A failed download is tried again (after a fresh status read: signed URLs expire) DOWNLOAD_ATTEMPTS
        times; a provider that only says "not now" (rate limit, network fault) is waited out, as polls are.
        When our own disk is at fault (output folder full, unwritable or deleted: it is recreated), the job
        says so in its message and keeps trying with growing waits for STORAGE_RETRY_SECONDS while the
        provider serves the video; then it fails DOWNLOAD_FAILED (retryable), never INTERNAL. A thumbnail that
        cannot be written leaves a delivered video without one."""
        from server import media

        row = await self._read(job_id)
        name = media.video_filename(job_id, request.prompt, datetime.fromtimestamp(row.created_at, timezone.utc))
        dest = self.settings.output_dir / name
        await self._write(
            job_id,
            status="downloading",
            progress=1.0,
            queue_position=None,
            message="downloading the video",
            cost_charged=snapshot.charged_usd or row.cost_charged,
            cancel_requested=False,  # one that slipped in as the video finished: the video is paid for
        )
        scale = self.settings.poll_scale
        storage_error = getattr(media, "LocalStorageError", OSError)
        started, failures, storage_failures = time.monotonic(), 0, 0
        while True:
            try:
                await self._fetch(provider, submission, request, snapshot, dest)
                info = await anyio.to_thread.run_sync(media.probe, dest)
                break
            except (media.MediaError, ProviderError, OSError) as error:
                if isinstance(error, OSError | storage_error):
                    storage_failures += 1
                    message = self._storage_message(error)
                    if time.monotonic() - started >= common.STORAGE_RETRY_SECONDS * scale:
                        raise ProviderError(
                            ErrorCode.DOWNLOAD_FAILED,
                            f"{message}. Gave up saving it after {common.STORAGE_RETRY_SECONDS / 60:.0f} min; once the "
                            "folder can take it, submitting again makes a new video (and may be charged again).",
                            retryable=True,
                        ) from None
                    wait = min(common.STORAGE_MAX_WAIT, 2.0 * storage_failures) * scale
                    await self._write(job_id, message=f"{message}; trying again")
                elif _refused_for_now(error) and time.monotonic() - started < common.MAX_UNREACHABLE_SECONDS:
                    # The provider's API rate-limited or unreachable (Google serves the file through it): like a
                    # poll, this never fails the job while it lasts; it is no verdict on the video.
                    message = error.message
                    wait = max(error.retry_after or 0, self._interval(provider, spec, 0))
                else:
                    failures += 1
                    message = error.message if isinstance(error, ProviderError) else str(error)
                    if failures >= common.DOWNLOAD_ATTEMPTS:
                        raise ProviderError(
                            ErrorCode.DOWNLOAD_FAILED, f"could not download the video: {message}"
                        ) from None
                    wait = self._interval(provider, spec, 0) * failures
                log.warning("job %s: delivery attempt failed: %s", job_id, message)
                # Not cut short by a cancel request (one slipped in as the download began): the video is paid for.
                await anyio.sleep(max(wait, common.SLEEP_FLOOR * scale))
                try:
                    fresh = await self._poll(job_id, provider, spec, submission, request)  # a fresh (unexpired) URL
                except ProviderError as gone:
                    raise ProviderError(
                        ErrorCode.DOWNLOAD_FAILED,
                        f"{message}; and {provider.title} no longer answers for the video: {gone.message}",
                        retryable=True,
                    ) from None
                if fresh is not None and fresh.status == "succeeded":
                    snapshot = fresh
        try:
            thumb: str | None = str(await anyio.to_thread.run_sync(media.thumbnail, dest, dest.with_suffix(".png")))
        except (media.MediaError, OSError) as error:  # the video itself is safe: deliver it without a picture
            log.warning("job %s: no thumbnail: %s", job_id, error)
            thumb = None
        video = {
            "path": str(dest),
            "url": snapshot.video_url,
            "thumbnail_path": thumb,
            "duration_seconds": round(info.duration_seconds, 3),
            "width": info.width,
            "height": info.height,
            "size_bytes": info.size_bytes,
        }
        log.info("job %s delivered by %s", job_id, self.owner)
        await self._write(
            job_id, status="succeeded", video=video, progress=1.0, message=f"done: {dest.name}", finished_at=time.time()
        )

    async def _fetch(
        self, provider: Provider, submission: Submission, request: VideoRequest, snapshot: Snapshot, dest: Path
    ) -> None:
        from server import media

        dest.parent.mkdir(parents=True, exist_ok=True)  # the output folder may have been deleted since
        if snapshot.video_url:
            # A provider served from this machine or network (a proxy, a simulator) may serve its videos there.
            private = await media.is_private_url(provider.base_url) if provider.base_url else False
            await media.download(
                self._http_client(),
                snapshot.video_url,
                dest,
                max_bytes=self.settings.max_download_bytes,
                allow_private=private,
            )
            return
        part = dest.with_name(dest.name + ".part")
        try:
            await provider.fetch(snapshot, submission, request, part)
            await anyio.to_thread.run_sync(media.finalize, part, dest)  # verifies every frame: not on the loop
        finally:
            with suppress(OSError):
                part.unlink(missing_ok=True)

    def _storage_message(self, error: Exception) -> str:
        """What is wrong with the output folder, and what to do (media's LocalStorageError says both)."""
        if isinstance(error, OSError):
            return (
                f"cannot save the video in {self.settings.output_dir}: {error.strerror or error}. Free space there "
                "(or make it writable), or set VIDEOGEN_OUTPUT_DIR to a folder that has room"
            )
        return str(error)

    def _http_client(self) -> Any:
        if self._http is None:
            import httpx

            self._http = httpx.AsyncClient(timeout=httpx.Timeout(60.0, connect=10.0), follow_redirects=True)
        return self._http


def _refused_for_now(error: Exception) -> TypeGuard[ProviderError]:
    """A provider's answer that says "not now" (rate limit, network or server fault), not "this will not work"."""
    return isinstance(error, ProviderError) and error.code in (ErrorCode.RATE_LIMITED, ErrorCode.TRANSIENT)
