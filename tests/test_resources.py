"""Job resources, and notifications of every job change, also after the tool call returned."""

from __future__ import annotations

import json
import warnings

import anyio
import pytest
from conftest import PYTHON, ROOT, subprocess_env
from mcp import Client, StdioServerParameters
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS, ResourceUpdatedNotification

from server.app import build_server
from server.settings import Settings

pytestmark = pytest.mark.anyio
FAST = {"resolution": "360p", "duration": 1}


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_job_resources_mirror_get_status(settings: Settings, mode: str):
    async with Client(build_server(settings), mode=mode) as client:
        listed = [str(r.uri) for r in (await client.list_resources()).resources]
        templates = [t.uri_template for t in (await client.list_resource_templates()).resource_templates]
        assert sorted(listed) == ["ui://videogen/player.html", "videogen://jobs"]
        assert {
            "videogen://jobs/{job_id}",
            "videogen://jobs/{job_id}/thumbnail",
            "videogen://jobs/{job_id}/video",
        } <= set(templates)

        made = (await client.call_tool("generate_video", {"prompt": "resource", **FAST})).structured_content
        uri = f"videogen://jobs/{made['job_id']}"
        job = json.loads((await client.read_resource(uri)).contents[0].text)
        assert job["job_id"] == made["job_id"] and job["status"] == "succeeded" and job["video"] == made["video"]
        recent = json.loads((await client.read_resource("videogen://jobs")).contents[0].text)
        assert [j["job_id"] for j in recent["jobs"]] == [made["job_id"]]
        thumb = (await client.read_resource(f"{uri}/thumbnail")).contents[0]
        assert thumb.mime_type == "image/png" and thumb.blob

        with pytest.raises(Exception, match="no job with id"):
            await client.read_resource("videogen://jobs/job_nope")


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_an_unknown_job_resource_is_invalid_params_not_an_internal_error(settings: Settings, mode: str):
    """A job id that does not exist is the caller's mistake: JSON-RPC -32602 (invalid params), as the spec
    answers for any resource that does not exist, not -32603 (internal error)."""
    async with Client(build_server(settings), mode=mode) as client:
        for uri in ("videogen://jobs/job_nope", "videogen://jobs/job_nope/thumbnail"):
            with pytest.raises(MCPError, match="no job with id 'job_nope'") as error:
                await client.read_resource(uri)
            assert error.value.error.code == INVALID_PARAMS, uri
        running = await client.call_tool("generate_video", {"prompt": "no thumbnail yet", "wait_seconds": 0})
        with pytest.raises(MCPError, match="has no thumbnail yet") as error:
            await client.read_resource(f"videogen://jobs/{running.structured_content['job_id']}/thumbnail")
        assert error.value.error.code == INVALID_PARAMS


async def test_modern_listeners_hear_every_change_after_the_call_returned(env: dict[str, str]):
    settings = Settings.from_env({**env, "VIDEOGEN_DEMO_LATENCY": "2"})
    async with Client(build_server(settings)) as client:
        started = await client.call_tool("generate_video", {"prompt": "listen", "wait_seconds": 0, **FAST})
        job_id = started.structured_content["job_id"]
        uri = f"videogen://jobs/{job_id}"
        seen: list[str] = []
        async with client.listen(resource_subscriptions=[uri]) as subscription:
            with anyio.fail_after(20):
                async for event in subscription:
                    seen.append(event.uri)
                    status = (await client.call_tool("get_status", {"job_id": job_id})).structured_content["status"]
                    if status == "succeeded":
                        break
    # At least progress and the end arrive (on a busy machine the job may be well along before the listen).
    assert set(seen) == {uri} and len(seen) >= 2


@pytest.mark.parametrize("transport", ["in-process", "stdio"])
async def test_legacy_subscribers_hear_every_change_after_the_call_returned(env: dict[str, str], transport: str):
    env = {**env, "VIDEOGEN_DEMO_LATENCY": "2"}
    updates: list[str] = []
    arrived = anyio.Event()

    async def on_message(message) -> None:
        if isinstance(message, ResourceUpdatedNotification):
            updates.append(str(message.params.uri))
            arrived.set()

    server = (
        build_server(Settings.from_env(env))
        if transport == "in-process"
        else StdioServerParameters(command=PYTHON, args=["-m", "server"], env=subprocess_env(env), cwd=str(ROOT))
    )
    async with Client(server, mode="legacy", message_handler=on_message) as client:
        started = await client.call_tool("generate_video", {"prompt": "subscribe", "wait_seconds": 0, **FAST})
        job_id = started.structured_content["job_id"]
        uri = f"videogen://jobs/{job_id}"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # resources/subscribe is the pre-2026 way, deprecated on purpose
            await client.subscribe_resource(uri)
            await client.subscribe_resource("videogen://jobs")
        with anyio.fail_after(20):
            while (await client.call_tool("get_status", {"job_id": job_id})).structured_content[
                "status"
            ] != "succeeded":
                await arrived.wait()
                arrived = anyio.Event()
        await anyio.sleep(0.2)  # let the last notification land
    # At least progress and the end (on a busy machine the job may be well along before the subscribe).
    assert updates.count(uri) >= 2 and "videogen://jobs" in updates
