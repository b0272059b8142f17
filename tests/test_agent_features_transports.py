"""The agent features against a real server process, over stdio and streamable HTTP, in both protocol eras
where they apply: tasks (2026-07-28 only), job update notifications, and the spending confirmation.

A paid provider is needed for the confirmation: runblob through its simulator ($0.15 for 5 s), with the
person's threshold at $0.10.
"""

from __future__ import annotations

import warnings
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import anyio
import pytest
from conftest import PYTHON, ROOT, subprocess_env
from mcp import Client, StdioServerParameters
from mcp_types import ElicitResult, ResourceUpdatedNotification
from test_tasks import TasksExtension
from test_transports import serving

from providers.simulators import build_app, sample_env
from providers.simulators.common import running

pytestmark = pytest.mark.anyio
TRANSPORTS = ["stdio", "streamable-http"]
FAST = {"provider": "demo", "duration": 1, "resolution": "360p"}  # every key is set: name the demo


@pytest.fixture(scope="module")
def simulators() -> Iterator[str]:
    with running(build_app(speed=300)) as url:
        yield url


@pytest.fixture
def server_env(env, simulators) -> dict[str, str]:
    return {
        **env,
        **sample_env(simulators),
        "VIDEOGEN_POLL_SCALE": "0.01",
        "VIDEOGEN_CONFIRM_ABOVE": "0.1",
        "VIDEOGEN_DEMO_LATENCY": "1",
    }


@asynccontextmanager
async def connect(transport: str, env: dict[str, str], **client_args) -> AsyncIterator[Client]:
    if transport == "stdio":
        params = StdioServerParameters(command=PYTHON, args=["-m", "server"], env=subprocess_env(env), cwd=str(ROOT))
        async with Client(params, **client_args) as client:
            yield client
        return
    with serving(env, "streamable-http") as url:
        async with Client(f"{url}/mcp", **client_args) as client:
            yield client


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_tasks(server_env, transport):
    tasks = TasksExtension()
    async with connect(transport, server_env, extensions=[tasks]) as client:
        result = await client.call_tool("generate_video", {"prompt": "a task over the wire", **FAST})
    assert result.structured_content["status"] == "succeeded"
    [created] = tasks.created
    assert created.task_id == result.structured_content["job_id"] and tasks.polls >= 1


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_modern_listeners_hear_job_updates(server_env, transport):
    async with connect(transport, server_env) as client:
        started = await client.call_tool("generate_video", {"prompt": "listen", "wait_seconds": 0, **FAST})
        job_id = started.structured_content["job_id"]
        seen = 0
        async with client.listen(resource_subscriptions=[f"videogen://jobs/{job_id}"]) as subscription:
            with anyio.fail_after(30):
                async for _ in subscription:
                    seen += 1
                    done = await client.call_tool("get_status", {"job_id": job_id})
                    if done.structured_content["status"] == "succeeded":
                        break
    assert seen >= 2


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_legacy_subscribers_hear_job_updates(server_env, transport):
    updates: list[str] = []

    async def on_message(message) -> None:
        if isinstance(message, ResourceUpdatedNotification):
            updates.append(str(message.params.uri))

    async with connect(transport, server_env, mode="legacy", message_handler=on_message) as client:
        started = await client.call_tool("generate_video", {"prompt": "subscribe", "wait_seconds": 0, **FAST})
        job_id = started.structured_content["job_id"]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            await client.subscribe_resource(f"videogen://jobs/{job_id}")
        done = await client.call_tool("get_status", {"job_id": job_id, "wait_seconds": 30})
        await anyio.sleep(0.3)
    assert done.structured_content["status"] == "succeeded"
    assert updates.count(f"videogen://jobs/{job_id}") >= 2


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_the_person_confirms_a_cost_above_the_threshold(server_env, transport, mode):
    asked: list[str] = []

    async def person(context, params) -> ElicitResult:
        asked.append(params.message)
        return ElicitResult(action="accept", content={"approve": True})

    async with connect(transport, server_env, mode=mode, elicitation_callback=person) as client:
        result = await client.call_tool(
            "generate_video", {"prompt": "a paid harbour", "provider": "runblob", "wait_seconds": 30}
        )
    assert len(asked) == 1 and "$0.15" in asked[0]
    assert result.structured_content["status"] == "succeeded", result.content


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_client_without_elicitation_is_refused_clearly(server_env, transport):
    async with connect(transport, server_env) as client:
        result = await client.call_tool("generate_video", {"prompt": "a paid harbour", "provider": "runblob"})
        jobs = (await client.call_tool("list_jobs", {})).structured_content["jobs"]
    assert result.is_error and "NEEDS_CONFIRMATION" in result.content[0].text and jobs == []
