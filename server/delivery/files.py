"""GET/HEAD /files/<relpath>?exp=..&sig=..: a finished video or thumbnail, streamed, with Range support.

The signature is checked first, and a bad or expired one gets the same 403 whatever was wrong (and whether or
not the file exists), so the route tells nobody without a valid link anything. A valid link to something that
is not a media file inside the output folder (gone, `..`, an absolute path, a symlink out) gets 404; the path
is resolved and checked before anything is opened. Files are sent in chunks read off the event loop, so memory
stays flat for any size; players seek with `Range: bytes=...` (206).
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote

import anyio

from server.delivery.links import PREFIX, LinkSigner

CHUNK_BYTES = 256 * 1024
MEDIA_TYPES = {".mp4": "video/mp4", ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}
FORBIDDEN = b"forbidden: this link is wrong or has expired; get_status gives a fresh one\n"
NOT_FOUND = b"not found\n"
_RANGE = re.compile(r"bytes=([0-9]*)-([0-9]*)")


def files_app(output_dir: Path, signer: LinkSigner) -> Any:
    """The ASGI app. It expects the full path (`/files/<relpath>`) in scope["path"], as a dispatcher or a
    Starlette Mount("/files", ...) leaves it."""
    root = Path(output_dir).resolve()

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        method = scope["method"]
        if method not in ("GET", "HEAD"):
            await _answer(send, 405, b"only GET and HEAD\n", [(b"allow", b"GET, HEAD")])
            return
        path: str = scope.get("path", "")
        relpath = path[len(PREFIX) :] if path.startswith(PREFIX) else ""
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        exp, sig = query.get("exp", [""]), query.get("sig", [""])
        if len(exp) != 1 or len(sig) != 1 or not signer.verify(relpath, exp[0], sig[0]):
            await _answer(send, 403, FORBIDDEN)
            return
        opened = _open_inside(root, relpath)
        if opened is None:
            await _answer(send, 404, NOT_FOUND)
            return
        fd, size, media_type, name = opened
        with os.fdopen(fd, "rb", buffering=0) as file:
            headers = dict(scope.get("headers") or [])
            span = byte_range(headers.get(b"range", b"").decode("latin-1"), size)
            if isinstance(span, str):  # "unsatisfiable"
                await _answer(send, 416, b"range not satisfiable\n", [(b"content-range", f"bytes */{size}".encode())])
                return
            start, end = span if span else (0, size - 1)
            length = end - start + 1 if size else 0
            head = [
                (b"content-type", media_type.encode()),
                (b"content-length", str(length).encode()),
                (b"accept-ranges", b"bytes"),
                (b"content-disposition", f"inline; filename*=UTF-8''{quote(name)}".encode()),
                (b"cache-control", b"private, max-age=3600"),
                (b"x-content-type-options", b"nosniff"),
            ]
            if span:
                head.append((b"content-range", f"bytes {start}-{end}/{size}".encode()))
            await send({"type": "http.response.start", "status": 206 if span else 200, "headers": head})
            if method == "HEAD" or not length:
                await send({"type": "http.response.body", "body": b""})
                return
            await _stream(anyio.wrap_file(file), start, length, receive, send)

    return app


def _open_inside(root: Path, relpath: str) -> tuple[int, int, str, str] | None:
    """(fd, size, media type, name) of the regular media file at relpath under root, or None. Refused before
    any open: empty parts, `.`/`..`, absolute paths, NUL; a resolved path (symlinks followed) outside root."""
    parts = relpath.split("/")
    if not relpath or "\x00" in relpath or "\\" in relpath or any(p in ("", ".", "..") for p in parts):
        return None
    media_type = MEDIA_TYPES.get(Path(parts[-1]).suffix.lower())
    if media_type is None:
        return None
    try:
        resolved = root.joinpath(*parts).resolve(strict=True)
    except (OSError, RuntimeError):  # missing, a symlink loop
        return None
    if not resolved.is_relative_to(root) or resolved == root:
        return None
    try:
        fd = os.open(resolved, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        return None
    return fd, info.st_size, media_type, resolved.name


def byte_range(header: str, size: int) -> tuple[int, int] | str | None:
    """The one byte range asked for, as (first, last) inclusive; "unsatisfiable"; or None to send it all
    (no header, several ranges, or one we do not parse: RFC 9110 lets a server ignore Range)."""
    match = _RANGE.fullmatch(header.strip().replace(" ", ""))
    if not match or match.group(1) == match.group(2) == "":
        return None
    first, last = match.groups()
    if first == "":  # the last n bytes
        n = int(last)
        if n == 0 or size == 0:
            return "unsatisfiable"
        return max(0, size - n), size - 1
    start = int(first)
    end = size - 1 if last == "" else min(int(last), size - 1)
    if last != "" and int(last) < start:
        return None  # invalid: ignored, as RFC 9110 says
    if start >= size:
        return "unsatisfiable"
    return start, end


async def _stream(file: Any, start: int, length: int, receive: Any, send: Any) -> None:
    """Send `length` bytes from `start`, one chunk in memory at a time; stop when the client goes away."""
    async with anyio.create_task_group() as group:

        async def watch() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            group.cancel_scope.cancel()

        group.start_soon(watch)
        await file.seek(start)
        left = length
        while left > 0:
            chunk = await file.read(min(CHUNK_BYTES, left))
            if not chunk:  # the file shrank under us: the server closes the connection, the body cut short
                break
            left -= len(chunk)
            await send({"type": "http.response.body", "body": chunk, "more_body": left > 0})
        group.cancel_scope.cancel()


async def _answer(send: Any, status: int, body: bytes, extra: list[tuple[bytes, bytes]] | None = None) -> None:
    headers = [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
        *(extra or []),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
