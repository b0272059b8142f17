"""Provider-specific options (ModelSpec.options): declared in list_models, validated before a job exists,
and sent on the wire as the provider names them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from mcp import Client

from providers.simulators import build_app, sample_env
from providers.simulators.common import running
from server.app import build_server
from server.settings import Settings

pytestmark = pytest.mark.anyio
CAMERA = {"type": "simple", "config": {"horizontal": 0, "vertical": 0, "pan": 5, "tilt": 0, "roll": 0, "zoom": 0}}
# camera_control is gone: Kling's capability map offers it only on kling-v1 std 5 s (text) and kling-v1-5 pro 5 s
# (image), models not offered here.


@pytest.fixture(scope="module")
def simulators() -> Iterator[tuple[str, dict]]:
    app = build_app(speed=300)
    with running(app) as url:
        yield url, app.state.simulators


@pytest.fixture
def settings(env, simulators) -> Settings:
    return Settings.from_env({**env, **sample_env(simulators[0]), "VIDEOGEN_POLL_SCALE": "0.01"})


async def generate(settings: Settings, **args) -> dict:
    async with Client(build_server(settings)) as client:
        result = await client.call_tool("generate_video", {"prompt": "a glass harbour", **args})
    assert not result.is_error, result.content
    return result.structured_content


@pytest.mark.parametrize(
    ("args", "sent"),
    [
        ({"provider": "kling", "model": "kling-v1-6", "options": {"cfg_scale": 0.8}}, {"cfg_scale": 0.8}),
        ({"provider": "runblob", "options": {"keep_original_sound": False}}, {"keep_original_sound": False}),
        ({"provider": "runblob", "options": {"multi_shots": "prefer"}}, {"prefer_multi_shots": True}),
        ({"provider": "runblob", "options": {"multi_shots": "custom"}}, {"customize_multi_shots": True}),
        ({"provider": "fal", "options": {"cfg_scale": 0.2}}, {"cfg_scale": 0.2}),
    ],
)
async def test_options_reach_the_provider(settings, simulators, args, sent):
    job = await generate(settings, **args)
    assert job["status"] == "succeeded" and job["request"]["options"] == args["options"]
    payload = simulators[1][args["provider"]].jobs[job["provider_job_id"]].payload
    assert {key: payload.get(key) for key in sent} == sent


async def test_without_options_the_providers_defaults_apply(settings, simulators):
    job = await generate(settings, provider="fal")
    assert simulators[1]["fal"].jobs[job["provider_job_id"]].payload["cfg_scale"] == 0.5
    job = await generate(settings, provider="kling")
    assert "camera_control" not in simulators[1]["kling"].jobs[job["provider_job_id"]].payload
    job = await generate(settings, provider="runblob")
    payload = simulators[1]["runblob"].jobs[job["provider_job_id"]].payload
    assert not {"prefer_multi_shots", "customize_multi_shots"} & set(payload)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (
            {"provider": "kling", "options": {"cfg_scale": 0.5}},
            ["does not take option(s) cfg_scale", "its options: none"],
        ),
        ({"provider": "kling", "options": {"camera_control": CAMERA}}, ["camera_control: unknown", "allowed: "]),
        (
            {"provider": "kling", "model": "kling-v1-6", "options": {"camera_control": {"type": "down_back"}}},
            ["camera_control: unknown"],
        ),
        (
            {"provider": "runblob", "options": {"multi_shots": "many"}},
            ['options.multi_shots: "many" is not one of the choices', "one of prefer, custom"],
        ),
        ({"provider": "kling", "options": {"multi_shots": "prefer"}}, ["does not take option(s) multi_shots"]),
        (
            {"provider": "kling", "model": "kling-v1-6", "options": {"cfg_scale": 2}},
            ["options.cfg_scale: 2", "allowed: a number from 0 to 1"],
        ),
        (
            {"provider": "runblob", "options": {"keep_original_sound": "yes"}},
            ['options.keep_original_sound: "yes" should be a valid boolean'],
        ),
        ({"provider": "runway", "options": {"cfg_scale": 0.5}}, ["does not take option(s)", "its options: none"]),
    ],
)
async def test_bad_options_are_refused_before_a_job_exists(settings, simulators, args, words):
    before = sum(sim.submissions for sim in simulators[1].values())
    async with Client(build_server(settings)) as client:
        for tool in ("generate_video", "estimate_cost"):
            result = await client.call_tool(tool, {"prompt": "x", **args})
            assert result.is_error and all(w in result.content[0].text for w in words), result.content[0].text
        assert (await client.call_tool("list_jobs", {})).structured_content["jobs"] == []
    assert sum(sim.submissions for sim in simulators[1].values()) == before


async def test_list_models_declares_each_models_options(settings):
    async with Client(build_server(settings)) as client:
        compact = [  # per provider: a bare listing shows rows only up to BARE_ROWS, the rest by id
            row
            for name in ("kling", "runblob", "runway", "demo")
            for row in (await client.call_tool("list_models", {"provider": name})).structured_content["models"]
        ]
        models = [
            (await client.call_tool("list_models", {"model": f"{m['provider']}/{m['model']}"})).structured_content[
                "models"
            ][0]
            for m in compact
        ]
    options = {(m["provider"], m["model"]): m["options"] for m in models}
    assert set(options[("kling", "kling-v1-6")]) == {"cfg_scale"}
    assert all(options[("kling", model)] == {} for model in ("kling-v2-6", "kling-v2-5-turbo", "kling-v3"))
    assert set(options[("runblob", "kling_o3")]) == {"keep_original_sound", "multi_shots"}
    assert options[("runway", "gen4.5")] == {} and options[("demo", "demo-v1")] == {}
