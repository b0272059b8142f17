"""The task template (providers.base.TaskProvider): what every adapter declared on it shares, checked once.

- Its tables: the first row that applies wins, every condition of a row must hold, `text` ignores case and
  `match` does not, a status range takes every status in it, a failed state's row names the state.
- Its "no id in the answer" error, against every registered simulator whose provider is declared on the template:
  a submit answered with a cut-off body is SUBMIT_UNCONFIRMED (not retried, the job was made once), with what to
  check before submitting again. A provider registered later gets these cases by registering.
- Its callbacks: another job's, or a state the table does not know, are left to a poll.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from contract.harness import Rig, contract_providers, servers

from providers.base import (
    ErrorCode,
    ProviderError,
    Rule,
    State,
    Submission,
    TaskAnswer,
    TaskProvider,
    find_rule,
)
from providers.registry import Providers, provider_class
from providers.simulators import REGISTERED
from server.catalog import Catalog

pytestmark = pytest.mark.anyio
DECLARED = [name for name in contract_providers() if issubclass(provider_class(name), TaskProvider)]


# -- the tables ------------------------------------------------------------------------------------------------

ROWS = (
    Rule(ErrorCode.AUTH, "auth", status=(401, 403)),
    Rule(ErrorCode.OUT_OF_CREDIT, "credit by code", match="^Arrearage"),
    Rule(ErrorCode.OUT_OF_CREDIT, "credit by words", status=400, text="credit|balance"),
    Rule(ErrorCode.CONTENT_POLICY, "blocked", status=400, match="SAFETY"),
    Rule(ErrorCode.NOT_FOUND, "gone on GET", status=404, method="GET"),
    Rule(ErrorCode.NOT_FOUND, "no endpoint", status=404),
    Rule(ErrorCode.TRANSIENT, "server", status=range(500, 600)),
    Rule(ErrorCode.TIMED_OUT, "expired", state="expired"),
)


@pytest.mark.parametrize(
    ("given", "expected", "matched"),
    [
        ({"status": 403, "code": "Arrearage"}, "auth", ""),  # the first row that applies wins
        ({"status": 402, "code": "Arrearage.Overdue"}, "credit by code", "Arrearage"),
        ({"status": 400, "text": "Not enough CREDITS"}, "credit by words", "CREDIT"),  # text: any case
        ({"status": 400, "code": "safety"}, None, None),  # match: case kept
        ({"status": 400, "code": "IMAGE_SAFETY"}, "blocked", "SAFETY"),
        ({"status": 404, "method": "GET"}, "gone on GET", ""),
        ({"status": 404, "method": "POST"}, "no endpoint", ""),
        ({"status": 503}, "server", ""),
        ({"status": 599}, "server", ""),
        ({"status": 600}, None, None),
        ({"status": 422}, None, None),  # nothing applies: the shared default decides
        ({"state": "expired"}, "expired", ""),
        ({"status": 500, "state": "expired"}, "server", ""),
        ({}, None, None),  # a row with a status never applies to an answer without one (a failed job)
    ],
)
def test_the_first_row_whose_every_condition_holds_wins(given: dict[str, Any], expected: str | None, matched: Any):
    found = find_rule(ROWS, **given)
    assert (found[0].message, found[1]) == (expected, matched) if found else expected is None


def test_a_row_renders_its_message_from_the_answer():
    rule = Rule(ErrorCode.AUTH, "{title} rejected the key (HTTP {status}{said}); check {var}.")
    assert rule.render({"title": "X", "status": 401, "said": ": bad", "var": "X_KEY"}) == (
        "X rejected the key (HTTP 401: bad); check X_KEY."
    )


class _Answer(TaskAnswer):
    id: str | None = None
    status: str | None = None
    video_url: str | None = None


class _Tiny(TaskProvider[Any, _Answer]):
    """The least a declaration needs for the status steps."""

    name = "tiny"
    title = "Tiny"
    env_vars = ("TINY_KEY",)
    status_model = _Answer
    STATUS: ClassVar[dict[str, State]] = {
        "waiting": State("queued", "waiting at {title}"),
        "done": State("succeeded", "made"),
    }


def test_a_callback_for_another_job_or_an_unknown_state_is_left_to_a_poll():
    tiny = _Tiny({})
    mine = Submission(ref="j1")
    assert tiny.parse_callback({"id": "j1", "status": "waiting"}, mine).status == "queued"
    assert tiny.parse_callback({"id": "j2", "status": "waiting"}, mine) is None
    assert tiny.parse_callback({"id": "j1", "status": "paused"}, mine) is None
    assert tiny.parse_callback({"id": "j1", "status": "done"}, mine) is None  # no video in it yet: a poll reads it
    assert tiny.parse_callback({"id": "j1", "status": "done", "video_url": "https://v/1.mp4"}, mine).video_url
    assert tiny.parse_callback({"id": "j1", "status": ["odd"]}, mine) is None


def test_a_state_the_table_does_not_know_is_still_running():
    shot = _Tiny({}).snapshot(_Answer(id="j1", status="paused"))
    assert (shot.status, shot.message) == ("running", "Tiny reports 'paused'; still watching")


def test_a_finished_job_without_a_video_fails_and_says_to_submit_again():
    shot = _Tiny({}).snapshot(_Answer(id="j1", status="done"))
    assert shot.status == "failed" and shot.error and shot.error.code == ErrorCode.PROVIDER_FAILED
    assert shot.error.retryable and "submitting again" in shot.message


# -- the one "no id in the answer" error, against each simulator -----------------------------------------------


@pytest.fixture(scope="module")
def loopback() -> Iterator[Any]:
    with servers() as started:
        yield started


@pytest.fixture
def rig(request: pytest.FixtureRequest, loopback: Any, env: dict[str, str], tmp_path: Path) -> Rig:
    name = request.node.callspec.params["name"]
    url, slot = loopback.get(name)
    (tmp_path / "inputs").mkdir(exist_ok=True)
    return Rig(name=name, entry=REGISTERED[name], url=url, slot=slot, base_env=env, inputs=tmp_path / "inputs")


@pytest.mark.parametrize("name", DECLARED)
async def test_a_submit_answered_without_an_id_is_unconfirmed_and_not_resent(rig: Rig, name: str):
    rig.reset("submit.malformed=1")  # the job is made, then its answer is cut off mid-way
    spec = rig.model("text_to_video") or rig.model("image_to_video")
    assert spec is not None
    catalog = Catalog(Providers(rig.env(), [rig.inputs]), [rig.inputs])
    provider, _, request = catalog.resolve(rig.args("a quiet bay sim:seconds=20", spec))
    try:
        with pytest.raises(ProviderError) as caught:
            await provider.submit("job_no_id", request)
    finally:
        await provider.aclose()
    error = caught.value
    assert (error.code, error.retryable) == (ErrorCode.SUBMIT_UNCONFIRMED, False), error.message
    assert rig.sim.submissions == 1  # sent once: resending could pay twice
    said = error.message.lower()
    assert provider.title.lower() in said and ("before submitting" in said or "looked up by our" in said), said


@pytest.mark.parametrize("name", DECLARED)
def test_what_a_declaration_says_it_can_do_it_declares(name: str):
    """supports_cancel agrees with a cancel path (or a cancel of its own); the tables' states are our statuses."""
    cls = provider_class(name)
    assert issubclass(cls, TaskProvider)
    own_cancel = cls.cancel is not TaskProvider.cancel
    assert cls.supports_cancel == (cls.cancel_path is not None or own_cancel), name
    assert cls.STATUS and {row.status for row in cls.STATUS.values()} <= {
        "queued",
        "running",
        "succeeded",
        "failed",
        "cancelled",
    }
    assert any(row.status == "succeeded" for row in cls.STATUS.values()), name
