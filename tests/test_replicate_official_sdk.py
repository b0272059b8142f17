"""The official `replicate` SDK (PyPI, 1.0.x) against the Replicate simulator, unchanged but for its base URL:
predictions.create (by model and by version, with and without Prefer: wait), reload/wait through the documented
statuses, the progress the SDK parses from logs, cancel, models.get with the OpenAPI schema, signed webhooks the
SDK's own validator accepts, and ReplicateError for what the API refuses (422 invalid input, 401, 402)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import replicate
from replicate.exceptions import ReplicateError
from replicate.webhook import InvalidSignatureError, Webhooks
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

from providers.simulators.common import Simulator, running
from providers.simulators.replicate import DEFAULT_TOKEN, VERSION_OF, create_app
from server.media import probe

SPEED = 300.0
KLING = "kwaivgi/kling-v2.6"


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[str, Simulator]]:
    sub = create_app(speed=SPEED)
    with running(Starlette(routes=[Mount("/replicate", app=sub)])) as url:
        yield f"{url}/replicate", sub.state.sim


@pytest.fixture
def sim(served: tuple[str, Simulator]) -> Simulator:
    sim = served[1]
    sim.config.clear()
    sim.jobs.clear()
    sim.submissions = 0
    return sim


@pytest.fixture
def client(served: tuple[str, Simulator], sim: Simulator) -> replicate.Client:
    made = replicate.Client(api_token=DEFAULT_TOKEN, base_url=served[0])
    made.poll_interval = 0.02  # the SDK's default is REPLICATE_POLL_INTERVAL or 0.5 s
    return made


def test_create_reload_and_wait_to_a_real_mp4(client: replicate.Client, sim: Simulator, tmp_path: Path):
    prediction = client.predictions.create(
        model=KLING, input={"prompt": "a lighthouse sim:seconds=600 sim:queue=30", "duration": 10}
    )
    assert prediction.status == "starting" and prediction.model == KLING and prediction.output is None
    seen = {prediction.status}
    deadline = time.monotonic() + 10
    while prediction.status not in ("succeeded", "failed", "canceled"):
        assert time.monotonic() < deadline, prediction.status
        time.sleep(0.02)
        prediction.reload()
        seen.add(prediction.status)
        if prediction.status == "processing" and prediction.progress is not None:
            progress = prediction.progress  # the SDK's own parse of the tqdm lines in logs
            assert 0 <= progress.percentage <= 1 and progress.total == 50
            seen.add("progress")
    assert seen >= {"starting", "processing", "progress", "succeeded"}, seen
    assert isinstance(prediction.output, str) and prediction.metrics["predict_time"] == pytest.approx(600, rel=0.01)
    path = tmp_path / "out.mp4"
    path.write_bytes(httpx.get(prediction.output).content)
    assert abs(probe(path).duration_seconds - 10) < 0.3
    assert sim.submissions == 1


def test_create_by_version_and_wait(client: replicate.Client, sim: Simulator):
    version = VERSION_OF["wan-video/wan-2.2-t2v-fast"]
    prediction = client.predictions.create(version=version, input={"prompt": "a fox sim:seconds=30 sim:queue=1"})
    assert prediction.version == version and prediction.model == "wan-video/wan-2.2-t2v-fast"
    prediction.wait()
    assert prediction.status == "succeeded" and prediction.output.startswith("http")


def test_prefer_wait_answers_a_finished_prediction(client: replicate.Client, sim: Simulator):
    # Through models.predictions: SDK 1.0.7's predictions.create(model=..., wait=...) pops `wait` before it
    # hands over to models.predictions.create, so that call never sends Prefer.
    prediction = client.models.predictions.create(
        model="google/veo-3.1-fast", input={"prompt": "rain sim:seconds=20 sim:queue=1"}, wait=60
    )
    assert prediction.status == "succeeded" and prediction.output
    quick = client.models.predictions.create(model=KLING, input={"prompt": "long sim:seconds=600"}, wait=1)
    assert quick.status in ("starting", "processing")  # held for 1 s only, then answered as it stands


def test_cancel(client: replicate.Client, sim: Simulator):
    prediction = client.predictions.create(model=KLING, input={"prompt": "slow sim:queue=600"})
    cancelled = client.predictions.cancel(prediction.id)
    assert cancelled.status == "canceled" and sim.jobs[prediction.id].cancelled
    prediction.reload()
    assert prediction.status == "canceled"


def test_models_get_has_the_openapi_input_schema(client: replicate.Client):
    model = client.models.get(KLING)
    components = model.latest_version.openapi_schema["components"]["schemas"]
    schema = components["Input"]
    assert model.owner == "kwaivgi" and model.name == "kling-v2.6"
    # Cog's shape: an enum is its own component, the property points at it through allOf.
    assert schema["properties"]["duration"]["allOf"] == [{"$ref": "#/components/schemas/duration"}]
    assert components["duration"]["enum"] == [5, 10] and "prompt" in schema["required"]
    assert client.models.get("minimax/hailuo-02").latest_version.id  # a model the adapter does not declare


def test_invalid_input_is_a_replicate_error_with_the_fields(client: replicate.Client, sim: Simulator):
    with pytest.raises(ReplicateError) as caught:
        client.predictions.create(model=KLING, input={"prompt": "x", "duration": 7, "aspect_ratio": "4:3"})
    error = caught.value
    assert error.status == 422 and error.title == "Input validation failed"
    assert "input.duration: duration must be one of the following: 5, 10" in error.detail
    assert "input.aspect_ratio" in error.detail
    with pytest.raises(ReplicateError) as missing:
        client.predictions.create(model="wan-video/wan-2.2-i2v-fast", input={"prompt": "no image"})
    assert missing.value.status == 422 and "image is required" in missing.value.detail
    with pytest.raises(ReplicateError) as unknown:
        client.predictions.create(model="nobody/no-such-model", input={"prompt": "x"})
    assert unknown.value.status == 404
    assert sim.submissions == 0


def test_bad_token_and_no_credit_are_replicate_errors(served: tuple[str, Simulator], sim: Simulator):
    with pytest.raises(ReplicateError) as caught:
        replicate.Client(api_token="r8_wrong", base_url=served[0]).predictions.get("abc")
    assert caught.value.status == 401
    sim.config["credit"] = False
    with pytest.raises(ReplicateError) as broke:
        replicate.Client(api_token=DEFAULT_TOKEN, base_url=served[0]).predictions.create(
            model=KLING, input={"prompt": "x"}
        )
    assert broke.value.status == 402 and "billing" in broke.value.detail and sim.submissions == 0


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    got: list[dict[str, Any]] = []
    lock = threading.Lock()

    async def hook(request: Request) -> Response:
        with lock:
            got.append({"headers": dict(request.headers), "body": (await request.body()).decode()})
        return Response(status_code=200)

    with running(Starlette(routes=[Route("/hook", hook, methods=["POST"])])) as url:
        yield f"{url}/hook", got


def test_webhooks_are_signed_as_the_sdk_validates(client: replicate.Client, sim: Simulator, receiver):
    url, got = receiver
    prediction = client.predictions.create(
        model=KLING,
        input={"prompt": "a kite sim:seconds=30 sim:queue=3"},
        webhook=url,
        webhook_events_filter=["start", "completed"],
    )
    deadline = time.monotonic() + 10
    while len(got) < 2:
        assert time.monotonic() < deadline, got
        time.sleep(0.02)
    secret = client.webhooks.default.secret()
    statuses = []
    for delivery in got:
        Webhooks.validate(headers=delivery["headers"], body=delivery["body"], secret=secret, tolerance=60)  # raises
        sent = json.loads(delivery["body"])
        assert sent["id"] == prediction.id
        statuses.append(sent["status"])
    assert statuses == ["starting", "succeeded"]
    with pytest.raises(InvalidSignatureError):  # the check is real: another body does not pass
        Webhooks.validate(headers=got[0]["headers"], body=got[1]["body"], secret=secret)
    with pytest.raises(ReplicateError) as caught:
        client.predictions.create(model=KLING, input={"prompt": "x"}, webhook=url, webhook_events_filter=["done"])
    assert caught.value.status == 422 and "webhook_events_filter" in caught.value.detail
