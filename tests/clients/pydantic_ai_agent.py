"""pydantic-ai: an Agent with the server as an MCPToolset over stdio (MCPServerStdio's successor in
pydantic-ai 2.x), driven by its OpenAI (Chat Completions) or Google (generateContent) model class."""

from __future__ import annotations

from typing import Any

from fastmcp.client.transports import StdioTransport
from pydantic_ai import Agent
from pydantic_ai.mcp import MCPToolset
from scenario import PROMPT, main


def model(config: dict[str, Any]) -> Any:
    if config["model"] == "openai":
        from pydantic_ai.models.openai import OpenAIChatModel
        from pydantic_ai.providers.openai import OpenAIProvider

        return OpenAIChatModel(
            "gpt-4.1-mini", provider=OpenAIProvider(base_url=config["model_url"] + "/v1", api_key="sk-fake")
        )
    from pydantic_ai.models.google import GoogleModel
    from pydantic_ai.providers.google import GoogleProvider

    return GoogleModel("gemini-2.5-flash", provider=GoogleProvider(api_key="fake-key", base_url=config["model_url"]))


async def run(config: dict[str, Any]) -> dict[str, Any]:
    s = config["server"]
    toolset = MCPToolset(StdioTransport(s["command"], s["args"], env=config["env"], cwd=s["cwd"]))
    agent = Agent(model(config), toolsets=[toolset], instructions="Make the video the user asks for.")
    async with agent:
        result = await agent.run(PROMPT)
    return {"final": result.output}


main(run)
