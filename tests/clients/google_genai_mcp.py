"""google-genai's own MCP support: mcp_to_gemini_tool on every tool the server lists, then an MCP session
passed as a tool to generate_content (automatic function calling), as google-genai's documentation shows."""

from __future__ import annotations

from typing import Any

from google import genai
from google.genai import types
from google.genai._mcp_utils import mcp_to_gemini_tool
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from scenario import PROMPT, main


async def run(config: dict[str, Any]) -> dict[str, Any]:
    s = config["server"]
    params = StdioServerParameters(command=s["command"], args=s["args"], env=config["env"], cwd=s["cwd"])
    converted: dict[str, Any] = {}
    failed: dict[str, str] = {}
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        for tool in (await session.list_tools()).tools:
            try:
                [declaration] = mcp_to_gemini_tool(tool).function_declarations
                converted[tool.name] = declaration.model_dump(mode="json", exclude_none=True)
            except Exception as error:
                failed[tool.name] = f"{type(error).__name__}: {error}"
        if not config.get("agent"):
            return {"converted": converted, "failed": failed}
        client = genai.Client(api_key="fake-key", http_options=types.HttpOptions(base_url=config["model_url"]))
        # A dict config: google-genai 3.6.1 deep-copies a GenerateContentConfig object, which fails on any
        # MCP session (mcp 1.x and 2.x alike: "cannot pickle '_asyncio.Future'"), a bug of its own.
        response = await client.aio.models.generate_content(
            model="gemini-2.5-flash", contents=PROMPT, config={"tools": [session]}
        )
    return {"final": response.text, "converted": converted, "failed": failed}


main(run)
