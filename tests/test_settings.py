"""Every VIDEOGEN_* number the server and the providers read is checked when Settings is made: a bad value stops
the start with one line naming the variable and what is allowed, not the first job (issue 9 item 4)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from conftest import PYTHON, ROOT, subprocess_env

from providers.base import BadSetting, ErrorCode, ProviderError, Tuning
from providers.demo import DemoProvider
from providers.http import DEFAULT_POLICY
from providers.registry import PROVIDERS, provider_class
from server.jobs import JobManager
from server.settings import NUMBERS, Settings, SettingsError
from server.transport import DEFAULT_MAX_MESSAGE_BYTES

# The VIDEOGEN_* variables that are no number (paths, names, URLs, tokens, a test's crash point).
NOT_NUMBERS = {
    "VIDEOGEN_DATA_DIR",
    "VIDEOGEN_OUTPUT_DIR",
    "VIDEOGEN_ALLOWED_DIRS",
    "VIDEOGEN_DEFAULT_PROVIDER",
    "VIDEOGEN_PUBLIC_URL",
    "VIDEOGEN_RESULT_LINKS",
    "VIDEOGEN_AUTH_TOKEN",
    "VIDEOGEN_ALLOWED_HOSTS",
    "VIDEOGEN_CRASH_AT",
    "VIDEOGEN_REPLICATE_UNPRICED",
    "VIDEOGEN_DATABASE_URL",
}


def read_variables() -> set[str]:
    """Every VIDEOGEN_* name in the server's and the providers' code, the simulators' own aside."""
    found: set[str] = set()
    for folder in ("server", "providers"):
        for path in (ROOT / folder).rglob("*.py"):
            if "simulators" not in path.relative_to(ROOT).parts:
                found |= set(re.findall(r"\bVIDEOGEN_[A-Z][A-Z0-9_]*[A-Z0-9]\b", path.read_text()))
    return {name for name in found if not name.endswith("_BASE_URL")} - NOT_NUMBERS


NUMBER_VARIABLES = sorted(read_variables())


def test_the_code_reads_the_numbers_settings_checks():
    """Found in the code, so a number a provider starts to read without Settings knowing fails the test below."""
    assert set(NUMBERS) <= set(NUMBER_VARIABLES)
    assert {"VIDEOGEN_RETRY_SCALE", "VIDEOGEN_HTTP_TIMEOUT", "VIDEOGEN_POLL_SCALE"} <= set(NUMBER_VARIABLES)


@pytest.mark.parametrize("name", NUMBER_VARIABLES)
@pytest.mark.parametrize("raw", ["soon", "nan", "-inf", "-0.5"])
def test_a_bad_number_in_every_setting_fails_at_start_saying_what_is_allowed(tmp_path: Path, name: str, raw: str):
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"VIDEOGEN_DATA_DIR": str(tmp_path), "VIDEOGEN_ALLOWED_DIRS": str(tmp_path), name: raw})
    message = str(caught.value)
    assert message.startswith(f"{name}={raw!r} ") and "\n" not in message, message
    assert re.search(r"; allowed: a number( of [^,]+)?, (at least|above) [0-9.e-]+ \(unset: [^)]+\)$", message), message
    if name in NUMBERS:
        assert NUMBERS[name].allowed() in message


def test_the_numbers_are_kept(tmp_path: Path):
    env = {
        "VIDEOGEN_DATA_DIR": str(tmp_path),
        "VIDEOGEN_RETRY_SCALE": "0.02",
        "VIDEOGEN_HTTP_TIMEOUT": "12.5",
        "VIDEOGEN_DEMO_LATENCY": "0",
        "VIDEOGEN_MAX_REQUEST_MB": "2",
    }
    settings = Settings.from_env(env)
    assert settings.tuning == Tuning(retry_scale=0.02, http_timeout=12.5, demo_latency=0)
    assert settings.max_request_bytes == 2 * 1024 * 1024
    unset = Settings.from_env({"VIDEOGEN_DATA_DIR": str(tmp_path)})
    assert unset.tuning == Tuning(retry_scale=1.0, http_timeout=None, demo_latency=None)
    assert unset.max_request_bytes == DEFAULT_MAX_MESSAGE_BYTES == 80 * 1024 * 1024


