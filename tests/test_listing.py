"""list_models (issue 8, item 6): compact rows by default, filters, one model in full, a size budget that holds
when the catalogue doubles, and unknown filter values refused with what is allowed."""

from __future__ import annotations

import re

import pytest
from mcp import Client

from providers.base import ModelSpec
from providers.registry import Providers
from server.app import build_server
from server.catalog import BARE_ROWS, Catalog
from server.settings import Settings

pytestmark = pytest.mark.anyio
BUDGET = 16_000  # characters of the whole catalogue's CallToolResult as JSON (issue 8)
COMPACT = {
    "provider",
    "model",
    "modes",
    "durations",
    "resolutions",
    "audio",
    "example_cost_usd",
    "configured",
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


async def test_bare_listing_rows_for_usable_providers_ids_for_the_rest(settings: Settings):
    """Without filters: a compact row for each model whose provider has credentials (here the demo), and each
    provider without credentials as one entry of model ids and the variables to set; nothing is left out."""
    result = await call(settings)
    listing = result.structured_content
    truth = specs(settings)
    providers = Providers(settings.env, settings.allowed_dirs)
    usable = [(p, s.id) for p, s in truth if providers.get(p).configured()]
    assert [(m["provider"], m["model"]) for m in listing["models"]] == usable == [("demo", "demo-v1")]
    assert all(set(m) == COMPACT for m in listing["models"]), [sorted(set(m) ^ COMPACT) for m in listing["models"]]
    unlisted = {(entry["provider"], model) for entry in listing["others"] for model in entry["models"]}
    assert unlisted == {(p, s.id) for p, s in truth if not providers.get(p).configured()}
    for entry in listing["others"]:
        assert entry["missing_env"] == providers.get(entry["provider"]).missing_env() != []
    text = result.content[0].text
    assert "demo/demo-v1 default ready:" in text and listing["default_model"] == "demo/demo-v1"
    assert all(f"{e['provider']} (set {', '.join(e['missing_env'])}): " in text for e in listing["others"])


async def test_the_whole_catalogue_fits_the_budget_with_every_provider_configured(settings: Settings):
    """The worst case: every provider has credentials. Rows go to the default provider first, then to whole
    providers while BARE_ROWS allows; the rest are named by id, so the size stays bounded however the catalogue
    grows (issues 9 and 10). Every model is named exactly once."""
    from providers.simulators import sample_env

    everything = Settings.from_env({**settings.env, **sample_env("http://127.0.0.1:9")})
    result = await call(everything)
    listing = result.structured_content
    rows = [(m["provider"], m["model"]) for m in listing["models"]]
    named = rows + [(entry["provider"], model) for entry in listing["others"] for model in entry["models"]]
    assert sorted(named) == sorted((p, s.id) for p, s in specs(everything)) and len(named) > 40
    assert 0 < len(rows) <= BARE_ROWS and all(m["configured"] for m in listing["models"])
    assert rows[0] == tuple(listing["default_model"].split("/")) and all(
        not e["missing_env"] for e in listing["others"]
    )
    assert all(f"{e['provider']} (ready): " in result.content[0].text for e in listing["others"])
    size = len(result.model_dump_json(by_alias=True, exclude_none=True))
    assert size <= BUDGET, f"{size} characters"
    per_row = len(result.model_dump_json(by_alias=True, exclude_none=True)) / len(named)
    assert per_row <= 300, f"{per_row:.0f} characters a model"


async def test_filters_show_every_matching_row(settings: Settings):
    """A filter is a question about the whole catalogue: every matching model gets its row, with or without
    credentials, and nothing is summarised."""
    listing = (await call(settings, mode="text_to_video")).structured_content
    truth = [(p, s.id) for p, s in specs(settings) if "text_to_video" in s.modes]
    assert [(m["provider"], m["model"]) for m in listing["models"]] == truth and listing["others"] == []


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


async def test_a_model_taking_a_video_lists_video_to_video_among_its_modes(settings: Settings):
    """list_models(mode="video_to_video") lists the models taking an input video, and each row (and the text,
    and the model in full) says so: a row showing only text/image would contradict the filter."""
    result = await call(settings, mode="video_to_video")
    listing = result.structured_content
    truth = [(p, s) for p, s in specs(settings) if s.video]
    assert [(m["provider"], m["model"]) for m in listing["models"]] == [(p, s.id) for p, s in truth] != []
    for (_, spec), row in zip(truth, listing["models"], strict=True):
        assert row["modes"] == [*spec.modes, "video_to_video"], row
    assert re.search(r"runway/seedance2[^:\n]*: text\+image\+video;", result.content[0].text), result.content[0].text
    (info,) = await rows(settings, model="runway/seedance2")
    assert info["modes"] == ["text_to_video", "image_to_video", "video_to_video"]
    (plain,) = await rows(settings, model="runway/gen4.5")  # no video input: no video_to_video
    assert "video_to_video" not in plain["modes"]
