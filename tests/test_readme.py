"""The README stays true to the code: every provider, model, credential and setting it should name."""

from __future__ import annotations

import re

from conftest import ROOT

from providers.registry import PROVIDERS, Providers

README = (ROOT / "README.md").read_text()


def test_every_provider_model_and_credential_is_documented():
    """Each provider has its section naming its credentials and every model id; the prices themselves are in
    docs/models.md, generated from the code (tests/test_catalogue.py fails while it is stale)."""
    providers = Providers({})
    assert "[docs/models.md](docs/models.md)" in README
    sections = README.split("\n### ")
    for name in PROVIDERS:
        provider = providers.get(name)
        section = next((s for s in sections if s.startswith(f"`{name}`")), None)
        assert section is not None, name
        for var in provider.env_vars:
            assert f"`{var}`" in section, var
        for spec in provider.models:
            assert f"`{spec.id}`" in section, spec.id


def test_every_setting_the_code_reads_is_documented():
    code = "\n".join(p.read_text() for p in (ROOT / "server").glob("*.py"))
    read = set(re.findall(r'"(VIDEOGEN_[A-Z_]+)"', code)) - {"VIDEOGEN_"}
    missing = sorted(var for var in read if f"`{var}`" not in README)
    assert not missing, missing


def test_the_two_set_up_commands():
    assert 'pip install . && mcp-videogen generate "' in README
    assert 'pip install -e ".[test]" && pytest' in README


def test_our_own_name_everywhere():
    """`videogen-mcp` is another project's on PyPI: installing it by that name would run someone else's code."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["name"] == "mcp-videogen"
    assert project["scripts"] == {"mcp-videogen": "server.cli:main"}
    smithery = (ROOT / "smithery.yaml").read_text()
    assert "['--from', 'mcp-videogen', 'mcp-videogen', 'serve']" in smithery
    tracked = [*ROOT.glob("*.md"), *ROOT.glob("*.yaml"), *ROOT.glob("server/*.py"), *ROOT.glob("providers/*.py")]
    assert not [p.name for p in tracked if "videogen-mcp" in p.read_text()]


def test_the_webhooks_section_names_exactly_the_providers_that_call_back():
    from providers.registry import Providers

    providers = Providers({})
    section = README.split("### Webhooks instead of polling", 1)[1].split("\n## ", 1)[0]
    calling = section.split("Jobs on", 1)[1].split("then", 1)[0]
    polled = section.split("have no callbacks", 1)[0].rsplit("\n", 2)[-2:]
    for name in providers.names():
        title = providers.get(name).title.split()[0]
        if providers.get(name).supports_callbacks:
            assert f"`{name}`" in calling, name
        else:
            assert title.lower() in " ".join(polled).lower(), name
