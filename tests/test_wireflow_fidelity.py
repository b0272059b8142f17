"""Wireflow as its official docs and skill describe it (issue 9): text to video on the documented i2v node, the
spec document's create/execute/poll flow, videos read from nodeRuns[].output, end frames, X-RateLimit-* on every
answer with parallel jobs kept under a Free key's limit, /estimate checked before a run, tolerant wire models, and
the docs' own example requests replayed verbatim (Wireflow has no official SDK: its docs' curl calls are the
oracle)."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import anyio
import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount
from test_provider_wireflow import KEY, SPEED, Served, provider, request

from providers.base import ErrorCode, InvalidRequest, ProviderError
from providers.simulators.common import running
from providers.simulators.wireflow import create_app
from providers.wireflow import (
    KLING_I2V,
    MODELS,
    ErrorBody,
    PollAnswer,
    RateLimit,
    build_graph,
    map_error,
    read_poll,
)
from server.catalog import RequestArgs
from server.jobs import JobManager
from server.media import probe
from server.settings import Settings

pytestmark = pytest.mark.anyio


class _Current:
    app: Any = None

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, _Current]]:
    current = _Current()
    with running(Starlette(routes=[Mount("/wireflow", app=current)])) as root:
        yield f"{root}/wireflow", current


def serve(server: tuple[str, _Current], speed: float = SPEED) -> Served:
    url, current = server
    current.app = create_app(speed=speed)
    return Served(url, current.app.state.sim)


@pytest.fixture
def served(server: tuple[str, _Current]) -> Served:
    return serve(server)


def http(served: Served, key: str = KEY) -> httpx.Client:
    return httpx.Client(base_url=served.url, headers={"Authorization": f"Bearer {key}"})


def response(status: int, body: Any, method: str = "POST", path: str = "/api/v1/workflows") -> httpx.Response:
    return httpx.Response(status, json=body, request=httpx.Request(method, f"https://www.wireflow.ai{path}"))


def wait_done(client: httpx.Client, execution: str) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while True:
        body = client.get(f"/workflows/executions/{execution}/poll").json()
        data = body.get("data", body)
        if data["status"] != "RUNNING":
            return data
        assert time.monotonic() < deadline
        time.sleep(0.03)


SPEC_GRAPH = {
    "name": "Kling from text",
    "nodes": [
        {
            "id": "text-1",
            "type": "basedNode",
            "position": {"x": 100, "y": 100},
            "data": {"label": "Prompt", "nodeType": "input:text", "category": "input", "params": {"prompt": "a fox"}},
        },
        {
            "id": "kling-1",
            "type": "basedNode",
            "position": {"x": 600, "y": 100},
            "data": {
                "label": "Kling",
                "nodeType": KLING_I2V,
                "category": "video",
                "params": {"aspect_ratio": "16:9", "generate_audio": False},
            },
        },
    ],
    "edges": [
        {
            "id": "e-1",
            "source": "text-1",
            "target": "kling-1",
            "sourceHandle": "out-prompt",
            "targetHandle": "in-prompt",
        }
    ],
}


# -- 1. text to video is the i2v node with nothing wired to its image port ---------------------------------
def test_text_to_video_is_the_documented_i2v_node_and_an_invented_type_fails_lint(served):
    for model in ("kling-2.5-turbo", "kling-2.6-pro"):
        spec = next(m for m in MODELS if m.id == model)
        graph = build_graph(spec, request(model=model))
        (kling,) = [n for n in graph["nodes"] if n["id"] == "kling"]
        assert kling["data"]["nodeType"] == KLING_I2V
        assert [e["targetHandle"] for e in graph["edges"]] == ["in-prompt"]  # no image edge
    invented = json.loads(json.dumps(SPEC_GRAPH))
    invented["nodes"][1]["data"]["nodeType"] = "video:kling_video_2_5_t2v"
    with http(served) as client:
        refused = client.post("/workflows", json=invented)
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "invalid_graph"
    (violation,) = refused.json()["violations"]
    assert violation["rule"] == "unknown-node-type" and KLING_I2V in violation["fix"]


# -- 2. the spec document's flow, over HTTP ------------------------------------------------------------
def test_the_spec_documents_flow_runs_the_saved_graph(served):
    """POST /workflows, then POST /workflows/{id}/execute with {"nodes": [], "edges": []} (run the saved graph,
    no targetNodeId), then poll until the video is there; `{}` lacks the fields the docs call required."""
    with http(served) as client:
        created = client.post("/workflows", json=SPEC_GRAPH)
        assert created.status_code == 201
        workflow_id = created.json()["data"]["id"]
        empty = client.post(f"/workflows/{workflow_id}/execute", json={})
        assert empty.status_code == 400 and empty.json() == {"error": "Missing required fields: nodes, edges"}
        started = client.post(f"/workflows/{workflow_id}/execute", json={"nodes": [], "edges": []})
        assert started.status_code == 201, started.text
        execution = started.json()["executionRuns"][0]["id"]
        assert started.headers["location"].endswith(f"/workflows/executions/{execution}/poll")
        done = wait_done(client, execution)
        assert done["status"] == "COMPLETED"
        (kling,) = [r for r in done["nodeResults"]["nodeRuns"] if r["nodeId"] == "kling-1"]
        video = client.get(kling["output"]["video"]["url"])
        assert video.status_code == 200 and video.content[4:8] == b"ftyp"
        # targetNodeId is optional, and when given must name a node of the graph.
        wrong = client.post(f"/workflows/{workflow_id}/execute", json={"nodes": [], "edges": [], "targetNodeId": "x"})
        assert wrong.status_code == 400 and "targetNodeId 'x'" in wrong.json()["error"]
    assert served.sim.submissions == 1 and served.sim.jobs[execution].extra["video_node"] == "kling-1"


# -- 3. a video only in nodeRuns[].output is not lost -------------------------------------------------------
@pytest.mark.parametrize("output", ["video", "videos"])
async def test_a_video_only_in_node_runs_output_is_read(served, tmp_path, output):
    served.sim.config.update(output_shape="docs", video_output=output)  # no finalOutput, no outputUrl
    wf = provider(served, tmp_path)
    submission = await wf.submit("job_docs_poll", request(prompt="a kite sim:seconds=1"))
    with anyio.fail_after(10):
        while (snapshot := await wf.poll(submission, request())).status != "succeeded":
            assert snapshot.status in ("queued", "running"), snapshot
            await anyio.sleep(0.02)
    await wf.aclose()
    assert snapshot.video_url and f"/_sim/videos/{submission.ref}.mp4" in snapshot.video_url


def test_node_run_outputs_in_each_documented_shape():
    url = "https://cdn.wireflow.ai/out.mp4"
    for output in ({"video": {"url": url}}, {"videos": [{"url": url}]}, {"url": url}):
        body = {"status": "COMPLETED", "nodeResults": {"nodeRuns": [{"nodeId": "kling", "output": output}]}}
        assert read_poll(body).video_url == url
    # An image node's output is not the video: the run says so rather than handing over a picture.
    images = {"status": "COMPLETED", "nodeResults": {"nodeRuns": [{"nodeId": "kling", "output": {"images": []}}]}}
    assert read_poll(images).status == "failed"


# -- 4. end frames ------------------------------------------------------------------------------------
async def test_an_end_frame_goes_to_the_kling_nodes_end_image_port(served, tmp_path):
    wf = provider(served, tmp_path)
    start, end = "https://example.com/start.png", "https://example.com/end.png"
    ask = request(mode="image_to_video", images=[start], end_image=end)
    wf.check(ask)
    submission = await wf.submit("job_end_frame", ask)
    await wf.aclose()
    payload = served.sim.jobs[submission.ref].payload
    (end_node,) = [n for n in payload["nodes"] if n["id"] == "end_image"]
    assert end_node["data"]["nodeType"] == "input:image" and end_node["data"]["config"]["image"] == end
    assert {"source": "end_image", "targetHandle": "in-end_image_url"}.items() <= next(
        e for e in payload["edges"] if e["source"] == "end_image"
    ).items()
    assert all(m.end_image for m in MODELS[:2]) and not MODELS[2].end_image
    with pytest.raises(InvalidRequest, match="only at 1080p"):
        wf.check(ask.model_copy(update={"resolution": "720p"}))
    with pytest.raises(InvalidRequest, match="without audio"):
        wf.check(ask.model_copy(update={"model": "kling-2.6-pro", "audio": True}))


def test_the_simulator_wants_a_start_frame_with_an_end_frame(served):
    graph = json.loads(json.dumps(SPEC_GRAPH))
    image = {"label": "End", "nodeType": "input:image", "category": "input", "config": {"image": "https://x/e.png"}}
    graph["nodes"].append({"id": "end", "type": "basedNode", "position": {"x": 0, "y": 0}, "data": image})
    graph["edges"].append(
        {
            "id": "e-2",
            "source": "end",
            "target": "kling-1",
            "sourceHandle": "out-image",
            "targetHandle": "in-end_image_url",
        }
    )
    with http(served) as client:
        workflow_id = client.post("/workflows", json=graph).json()["data"]["id"]
        refused = client.post(f"/workflows/{workflow_id}/execute", json=graph)
    assert refused.status_code == 400 and "needs a start image on in-image_url" in refused.json()["error"]


# -- 5. rate limits -------------------------------------------------------------------------------------
async def test_parallel_jobs_on_a_free_key_stay_under_its_limit(server, env, tmp_path):
    """Free: 10 requests and 10 executions a minute. Four jobs polling at full speed share them."""
    served = serve(server, speed=60)  # a simulated minute is a real second
    served.sim.config["rate_limit_per_min"] = 10
    wf_env = {
        **env,
        "VIDEOGEN_WIREFLOW_BASE_URL": served.url,
        "WIREFLOW_API_KEY": KEY,
        "VIDEOGEN_POLL_SCALE": "0.01",  # polls every 10-100 ms if nothing held them back
        "VIDEOGEN_DEFAULT_PROVIDER": "wireflow",
    }
    async with JobManager(Settings.from_env(wf_env)) as manager:
        rows = [await manager.submit(RequestArgs(prompt=f"kite {n} sim:seconds=60")) for n in range(4)]
        with anyio.fail_after(60):
            done = [await manager.wait(row.job_id, 60) for row in rows]
    assert [r.status for r in done] == ["succeeded"] * 4, [r.error for r in done]
    assert served.sim.throttled == 0  # no 429 met
    per_window = Counter((bucket, window) for (_, bucket, window), n in served.sim.counted.items() for _ in range(n))
    assert max(per_window.values()) <= 10 and sum(per_window.values()) >= 4 * 4  # it did work, within the limit
    assert all(abs(probe(r.video["path"]).duration_seconds - 5) < 0.2 for r in done)


def test_the_limiter_spreads_requests_over_the_window_and_stops_at_zero():
    now = [1_800_000_000.0]
    limit = RateLimit(clock=lambda: now[0])
    assert limit.reserve() == 0  # nothing known yet: go and learn
    limit.observe(200, {"x-ratelimit-limit": "10", "x-ratelimit-remaining": "9", "x-ratelimit-reset": "1800000060"})
    limit.release()
    assert limit.reserve() == 0
    assert limit.reserve() == pytest.approx(60 / 9)  # the next one waits its share of the window
    now[0] += 60 / 9
    assert limit.reserve() == 0
    limit.observe(429, {"x-ratelimit-limit": "10", "x-ratelimit-remaining": "0", "x-ratelimit-reset": "1800000060"})
    assert limit.reserve() == pytest.approx(60 - 60 / 9 + 0.01)  # none past Remaining 0 until Reset
    now[0] = 1_800_000_060.0
    assert limit.reserve() == 0  # a fresh window


async def test_a_429s_documented_body_gives_the_wait(served):
    async with httpx.AsyncClient() as client:
        response = httpx.Response(
            429,
            json={
                "error": "Too many workflow executions. Please try again later.",
                "retryAfter": int(time.time()) + 30,
            },
            request=client.build_request("POST", "https://www.wireflow.ai/api/v1/workflows/w/execute"),
        )
    error = map_error(response)
    assert error.code is ErrorCode.RATE_LIMITED and 28 <= (error.retry_after or 0) <= 31
    assert "Too many workflow executions" in error.message


# -- 6./7. prices: sourced, and checked against Wireflow's estimate before a run -------------------------------
def test_every_model_has_an_https_price_source_and_a_check_date():
    for model in MODELS:
        assert model.price_source.startswith("https://") and model.price_checked == "2026-11-29", model.id
        assert "estimate" in model.price.note and "assumed" in model.price.note


async def test_a_run_wireflow_prices_above_our_quote_is_refused_before_it_starts(served, tmp_path):
    served.sim.config["price_factor"] = 2  # Wireflow charges twice the Kling price: above our 1.43x quote
    wf = provider(served, tmp_path)
    with pytest.raises(ProviderError) as refused:
        await wf.submit("job_dear", request())
    await wf.aclose()
    assert refused.value.code is ErrorCode.OVER_BUDGET and not refused.value.retryable
    assert "70 credits ($0.70), above the $0.50 quoted" in refused.value.message
    assert served.sim.estimates == 1 and served.sim.submissions == 0  # priced, never run


async def test_an_estimate_that_the_balance_cannot_cover_stops_before_the_execute(served, tmp_path):
    served.sim.config["credits"] = 3
    wf = provider(served, tmp_path)
    with pytest.raises(ProviderError) as refused:
        await wf.submit("job_poor", request())
    await wf.aclose()
    assert refused.value.code is ErrorCode.OUT_OF_CREDIT and "needs 35 credits and the account has 3" in str(
        refused.value.message
    )
    assert served.sim.estimates == 1 and served.sim.submissions == 0 and served.sim.config["credits"] == 3


# -- 8. wire models ---------------------------------------------------------------------------------------
def test_the_wire_models_read_odd_answers_without_crashing():
    odd = PollAnswer.read(
        {"status": 3, "progress": "50", "nodeResults": "x", "nodeRuns": ["x", {"nodeId": 7, "output": []}]}
    )
    assert odd.status == "3" and odd.progress is None and odd.node("7").output == []
    assert read_poll({"status": None, "nodeStates": "broken"}).status == "running"
    error = ErrorBody.read({"error": {"message": "bad"}, "requiredCredits": "ten", "violations": [None, {"rule": 1}]})
    assert error.requiredCredits is None and [v.rule for v in error.violations] == ["1"]


def test_the_402_and_422_bodies_are_read_into_their_errors():
    docs_402 = {
        "error": "Insufficient credits. Required: 10, Available: 3",
        "insufficientCredits": True,
        "requiredCredits": 10,
        "availableCredits": 3,
        "breakdown": [{"nodeId": "node-1", "nodeLabel": "Text to Image", "credits": 10}],
    }
    poor = map_error(response(402, docs_402))
    assert poor.code is ErrorCode.OUT_OF_CREDIT and "needs 10 credits and the account has 3" in poor.message
    lint = {
        "error": {"type": "invalid_request_error", "code": "invalid_graph", "message": "Workflow graph failed."},
        "violations": [{"rule": "bad-target-handle", "message": "edge e: no port in-text", "fix": "Ports: in-prompt"}],
    }
    refused = map_error(response(422, lint))
    assert refused.code is ErrorCode.INVALID_INPUT and "no port in-text (Ports: in-prompt)" in refused.message


# -- 9. the docs' own example requests, verbatim --------------------------------------------------------------
DOCS_NODE = {  # docs/api/executions: "Execute a Workflow", the request body
    "id": "node-1",
    "type": "model",
    "position": {"x": 0, "y": 0},
    "data": {
        "label": "Text to Image",
        "nodeType": "model:fal:text-to-image",
        "category": "model",
        "prompt": "A sunset over mountains",
    },
}
OVERVIEW_NODE = {  # docs/api/overview: "Quick Start"
    "id": "node-1",
    "type": "basedNode",
    "position": {"x": 0, "y": 0},
    "data": {
        "label": "Text to Image",
        "category": "model",
        "nodeType": "generate:flux_2",
        "params": {"prompt": "A sunset over mountains, photorealistic"},
        "inputs": [],
        "outputs": [{"id": "image", "label": "Image", "type": "IMAGE"}],
    },
}


def test_the_docs_example_requests_replayed_verbatim(served):
    auth = {"Authorization": "Bearer sk-your-api-key", "Content-Type": "application/json"}
    with httpx.Client(base_url=served.url, headers=auth) as client:
        # docs/api/workflows: create (the body's node is the executions page's, the workflows example being cut)
        created = client.post(
            "/workflows",
            content=json.dumps(
                {
                    "name": "My Workflow",
                    "description": "Generates images from prompts",
                    "nodes": [DOCS_NODE],
                    "edges": [],
                }
            ),
        )
        assert created.status_code == 201
        workflow_id = created.json()["data"]["id"]
        listed = client.get("/workflows")  # docs/api/workflows: list
        assert [w["id"] for w in listed.json()["data"]] == [workflow_id]
        assert client.get(f"/workflows/{workflow_id}/run").status_code == 200  # docs/api/run: describe inputs
        # skill references/api.md: estimate with -d '{}'
        estimate = client.post(f"/workflows/{workflow_id}/estimate", content="{}").json()["data"]
        assert estimate["estimatedCredits"] == 10 and estimate["estimateComplete"] is True
        for node in (DOCS_NODE, OVERVIEW_NODE):  # the executions page's request, then the overview's
            started = client.post(
                f"/workflows/{workflow_id}/execute", content=json.dumps({"nodes": [node], "edges": []})
            )
            assert started.status_code == 201 and started.headers["location"]
            answer = started.json()
            assert set(answer) == {"workflowId", "batchId", "executionRuns"} and answer["workflowId"] == workflow_id
            run = answer["executionRuns"][0]
            assert run["status"] == "RUNNING" and run["id"].startswith("exec_") and run["endTime"] is None
            assert {"nodeId", "status", "output"} <= set(run["nodeRuns"][0])
            done = wait_done(client, run["id"])  # docs/api/overview: poll until complete
            assert done["status"] == "COMPLETED"
            (image,) = done["nodeResults"]["nodeRuns"][0]["output"]["images"]
            picture = httpx.get(image["url"])
            assert picture.status_code == 200 and picture.content[:8] == b"\x89PNG\r\n\x1a\n"
            for name in ("x-request-id", "x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"):
                assert started.headers[name] and done is not None
        # docs/api/errors: the 402, word for word, for the same Text to Image node
        served.sim.config["credits"] = 3
        poor = client.post(f"/workflows/{workflow_id}/execute", content=json.dumps({"nodes": [DOCS_NODE], "edges": []}))
        assert poor.status_code == 402 and poor.json() == {
            "error": "Insufficient credits. Required: 10, Available: 3",
            "insufficientCredits": True,
            "requiredCredits": 10,
            "availableCredits": 3,
            "breakdown": [{"nodeId": "node-1", "nodeLabel": "Text to Image", "credits": 10}],
        }
        # docs/api/errors: a missing key, word for word
        anonymous = httpx.get(f"{served.url}/workflows")
        assert anonymous.status_code == 401
        assert anonymous.json() == {"error": "Invalid API key format. Expected: Bearer sk-..."}


# -- the Idempotency-Key: the spec document's promise, not the docs' ---------------------------------------------
async def test_if_wireflow_ignores_the_idempotency_key_a_resend_runs_twice(served, tmp_path):
    """The risk the adapter's description names: only the spec document says a key replays. Where the real API
    ignores it, the resend after a lost answer starts (and bills) a second run; the simulator can show both."""
    served.sim.config.update(idempotency="ignore", fail_execute=1)  # the run starts, then a gateway answers 500
    wf = provider(served, tmp_path)
    submission = await wf.submit("job_ignored_key", request())
    await wf.aclose()
    assert served.sim.submissions == 2 and served.sim.replayed == 0 and submission.ref in served.sim.jobs


def test_the_simulators_request_limit_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("VIDEOGEN_SIM_WIREFLOW_RATE_LIMIT", "10")  # the Free plan
    with (
        running(create_app(speed=1)) as url,
        httpx.Client(base_url=url, headers={"Authorization": f"Bearer {KEY}"}) as c,
    ):
        listed, started = c.get("/workflows"), c.post("/workflows/none/execute", json={"nodes": [], "edges": []})
    assert listed.headers["x-ratelimit-limit"] == "10" and listed.headers["x-ratelimit-remaining"] == "9"
    assert started.status_code == 404 and started.headers["x-ratelimit-limit"] == "10"  # executions: 10 on every plan
