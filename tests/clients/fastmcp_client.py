"""fastmcp's Client over stdio: list the tools, make a video, read it back with get_status."""

from __future__ import annotations

from typing import Any

from fastmcp import Client
from fastmcp.client.transports import StdioTransport
from scenario import main


async def run(config: dict[str, Any]) -> dict[str, Any]:
    server = config["server"]
    transport = StdioTransport(server["command"], server["args"], env=config["env"], cwd=server["cwd"])
    progress: list[float] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append(value)

    async with Client(transport) as client:
        tools = await client.list_tools()
        made = await client.call_tool("generate_video", config["arguments"], progress_handler=on_progress)
        status = await client.call_tool("get_status", {"job_id": made.structured_content["job_id"], "wait_seconds": 10})
    return {
        "tools": [t.name for t in tools],
        "generated": made.structured_content,
        "status": status.structured_content,
        "data_status": getattr(status.data, "status", None),
        "content_types": [block.type for block in status.content],
        "progress": progress,
    }


main(run)
