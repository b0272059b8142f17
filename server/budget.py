"""The spend ledger and the limits the person sets (never the agent).

The ledger is the job index itself: each job records its estimated cost at submit and the provider's
charge when it reports one. A job counts toward spend (at its charge, else its estimate) from the moment it
is accepted: an unfinished job holds a reservation. The reservation is released only when the provider
certainly did not charge: the job failed before the provider took it or was refused there, or was cancelled
before it was sent. A failed job whose submit may have reached the provider (SUBMIT_UNCONFIRMED), one the
server gave up on while it may still run there (TIMED_OUT), and any job with a reported charge keep counting.

The daily check and the job's insert are one write transaction in the store (JobStore.insert with
`admit`), so concurrent requests, in this process or in others sharing the index, cannot overspend; on
PostgreSQL that transaction holds an advisory lock, so replicas sharing the database cannot either.
Limits come from the environment: VIDEOGEN_MAX_COST_PER_JOB, VIDEOGEN_DAILY_BUDGET and
VIDEOGEN_CONFIRM_ABOVE (USD).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from providers.base import ErrorCode, ProviderError

# SQL for "may cost money": a reported charge; any unfinished or delivered job; a job cancelled after the
# provider had it; a failure after which a charge may still come. Other failures are refunded (or were never
# sent) by every provider we know.
_COUNTS = (
    "(cost_charged IS NOT NULL OR status IN ('pending', 'queued', 'running', 'downloading', 'succeeded') "
    "OR (status = 'cancelled' AND provider_ref IS NOT NULL) "
    "OR (status = 'failed' AND {error_code} IN ('SUBMIT_UNCONFIRMED', 'TIMED_OUT')))"
)
# The error column holds JSON text in both stores; how each reads its "code".
_ERROR_CODE = {"sqlite": "json_extract(error, '$.code')", "postgresql": "(error::jsonb ->> 'code')"}
_AMOUNT = "COALESCE(cost_charged, cost_estimate, 0)"


class Limits(BaseModel):
    max_cost_per_job: float | None = Field(None, description="USD; a job estimated above it is refused")
    daily_budget: float | None = Field(None, description="USD per local calendar day, all providers")
    confirm_above: float | None = Field(None, description="USD; above it the person is asked to confirm")


class SpendLine(BaseModel):
    provider: str
    jobs: int
    usd: float


class SpendReport(BaseModel):
    today_usd: float
    month_usd: float
    today: list[SpendLine]
    month: list[SpendLine]
    limits: Limits


class BudgetCheck(BaseModel):
    """Where a request stands against the limits, as estimate_cost shows it."""

    today_spent_usd: float
    daily_budget_usd: float | None
    remaining_today_usd: float | None
    max_cost_per_job_usd: float | None
    confirm_above_usd: float | None
    needs_confirmation: bool = Field(description="generate_video will ask the person first")
    refused: str | None = Field(None, description="why generate_video would refuse it, if it would")


def day_start(now: datetime | None = None) -> float:
    now = now or datetime.now().astimezone()
    return now.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()


def month_start(now: datetime | None = None) -> float:
    now = now or datetime.now().astimezone()
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0).timestamp()


class Budget:
    def __init__(self, db: Any, limits: Limits):
        self.db = db  # the store (JobStore, PostgresJobStore), or a sqlite3 connection to the job index
        self.limits = limits

    def spent_since(self, since: float) -> list[SpendLine]:
        counts = _COUNTS.format(error_code=_ERROR_CODE[getattr(self.db, "dialect", "sqlite")])
        sql = (
            f"SELECT provider, COUNT(*), SUM({_AMOUNT}) FROM jobs WHERE created_at >= ? AND {counts} "
            "GROUP BY provider ORDER BY provider"
        )
        query = getattr(self.db, "query", None)
        rows = query(sql, (since,)) if query else self.db.execute(sql, (since,)).fetchall()
        return [SpendLine(provider=p, jobs=n, usd=round(usd or 0.0, 4)) for p, n, usd in rows]

    def today(self) -> float:
        return round(sum(line.usd for line in self.spent_since(day_start())), 4)

    def report(self) -> SpendReport:
        today, month = self.spent_since(day_start()), self.spent_since(month_start())
        return SpendReport(
            today_usd=round(sum(x.usd for x in today), 4),
            month_usd=round(sum(x.usd for x in month), 4),
            today=today,
            month=month,
            limits=self.limits,
        )

    def check(self, usd: float) -> BudgetCheck:
        spent = self.today()
        limits = self.limits
        refused = None
        if limits.max_cost_per_job is not None and usd > limits.max_cost_per_job:
            refused = (
                f"this video is estimated at ${usd:.2f}, above the per-job limit of ${limits.max_cost_per_job:.2f} "
                "(VIDEOGEN_MAX_COST_PER_JOB, set by the person running this server); choose a shorter or cheaper "
                "request, or ask them to raise the limit"
            )
        elif limits.daily_budget is not None and spent + usd > limits.daily_budget + 1e-9:
            refused = (
                f"this video (${usd:.2f}) would take today's spend (jobs still running included) to "
                f"${spent + usd:.2f}, over the daily budget of "
                f"${limits.daily_budget:.2f} (VIDEOGEN_DAILY_BUDGET, set by the person running this server); "
                "wait until tomorrow or ask them to raise it"
            )
        return BudgetCheck(
            today_spent_usd=spent,
            daily_budget_usd=limits.daily_budget,
            remaining_today_usd=None
            if limits.daily_budget is None
            else round(max(0.0, limits.daily_budget - spent), 4),
            max_cost_per_job_usd=limits.max_cost_per_job,
            confirm_above_usd=limits.confirm_above,
            needs_confirmation=refused is None and limits.confirm_above is not None and usd > limits.confirm_above,
            refused=refused,
        )

    def enforce(self, usd: float) -> BudgetCheck:
        """Raise OVER_BUDGET if the limits refuse `usd`. Run it inside the insert's transaction (`admit`) so
        the spend it reads cannot change before the job is recorded."""
        check = self.check(usd)
        if check.refused:
            raise ProviderError(ErrorCode.OVER_BUDGET, check.refused, retryable=False)
        return check
