"""Every price traceable (issue 9, item 3): each priced model of every registered provider names where the
provider publishes its price and when that was checked; the CLI's `models --json` and list_models with
`model=` show both; docs/models.md, generated from the registry, is current.

The models are read from the registry at collection time, so a model added tomorrow is checked tomorrow."""

from __future__ import annotations

import json
import re
import subprocess
from datetime import date, datetime, timezone

import pytest
from conftest import PYTHON, ROOT, subprocess_env
from mcp import Client

from providers.base import ModelSpec
from providers.registry import Providers
from server.app import build_server
from server.settings import Settings

pytestmark = pytest.mark.anyio
DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def catalogue() -> list[tuple[str, ModelSpec]]:
    providers = Providers({})
    return [(name, spec) for name in providers.names() for spec in providers.get(name).models]


ALL = catalogue()
PRICED = [(name, spec) for name, spec in ALL if spec.priced]
IDS = [f"{name}/{spec.id}" for name, spec in PRICED]


def test_the_catalogue_has_priced_and_free_models():
    free = [f"{name}/{spec.id}" for name, spec in ALL if not spec.priced]
    assert len(PRICED) > 10 and "demo/demo-v1" in free
    for name, spec in ALL:
        if not spec.priced:  # free means free: nothing at any duration, resolution or audio setting
            assert all(
                spec.price_for(d, r, a)[0] == 0 for d in spec.durations for r in spec.resolutions for a in (False, True)
            ), f"{name}/{spec.id}"


@pytest.mark.parametrize(("provider", "spec"), PRICED, ids=IDS)
def test_every_priced_model_names_its_source_and_date(provider: str, spec: ModelSpec):
    where = f"{provider}/{spec.id}"
    assert spec.price_source.startswith("https://"), f"{where}: price_source {spec.price_source!r} is no https URL"
    assert " " not in spec.price_source.strip(), f"{where}: price_source {spec.price_source!r} is not one URL"
    assert DAY.fullmatch(spec.price_checked), f"{where}: price_checked {spec.price_checked!r} is not YYYY-MM-DD"
    checked = date.fromisoformat(spec.price_checked)  # raises on 2026-02-30
    today = datetime.now(timezone.utc).date()
    assert checked <= today, f"{where}: price_checked {checked} is in the future"


def test_the_cli_json_listing_shows_source_and_date(env: dict[str, str]):
    out = subprocess.run(
        [PYTHON, "-m", "server", "models", "--json"],
        env=subprocess_env(env),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    listed = {(m["provider"], m["model"]): m for m in json.loads(out.stdout)["models"]}
    assert set(listed) == {(name, spec.id) for name, spec in ALL}
    for name, spec in ALL:
        shown = listed[name, spec.id]
        assert (shown["price_source"], shown["price_checked"]) == (spec.price_source, spec.price_checked), name
    assert any(m["price_source"].startswith("https://") for m in listed.values())  # not vacuous: some are filled in


async def test_list_models_with_model_shows_source_and_date(settings: Settings):
    async with Client(build_server(settings)) as client:
        for name, spec in ALL:
            result = await client.call_tool("list_models", {"model": f"{name}/{spec.id}"})
            assert not result.is_error, result.content
            (info,) = result.structured_content["models"]
            assert (info["price_source"], info["price_checked"]) == (spec.price_source, spec.price_checked)
            if spec.priced and spec.price_source:
                assert spec.price_source in result.content[0].text and spec.price_checked in result.content[0].text


def test_docs_models_md_is_current():
    from server.catalogue_doc import DOC, render

    written = (ROOT / DOC).read_text(encoding="utf-8") if (ROOT / DOC).exists() else ""
    assert written == render(), f"{DOC} is out of date: run `python -m server.catalogue_doc` and commit the file"


def test_catalogue_doc_check_exits_1_when_out_of_date(tmp_path):
    stale = tmp_path / "models.md"
    stale.write_text("# an old catalogue\n", encoding="utf-8")
    run = [PYTHON, "-m", "server.catalogue_doc", "--check", "--output", str(stale)]
    checked = subprocess.run(run, cwd=ROOT, env=subprocess_env({}), capture_output=True, text=True, timeout=60)
    assert checked.returncode == 1 and "python -m server.catalogue_doc" in checked.stderr
    written = subprocess.run(run[:3] + run[4:], cwd=ROOT, env=subprocess_env({}), capture_output=True, timeout=60)
    assert written.returncode == 0
    again = subprocess.run(run, cwd=ROOT, env=subprocess_env({}), capture_output=True, text=True, timeout=60)
    assert again.returncode == 0, again.stderr


def _catalog(env: dict[str, str]):
    from server.catalog import Catalog

    settings = Settings.from_env(env)
    return Catalog(Providers(settings.env, settings.allowed_dirs), settings.allowed_dirs)


def test_an_image_only_model_without_images_asks_for_a_start_image(env: dict[str, str]):
    from providers.base import InvalidRequest
    from server.catalog import RequestArgs

    spec = Providers({}).get("runway").spec("gen4_turbo")
    assert spec is not None and spec.modes == ("image_to_video",)  # the premise: image-to-video only
    with pytest.raises(InvalidRequest) as refused:
        _catalog(env).resolve(RequestArgs(provider="runway", model="gen4_turbo", prompt="P"), check_files=False)
    assert "is image-to-video only; pass a start image in images" in str(refused.value)
    assert "does not take images" not in str(refused.value)


@pytest.mark.parametrize("blank", ["", "   ", "\n\t"])
def test_a_blank_video_is_refused_not_read_as_text_to_video(env: dict[str, str], blank: str):
    from providers.base import InvalidRequest
    from server.catalog import RequestArgs

    args = RequestArgs(provider="runway", model="seedance2", prompt="P", video=blank)
    with pytest.raises(InvalidRequest, match="video is empty; pass a path, an https URL or a data URI"):
        _catalog(env).resolve(args, check_files=False)
    *_, request = _catalog(env).resolve(args.model_copy(update={"video": None}), check_files=False)
    assert request.mode == "text_to_video"  # leaving video out is text-to-video, as before


def test_docs_show_video_among_the_modes_of_a_model_taking_one():
    from server.catalogue_doc import render

    doc = render()
    assert "| Seedance 2.0 | text + image + video |" in doc and "| Modes | text + image + video to video |" in doc


def test_a_rate_that_covers_several_resolutions_says_so():
    """Issue 9: prices that depend on resolution say so in the rule, and so does one that does not: where one
    rate covers two or more of a model's resolutions (no factor for them), its note names them or says 'the same'."""
    from providers.registry import PROVIDERS, provider_class

    silent = []
    for name in PROVIDERS:
        for spec in provider_class(name).models:
            rule = spec.price
            if not spec.priced or rule.by_duration:
                continue
            at_base = [r for r in spec.resolutions if r not in rule.resolution_factor]
            note = rule.note.lower()
            said = all(r.lower() in note for r in at_base) or any(
                words in note for words in ("every resolution", "same at", "alike", "any resolution")
            )
            if len(at_base) > 1 and not said:
                silent.append(f"{name}/{spec.id} {at_base}: {rule.note[:80]}")
    assert not silent, silent
