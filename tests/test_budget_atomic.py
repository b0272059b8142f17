"""The daily budget cannot be overspent: a job's estimate is reserved atomically when it is accepted (in this
process or in another sharing the index), unfinished jobs count, and a failed job stops counting only when
the provider certainly did not charge it."""

from __future__ import annotations

import threading
import time

import anyio
import pytest

from providers import registry
from providers.base import ErrorCode, PriceRule, ProviderError
from providers.demo import DemoProvider
from server.budget import Budget, Limits
from server.catalog import RequestArgs
from server.jobs import JobManager
from server.settings import Settings
from server.store import JobRow

pytestmark = pytest.mark.anyio
LIMITS = Limits(daily_budget=1.0)


class SixtyCents(DemoProvider):
    """The demo renderer at $0.30 per second: a 2 s video costs $0.60."""

    name = "sixty"
    title = "Sixty cents"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.models = tuple(m.model_copy(update={"price": PriceRule(per_second=0.3)}) for m in self.models)


@pytest.fixture(autouse=True)
def _sixty(monkeypatch):
    monkeypatch.setitem(registry.PROVIDERS, "sixty", f"{__name__}:SixtyCents")


def job(job_id: str, status: str = "pending", usd: float = 0.6, **fields) -> JobRow:
    now = time.time()
    return JobRow(
        job_id=job_id,
        status=status,
        provider="sixty",
        model="demo-v1",
        request={"prompt": job_id},
        created_at=now,
        updated_at=now,
        cost_estimate=usd,
        **fields,
    )


async def test_eight_concurrent_submits_of_60_cents_against_a_dollar_accept_exactly_one(env, backend):
    settings = Settings.from_env({**env, **backend.env, "VIDEOGEN_DAILY_BUDGET": "1.0", "VIDEOGEN_DEMO_LATENCY": "3"})
    accepted: list[str] = []
    refused: list[str] = []

    async def one(manager: JobManager, n: int) -> None:
        try:
            row = await manager.submit(RequestArgs(prompt=f"video {n}", provider="sixty", duration=2))
            accepted.append(row.job_id)
        except ProviderError as error:
            assert error.code == ErrorCode.OVER_BUDGET
            refused.append(error.message)

    async with JobManager(settings) as manager:
        async with anyio.create_task_group() as tg:
            for n in range(8):
                tg.start_soon(one, manager, n)
        assert len(accepted) == 1 and len(refused) == 7
        assert "jobs still running included" in refused[0]
        await manager.cancel(accepted[0])


def test_concurrent_inserts_from_separate_connections_reserve_atomically(backend):
    """Eight connections to one index (as eight processes, or replicas, would have) race to reserve $0.60 of
    $1.00."""
    backend.open().close()
    start = threading.Barrier(8)
    results: list[str] = []

    def racer(n: int) -> None:
        store = backend.open()
        budget = Budget(store, LIMITS)
        start.wait()
        try:
            store.insert(job(f"job_{n}"), admit=lambda: budget.enforce(0.6))
            results.append("accepted")
        except ProviderError as error:
            results.append(error.code.value)
        finally:
            store.close()

    threads = [threading.Thread(target=racer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(results) == ["OVER_BUDGET"] * 7 + ["accepted"]


def test_what_counts_toward_the_daily_budget(backend):
    store = backend.open()
    budget = Budget(store, LIMITS)

    def error(code: str) -> dict:
        return {"code": code, "message": "m", "retryable": False}

    counted = [
        job("pending", "pending"),  # not at the provider yet: its estimate is reserved
        job("running", "running", provider_ref="r1"),
        job("done", "succeeded", provider_ref="r2"),
        job("unconfirmed", "failed", error=error("SUBMIT_UNCONFIRMED"), submit_started_at=time.time()),
        job("timed_out", "failed", provider_ref="r3", error=error("TIMED_OUT")),  # may still run and be charged
        job("cancelled_there", "cancelled", provider_ref="r4"),
        job("charged", "failed", provider_ref="r5", usd=0.6, cost_charged=0.25, error=error("PROVIDER_FAILED")),
    ]
    released = [
        job("refused", "failed", error=error("RATE_LIMITED"), submit_started_at=time.time()),
        job("invalid", "failed", error=error("CONTENT_POLICY")),
        job("failed_there", "failed", provider_ref="r6", error=error("PROVIDER_FAILED")),  # refunded
        job("cancelled_first", "cancelled"),  # cancelled before it was sent
    ]
    for row in counted + released:
        store.insert(row)
    assert budget.today() == pytest.approx(0.6 * 6 + 0.25)
    [line] = budget.spent_since(0)
    assert line.jobs == len(counted)
    check = budget.check(0.6)
    assert check.refused and "VIDEOGEN_DAILY_BUDGET" in check.refused


async def test_a_job_that_ended_unconfirmed_keeps_its_reservation(env, backend, monkeypatch):
    """Through the engine: a submit whose answer never came (SUBMIT_UNCONFIRMED) may have been charged."""
    settings = Settings.from_env({**env, **backend.env, "VIDEOGEN_DAILY_BUDGET": "1.0"})

    async def unconfirmed(self, job_id, request, callback_url=None):
        raise ProviderError(ErrorCode.SUBMIT_UNCONFIRMED, "the answer to the submit was lost", retryable=False)

    monkeypatch.setattr(SixtyCents, "submit", unconfirmed)
    async with JobManager(settings) as manager:
        row = await manager.submit(RequestArgs(prompt="lost", provider="sixty", duration=2))
        row = await manager.wait(row.job_id, 20)
        assert row.status == "failed" and row.error["code"] == "SUBMIT_UNCONFIRMED"
        assert manager.budget.today() == pytest.approx(0.6)
        with pytest.raises(ProviderError, match="daily budget"):
            await manager.submit(RequestArgs(prompt="again", provider="sixty", duration=2))


async def test_without_a_daily_budget_a_submit_reads_no_ledger_and_the_per_job_limit_still_refuses(
    env, backend, monkeypatch
):
    """The day's ledger reads every job of the day (7.5 ms at 10,000): a submit asks it only when a daily
    budget is set. The per-job limit needs no ledger and still refuses, in Budget's words."""
    reads: list[float] = []
    spent_since = Budget.spent_since

    def counted(self, since):
        reads.append(since)
        return spent_since(self, since)

    monkeypatch.setattr(Budget, "spent_since", counted)
    settings = Settings.from_env({**env, **backend.env, "VIDEOGEN_MAX_COST_PER_JOB": "1.0"})
    async with JobManager(settings) as manager:
        row = await manager.submit(RequestArgs(prompt="cheap", provider="sixty", duration=2))
        assert reads == []
        with pytest.raises(ProviderError, match="per-job limit") as refused:
            await manager.submit(RequestArgs(prompt="dear", provider="sixty", duration=4))  # $1.20
        assert refused.value.code == ErrorCode.OVER_BUDGET
        await manager.cancel(row.job_id)
    reads.clear()  # (Budget's refusal reads the day's spend: it says it in the same words as always)
    settings = Settings.from_env({**env, **backend.env, "VIDEOGEN_DAILY_BUDGET": "5.0"})
    async with JobManager(settings) as manager:
        row = await manager.submit(RequestArgs(prompt="counted", provider="sixty", duration=2))
        assert len(reads) == 2  # the early refusal, then the check inside the insert's transaction
        await manager.cancel(row.job_id)
