"""Leases: a job is watched by one process at a time. This process renews its leases, adopts unfinished jobs
nobody watches (after a crash or a restart), and releases a job the moment it stops watching it."""

from __future__ import annotations

import logging

import anyio

from server.store import StoreError

from .parts import EngineParts

log = logging.getLogger("videogen.jobs")


class Leases(EngineParts):
    """The JobManager's leases part (see server/jobs/manager.py for the attributes it uses)."""

    async def _housekeeping(self) -> None:
        """Renew our leases and adopt unfinished jobs nobody watches (after a crash or restart)."""
        period = self.settings.lease_seconds / 3
        while True:
            try:
                await self._store(self.db.renew, self.owner, self.settings.lease_seconds)
                for job_id in await self.read(self.db.orphans, self.owner):
                    await self._adopt(job_id)
            except StoreError as error:  # e.g. the index locked by another process: try again next period
                log.warning("housekeeping skipped: %s", error)
            await anyio.sleep(period)

    async def _adopt(self, job_id: str) -> None:
        if job_id not in self._watching and await self._store(
            self.db.claim, job_id, self.owner, self.settings.lease_seconds
        ):
            self._start_watching(job_id, claimed=True)

    def _start_watching(self, job_id: str, claimed: bool = False) -> None:
        """Take the job up here (its lease already ours when `claimed`)."""
        if job_id in self._watching or self._tg is None:
            return
        if not claimed and not self.db.claim(job_id, self.owner, self.settings.lease_seconds):
            return
        self._watching.add(job_id)
        self._tg.start_soon(self._begin, job_id)

    async def _done(self, job_id: str) -> None:
        """This process no longer watches the job: free it for others at once (not when the lease runs out).
        It counts as watched until its lease is released, so nothing here takes it up again in between."""
        if job_id not in self._watching:
            return
        self.scheduler.drop(job_id)
        self._retry_delay.pop(job_id, None)
        try:
            if self.store is not None:
                await self._store(self.db.release, self.owner, job_id)
        except StoreError as error:  # the lease runs out on its own
            log.warning("job %s: could not release its lease: %s", job_id, error)
        finally:
            self._watching.discard(job_id)
