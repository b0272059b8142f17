"""Any model on fal or Replicate (issue 10, "Any model on the aggregators"), through the MCP tools against the
fal and Replicate simulators over loopback: a model named by its fal endpoint id or Replicate owner/name is read
from its published schema (and fal's price from its pricing API), cached, validated before anything is sent,
priced (estimates and unpriced models said so), searched for with list_models, and run by the same engine."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from starlette.applications import Starlette
from starlette.routing import Mount

from providers.fal import FalProvider
from providers.simulators.common import Simulator, running
from providers.simulators.fal import create_app as fal_app
from providers.simulators.replicate import DEFAULT_TOKEN
from providers.simulators.replicate import create_app as replicate_app
from server.app import build_server
from server.catalog import RequestArgs
from server.jobs import JobManager
from server.media import probe
from server.settings import Settings

pytestmark = pytest.mark.anyio

SPEED = 300.0
KEY = "fal-test-id-0001:s3cr3t-aggregators-0001"
KLING_21 = "fal-ai/kling-video/v2.1/standard/text-to-video"
KLING_21_I2V = "fal-ai/kling-video/v2.1/standard/image-to-video"
SEEDANCE_LITE = "fal-ai/bytedance/seedance/v1/lite/text-to-video"
SEEDANCE_PRO = "fal-ai/bytedance/seedance/v1/pro/image-to-video"  # billed per token: unpriced
WAN_22 = "wan-video/wan-2.2-t2v-fast"  # Replicate, curated
WAN_A14B = "fal-ai/wan/v2.2-a14b/text-to-video"  # no duration input: 81 frames at 16 fps by default
HAILUO = "minimax/hailuo-02"  # Replicate, read from its schema (unpriced)
QUICK = "sim:seconds=15 sim:queue=3"


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[str, Simulator, Simulator]]:
    fal, replicate = fal_app(speed=SPEED), replicate_app(speed=SPEED)
    app = Starlette(routes=[Mount("/fal", app=fal), Mount("/replicate", app=replicate)])
    with running(app) as url:
        yield url, fal.state.sim, replicate.state.sim


@pytest.fixture
def sims(served: tuple[str, Simulator, Simulator]) -> tuple[Simulator, Simulator]:
    for sim in served[1:]:
        sim.config.clear()
        sim.jobs.clear()
        sim.polls.clear()
        sim.submissions = 0
    served[1].config["status_errors"] = True
    return served[1], served[2]


@pytest.fixture
def agg_env(env: dict[str, str], served: tuple[str, Simulator, Simulator], sims: Any) -> dict[str, str]:
    return {
        **env,
        "VIDEOGEN_FAL_BASE_URL": f"{served[0]}/fal",  # also fal's schema and Platform API hosts (simulated)
        "FAL_KEY": KEY,
        "VIDEOGEN_REPLICATE_BASE_URL": f"{served[0]}/replicate",
        "REPLICATE_API_TOKEN": DEFAULT_TOKEN,
        "VIDEOGEN_POLL_SCALE": "0.01",
        "VIDEOGEN_DEFAULT_PROVIDER": "fal",
    }


@pytest.fixture
def settings(agg_env: dict[str, str]) -> Settings:
    return Settings.from_env(agg_env)


async def tool(client: Client, name: str, **args: Any) -> Any:
    result = await client.call_tool(name, args)
    text = json.dumps([c.model_dump(mode="json") for c in result.content]) + json.dumps(result.structured_content)
    assert KEY not in text and DEFAULT_TOKEN not in text, text  # no credential in any answer
    return result


def error_text(result: Any) -> str:
    assert result.is_error, result.structured_content
    return " ".join(getattr(c, "text", "") for c in result.content)


def only_job(sim: Simulator) -> Any:
    (job,) = sim.jobs.values()
    return job


# -- a video from each named id, through the MCP tools ----------------------------------------------


async def test_a_fal_endpoint_id_makes_a_video_through_the_tools(settings: Settings, sims: Any):
    fal, _ = sims
    async with Client(build_server(settings)) as client:
        cost = await tool(client, "estimate_cost", prompt="a lighthouse", provider="fal", model=KLING_21)
        assert not cost.is_error, cost.content
        assert cost.structured_content["usd"] == 0.25  # 5 s x $0.05/s, fal's pricing API (unit "second")
        result = await tool(
            client,
            "generate_video",
            prompt=f"a lighthouse at dusk {QUICK}",
            provider="fal",
            model=KLING_21,
            wait_seconds=20,
        )
    assert not result.is_error, result.content
    job = result.structured_content
    assert job["status"] == "succeeded" and job["model"] == KLING_21 and job["cost"] == 0.25
    assert abs(probe(Path(job["video"]["path"])).duration_seconds - 5) < 0.2
    sent = only_job(fal)
    assert sent.extra["endpoint"] == KLING_21 and sent.extra["ignored"] == []
    assert sent.payload == {"prompt": f"a lighthouse at dusk {QUICK}", "duration": "5", "aspect_ratio": "16:9"}


async def test_a_fal_image_to_video_endpoint_takes_the_start_image(settings: Settings, sims: Any):
    fal, _ = sims
    async with Client(build_server(settings)) as client:
        result = await tool(
            client,
            "generate_video",
            prompt=f"the sea moves {QUICK}",
            provider="fal",
            model=KLING_21_I2V,
            images=["https://images.example.com/start.png"],
            duration=10,
            options={"cfg_scale": 0.7},
            wait_seconds=20,
        )
    assert not result.is_error, result.content
    assert result.structured_content["status"] == "succeeded"
    assert result.structured_content["cost"] == 0.5
    assert only_job(fal).payload == {
        "prompt": f"the sea moves {QUICK}",
        "image_url": "https://images.example.com/start.png",
        "duration": "10",
        "cfg_scale": 0.7,
    }


async def test_replicate_owner_names_make_videos_through_the_tools(agg_env: dict[str, str], sims: Any):
    _, replicate = sims
    settings = Settings.from_env({**agg_env, "VIDEOGEN_REPLICATE_UNPRICED": HAILUO})
    async with Client(build_server(settings)) as client:
        curated = await tool(
            client, "generate_video", prompt=f"a fox {QUICK}", provider="replicate", model=WAN_22, wait_seconds=20
        )
        described = await tool(
            client, "generate_video", prompt=f"a heron {QUICK}", provider="replicate", model=HAILUO, wait_seconds=20
        )
    for result in (curated, described):
        assert not result.is_error, result.content
        assert result.structured_content["status"] == "succeeded"
    assert curated.structured_content["cost"] == 0.05
    inputs = {job.payload["input"]["prompt"]: job.payload["input"] for job in replicate.jobs.values()}
    assert inputs[f"a heron {QUICK}"] == {"prompt": f"a heron {QUICK}", "duration": 6, "resolution": "1080p"}


# -- validated before anything is sent ----------------------------------------------------------------


async def test_a_value_the_fal_schema_rejects_is_refused_before_any_submission(settings: Settings, sims: Any):
    """Wan 2.2 A14B's schema allows a 500-character negative prompt (its prompt is unlimited): only the schema
    knows, and the request is refused before a job exists."""
    fal, _ = sims
    async with Client(build_server(settings)) as client:
        estimate = await tool(
            client, "estimate_cost", prompt="x", provider="fal", model=WAN_A14B, negative_prompt="n" * 600
        )
        generate = await tool(
            client, "generate_video", prompt="x", provider="fal", model=WAN_A14B, negative_prompt="n" * 600
        )
        option = await tool(
            client, "generate_video", prompt="x", provider="fal", model=KLING_21, options={"cfg_scale": 5}
        )
        ok = await tool(client, "estimate_cost", prompt="x", provider="fal", model=WAN_A14B, negative_prompt="n" * 400)
    for result in (estimate, generate):
        text = error_text(result)
        assert f"{WAN_A14B} would refuse this input (its published schema): negative_prompt must be at most 500" in text
    assert "cfg_scale" in error_text(option)  # the typed options refuse it first
    assert not ok.is_error and ok.structured_content["note"].startswith("ESTIMATE")  # the length is the model's
    assert fal.submissions == 0 and not fal.jobs and fal.config["schema_reads"] == 1  # read once, for WAN_A14B


async def test_an_endpoint_fal_does_not_have_or_that_makes_no_video_is_an_unknown_model(settings: Settings, sims: Any):
    fal, _ = sims
    async with Client(build_server(settings)) as client:
        missing = await tool(client, "generate_video", prompt="x", provider="fal", model="fal-ai/no-such/model")
        image = await tool(client, "estimate_cost", prompt="x", provider="fal", model="fal-ai/flux/dev")
    for result in (missing, image):
        text = error_text(result)
        assert "unknown model" in text and "search" in text, text  # says how to find one
    assert fal.submissions == 0


async def test_a_schema_that_cannot_be_read_says_what_failed_and_what_to_do(settings: Settings, sims: Any):
    fal, _ = sims
    fal.config["schema_errors"] = 100  # fal.ai answers 503 to every schema read
    async with Client(build_server(settings)) as client:
        result = await tool(client, "generate_video", prompt="x", provider="fal", model=KLING_21)
    text = error_text(result)
    assert "Could not read fal.ai's published schema for " + KLING_21 in text, text
    assert "Nothing was started" in text and "curated" in text
    assert fal.submissions == 0


# -- cached ------------------------------------------------------------------------------------------------


async def test_a_schema_is_read_once_per_model_until_its_ttl_passes(
    settings: Settings, agg_env: dict[str, str], sims: Any, monkeypatch: pytest.MonkeyPatch
):
    fal, _ = sims
    async with Client(build_server(settings)) as client:
        for _ in range(3):
            assert not (await tool(client, "estimate_cost", prompt="x", provider="fal", model=KLING_21)).is_error
        assert not (await tool(client, "list_models", provider="fal", model=KLING_21)).is_error
    assert fal.config["schema_reads"] == 1 and fal.config["pricing_reads"] == 1
    monkeypatch.setattr(FalProvider, "describe_ttl", 0.0)  # every read is stale at once
    provider = FalProvider(agg_env)
    try:
        await provider.describe(KLING_21)
        await provider.describe(KLING_21)
    finally:
        await provider.aclose()
    assert fal.config["schema_reads"] == 3


# -- priced, with the source; estimates and unpriced models said so -------------------------------------------


async def test_the_price_shows_its_source_and_whether_it_is_an_estimate(settings: Settings, sims: Any):
    fal, _ = sims
    today = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    async with Client(build_server(settings)) as client:
        exact = (await tool(client, "list_models", provider="fal", model=KLING_21)).structured_content["models"][0]
        estimate = (
            await tool(client, "estimate_cost", prompt="x", provider="fal", model=SEEDANCE_LITE)
        ).structured_content
        unpriced = await tool(
            client, "estimate_cost", prompt="x", provider="fal", model=SEEDANCE_PRO, images=["https://a.example/a.png"]
        )
        refused = await tool(
            client, "generate_video", prompt="x", provider="fal", model=SEEDANCE_PRO, images=["https://a.example/a.png"]
        )
        listed = (await tool(client, "list_models", provider="fal", model=SEEDANCE_PRO)).structured_content
    assert exact["price"] == "$0.050/s; $0.05 per second (fal's pricing API)"
    assert exact["price_source"] == f"https://api.fal.ai/v1/models/pricing?endpoint_id={KLING_21}"
    assert exact["price_checked"] == today and exact["example_cost_usd"] == 0.25
    assert estimate["usd"] == 0.45 and estimate["note"].startswith("ESTIMATE")  # $0.18 per 2 s video, 5 s asked
    assert "estimate" in estimate["rule"]
    for result in (unpriced, refused):  # refused before a job exists: nobody can approve an unquoted cost
        text = error_text(result)
        assert "gives no price for" in text and "fal bills it per 1m tokens" in text and "priced model" in text
    assert listed["models"][0]["price"].startswith("unpriced: fal bills it per 1m tokens")
    assert fal.submissions == 0


async def test_without_a_valid_key_fal_gives_no_price_and_says_why(agg_env: dict[str, str], sims: Any):
    fal, _ = sims
    fal.config["key"] = "fal-other-id:another-secret"  # the pricing API answers 401 to our key
    settings = Settings.from_env(agg_env)
    async with Client(build_server(settings)) as client:
        cost = await tool(client, "estimate_cost", prompt="x", provider="fal", model=KLING_21)
        listed = (await tool(client, "list_models", provider="fal", model=KLING_21)).structured_content
    assert "gives no price for" in error_text(cost) and "FAL_KEY" in error_text(cost)
    assert listed["models"][0]["price"].startswith("unpriced: fal.ai's Platform API rejected FAL_KEY")


# -- searched ----------------------------------------------------------------------------------------------


async def test_list_models_searches_the_fal_catalogue_and_the_curated_models(settings: Settings, sims: Any):
    async with Client(build_server(settings)) as client:
        found = (await tool(client, "list_models", provider="fal", search="seedance")).structured_content
        t2v = await tool(client, "list_models", provider="fal", search="kling 2.1", mode="text_to_video")
    rows = {row["model"]: row for row in found["models"]}
    assert {"seedance-2.0", SEEDANCE_LITE, SEEDANCE_PRO} <= set(rows), rows  # curated and live, one row each
    assert "bytedance/seedance-2.0/text-to-video" not in rows  # its endpoint is the curated model
    assert rows[SEEDANCE_LITE]["example_cost_usd"] == 0.45
    assert f"estimate (the provider's base rate) for fal/{SEEDANCE_LITE}" in found["note"]
    assert f"UNPRICED, will not run (cost cannot be quoted; 0 shown): fal/{SEEDANCE_PRO}" in found["note"]
    assert [row["model"] for row in t2v.structured_content["models"]] == [KLING_21]
    assert KLING_21 in t2v.content[0].text  # the text rows too


async def test_list_models_searches_the_replicate_catalogue(settings: Settings, sims: Any):
    async with Client(build_server(settings)) as client:
        found = (await tool(client, "list_models", provider="replicate", search="hailuo")).structured_content
        nothing = (await tool(client, "list_models", provider="replicate", search="zzz-nothing")).structured_content
    assert [row["model"] for row in found["models"]] == [HAILUO]
    assert f"replicate/{HAILUO}" in found["note"] and "UNPRICED" in found["note"]
    assert nothing["models"] == [] and "No model matches" in nothing["note"]


async def test_a_model_id_without_a_provider_is_found_in_the_catalogue_that_has_it(settings: Settings, sims: Any):
    async with Client(build_server(settings)) as client:
        listing = (await tool(client, "list_models", model=KLING_21)).structured_content
        prefixed = (await tool(client, "list_models", model=f"fal/{KLING_21_I2V}")).structured_content
    assert [(m["provider"], m["model"]) for m in listing["models"]] == [("fal", KLING_21)]
    assert [(m["provider"], m["model"]) for m in prefixed["models"]] == [("fal", KLING_21_I2V)]


# -- the same engine: a restart follows the job on a described model ---------------------------------------


async def test_a_job_on_a_described_fal_model_survives_a_restart(settings: Settings, sims: Any):
    fal, _ = sims
    async with JobManager(settings) as first:
        await first.catalog.prepare("fal", KLING_21)
        row = await first.submit(
            RequestArgs(prompt="sim:seconds=300 sim:queue=1 a long take", provider="fal", model=KLING_21)
        )
        deadline = time.monotonic() + 10
        while first.get(row.job_id).status != "running":
            assert time.monotonic() < deadline
            await anyio.sleep(0.02)
    reads = fal.config["schema_reads"]
    async with JobManager(settings) as second:  # a fresh process: nothing described yet
        done = await second.wait(row.job_id, 20)
    assert done.status == "succeeded", done.message
    assert fal.submissions == 1 and fal.config["schema_reads"] == reads + 1  # described again, not resubmitted


async def test_concurrent_requests_for_one_new_model_read_its_schema_once(agg_env: dict[str, str], sims: Any):
    fal, _ = sims
    provider = FalProvider(agg_env)
    try:
        async with anyio.create_task_group() as group:
            for _ in range(5):
                group.start_soon(provider.describe, SEEDANCE_LITE)
    finally:
        await provider.aclose()
    assert fal.config["schema_reads"] == 1 and fal.config["pricing_reads"] == 1


async def test_a_search_without_a_provider_skips_catalogues_it_has_no_key_for(agg_env: dict[str, str], sims: Any):
    """fal's search needs no key; Replicate's does: without REPLICATE_API_TOKEN it is not asked (no error)."""
    settings = Settings.from_env({k: v for k, v in agg_env.items() if k != "REPLICATE_API_TOKEN"})
    async with Client(build_server(settings)) as client:
        found = (await tool(client, "list_models", search="kling 2.1")).structured_content
    assert {(row["provider"], row["model"]) for row in found["models"]} >= {("fal", KLING_21), ("fal", KLING_21_I2V)}
    assert "could not be searched" not in found["note"]


def test_the_command_line_prices_and_makes_a_video_on_an_uncurated_fal_endpoint(agg_env: dict[str, str], sims: Any):
    from test_cli import cli

    fal, _ = sims
    priced = cli(agg_env, "cost", "--provider", "fal", "--model", KLING_21, "--json", "a lighthouse")
    assert priced.returncode == 0, priced.stderr
    assert json.loads(priced.stdout)["usd"] == 0.25  # read from fal's pricing API, as through the tools
    made = cli(agg_env, "generate", "--provider", "fal", "--model", KLING_21, f"a lighthouse {QUICK}")
    assert made.returncode == 0, made.stderr
    assert probe(Path(made.stdout.strip())).duration_seconds > 4.8
    assert only_job(fal).extra["endpoint"] == KLING_21
