"""Provider callbacks: per-job URLs with an unguessable token, and the HTTP route that receives them.

A job on a provider that calls back is submitted with `{public_url}/webhooks/{job_id}/{token}`. Only the
token's sha256 is kept in the job index, so the index cannot be used to forge a callback, and the URL stays
valid across restarts. Providers cannot send our bearer token: the token in the path is what authenticates
them, so this route sits outside the bearer-token guard, and a wrong token or job gets the same 404.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from server.jobs import JobManager

PREFIX = "/webhooks/"
MAX_BODY_BYTES = 1024 * 1024  # a video callback is a few kB; fal's result JSON is the biggest


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_matches(stored_sha256: str | None, token: str) -> bool:
    """Constant-time check of a presented token against the stored hash (hashed even when there is none,
    so an unknown job takes as long as a wrong token)."""
    presented = token_sha256(token)
    return stored_sha256 is not None and hmac.compare_digest(presented, stored_sha256)


def callback_url(public_url: str, job_id: str, token: str) -> str:
    return f"{public_url}{PREFIX}{job_id}/{token}"


def webhook_app(manager: JobManager) -> Any:
    """The Starlette app serving POST /webhooks/{job_id}/{token}. It answers at once: storing the callback
    and waking the job's watcher is all it does; downloads happen in the watcher."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    def answer(status: int, text: str) -> JSONResponse:
        return JSONResponse({"ok": status == 200, "message": text}, status_code=status)

    async def receive(request: Request) -> JSONResponse:
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            return answer(413, "body too large")
        row = await manager.read(manager.callback_job, request.path_params["job_id"], request.path_params["token"])
        if row is None:
            return answer(404, "not found")  # the same for an unknown job and a wrong token
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY_BYTES:
                return answer(413, "body too large")
        try:
            payload = json.loads(body)
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            return answer(400, "expected a JSON object")
        if set(payload) == {"challenge"} and isinstance(payload["challenge"], str):
            # A URL check before any update (MiniMax): echo the value. Only a holder of the job's token gets here.
            return JSONResponse({"challenge": payload["challenge"]})
        news = await manager.receive_callback(row, payload)
        return answer(200, "received" if news else "already known")

    return Starlette(routes=[Route(PREFIX + "{job_id}/{token}", receive, methods=["POST"])])
