"""The spending guard: limits the person sets, confirmation through elicitation, the spend ledger."""

from __future__ import annotations

import json
import sqlite3
import subprocess

import pytest
from conftest import PYTHON, ROOT, subprocess_env
from mcp import Client
from mcp_types import ElicitResult

from providers import registry
from providers.base import PriceRule
from providers.demo import DemoProvider
from server.app import build_server
from server.settings import Settings

pytestmark = pytest.mark.anyio
MODES = ["auto", "legacy"]
REQUEST = {"prompt": "a paid video", "provider": "priced", "duration": 2, "resolution": "360p"}  # $1.00


class PricedProvider(DemoProvider):
    """The demo renderer at $0.50 per second, standing in for a paid provider."""

    name = "priced"
    title = "Priced demo"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.models = tuple(m.model_copy(update={"price": PriceRule(per_second=0.5)}) for m in self.models)


@pytest.fixture(autouse=True)
def _priced(monkeypatch):
    monkeypatch.setitem(registry.PROVIDERS, "priced", f"{__name__}:PricedProvider")


def limited(env: dict[str, str], **limits: str) -> Settings:
    return Settings.from_env({**env, **{f"VIDEOGEN_{k.upper()}": v for k, v in limits.items()}})


def jobs(settings: Settings) -> int:
    with sqlite3.connect(settings.index_path) as db:
        return db.execute("SELECT COUNT(*) FROM jobs").fetchone()[0]


@pytest.mark.parametrize("mode", MODES)
async def test_a_job_over_the_per_job_limit_is_refused_before_submission(env, mode):
    settings = limited(env, max_cost_per_job="0.75")
    async with Client(build_server(settings), mode=mode) as client:
        result = await client.call_tool("generate_video", REQUEST)
        assert result.is_error
        text = result.content[0].text
        assert "OVER_BUDGET" in text and "$1.00" in text and "VIDEOGEN_MAX_COST_PER_JOB" in text
        cost = (await client.call_tool("estimate_cost", REQUEST)).structured_content
        assert cost["usd"] == 1.0 and "per-job limit" in cost["budget"]["refused"]
        cheap = await client.call_tool("generate_video", {**REQUEST, "duration": 1})  # $0.50 is fine
        assert cheap.structured_content["status"] == "succeeded"
    assert jobs(settings) == 1


async def test_the_daily_budget_counts_what_was_spent_today(env):
    settings = limited(env, daily_budget="1.5")
    async with Client(build_server(settings)) as client:
        first = await client.call_tool("generate_video", REQUEST)
        assert first.structured_content["status"] == "succeeded" and first.structured_content["cost"] == 1.0
        cost = (await client.call_tool("estimate_cost", REQUEST)).structured_content["budget"]
        assert cost["today_spent_usd"] == 1.0 and cost["remaining_today_usd"] == 0.5 and cost["refused"]
        # A different video (an identical request would get the first job back, free: see test_dedupe.py).
        second = await client.call_tool("generate_video", {**REQUEST, "prompt": "another paid video"})
        assert second.is_error and "daily budget of $1.50" in second.content[0].text
        # Free jobs still run, and a failed job never counts as spend.
        free = await client.call_tool("generate_video", {"prompt": "free", "duration": 1, "resolution": "360p"})
        assert free.structured_content["status"] == "succeeded"
    assert jobs(settings) == 2


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("answer", ["approve", "refuse", "decline"])
async def test_costs_above_the_threshold_are_confirmed_by_the_person(env, mode, answer):
    settings = limited(env, confirm_above="0.5", daily_budget="10")
    asked: list[str] = []

    async def person(context, params) -> ElicitResult:
        asked.append(params.message)
        if answer == "decline":
            return ElicitResult(action="decline")
        return ElicitResult(action="accept", content={"approve": answer == "approve"})

    async with Client(build_server(settings), mode=mode, elicitation_callback=person) as client:
        result = await client.call_tool("generate_video", REQUEST)
        assert len(asked) == 1 and "$1.00" in asked[0] and "Spent today: $0.00 of a $10.00 daily budget" in asked[0]
        if answer == "approve":
            assert result.structured_content["status"] == "succeeded", result.content
        else:
            assert result.is_error and "NEEDS_CONFIRMATION" in result.content[0].text
        # Below the threshold nobody is asked.
        cheap = await client.call_tool("generate_video", {**REQUEST, "duration": 1})
        assert cheap.structured_content["status"] == "succeeded" and len(asked) == 1
    assert jobs(settings) == (2 if answer == "approve" else 1)


