"""Video files: download, check, describe, thumbnail and name them.

PyAV and Pillow are imported inside the functions that use them: starting the server (and listing
tools) must not pay for loading FFmpeg.
"""

from __future__ import annotations

import contextlib
import errno
import io
import ipaddress
import os
import re
import socket
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
MAX_REDIRECTS = 5


class MediaError(ValueError):
    """A file or download that is not a usable video. The message is safe to show (no secrets)."""


class LocalStorageError(MediaError):
    """The output folder cannot take the file (disk full, read-only, no permission): not the provider's fault."""


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
        finalize(tmp, png_path, check_video=False)
    except OSError as exc:
        raise _storage_error(exc, png_path.parent) from None
    finally:
        tmp.unlink(missing_ok=True)
    return png_path


def preview_jpeg(source: str | Path, max_width: int = 160, quality: int = 70) -> bytes:
    """A small JPEG (a few KB) of an image, or of a video's frame about a third in: what an agent is shown."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(source) as opened:
            image = opened.convert("RGB")
    except UnidentifiedImageError:
        image = _frame_near(source, fraction=1 / 3).convert("RGB")  # not an image: a video (or MediaError)
    if image.width > max_width:
        image = image.resize(
            (max_width, max(1, round(image.height * max_width / image.width))), Image.Resampling.LANCZOS
        )
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=quality, optimize=True)
    return out.getvalue()


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
    allow_private: bool = False,
) -> int:
    """Stream `url` into `dest` atomically; return the number of bytes written.

    The body goes to `dest.part` in chunks (constant memory), is verified (every frame decodes) and
    only then renamed onto `dest`, so `dest` is either absent or a whole, good video. Every failure
    is a MediaError (LocalStorageError when our own disk is at fault) and leaves no partial file.
    Redirects are followed here, at most MAX_REDIRECTS, and every hop must be http(s) to a public
    host unless `allow_private` (for a provider that itself runs on this machine or network).
    """
    from providers.http import guard_http_logs

    guard_http_logs()  # httpx logs each URL, httpcore each header (a Location with a signed query)
    dest = Path(dest)
    safe = redact_url(url)
    if urlsplit(url).scheme not in ("http", "https"):
        raise MediaError(f"refusing to download {safe}: only http and https URLs are fetched")
    part = dest.with_name(dest.name + ".part")
    try:
        _make_folder(dest.parent)  # the output folder may have been deleted since startup
        try:
            with anyio.fail_after(timeout):
                written = await _fetch(client, url, part, headers, max_bytes, allow_private)
        except TimeoutError:
            raise MediaError(f"download of {safe} took longer than {timeout:g} s") from None
        except httpx.HTTPError as exc:
            # httpx messages can quote the full URL; name the failure, not the message.
            raise MediaError(f"download of {safe} failed: {type(exc).__name__}") from None
        try:
            await anyio.to_thread.run_sync(finalize, part, dest)  # decoding every frame blocks: not on the loop
        except LocalStorageError:
            raise
        except MediaError as exc:
            raise MediaError(f"download of {safe} is not a usable video: {exc}") from None
        return written
    finally:
        with contextlib.suppress(OSError):
            part.unlink(missing_ok=True)  # already renamed away on success; a partial or bad file on any failure


async def _fetch(
    client: httpx.AsyncClient,
    url: str,
    part: Path,
    headers: dict[str, str] | None,
    max_bytes: int,
    allow_private: bool,
) -> int:
    """GET url into part, following redirects one hop at a time so that every hop is checked."""
    request = client.build_request("GET", url, headers=headers)
    for _ in range(MAX_REDIRECTS + 1):
        safe = redact_url(str(request.url))
        if request.url.scheme not in ("http", "https"):
            raise MediaError(f"refusing to download {safe}: only http and https URLs are fetched")
        if not allow_private:
            reason = await _private_reason(request.url.host)
            if reason:
                raise MediaError(f"refusing to download {safe}: {reason}; video URLs must be on a public host")
        response = await client.send(request, stream=True, follow_redirects=False)
        try:
            if not response.has_redirect_location:
                _check_response(response, safe, max_bytes)
                return await _write_body(response, part, safe, max_bytes)
            following = response.next_request
            if following is None:  # a 3xx without a usable Location
                raise MediaError(f"download of {safe} failed: HTTP {response.status_code} without a Location")
            request = following
        finally:
            await response.aclose()
    raise MediaError(f"download of {redact_url(url)} failed: more than {MAX_REDIRECTS} redirects")


async def is_private_url(url: str) -> bool:
    """True when url's host is, or resolves to, a loopback, private, link-local or reserved address."""
    try:
        host = urlsplit(url).hostname
        return host is not None and host != "" and await _private_reason(host) is not None
    except (ValueError, MediaError):
        return False  # malformed or unresolvable: not known to be local


