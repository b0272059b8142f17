"""What the parts of the JobManager (submitting, following, delivering, leases) use of the whole.

JobManager (manager.py) defines every name below; the parts inherit this class so that a type checker knows
what `self` holds in each part. The declarations exist for the checker only: at run time the class is empty,
so nothing here can shadow the real attributes and methods.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    import anyio.abc

    from providers.base import ModelSpec, Provider, Snapshot, Submission, VideoRequest
    from providers.registry import Providers
    from server.budget import Budget
    from server.catalog import Catalog
    from server.settings import Settings
    from server.store import JobRow, Store

    from .scheduler import Followed, Scheduler

T = TypeVar("T")


class EngineParts:
    if TYPE_CHECKING:
        settings: Settings
        callbacks: bool
        owner: str
        providers: Providers
        catalog: Catalog
        store: Store | None
        budget: Budget
        scheduler: Scheduler
        _watching: set[str]
        _retry_delay: dict[str, float]
        _tg: anyio.abc.TaskGroup | None
        _http: Any

        @property
        def db(self) -> Store: ...
        async def _store(self, call: Callable[..., T], *args: Any, **kwargs: Any) -> T: ...
        async def read(self, call: Callable[..., T], *args: Any, **kwargs: Any) -> T: ...
        async def _read(self, job_id: str) -> JobRow: ...
        async def _write(self, job_id: str, **changes: Any) -> None: ...
        async def _publish(self, job_id: str) -> None: ...
        def _drop_inputs(self, job_id: str) -> None: ...
        async def _begin(self, job_id: str) -> None: ...
        def _deliver_later(self, job: Followed, snapshot: Snapshot) -> None: ...
        async def _ended_by(self, job_id: str, error: Exception) -> float | None: ...
        async def _sleep(self, job_id: str, seconds: float) -> None: ...
        async def _done(self, job_id: str) -> None: ...
        def _start_watching(self, job_id: str, claimed: bool = False) -> None: ...
        def _interval(self, provider: Provider, spec: ModelSpec, elapsed: float) -> float: ...
        async def _poll(
            self, job_id: str, provider: Provider, spec: ModelSpec, submission: Submission, request: VideoRequest
        ) -> Snapshot: ...