def test_no_code_but_settings_reads_a_number_from_the_environment():
    """Settings parses every number once; the rest of the code reads from the environment only names that are
    no number (paths, tokens, base URLs). A number read elsewhere would escape the check at start."""
    reads = re.compile(r"""(?:env|environ)(?:\.get\(|\[)f?["'](VIDEOGEN_[A-Za-z0-9_{}.()]*)""")
    found: dict[str, str] = {}
    for folder in ("server", "providers"):
        for path in (ROOT / folder).rglob("*.py"):
            if "simulators" not in path.relative_to(ROOT).parts and path != ROOT / "server" / "settings.py":
                found |= {name: str(path) for name in reads.findall(path.read_text())}
    assert found, "the pattern finds the reads there are"
    numbers = {name: where for name, where in found.items() if name not in NOT_NUMBERS and "BASE_URL" not in name}
    assert not numbers, f"read outside Settings (add it to NUMBERS and pass the value down): {numbers}"


TUNED = Tuning(retry_scale=0.02, http_timeout=7.0, demo_latency=0.3)


@pytest.mark.parametrize("name", list(PROVIDERS))
def test_a_provider_uses_the_numbers_it_is_given_not_its_env(name: str):
    """The parsed value is what the provider uses: given Settings.tuning, a provider reads no number from its env."""
    provider = provider_class(name)({"VIDEOGEN_RETRY_SCALE": "5", "VIDEOGEN_HTTP_TIMEOUT": "1"}, (), tuning=TUNED)
    assert provider.tuning is TUNED
    policy = provider.retry_policy()
    assert policy.base_delay == pytest.approx(DEFAULT_POLICY.base_delay * 0.02)
    assert policy.max_delay == pytest.approx(DEFAULT_POLICY.max_delay * 0.02)
    assert policy.read_timeout == 7.0
    if isinstance(provider, DemoProvider):
        assert provider.latency == provider.models[0].typical_seconds == 0.3


def test_a_provider_made_without_settings_parses_its_env_by_settings_rules():
    """A test or a script makes a provider from an env: the same table, the same message, as a ProviderError
    (INTERNAL) that is also a ValueError; unset means the providers' own numbers."""
    demo = DemoProvider({"VIDEOGEN_DEMO_LATENCY": "0.3", "VIDEOGEN_RETRY_SCALE": "0.5"})
    assert demo.tuning == Tuning(retry_scale=0.5, demo_latency=0.3) and demo.latency == 0.3
    plain = DemoProvider({})
    assert plain.latency == 5.0 and plain.retry_policy().read_timeout == DEFAULT_POLICY.read_timeout
    for name in ("VIDEOGEN_RETRY_SCALE", "VIDEOGEN_HTTP_TIMEOUT", "VIDEOGEN_DEMO_LATENCY"):
        with pytest.raises(SettingsError) as at_start:
            Settings.from_env({name: "-1"})
        with pytest.raises(BadSetting) as made:
            DemoProvider({name: "-1"})
        assert isinstance(made.value, ProviderError) and isinstance(made.value, ValueError)
        assert made.value.code is ErrorCode.INTERNAL and made.value.message == str(at_start.value)


def test_the_server_hands_its_providers_the_numbers_settings_parsed(tmp_path: Path):
    env = {"VIDEOGEN_DATA_DIR": str(tmp_path), "VIDEOGEN_RETRY_SCALE": "0.02", "VIDEOGEN_DEMO_LATENCY": "0.3"}
    settings = Settings.from_env(env)
    providers = JobManager(settings).providers
    for name in ("demo", "google", "wireflow", "replicate"):
        assert providers.get(name).tuning == settings.tuning == Tuning(retry_scale=0.02, demo_latency=0.3)


def test_the_server_passes_settings_tuning_down_not_its_env(tmp_path: Path):
    """Parsed once: the providers take Settings.tuning itself, not a second parse of the same env."""
    settings = Settings.from_env({"VIDEOGEN_DATA_DIR": str(tmp_path)}).model_copy(update={"tuning": TUNED})
    assert JobManager(settings).providers.get("demo").tuning is TUNED


def test_the_server_does_not_start_with_a_bad_provider_number(env: dict[str, str]):
    """Before, the server served and every job failed at its first request to a provider."""
    for args in (["serve"], ["jobs"]):
        done = subprocess.run(
            [PYTHON, "-m", "server", *args],
            env=subprocess_env({**env, "VIDEOGEN_HTTP_TIMEOUT": "a minute"}),
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
        )
        lines = done.stderr.strip().splitlines()
        assert done.returncode == 2 and len(lines) == 1, done.stderr
        assert lines[0].startswith("error: VIDEOGEN_HTTP_TIMEOUT='a minute' is not a number; allowed: a number of ")