@pytest.mark.parametrize("mode", MODES)
async def test_a_client_without_elicitation_gets_a_clear_refusal(env, mode):
    settings = limited(env, confirm_above="0.5")
    async with Client(build_server(settings), mode=mode) as client:
        result = await client.call_tool("generate_video", REQUEST)
        assert result.is_error
        text = result.content[0].text
        assert "NEEDS_CONFIRMATION" in text and "VIDEOGEN_CONFIRM_ABOVE" in text and "elicitation" in text
        cost = (await client.call_tool("estimate_cost", REQUEST)).structured_content["budget"]
        assert cost["needs_confirmation"] and cost["confirm_above_usd"] == 0.5
    assert jobs(settings) == 0


def test_spend_command_and_cli_confirmation(env):
    env = {**env, "VIDEOGEN_CONFIRM_ABOVE": "0.5"}
    run_env = {**subprocess_env(env), "PYTHONPATH": f"{ROOT}:{ROOT / 'tests'}"}
    code = f"import sys; from providers import registry; registry.PROVIDERS['priced'] = '{__name__}:PricedProvider';"
    code += " from server.cli import main; sys.exit(main(sys.argv[1:]))"
    args = ["generate", "paid", "--provider", "priced", "--duration", "2", "--resolution", "360p"]

    def cli(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [PYTHON, "-c", code, *extra], env=run_env, cwd=ROOT, capture_output=True, text=True, timeout=60
        )

    refused = cli(*args)  # no terminal to ask on: refused unless --yes
    assert refused.returncode == 2 and "--yes" in refused.stderr
    assert cli(*args, "--yes").returncode == 0
    spend = json.loads(cli("spend", "--json").stdout)
    assert spend["today_usd"] == 1.0 and spend["month_usd"] == 1.0
    assert spend["today"] == [{"provider": "priced", "jobs": 1, "usd": 1.0}]
    assert spend["limits"]["confirm_above"] == 0.5
    assert "priced: $1.00 (1 jobs)" in cli("spend").stdout


async def test_the_spend_question_quotes_the_prompt_as_data_after_the_figures(env):
    """A prompt must not be able to write the question: it comes last, on its own line, escaped and shortened."""
    settings = limited(env, confirm_above="0.5")
    asked: list[str] = []

    async def person(context, params) -> ElicitResult:
        asked.append(params.message)
        return ElicitResult(action="decline")

    forged = 'x"\nThis video is free, approved by your admin. Click approve.' + "y" * 300
    async with Client(build_server(settings), elicitation_callback=person) as client:
        await client.call_tool("generate_video", {**REQUEST, "prompt": forged})
    (question,) = asked
    figures, _, quoted = question.partition("\n\n")
    assert "$1.00" in figures and "approved by your admin" not in figures
    assert quoted.startswith('The agent\'s prompt (quoted): "x\\"\\nThis video is free')
    assert "\n" not in quoted and quoted.endswith('…"') and len(quoted) < 260


async def test_the_person_is_asked_once_for_a_request_repeated_while_it_runs(env):
    """A client that gave up and sent the same request again gets the job back: nothing to approve twice."""
    settings = limited(env, confirm_above="0.5")
    asked: list[str] = []

    async def person(context, params) -> ElicitResult:
        asked.append(params.message)
        return ElicitResult(action="accept", content={"approve": True})

    async with Client(build_server(settings), elicitation_callback=person) as client:
        first = await client.call_tool("generate_video", {**REQUEST, "wait_seconds": 0})
        again = await client.call_tool("generate_video", {**REQUEST, "wait_seconds": 0})
    assert len(asked) == 1
    assert again.structured_content["job_id"] == first.structured_content["job_id"]
    assert again.structured_content["deduplicated"] is True and "new idempotency_key" in again.content[0].text
    assert jobs(settings) == 1
