"""The contract every provider adapter meets against its simulator (issue 9, item 5), through the real engine
(JobManager, real HTTP on 127.0.0.1, real MP4 downloads decoded with PyAV):

- text to video and image to video (a local image) succeed, where a model offers them, and the file decodes;
- every failure its simulator can inject (auth, out of credit, rate limit, content policy, invalid input,
  transient) ends in the right ErrorCode, with a message that says what to do;
- cancel cancels at the provider, or the job says the provider cannot cancel;
- a restart mid-job finishes the job with exactly one submission at the simulator;
- estimate_cost prices every model as its ModelSpec's rule says.

The providers are those with an entry in providers.simulators.REGISTERED: registering is all a new provider
needs to get this suite. Cases a provider fails because of a known bug in its adapter or simulator are listed
in KNOWN with the reason (strict: they fail the suite once fixed, so the entry is removed)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from contract.harness import QUICK, WAIT, Rig, contract_providers, decode, run_job, servers, wait_until
from mcp import Client

from providers.base import ErrorCode
from providers.simulators import REGISTERED, Fault
from server.app import build_server
from server.jobs import JobManager
from server.settings import Settings

pytestmark = pytest.mark.anyio
PROVIDERS = contract_providers()
FAULT_KINDS = (
    ErrorCode.AUTH,
    ErrorCode.OUT_OF_CREDIT,
    ErrorCode.RATE_LIMITED,
    ErrorCode.CONTENT_POLICY,
    ErrorCode.INVALID_INPUT,
    ErrorCode.TRANSIENT,
)
RETRY_WORDS = ("retry", "try again", "wait")
# (provider, case) -> why it fails today: a bug in that provider's adapter or simulator, reported to its owner.
KNOWN: dict[tuple[str, str], str] = {}


def cases(case: str) -> list[Any]:
    return [
        pytest.param(name, id=name, marks=[pytest.mark.xfail(strict=True, reason=KNOWN[name, case])])
        if (name, case) in KNOWN
        else pytest.param(name, id=name)
        for name in PROVIDERS
    ]


def fault_cases() -> list[Any]:
    params = []
    for name in PROVIDERS:
        for code in FAULT_KINDS:
            case = f"fault-{code.value}"
            marks = [pytest.mark.xfail(strict=True, reason=KNOWN[name, case])] if (name, case) in KNOWN else []
            params.append(pytest.param(name, code, id=f"{name}-{code.value}", marks=marks))
    return params


@pytest.fixture(scope="module")
def loopback() -> Iterator[Any]:
    with servers() as started:
        yield started


@pytest.fixture
def rig(request: pytest.FixtureRequest, loopback: Any, env: dict[str, str], tmp_path: Path) -> Rig:
    name = request.node.callspec.params["name"]
    url, slot = loopback.get(name)
    return Rig(name=name, entry=REGISTERED[name], url=url, slot=slot, base_env=env, inputs=tmp_path / "inputs")


def test_every_provider_that_calls_an_api_has_a_simulator():
    """A provider with an API to call must register a simulator, or it would silently miss the contract."""
    from providers.registry import Providers, provider_class

    remote = [name for name in Providers.names() if provider_class(name).base_url_default]
    assert remote and [name for name in remote if name not in REGISTERED] == []
    assert set(REGISTERED) <= set(Providers.names()), "a simulator registered for no provider"


def settings(rig: Rig, **changes: str) -> Settings:
    return Settings.from_env(rig.env(**changes))


def the_video(row: Any, seconds: float) -> None:
    assert row.status == "succeeded", (row.provider, row.error, row.message)
    frames, duration = decode(row.video["path"])
    assert frames > 0 and abs(duration - seconds) < 0.5, (frames, duration, seconds)


# -- generating ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", cases("text_to_video"))
async def test_text_to_video(rig: Rig, name: str):
    spec = rig.model("text_to_video")
    if spec is None:
        pytest.skip(f"no {name} model makes video from text")
    async with JobManager(settings(rig)) as manager:
        row = await run_job(manager, rig.args(f"a lighthouse in a storm {QUICK}", spec))
    the_video(row, spec.default_duration)
    assert rig.sim.submissions == 1 and row.provider_ref


@pytest.mark.parametrize("name", cases("image_to_video"))
async def test_image_to_video_from_a_local_file(rig: Rig, name: str):
    """A local start image (or, for a provider that takes only URLs, the registered URL) makes a video."""
    spec = rig.model("image_to_video")
    if spec is None:
        pytest.skip(f"no {name} model takes a start image")
    async with JobManager(settings(rig)) as manager:
        row = await run_job(
            manager, rig.args(f"the water ripples {QUICK}", spec, images=[rig.entry.image_url or rig.picture()])
        )
    the_video(row, spec.default_duration)
    assert row.request["mode"] == "image_to_video" and rig.sim.submissions == 1


# -- failing the way the provider fails ----------------------------------------------------------------------


@pytest.mark.parametrize(("name", "code"), fault_cases())
async def test_each_failure_ends_in_its_error_code(rig: Rig, name: str, code: ErrorCode):
    fault: Fault | None = rig.entry.faults.get(code)
    if fault is None:
        pytest.skip(f"the {name} simulator registers no way to make {code.value} happen")
    spec = rig.model("text_to_video") or rig.model("image_to_video")
    assert spec is not None
    rig.apply(fault)
    async with JobManager(settings(rig, **fault.env)) as manager:
        row = await run_job(manager, rig.args(f"a quiet harbour {QUICK}", spec, fault))
    assert row.status == "failed", (name, code, row.status, row.message)
    error = row.error or {}
    assert error.get("code") == code.value, (name, error)
    message = error.get("message", "")
    assert len(message) > 20 and all(word.lower() in message.lower() for word in fault.says), message
    if code == ErrorCode.AUTH:
        assert any(var in message for var in rig.entry.keys), f"names none of {list(rig.entry.keys)}: {message}"
    if code in (ErrorCode.RATE_LIMITED, ErrorCode.TRANSIENT):
        assert any(word in message.lower() for word in RETRY_WORDS), f"says neither {RETRY_WORDS}: {message}"
    assert error.get("retryable") == (code in (ErrorCode.RATE_LIMITED, ErrorCode.TRANSIENT)), error
    for secret in rig.entry.keys.values():
        assert secret not in message
    if code in (ErrorCode.AUTH, ErrorCode.OUT_OF_CREDIT, ErrorCode.RATE_LIMITED, ErrorCode.TRANSIENT):
        assert rig.sim.submissions == 0  # refused: nothing was created, nothing charged


# -- cancel ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", cases("cancel"))
async def test_cancel_or_say_it_cannot(rig: Rig, name: str):
    spec = rig.model("text_to_video") or rig.model("image_to_video")
    assert spec is not None
    async with JobManager(settings(rig)) as manager:
        row = await manager.submit(rig.args("never mind sim:queue=600", spec))
        await wait_until(lambda: bool(manager.get(row.job_id).provider_ref), what="the provider's job id")
        done = await manager.cancel(row.job_id)
        provider = manager.providers.get(name)
    assert done.status == "cancelled", (done.status, done.message)
    (job,) = rig.sim.jobs.values()
    if provider.supports_cancel:
        assert job.cancelled and f"cancelled at {provider.title}" in done.message
    else:
        assert not job.cancelled and "cannot cancel" in done.message and "charged" in done.message


# -- restart ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", cases("restart"))
async def test_restart_mid_job_submits_once(rig: Rig, name: str):
    spec = rig.model("text_to_video") or rig.model("image_to_video")
    assert spec is not None
    args = rig.args("a slow pan sim:seconds=200 sim:queue=1", spec)
    async with JobManager(settings(rig)) as first:
        row = await first.submit(args)
        await wait_until(lambda: first.get(row.job_id).status == "running", what="a running job")
    assert rig.sim.submissions == 1 and len(rig.sim.jobs) == 1
    (job,) = rig.sim.jobs.values()
    assert job.phase()[0] == "running"  # the provider is still at work when the first engine stops
    async with JobManager(settings(rig)) as second:
        done = await second.wait(row.job_id, WAIT)
    the_video(done, spec.default_duration)
    assert rig.sim.submissions == 1 and len(rig.sim.jobs) == 1


# -- prices ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", cases("estimate"))
async def test_estimate_cost_for_every_model(rig: Rig, name: str):
    provider = rig.provider()
    assert provider.models
    async with Client(build_server(settings(rig))) as client:
        for spec in provider.models:
            args: dict[str, Any] = {"prompt": "a cat", "provider": name, "model": spec.id}
            if spec.video and not spec.modes:  # video-to-video only (Runway's aleph2)
                args["video"] = "https://example.com/in.mp4"
            elif "text_to_video" not in spec.modes:
                args["images"] = ["https://example.com/start.png"]
            result = await client.call_tool("estimate_cost", args)
            assert not result.is_error, (spec.id, result.content)
            cost = result.structured_content
            assert cost["usd"] == pytest.approx(spec.price_at_defaults(), abs=1e-9), spec.id
            assert (cost["usd"] > 0) == spec.priced, spec.id
            assert cost["rule"] == spec.price.describe() and cost["configured"] is True
    assert rig.sim.submissions == 0
