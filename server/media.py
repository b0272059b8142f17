"""Video files: download, check, describe, thumbnail and name them.

PyAV and Pillow are imported inside the functions that use them: starting the server (and listing
tools) must not pay for loading FFmpeg.
"""

from __future__ import annotations

import os
import re
import unicodedata
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import anyio
import anyio.to_thread
import httpx
from pydantic import BaseModel

from server.crash import crash_point

# Container families we accept, as FFmpeg names them. Anything else (an image read as a one-frame
# "video", a text file read as ANSI art) is not a video a provider made.
VIDEO_FORMATS = frozenset({"mov", "mp4", "matroska", "webm"})
CHUNK_BYTES = 256 * 1024


class MediaError(ValueError):
    """A file or download that is not a usable video. The message is safe to show (no secrets)."""


class VideoInfo(BaseModel):
    duration_seconds: float
    width: int
    height: int
    codec: str
    size_bytes: int
    frames: int | None = None


# -- reading videos ------------------------------------------------------------------------------


def probe(path: str | Path) -> VideoInfo:
    """Describe a video from its container headers, without decoding it."""
    with _open_video(path) as container:
        return _info(path, container)


def verify(path: str | Path) -> VideoInfo:
    """Decode every frame: headers alone do not reveal a file cut short."""
    import av

    name = Path(path).name
    with _open_video(path) as container:
        info = _info(path, container)
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        count, last_time = 0, None
        try:
            for frame in container.decode(stream):
                count += 1
                last_time = frame.time if frame.time is not None else last_time
        except av.FFmpegError as exc:
            raise MediaError(f"{name} is damaged: decoding failed after {count} frames ({exc.strerror})") from None
    if count == 0:
        raise MediaError(f"{name} has no decodable frames")
    if info.frames and count < info.frames:
        raise MediaError(f"{name} is truncated: decoded {count} of {info.frames} frames")
    # Without a frame count in the headers, a last frame far from the announced end means a cut file.
    if not info.frames and last_time is not None and last_time < info.duration_seconds - 1.0:
        raise MediaError(f"{name} is truncated: frames stop at {last_time:.1f} s of {info.duration_seconds:.1f} s")
    return info.model_copy(update={"frames": count})


def thumbnail(video_path: str | Path, png_path: str | Path, max_width: int = 320) -> Path:
    """Write a PNG of a frame about a third in (openings are often black), scaled to max_width."""
    from PIL import Image

    png_path = Path(png_path)
    image = _frame_near(video_path, fraction=1 / 3)
    if image.width > max_width:
        height = max(1, round(image.height * max_width / image.width))
        image = image.resize((max_width, height), Image.Resampling.LANCZOS)
    tmp = png_path.with_name(png_path.name + ".tmp")
    try:
        image.save(tmp, format="PNG")
        finalize(tmp, png_path)
    finally:
        tmp.unlink(missing_ok=True)
    return png_path


def _open_video(path: str | Path):
    """Open a file with PyAV, or raise MediaError saying why it is not a video we accept."""
    import av

    name = Path(path).name
    try:
        container = av.open(str(path))
    except FileNotFoundError:
        raise MediaError(f"{name} does not exist") from None
    except (av.FFmpegError, OSError) as exc:
        raise MediaError(f"{name} is not a readable video ({getattr(exc, 'strerror', None) or exc})") from None
    if not VIDEO_FORMATS & set(container.format.name.split(",")) or not container.streams.video:
        container.close()
        raise MediaError(f"{name} is not an MP4, MOV or WebM video (found {container.format.name})")
    return container


def _info(path: str | Path, container) -> VideoInfo:
    stream = container.streams.video[0]
    if stream.duration and stream.time_base:
        duration = float(stream.duration * stream.time_base)
    elif container.duration:
        duration = container.duration / 1_000_000  # AV_TIME_BASE
    else:
        duration = 0.0
    return VideoInfo(
        duration_seconds=duration,
        width=stream.codec_context.width,
        height=stream.codec_context.height,
        codec=stream.codec_context.name,
        size_bytes=os.path.getsize(path),
        frames=stream.frames or None,
    )


def _frame_near(path: str | Path, fraction: float):
    """The first frame at or after `fraction` of the duration, else the first frame, as a PIL image."""
    import av

    info = probe(path)
    target = info.duration_seconds * fraction
    with _open_video(path) as container:
        stream = container.streams.video[0]
        try:
            if target > 0 and stream.time_base:
                container.seek(int(target / stream.time_base), stream=stream)  # lands on a keyframe before
            for frame in container.decode(stream):
                if frame.time is None or frame.time >= target:
                    return frame.to_image()
        except av.FFmpegError:
            pass  # a bad seek or a damaged tail: fall back to the first frame
    with _open_video(path) as container:
        try:
            return next(container.decode(video=0)).to_image()
        except (StopIteration, av.FFmpegError):
            raise MediaError(f"{Path(path).name} has no decodable frames") from None


