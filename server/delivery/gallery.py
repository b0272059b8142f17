"""The local gallery (`mcp-videogen ui`): a page on 127.0.0.1 listing the jobs of the index, newest first,
with thumbnail, status, progress, cost, prompt and a player, refreshed every few seconds.

It reads the job index the server uses and never writes it. Videos and thumbnails go out through the same
signed /files/ links the HTTP server gives (same key file), as links relative to the page. Only loopback
Host names are answered: a web page elsewhere cannot reach it by rebinding a DNS name to 127.0.0.1.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from server.delivery.files import files_app
from server.delivery.links import PREFIX, LinkSigner, relative_path
from server.delivery.player import page

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
DEFAULT_LIMIT = 50
MAX_LIMIT = 500
# Same-origin only: the page's inline code, its JSON, and the signed media under /files/.
CSP = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src 'self'; "
    "media-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


def loopback_host(host: str) -> bool:
    """Whether a Host header names this machine's loopback (any port)."""
    name = host.strip().lower()
    if name.startswith("["):
        name = name[: name.find("]") + 1]
    else:
        name = name.partition(":")[0]
    return name in LOOPBACK_NAMES


def job_listing(store: Any, output_dir: Path, signer: LinkSigner, limit: int = DEFAULT_LIMIT) -> list[dict]:
    """The newest jobs as the tools show them, with relative signed links to each finished video and thumbnail."""
    from server.present import to_job

    jobs = []
    for row in store.list(None, limit):
        job = to_job(row).model_dump(mode="json")
        video = job.get("video")
        if video:
            video["download_url"] = _link(video.get("path"), output_dir, signer)
            video["thumbnail_url"] = _link(video.get("thumbnail_path"), output_dir, signer)
        jobs.append(job)
    return jobs


def _link(path: str | None, output_dir: Path, signer: LinkSigner) -> str | None:
    relpath = relative_path(path, output_dir) if path else None
    return signer.url(relpath, "") if relpath and Path(path or "").is_file() else None


def gallery_app(store: Any, output_dir: Path, signer: LinkSigner) -> Any:
    """The ASGI app: / (the page), /api/jobs (JSON, `?limit=`), /files/... (signed media)."""
    html = page("gallery.html").encode()
    files = files_app(output_dir, signer)

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            return await _lifespan(receive, send)
        if scope["type"] != "http":
            return
        headers = dict(scope.get("headers") or [])
        if not loopback_host(headers.get(b"host", b"").decode("latin-1")):
            return await _answer(send, 421, b"this gallery answers only to 127.0.0.1 or localhost\n", "text/plain")
        path = scope.get("path", "")
        if path.startswith(PREFIX):
            return await files(scope, receive, send)
        if scope["method"] not in ("GET", "HEAD"):
            return await _answer(send, 405, b"only GET and HEAD\n", "text/plain")
        if path == "/":
            return await _answer(send, 200, html, "text/html; charset=utf-8")
        if path == "/api/jobs":
            query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            try:
                limit = max(1, min(MAX_LIMIT, int(query.get("limit", [DEFAULT_LIMIT])[0])))
            except ValueError:
                return await _answer(send, 400, b"limit must be a whole number\n", "text/plain")
            if getattr(store, "offloaded", False):  # PostgreSQL: a network round trip, not on the event loop
                import anyio.to_thread

                jobs = await anyio.to_thread.run_sync(job_listing, store, output_dir, signer, limit)
            else:
                jobs = job_listing(store, output_dir, signer, limit)
            body = json.dumps({"jobs": jobs}).encode()
            return await _answer(send, 200, body, "application/json")
        await _answer(send, 404, b"not found\n", "text/plain")

    return app


async def _lifespan(receive: Any, send: Any) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _answer(send: Any, status: int, body: bytes, media_type: str) -> None:
    headers = [
        (b"content-type", media_type.encode()),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
        (b"x-content-type-options", b"nosniff"),
        (b"content-security-policy", CSP.encode()),
        (b"referrer-policy", b"no-referrer"),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
