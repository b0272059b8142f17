"""fastmcp's Client over stdio: list the tools, then make the calls the test asks for, in order. A call's
arguments may name the job of an earlier call as "$job_id"."""

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

    results: list[dict[str, Any]] = []
    job_id = None
    async with Client(transport) as client:
        tools = await client.list_tools()
        for name, arguments in config["calls"]:
            arguments = {k: job_id if v == "$job_id" else v for k, v in arguments.items()}
            result = await client.call_tool(name, arguments, progress_handler=on_progress, raise_on_error=False)
            structured = result.structured_content or {}
            job_id = structured.get("job_id", job_id)
            results.append(
                {
                    "is_error": result.is_error,
                    "text": " ".join(getattr(block, "text", "") for block in result.content),
                    "structured": structured,
                    "data_status": getattr(result.data, "status", None),
                    "content_types": [block.type for block in result.content],
                }
            )
    return {"tools": [t.name for t in tools], "results": results, "progress": progress}


main(run)
