"""Every VIDEOGEN_* number the server and the providers read is checked when Settings is made: a bad value stops
the start with one line naming the variable and what is allowed, not the first job (issue 9 item 4)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from conftest import PYTHON, ROOT, subprocess_env

from providers.base import ProviderError
from providers.demo import DemoProvider
from server.settings import NUMBERS, Settings, SettingsError

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
    assert (settings.retry_scale, settings.http_timeout, settings.demo_latency) == (0.02, 12.5, 0)
    assert settings.max_request_bytes == 2 * 1024 * 1024
    unset = Settings.from_env({"VIDEOGEN_DATA_DIR": str(tmp_path)})
    assert (unset.retry_scale, unset.http_timeout, unset.demo_latency) == (1.0, None, None)


def _provider_takes(env: dict[str, str]) -> bool:
    """Whether the providers take these numbers (they read them themselves, from their env)."""
    try:
        DemoProvider(env).retry_policy()
    except (ProviderError, ValueError):
        return False
    return True


def _settings_take(env: dict[str, str], tmp_path: Path) -> bool:
    try:
        Settings.from_env({"VIDEOGEN_DATA_DIR": str(tmp_path), **env})
    except SettingsError:
        return False
    return True


@pytest.mark.parametrize("name", ["VIDEOGEN_RETRY_SCALE", "VIDEOGEN_HTTP_TIMEOUT", "VIDEOGEN_DEMO_LATENCY"])
@pytest.mark.parametrize("raw", ["soon", "nan", "inf", "-1", "0", "0.01", "3", " 2 ", ""])
def test_settings_refuse_exactly_what_the_providers_would(tmp_path: Path, name: str, raw: str):
    """Not stricter (a value a provider takes refused at start) nor looser (a refusal left to the first job)."""
    assert _settings_take({name: raw}, tmp_path) is _provider_takes({name: raw}), (name, raw)


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