# -- downloading and storing ---------------------------------------------------------------------


def redact_url(url: str) -> str:
    """The URL without query, fragment or credentials: signed URLs carry their secrets there."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if ":" in host:  # IPv6
            host = f"[{host}]"
        if parts.port:
            host += f":{parts.port}"
    except ValueError:
        return "<malformed URL>"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def looks_like_video(head: bytes) -> bool:
    """MP4/MOV start with an 'ftyp' box; WebM/Matroska with the EBML magic."""
    return head[4:8] == b"ftyp" or head[:4] == b"\x1a\x45\xdf\xa3"


async def download(
    client: httpx.AsyncClient,
    url: str,
    dest: Path,
    *,
    max_bytes: int,
    headers: dict[str, str] | None = None,
    timeout: float = 600,  # noqa: ASYNC109 - one deadline for the whole transfer, applied with fail_after
) -> int:
    """Stream `url` into `dest` atomically; return the number of bytes written.

    The body goes to `dest.part` in chunks (constant memory) and is renamed onto `dest` only once
    complete, so `dest` is either absent or whole. Every failure is a MediaError and leaves no
    partial file.
    """
    safe = redact_url(url)
    if urlsplit(url).scheme not in ("http", "https"):
        raise MediaError(f"refusing to download {safe}: only http and https URLs are fetched")
    part = dest.with_suffix(dest.suffix + ".part")
    try:
        with anyio.fail_after(timeout):
            async with client.stream("GET", url, headers=headers, follow_redirects=True) as response:
                _check_response(response, safe, max_bytes)
                written = await _write_body(response, part, safe, max_bytes)
            await anyio.to_thread.run_sync(finalize, part, dest)
        return written
    except TimeoutError:
        raise MediaError(f"download of {safe} took longer than {timeout:g} s") from None
    except httpx.HTTPError as exc:
        # httpx messages can quote the full URL; name the failure, not the message.
        raise MediaError(f"download of {safe} failed: {type(exc).__name__}") from None
    finally:
        part.unlink(missing_ok=True)  # already renamed away on success; a partial file on any failure


def _check_response(response: httpx.Response, safe_url: str, max_bytes: int) -> None:
    if not response.is_success:
        raise MediaError(f"download of {safe_url} failed: HTTP {response.status_code}")
    announced = response.headers.get("content-length", "")
    if announced.isdigit() and int(announced) > max_bytes:
        raise MediaError(f"{safe_url} is {int(announced):,} bytes, over the {max_bytes:,} byte limit")


async def _write_body(response: httpx.Response, part: Path, safe_url: str, max_bytes: int) -> int:
    written, head = 0, b""
    async with await anyio.open_file(part, "wb") as out:
        async for chunk in response.aiter_bytes(CHUNK_BYTES):
            written += len(chunk)
            if written > max_bytes:
                raise MediaError(f"{safe_url} is over the {max_bytes:,} byte limit")
            if len(head) < 12:
                head += chunk[:12]
                if len(head) >= 12 and not looks_like_video(head):
                    raise MediaError(f"{safe_url} is not a video (content starts {head[:12]!r})")
            await out.write(chunk)
            await out.flush()
            crash_point("mid_download")  # a half-written .part on disk
    if not looks_like_video(head):
        raise MediaError(f"{safe_url} is not a video ({written} bytes)")
    return written


def finalize(tmp: Path, dest: Path) -> None:
    """Move a finished temp file onto dest so that, even after a crash, dest is old or whole."""
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, dest)
    _fsync_dir(Path(dest).parent)


def _fsync_dir(directory: Path) -> None:
    """Persist the rename itself. Not possible (nor needed) on Windows."""
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# -- naming --------------------------------------------------------------------------------------


def slugify(text: str, max_chars: int = 40) -> str:
    """Lowercase ASCII words joined by '-', at most max_chars, never empty."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:max_chars].rstrip("-") or "video"


def video_filename(job_id: str, prompt: str, created: datetime) -> str:
    """E.g. 20250101-120000_a-red-fox-in-snow_1a2b3c4d.mp4: sorts by time, readable, unique per job."""
    short_id = re.sub(r"[^A-Za-z0-9-]", "", job_id)[:8] or "job"
    return f"{created:%Y%m%d-%H%M%S}_{slugify(prompt)}_{short_id}.mp4"
