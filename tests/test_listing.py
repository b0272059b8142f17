"""list_models (issue 8, item 6): compact rows by default, filters, one model in full, a size budget that holds
when the catalogue doubles, and unknown filter values refused with what is allowed."""

from __future__ import annotations

import pytest
from mcp import Client

from providers.base import ModelSpec
from providers.registry import Providers
from server.app import build_server
from server.catalog import Catalog
from server.settings import Settings

pytestmark = pytest.mark.anyio
BUDGET = 16_000  # characters of the whole catalogue's CallToolResult as JSON (issue 8)
COMPACT = {
    "provider",
    "model",
    "name",
    "modes",
    "durations",
    "resolutions",
    "audio",
    "example_cost_usd",
    "configured",
    "is_default",
}


def specs(settings: Settings) -> list[tuple[str, ModelSpec]]:
    """Every (provider, ModelSpec) straight from the providers: the truth the listing is checked against."""
    providers = Providers(settings.env, settings.allowed_dirs)
    return [(name, spec) for name in providers.names() for spec in providers.get(name).models]


def default_usd(spec: ModelSpec) -> float:
    return spec.price_for(spec.default_duration, spec.default_resolution, spec.default_audio)[0]


async def call(settings: Settings, **args):
    async with Client(build_server(settings)) as client:
        return await client.call_tool("list_models", args)


async def rows(settings: Settings, **args) -> list[dict]:
    result = await call(settings, **args)
    assert not result.is_error, result.content
    return result.structured_content["models"]


async def test_compact_by_default_and_the_whole_catalogue_fits_twice_over(settings: Settings):
    result = await call(settings)
    models = result.structured_content["models"]
    assert len(models) == len(specs(settings)) > 10
    assert all(set(m) == COMPACT for m in models), [sorted(set(m) ^ COMPACT) for m in models][:3]
    text = result.content[0].text
    assert all(f"{m['provider']}/{m['model']}" in text for m in models)
    # The catalogue will grow (issues 7 and 8): today's must fit in half the budget (about 345 characters a
    # model, text line and structured row together), so that twice as many models still fit.
    size = len(result.model_dump_json(by_alias=True, exclude_none=True))
    assert size <= BUDGET // 2, f"{size} characters for {len(models)} models ({size / len(models):.0f} each)"


async def test_filters_narrow_as_the_specs_say(settings: Settings):
    truth = specs(settings)
    listed = await rows(settings, provider="FAL ")
    assert [m["model"] for m in listed] == [s.id for p, s in truth if p == "fal"]
    listed = await rows(settings, mode="image_to_video")
    assert {(m["provider"], m["model"]) for m in listed} == {(p, s.id) for p, s in truth if "image_to_video" in s.modes}
    listed = await rows(settings, mode="text_to_video")
    assert {(m["provider"], m["model"]) for m in listed} == {(p, s.id) for p, s in truth if "text_to_video" in s.modes}
    for audio in (True, False):
        listed = await rows(settings, audio=audio)
        assert {(m["provider"], m["model"]) for m in listed} == {(p, s.id) for p, s in truth if s.audio == audio}
    listed = await rows(settings, max_usd=0.5, provider="runway")
    wanted = {(p, s.id) for p, s in truth if p == "runway" and default_usd(s) <= 0.5}
    assert {(m["provider"], m["model"]) for m in listed} == wanted and wanted
    assert all(m["example_cost_usd"] <= 0.5 for m in listed)


async def test_nothing_matches_is_an_empty_list_that_says_so(settings: Settings):
    result = await call(settings, provider="demo", audio=True)
    assert not result.is_error and result.structured_content["models"] == []
    assert "No model matches" in result.content[0].text


@pytest.mark.parametrize("model", ["demo-v1", "demo/demo-v1"])
async def test_one_model_in_full(settings: Settings, model: str):
    result = await call(settings, model=model)
    (info,) = result.structured_content["models"]
    assert info["provider"] == "demo" and info["model"] == "demo-v1"
    for field in ("description", "aspect_ratios", "default_duration", "max_images", "end_image", "price", "options"):
        assert field in info, field
    assert "16:9" in info["aspect_ratios"] and "aspect_ratios" in result.content[0].text


async def test_one_model_shows_its_options(settings: Settings):
    truth = {(p, s.id): s for p, s in specs(settings)}
    provider, model = next(key for key, spec in truth.items() if spec.options)
    (info,) = await rows(settings, provider=provider, model=model)
    assert info["options"] == dict(truth[provider, model].options) and info["price"]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        ({"provider": "nope"}, ["unknown provider 'nope'", "demo", "fal"]),
        ({"model": "kling-2.6"}, ["unknown model 'kling-2.6'", "did you mean", "kling-2.6-pro"]),
        ({"provider": "demo", "model": "gen4.5"}, ["unknown model 'gen4.5' of provider 'demo'"]),
        ({"mode": "t2v"}, ["mode", "text_to_video", "image_to_video"]),
        ({"max_usd": -1}, ["max_usd"]),
        ({"audio": "yes"}, ["audio"]),
    ],
)
async def test_unknown_filter_values_are_refused_saying_what_is_allowed(
    settings: Settings, args: dict, says: list[str]
):
    result = await call(settings, **args)
    assert result.is_error, result.structured_content
    text = result.content[0].text
    assert all(s in text for s in says), text


def test_the_cli_keeps_the_full_listing(settings: Settings):
    """server/cli.py's `models` prints price rules and missing env vars: catalog.models(provider) stays full."""
    listing = Catalog(Providers(settings.env), settings.allowed_dirs).models("demo")
    (info,) = listing.models
    assert info.price and info.aspect_ratios and "example_cost_usd" in listing.model_dump()["models"][0]
    assert "missing_env" in listing.model_dump_json()