async def _private_reason(host: str) -> str | None:
    """Why host is not a public address (e.g. "127.0.0.1 is a loopback address"), or None if it is."""
    try:
        addresses = [ipaddress.ip_address(host)]
        shown = host
    except ValueError:
        try:
            infos = await anyio.getaddrinfo(host, None, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise MediaError(f"cannot resolve the host {host} ({exc.strerror or exc})") from None
        addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
        shown = None
    for address in addresses:
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        kinds = ("loopback", "private", "link_local", "reserved", "multicast", "unspecified")
        kind = next((k.replace("_", "-") for k in kinds if getattr(address, f"is_{k}")), None)
        if kind is None and not address.is_global:
            kind = "non-public"  # e.g. 100.64.0.0/10, shared by carriers
        if kind:
            return f"{shown or f'{host} resolves to {address}, which'} is a {kind} address"
    return None


def _check_response(response: httpx.Response, safe_url: str, max_bytes: int) -> None:
    if not response.is_success:
        raise MediaError(f"download of {safe_url} failed: HTTP {response.status_code}")
    announced = response.headers.get("content-length", "")
    if announced.isdigit() and int(announced) > max_bytes:
        raise MediaError(f"{safe_url} is {int(announced):,} bytes, over the {max_bytes:,} byte limit")


async def _write_body(response: httpx.Response, part: Path, safe_url: str, max_bytes: int) -> int:
    written, head = 0, b""
    try:
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
    except OSError as exc:  # only the file: httpx reports network failures as httpx.HTTPError
        raise _storage_error(exc, part.parent) from None
    if not looks_like_video(head):
        raise MediaError(f"{safe_url} is not a video ({written} bytes)")
    return written


def finalize(tmp: Path, dest: Path, *, check_video: bool = True) -> VideoInfo | None:
    """Verify tmp, then move it onto dest so that, even after a crash, dest is old or a whole, good video.

    With check_video (the default) every frame must decode: a cut or corrupt file raises MediaError
    and never lands under dest. tmp is gone afterwards either way. Returns the verified VideoInfo.
    """
    tmp, dest = Path(tmp), Path(dest)
    try:
        info = verify(tmp) if check_video else None
        _make_folder(dest.parent)
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, dest)
        _fsync_dir(dest.parent)
        return info
    except OSError as exc:
        raise _storage_error(exc, dest.parent) from None
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)  # renamed away on success; a bad or unstorable file must not linger


def _make_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _storage_error(exc, folder) from None


def _storage_error(exc: OSError, folder: Path) -> LocalStorageError:
    code = errno.errorcode.get(exc.errno or 0, "")
    cause = f"{exc.strerror or exc}{f' ({code})' if code else ''}"
    return LocalStorageError(
        f"cannot save the video in {folder}: {cause}. Free space in {folder} (or make it writable), "
        "or set VIDEOGEN_OUTPUT_DIR to a folder that has room"
    )


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
    """E.g. 20250101-120000_a-red-fox-in-snow_job_1a2b3c4d5e6f7a8b.mp4: sorts by time, readable, unique per job.

    The whole job id: a prefix of it can collide between jobs, and the full id finds the file.
    """
    safe_id = re.sub(r"[^A-Za-z0-9_-]", "", job_id)[:64] or "job"
    return f"{created:%Y%m%d-%H%M%S}_{slugify(prompt)}_{safe_id}.mp4"
