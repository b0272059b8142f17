"""Issue 11 through the whole server: signed links in job results over streamable HTTP (downloaded with httpx,
decoded with PyAV), the /files/ route's place outside the bearer guard and behind the Host check, the video as
an MCP resource (read with the SDK's Client), the MCP Apps wiring, and stdio unchanged."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from urllib.parse import urlsplit

import anyio
import httpx
import pytest
from conftest import PYTHON, ROOT, subprocess_env
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS
from test_transports import serving

from server.app import PLAYER_URI, build_server
from server.delivery.links import KEY_FILE
from server.settings import Settings

pytestmark = pytest.mark.anyio
FAST = {"prompt": "a fox crossing a road", "duration": 1, "resolution": "360p"}
TOKEN = "t0ken-" + "7" * 32


async def _progress(value: float, total: float | None, message: str | None) -> None:
    """A progress callback, so a call waits for the job instead of returning after 4 s."""


def _decodes_as_mp4(data: bytes, folder: Path) -> int:
    """The number of video frames PyAV decodes from `data` (written to a file first)."""
    import av

    path = folder / f"decoded-{time.monotonic_ns()}.mp4"
    path.write_bytes(data)
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


async def test_a_job_over_streamable_http_carries_links_that_download_and_decode(env: dict[str, str], tmp_path: Path):
    log = tmp_path / "server.log"
    with serving({**env, "VIDEOGEN_LINK_TTL_SECONDS": "3"}, "streamable-http", log=log) as url:
        async with Client(f"{url}/mcp") as client:
            made = await client.call_tool("generate_video", FAST, progress_callback=_progress)
            job = made.structured_content
            assert job["status"] == "succeeded", made.content
            video = job["video"]
            download, thumbnail = video["download_url"], video["thumbnail_url"]
            assert download.startswith(f"{url}/files/") and thumbnail.startswith(f"{url}/files/")
            assert urlsplit(download).path.endswith(".mp4") and urlsplit(thumbnail).path.endswith(".png")
            assert download in made.content[0].text  # the text names the link
            assert "video.download_url" in job["next_step"]
            assert len(made.model_dump_json(by_alias=True, exclude_none=True)) <= 16_000  # issue 8's budget

            response = httpx.get(download)
            assert response.status_code == 200 and response.headers["content-type"] == "video/mp4"
            assert response.content == Path(video["path"]).read_bytes()
            assert _decodes_as_mp4(response.content, tmp_path) >= 10
            picture = httpx.get(thumbnail)
            assert picture.status_code == 200 and picture.headers["content-type"] == "image/png"
            assert picture.content == Path(video["thumbnail_path"]).read_bytes()

            # A player seeks: Range over the real route.
            part = httpx.get(download, headers={"Range": "bytes=100-199"})
            assert part.status_code == 206 and part.content == response.content[100:200]

            listed = (await client.call_tool("list_jobs", {})).structured_content["jobs"]
            assert listed[0]["video"]["download_url"].startswith(f"{url}/files/")
            resource = json.loads((await client.read_resource(f"videogen://jobs/{job['job_id']}")).contents[0].text)
            assert resource["video"]["download_url"].startswith(f"{url}/files/")

            # Links expire (3 s here); every get_status hands out a fresh one.
            exp = int(dict(p.split("=") for p in urlsplit(download).query.split("&"))["exp"])
            await anyio.sleep(max(0.0, exp - time.time()) + 0.2)
            expired = httpx.get(download)
            assert expired.status_code == 403
            fresh = (await client.call_tool("get_status", {"job_id": job["job_id"]})).structured_content
            assert fresh["video"]["download_url"] != download
            assert httpx.get(fresh["video"]["download_url"]).content == response.content
            # Another job's valid signature on this job's path is refused like a forged one.
            other = await client.call_tool(
                "generate_video", {**FAST, "prompt": "a second video"}, progress_callback=_progress
            )
            other_query = urlsplit(other.structured_content["video"]["download_url"]).query
            swapped = httpx.get(f"{url}{urlsplit(download).path}?{other_query}")
            assert swapped.status_code == 403 and swapped.content == expired.content

    key = (Path(env["VIDEOGEN_DATA_DIR"]) / KEY_FILE).read_bytes()
    written = log.read_text()
    for form in (key.hex(), base64.b64encode(key).decode(), base64.urlsafe_b64encode(key).decode().rstrip("=")):
        assert form not in written and form not in made.content[0].text and form not in json.dumps(job)


async def test_files_need_no_bearer_token_but_mcp_does_and_a_foreign_host_is_refused(env: dict[str, str]):
    """Served on every interface (0.0.0.0) without VIDEOGEN_PUBLIC_URL: a link uses the Host the client came by."""
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with serving(
        {**env, "VIDEOGEN_AUTH_TOKEN": TOKEN},
        "streamable-http",
        "--host",
        "0.0.0.0",
        "--allowed-host",
        "videogen.internal",
    ) as url:
        client = Client(streamable_http_client(f"{url}/mcp", http_client=create_mcp_http_client(headers=auth)))
        async with client:
            job = (await client.call_tool("generate_video", FAST, progress_callback=_progress)).structured_content
            player = (await client.read_resource(PLAYER_URI)).contents[0]
        download = job["video"]["download_url"]
        assert download.startswith(f"{url}/files/") and TOKEN not in download
        port = urlsplit(url).port
        assert player.meta["ui"]["csp"]["resourceDomains"] == [
            f"http://127.0.0.1:{port}",
            f"http://localhost:{port}",
            f"http://videogen.internal:{port}",
        ]

        assert httpx.get(download).status_code == 200  # no token: the signature is the credential
        assert httpx.post(f"{url}/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"}).status_code == 401
        assert httpx.get(f"{url}/files/").status_code == 403  # the route itself lets nobody list anything

        evil = httpx.get(download, headers={"Host": "evil.example"})
        assert evil.status_code == 421
        allowed = httpx.get(download, headers={"Host": "videogen.internal"})
        assert allowed.status_code == 200 and allowed.content == Path(job["video"]["path"]).read_bytes()


async def test_links_over_sse(env: dict[str, str]):
    from mcp.client.sse import sse_client

    with serving(env, "sse") as url:
        async with Client(sse_client(f"{url}/sse"), mode="legacy") as client:
            job = (await client.call_tool("generate_video", FAST, progress_callback=_progress)).structured_content
        response = httpx.get(job["video"]["download_url"])
        assert response.status_code == 200 and response.content == Path(job["video"]["path"]).read_bytes()


async def test_links_use_the_public_url_and_the_player_csp_names_only_that_origin(env: dict[str, str]):
    public = "https://videos.example.com:8443"
    with serving({**env, "VIDEOGEN_PUBLIC_URL": public}, "streamable-http") as url:
        async with Client(f"{url}/mcp") as client:
            job = (await client.call_tool("generate_video", FAST, progress_callback=_progress)).structured_content
            player = (await client.read_resource(PLAYER_URI)).contents[0]
            listed = {str(r.uri): r for r in (await client.list_resources()).resources}
        download = job["video"]["download_url"]
        assert download.startswith(f"{public}/files/")
        # A proxy in front passes the public name on: the route answers it.
        local = f"{url}{urlsplit(download).path}?{urlsplit(download).query}"
        assert httpx.get(local, headers={"Host": "videos.example.com:8443"}).status_code == 200
        assert httpx.get(local, headers={"Host": "elsewhere.example.com"}).status_code == 421
    assert player.meta["ui"]["csp"] == {"resourceDomains": [public], "connectDomains": []}
    assert listed[PLAYER_URI].meta["ui"]["csp"]["resourceDomains"] == [public]


async def test_tools_name_the_player_and_the_player_is_an_mcp_app(env: dict[str, str]):
    from mcp.server.apps import APP_MIME_TYPE, EXTENSION_ID

    with serving(env, "streamable-http") as url:
        async with Client(f"{url}/mcp") as client:
            tools = {t.name: t for t in (await client.list_tools()).tools}
            read = await client.read_resource(PLAYER_URI)
            capabilities = client.server_capabilities
    for name in ("generate_video", "get_status"):
        assert tools[name].meta == {"ui": {"resourceUri": "ui://videogen/player.html"}}, name
    assert all(tools[n].meta is None for n in tools if n not in ("generate_video", "get_status"))
    content = read.contents[0]
    assert content.mime_type == APP_MIME_TYPE == "text/html;profile=mcp-app"
    assert content.text.lstrip().lower().startswith("<!doctype html")
    assert content.meta["ui"]["csp"] == {"resourceDomains": [url], "connectDomains": []}
    assert EXTENSION_ID in (capabilities.extensions or {})  # the server announces MCP Apps


async def test_the_video_resource_is_the_mp4_and_large_ones_point_at_the_link(env: dict[str, str], tmp_path: Path):
    with serving(env, "streamable-http") as url:
        async with Client(f"{url}/mcp") as client:
            templates = {t.uri_template: t for t in (await client.list_resource_templates()).resource_templates}
            assert templates["videogen://jobs/{job_id}/video"].mime_type == "video/mp4"
            job = (await client.call_tool("generate_video", FAST, progress_callback=_progress)).structured_content
            uri = f"videogen://jobs/{job['job_id']}/video"
            blob = (await client.read_resource(uri)).contents[0]
            assert blob.mime_type == "video/mp4"
            data = base64.b64decode(blob.blob)
            assert data == Path(job["video"]["path"]).read_bytes() and _decodes_as_mp4(data, tmp_path) >= 10
            thumbnail = (await client.read_resource(f"videogen://jobs/{job['job_id']}/thumbnail")).contents[0]
            assert thumbnail.mime_type == "image/png" and base64.b64decode(thumbnail.blob).startswith(b"\x89PNG")

    # The same server with a cap below this video's size: a clear -32602 that hands over a fresh link.
    with serving({**env, "VIDEOGEN_RESOURCE_MAX_MB": "0.01"}, "streamable-http") as url:
        async with Client(f"{url}/mcp") as client:
            with pytest.raises(MCPError) as error:
                await client.read_resource(uri)
        message = error.value.error.message
        link = message.split("download it from ", 1)[1]
        assert link.startswith(f"{url}/files/") and httpx.get(link).status_code == 200
    assert error.value.error.code == INVALID_PARAMS
    assert "VIDEOGEN_RESOURCE_MAX_MB" in message and "above the 0.01 MB" in message
    assert error.value.error.data["size_bytes"] == job["video"]["size_bytes"]


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_in_process_the_video_resource_works_and_unfinished_jobs_are_invalid_params(
    env: dict[str, str], tmp_path: Path, mode: str
):
    settings = Settings.from_env({**env, "VIDEOGEN_DEMO_LATENCY": "3"})
    async with Client(build_server(settings), mode=mode) as client:
        for uri in ("videogen://jobs/job_nope/video",):
            with pytest.raises(MCPError, match="no job with id 'job_nope'") as error:
                await client.read_resource(uri)
            assert error.value.error.code == INVALID_PARAMS
        started = (await client.call_tool("generate_video", {**FAST, "wait_seconds": 0})).structured_content
        with pytest.raises(MCPError, match="has no video yet") as error:
            await client.read_resource(f"videogen://jobs/{started['job_id']}/video")
        assert error.value.error.code == INVALID_PARAMS and "get_status" in error.value.error.message
        done = await client.call_tool(
            "get_status", {"job_id": started["job_id"], "wait_seconds": 30}, progress_callback=_progress
        )
        assert done.structured_content["status"] == "succeeded"
        # No HTTP request, no links: an in-process client gets paths, as under stdio.
        assert done.structured_content["video"]["download_url"] is None
        blob = (await client.read_resource(f"videogen://jobs/{started['job_id']}/video")).contents[0]
        assert _decodes_as_mp4(base64.b64decode(blob.blob), tmp_path) >= 10


async def test_over_stdio_nothing_about_links_appears(env: dict[str, str]):
    server = StdioServerParameters(command=PYTHON, args=["-m", "server"], env=subprocess_env(env), cwd=str(ROOT))
    async with Client(server) as client:
        made = await client.call_tool("generate_video", FAST, progress_callback=_progress)
        status = await client.call_tool("get_status", {"job_id": made.structured_content["job_id"]})
        jobs = await client.call_tool("list_jobs", {})
        player = (await client.read_resource(PLAYER_URI)).contents[0]
    assert made.structured_content["status"] == "succeeded"
    for result in (made, status, jobs):
        sent = json.dumps(result.model_dump(mode="json", by_alias=True))
        assert "/files/" not in sent and "sig=" not in sent and "http://" not in sent, sent[:500]
    video = status.structured_content["video"]
    assert video["download_url"] is None and video["thumbnail_url"] is None
    assert video["path"] in status.content[0].text and "video.path" in status.structured_content["next_step"]
    assert player.meta["ui"]["csp"] == {"resourceDomains": [], "connectDomains": []}
    assert not (Path(env["VIDEOGEN_DATA_DIR"]) / KEY_FILE).exists()  # no links, no key


async def test_the_ui_resource_is_the_players_page_or_says_it_is_missing(settings: Settings, monkeypatch):
    import sys

    from mcp.server.apps import APP_MIME_TYPE

    player = pytest.importorskip("server.delivery.player")
    assert player.PLAYER_URI == PLAYER_URI
    async with Client(build_server(settings)) as client:
        page = (await client.read_resource(PLAYER_URI)).contents[0]
        assert page.mime_type == APP_MIME_TYPE and page.text == player.player_html()
        monkeypatch.setitem(sys.modules, "server.delivery.player", None)  # as if the module were not there
        missing = (await client.read_resource(PLAYER_URI)).contents[0]
    assert missing.mime_type == APP_MIME_TYPE and "player is not installed" in missing.text
    assert missing.text.startswith("<!DOCTYPE html>")
