"""Video inputs (video_to_video): URLs, data URIs and local files, checked before money is spent.

The same rules as images (providers.images): a local path must resolve (every symlink and `..` gone) inside
an allowed folder (VIDEOGEN_ALLOWED_DIRS), be a regular file under the size cap, and be a real video by its
bytes, not its name: an MP4 or MOV (ISO base media / QuickTime: an `ftyp` box, or a QuickTime file's first
atom) or a WebM (an EBML header whose DocType is `webm`). Its headers are read with PyAV for the length and
the frame size a model's spec may limit. URLs are passed on as URLs: this module never fetches them, so their
size, length and type are for the provider to judge. Errors say what is wrong and what is allowed, and never
contain file contents.
"""

from __future__ import annotations

import base64
import io
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from providers import images
from providers.base import InvalidRequest

VideoFormat = Literal["mp4", "mov", "webm"]
VideoKind = Literal["url", "data", "path"]

# The cap for a model whose spec states none (ModelSpec.max_video_bytes 0): Runway's, the largest a provider
# we know takes by URL (docs.dev.runwayml.com/assets/inputs: 32 MB).
MAX_VIDEO_BYTES = 32 * 1024 * 1024
# Video URLs are https only: the one provider taking them by URL (Runway) fetches nothing else.
URL_SCHEMES = ("https",)
MIME_BY_FORMAT: dict[str, str] = {"mp4": "video/mp4", "mov": "video/quicktime", "webm": "video/webm"}
ALLOWED_FORMS = (
    "an https URL, a data URI (data:video/mp4;base64,...), or a local file path (absolute, relative, ~/..., "
    "or file:///...)"
)
ALLOWED_CONTENT = "MP4, MOV or WebM"
# The first atom of a QuickTime movie written without an `ftyp` box (older cameras and editors).
_QUICKTIME_ATOMS = (b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot")
_EBML = b"\x1a\x45\xdf\xa3"
# ISO base media files that are still images (HEIF, AVIF, JPEG 2000, Canon raw), not videos.
_IMAGE_BRANDS = (b"avif", b"avis", b"heic", b"heix", b"heim", b"heis", b"mif1", b"msf1", b"jp2 ", b"crx ")


class VideoRef(BaseModel):
    """A video input after validation (size and headers only for files and data URIs)."""

    kind: VideoKind
    value: str  # the URL, the resolved absolute path, or the original data URI
    mime: str | None = None
    size_bytes: int | None = None
    width: int | None = None
    height: int | None = None
    seconds: float | None = None


def sniff(data: bytes) -> VideoFormat | None:
    """The container by its first bytes; None when it is none of MP4, MOV, WebM."""
    if len(data) >= 12 and data[4:8] == b"ftyp":
        if data[8:12] in _IMAGE_BRANDS:
            return None
        return "mov" if data[8:12] == b"qt  " else "mp4"
    if len(data) >= 8 and data[4:8] in _QUICKTIME_ATOMS:
        return "mov"
    if data[:4] == _EBML:
        # The EBML header (its first element, well inside 64 bytes) names the DocType: webm or matroska.
        head = data[:64]
        return "webm" if b"\x42\x82\x84webm" in head else None
    return None


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MB" if n >= 1024 * 1024 else f"{n} bytes"


def _too_big(what: str, size: int, max_bytes: int, where: str) -> InvalidRequest:
    at = f" for {where}" if where else ""
    return InvalidRequest(
        f"{what} is {_mb(size)}; a video given as a file or data URI may be at most {_mb(max_bytes)}{at}. "
        "Pass it as an https URL instead (the provider fetches it), or shorten or compress it."
    )


def _not_a_video(what: str) -> InvalidRequest:
    return InvalidRequest(f"{what} is not an {ALLOWED_CONTENT} video by its content; only those formats are accepted.")


def classify(value: str) -> VideoKind:
    """Which form a video string takes (url, data or path); unknown schemes are refused."""
    return images.classify(value, "video", ALLOWED_FORMS)


def decode_data_uri(uri: str, max_bytes: int = MAX_VIDEO_BYTES, where: str = "") -> tuple[bytes, str]:
    """Decode `data:video/<type>;base64,<payload>`: (bytes, the sniffed container's mime)."""
    form = "data:video/mp4;base64,<base64> (or video/quicktime, video/webm)"
    too_big = lambda size: _too_big("data URI video", size, max_bytes, where)  # noqa: E731
    data = images.data_uri_payload(uri, "video", form, max_bytes, too_big)
    fmt = sniff(data)
    if fmt is None:
        raise _not_a_video("data URI payload")
    return data, MIME_BY_FORMAT[fmt]


def load_local(
    value: str | os.PathLike[str], allowed_dirs: Sequence[Path | str], max_bytes: int = MAX_VIDEO_BYTES, where: str = ""
) -> tuple[bytes, str]:
    """Read a local video inside an allowed folder: (bytes, mime); size checked first, type from the bytes."""
    raw = os.fspath(value)
    shown = images._shown(raw)
    data = images.read_local(
        raw, allowed_dirs, max_bytes, lambda size: _too_big(f"video file {shown}", size, max_bytes, where), "video"
    )
    fmt = sniff(data)
    if fmt is None:
        raise _not_a_video(f"video file {shown}")
    return data, MIME_BY_FORMAT[fmt]


def probe(data: bytes, what: str) -> tuple[int, int, float | None]:
    """(width, height, seconds or None) from the container's headers, nothing decoded (PyAV)."""
    import av

    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            streams = container.streams.video
            if not streams:
                raise InvalidRequest(f"{what} has no video track; pass an {ALLOWED_CONTENT} video with pictures.")
            stream = streams[0]
            width, height = stream.codec_context.width, stream.codec_context.height
            seconds: float | None = None
            if stream.duration is not None and stream.time_base is not None:
                seconds = float(stream.duration * stream.time_base)
            elif container.duration is not None:
                seconds = container.duration / av.time_base
            else:  # neither says (a streamed WebM): the packets' timestamps do, read without decoding
                seconds = _demuxed_seconds(container, stream)
    except InvalidRequest:
        raise
    except Exception:  # PyAV's errors (a damaged or truncated file) and anything the demuxer trips on
        raise InvalidRequest(f"{what} cannot be read as a video; pass a valid {ALLOWED_CONTENT} file.") from None
    if not width or not height:
        raise InvalidRequest(f"{what} has no readable frame size; pass a valid {ALLOWED_CONTENT} file.")
    return width, height, seconds if seconds is not None and math.isfinite(seconds) and seconds > 0 else None


def _demuxed_seconds(container: Any, stream: Any) -> float | None:
    """The stream's length from its packets (the last one's pts + duration, less the start, in time_base);
    None without a timestamp. Packets are demuxed, never decoded."""
    time_base = stream.time_base
    if time_base is None:
        return None
    start, end = None, None
    for packet in container.demux(stream):
        if packet.pts is None:
            continue  # the flush packet at the end, or one without a timestamp
        start = packet.pts if start is None else min(start, packet.pts)
        stop = packet.pts + (packet.duration or 0)
        end = stop if end is None else max(end, stop)
    if end is None:
        return None
    first = stream.start_time
    origin = first if first is not None else start
    return float((end - origin) * time_base)


def validate_video(
    value: str,
    allowed_dirs: Sequence[Path | str],
    *,
    max_bytes: int = 0,
    max_seconds: float = 0.0,
    min_side: int = 0,
    where: str = "",
) -> VideoRef:
    """Check a video input as the request arrives: a URL's form; a file's or data URI's place, size, container
    and headers against the model's limits (0: none stated). `where`: the model, for the messages."""
    cap = max_bytes or MAX_VIDEO_BYTES
    kind = classify(value)
    text = value.strip()
    if kind == "url":
        return VideoRef(kind="url", value=images.check_url(text, "video", URL_SCHEMES))
    if kind == "data":
        data, mime = decode_data_uri(text, cap, where)
        what, kept = "data URI video", text
    else:
        real = images.resolve_path(text, allowed_dirs, "video")
        data, mime = load_local(str(real), allowed_dirs, cap, where)
        what, kept = f"video file {images._shown(text)}", str(real)
    width, height, seconds = probe(data, what)
    at = f"; {where} takes" if where else "; the model takes"
    if min_side and min(width, height) < min_side:
        raise InvalidRequest(
            f"{what} is {width}x{height}{at} input videos of at least {min_side} pixels on the shorter side "
            f"({min_side}p); pass a larger video"
        )
    if max_seconds and seconds is None:
        raise InvalidRequest(
            f"the length of {what} could not be read (neither its container nor its packets state it){at} input "
            f"videos of at most {max_seconds:g} s; re-save it as MP4 (or a WebM with a duration) and try again"
        )
    if max_seconds and seconds is not None and seconds > max_seconds + 0.05:
        raise InvalidRequest(
            f"{what} is {seconds:.1f} s long{at} input videos of at most {max_seconds:g} s; trim it and try again"
        )
    return VideoRef(
        kind=kind,
        value=kept,
        mime=mime,
        size_bytes=len(data),
        width=width,
        height=height,
        seconds=seconds,
    )


def to_bytes(
    value: str, allowed_dirs: Sequence[Path | str], max_bytes: int = MAX_VIDEO_BYTES, where: str = ""
) -> tuple[bytes, str]:
    """(bytes, mime) of a local path or a data URI; a URL is refused (this module never fetches)."""
    kind = classify(value)
    if kind == "data":
        return decode_data_uri(value, max_bytes, where)
    if kind == "path":
        return load_local(value.strip(), allowed_dirs, max_bytes, where)
    raise InvalidRequest("this provider needs the video itself, not a URL; pass a local file path or a data URI.")


def data_uri(data: bytes, mime: str) -> str:
    """`data:<mime>;base64,<data>` for video bytes already checked."""
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
