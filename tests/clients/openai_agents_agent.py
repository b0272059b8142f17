"""openai-agents: an Agent on the Responses API with the server over stdio or streamable HTTP, the SDK's
DEFAULT MCP timeout and convert_schemas_to_strict=True, as its documentation shows."""

from __future__ import annotations

from typing import Any

from agents import Agent, Runner, set_default_openai_client, set_tracing_disabled
from agents.mcp import MCPServerStdio, MCPServerStreamableHttp
from openai import AsyncOpenAI
from scenario import PROMPT, main


async def run(config: dict[str, Any]) -> dict[str, Any]:
    set_tracing_disabled(True)  # offline: no trace export
    set_default_openai_client(AsyncOpenAI(base_url=config["model_url"] + "/v1", api_key="sk-fake", max_retries=0))
    # Only a control test sets the timeout: the scenario is about the default.
    timeout = {"client_session_timeout_seconds": config["timeout"]} if config.get("timeout") else {}
    if config.get("http_url"):
        server = MCPServerStreamableHttp({"url": config["http_url"]}, **timeout)
    else:
        s = config["server"]
        params = {"command": s["command"], "args": s["args"], "env": config["env"], "cwd": s["cwd"]}
        server = MCPServerStdio(params, **timeout)
    async with server:
        agent = Agent(
            name="video maker",
            instructions="Make the video the user asks for with the videogen tools.",
            model="gpt-fake",
            mcp_servers=[server],
            mcp_config={"convert_schemas_to_strict": True},
        )
        result = await Runner.run(agent, PROMPT, max_turns=12)
    return {"final": result.final_output}


main(run)
