"""Serving MCP over HTTP (SSE or streamable HTTP) safely.

Loopback by default. A non-loopback bind needs a bearer token (or an explicit --insecure), since
anyone who reaches the port could spend the person's money. DNS-rebinding protection stays on
everywhere: Host and Origin must be loopback or listed in VIDEOGEN_ALLOWED_HOSTS / --allowed-host.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Sequence
from typing import Any

from server.settings import SettingsError

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, token: str | None, insecure: bool) -> None:
    if not is_loopback(host) and not token and not insecure:
        raise SettingsError(
            f"refusing to serve on {host} without a bearer token: anyone who can reach it could generate paid "
            "videos. Set VIDEOGEN_AUTH_TOKEN (or --auth-token), bind 127.0.0.1, or pass --insecure if another "
            "layer authenticates callers"
        )
    if token is not None and len(token) < 16:
        raise SettingsError("the auth token must be at least 16 characters; use a long random string")


def security_settings(host: str, port: int, allowed_hosts: Sequence[str]) -> Any:
    """Host/Origin checks for any bind address: loopback names plus the ones the person allowed."""
    from mcp.server.transport_security import TransportSecuritySettings

    hosts = [f"{name}:*" for name in LOOPBACK_NAMES] + [*LOOPBACK_NAMES]
    for name in [*allowed_hosts, *([host] if not is_loopback(host) and host not in ("0.0.0.0", "::") else [])]:
        hosts += [name, f"{name}:{port}"]
    origins = [f"{scheme}://{h}" for h in hosts for scheme in ("http", "https")]
    return TransportSecuritySettings(enable_dns_rebinding_protection=True, allowed_hosts=hosts, allowed_origins=origins)


class BearerTokenGuard:
    """ASGI middleware: every HTTP request must carry `Authorization: Bearer <token>`, else 401."""

    def __init__(self, app: Any, token: str):
        self.app = app
        self.expected = f"Bearer {token}".encode()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            given = dict(scope["headers"]).get(b"authorization", b"")
            if not hmac.compare_digest(given, self.expected):
                await send(
                    {
                        "type": "http.response.start",
                        "status": 401,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"www-authenticate", b'Bearer realm="mcp-videogen"'),
                        ],
                    }
                )
                await send(
                    {
                        "type": "http.response.body",
                        "body": b'{"error": "missing or wrong bearer token (VIDEOGEN_AUTH_TOKEN)"}',
                    }
                )
                return
        await self.app(scope, receive, send)


class WebhookDispatch:
    """Provider callbacks (/webhooks/...) to their own app, everything else (lifespan included) to the
    guarded MCP app. Providers cannot send our bearer token and call us by our public name, so the per-job
    token in the path authenticates them instead; no other path gets past the guard."""

    def __init__(self, mcp_app: Any, webhooks: Any):
        from server.webhooks import PREFIX

        self.prefix = PREFIX
        self.mcp_app = mcp_app
        self.webhooks = webhooks

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope.get("path", "").startswith(self.prefix):
            await self.webhooks(scope, receive, send)
        else:
            await self.mcp_app(scope, receive, send)


def http_app(
    mcp: Any,
    transport: str,
    host: str,
    port: int,
    token: str | None,
    allowed_hosts: Sequence[str],
    webhooks: Any | None = None,
) -> Any:
    """The ASGI app to serve: MCP behind the bearer-token guard, plus the webhook route when given."""
    security = security_settings(host, port, allowed_hosts)
    if transport == "sse":
        app = mcp.sse_app(host=host, transport_security=security)
    else:
        app = mcp.streamable_http_app(host=host, transport_security=security)
    guarded = BearerTokenGuard(app, token) if token else app
    return WebhookDispatch(guarded, webhooks) if webhooks is not None else guarded
