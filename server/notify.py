"""Tell listening clients that a job changed, on both protocol eras.

2026-07-28 clients open `subscriptions/listen` streams, served by the SDK from its subscription bus;
we publish to that bus. Older clients send `resources/subscribe`, which MCPServer does not serve, so we
keep their sessions here and send `notifications/resources/updated` to each. Both are fire-and-forget:
a client that went away is dropped, and no job waits on a listener.
"""

from __future__ import annotations

import logging
from typing import Any

from mcp.server.subscriptions import ResourceUpdated, SubscriptionBus
from mcp_types import EmptyResult, SubscribeRequestParams, UnsubscribeRequestParams

from server.store import JobRow

log = logging.getLogger("videogen.notify")

JOBS_URI = "videogen://jobs"


def job_uri(job_id: str) -> str:
    return f"{JOBS_URI}/{job_id}"


class JobNotifier:
    def __init__(self, bus: SubscriptionBus):
        self.bus = bus
        self._legacy: dict[str, list[Any]] = {}  # uri -> sessions that subscribed

    async def subscribe(self, ctx: Any, params: SubscribeRequestParams) -> EmptyResult:
        sessions = self._legacy.setdefault(str(params.uri), [])
        if ctx.session not in sessions:
            sessions.append(ctx.session)
        return EmptyResult()

    async def unsubscribe(self, ctx: Any, params: UnsubscribeRequestParams) -> EmptyResult:
        sessions = self._legacy.get(str(params.uri), [])
        if ctx.session in sessions:
            sessions.remove(ctx.session)
        return EmptyResult()

    async def job_changed(self, row: JobRow) -> None:
        for uri in (job_uri(row.job_id), JOBS_URI):
            await self.bus.publish(ResourceUpdated(uri=uri))
            for session in list(self._legacy.get(uri, [])):
                try:
                    await session.send_resource_updated(uri)
                except Exception:  # the client is gone: forget it
                    log.debug("dropping a closed subscriber of %s", uri)
                    self._legacy[uri].remove(session)
