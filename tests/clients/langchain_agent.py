"""LangChain: create_agent with the tools of langchain-mcp-adapters' MultiServerMCPClient (stdio), driven by
ChatOpenAI (Chat Completions) or ChatGoogleGenerativeAI (generateContent), as their documentation shows."""

from __future__ import annotations

from typing import Any

from langchain.agents import create_agent
from langchain_mcp_adapters.client import MultiServerMCPClient
from scenario import PROMPT, main


def chat_model(config: dict[str, Any]) -> Any:
    if config["model"] == "openai":
        from langchain_openai import ChatOpenAI

        return ChatOpenAI(model="gpt-4.1-mini", base_url=config["model_url"] + "/v1", api_key="sk-fake", max_retries=0)
    from langchain_google_genai import ChatGoogleGenerativeAI

    return ChatGoogleGenerativeAI(
        model="gemini-2.5-flash", google_api_key="fake-key", base_url=config["model_url"], max_retries=0
    )


async def run(config: dict[str, Any]) -> dict[str, Any]:
    s = config["server"]
    client = MultiServerMCPClient(
        {
            "videogen": {
                "transport": "stdio",
                "command": s["command"],
                "args": s["args"],
                "env": config["env"],
                "cwd": s["cwd"],
            }
        }
    )
    tools = await client.get_tools()
    agent = create_agent(chat_model(config), tools, system_prompt="Make the video the user asks for.")
    result = await agent.ainvoke({"messages": [{"role": "user", "content": PROMPT}]})
    return {"final": result["messages"][-1].text, "tools": [t.name for t in tools]}


main(run)
