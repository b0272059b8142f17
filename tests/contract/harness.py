"""The contract's rig: one provider's simulator on loopback (a fresh app per test behind one server), the
environment that points the real engine at it, and what every provider's jobs are checked with.

Everything a provider needs comes from its entry in providers.simulators.REGISTERED; nothing here names one."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.routing import Mount

from providers.base import ModelSpec, Provider
from providers.registry import Providers
from providers.simulators import REGISTERED, Fault, Registration, create_app
from providers.simulators.common import Simulator, running
from providers.simulators.faults import FaultInjector, FaultPlan
from server.catalog import RequestArgs
from server.jobs import JobManager
from server.store import JobRow

QUICK = "sim:seconds=20 sim:queue=1"  # a job that takes a fraction of a second at the registered speed
TIMINGS = {"VIDEOGEN_POLL_SCALE": "0.01", "VIDEOGEN_RETRY_SCALE": "0.01", "VIDEOGEN_HTTP_TIMEOUT": "5"}
WAIT = 30.0  # real seconds any one job may take here before the test gives up


def contract_providers() -> list[str]:
    """Every registered provider that has a simulator, in the registry's order."""
    return [name for name in Providers.names() if name in REGISTERED]


class Swappable:
    """An ASGI app whose target is replaced per test: a fresh simulator each time behind one server."""

    def __init__(self) -> None:
        self.app: Any = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


class Servers:
    """One loopback server per provider, started on first use, stopped when the module's tests end."""

    def __init__(self, stack: ExitStack):
        self.stack = stack
        self.started: dict[str, tuple[str, Swappable]] = {}

    def get(self, name: str) -> tuple[str, Swappable]:
        if name not in self.started:
            slot = Swappable()
            root = self.stack.enter_context(running(Starlette(routes=[Mount(f"/{name}", app=slot)])))
            self.started[name] = (f"{root}/{name}", slot)
        return self.started[name]


@contextmanager
def servers() -> Iterator[Servers]:
    with ExitStack() as stack:
        yield Servers(stack)


@dataclass
class Rig:
    """One provider under contract: its registration, a fresh simulator, and the engine's environment."""

    name: str
    entry: Registration
    url: str
    slot: Swappable
    base_env: dict[str, str]
    inputs: Path
    sim: Simulator = field(init=False)
    plan: FaultPlan = field(init=False)

    def __post_init__(self) -> None:
        self.reset()

    def reset(self, faults: str = "") -> None:
        """A new simulator (empty job table, default switches) with `faults` injected."""
        app = create_app(self.name, self.entry.speed)
        self.plan = FaultPlan(faults, speed=self.entry.speed)
        self.slot.app = FaultInjector(app, self.plan)
        self.sim = app.state.sim

    def env(self, **changes: str) -> dict[str, str]:
        return {
            **self.base_env,
            **TIMINGS,
            **self.entry.keys,
            f"VIDEOGEN_{self.name.upper()}_BASE_URL": self.url,
            "VIDEOGEN_DEFAULT_PROVIDER": self.name,
            **changes,
        }

    def provider(self) -> Provider:
        return Providers(self.env()).get(self.name)

    def model(self, mode: str) -> ModelSpec | None:
        """The model the contract uses for `mode`: the provider's default where it offers the mode, else the
        first model that does. None: no model of this provider offers it."""
        provider = self.provider()
        default = provider.spec(provider.default_model)
        if default is not None and mode in default.modes:
            return default
        return next((spec for spec in provider.models if mode in spec.modes), None)

    def picture(self, size: tuple[int, int] = (640, 360), name: str = "start.png") -> str:
        """A real PNG inside the allowed folder."""
        from PIL import Image

        path = self.inputs / f"{size[0]}x{size[1]}-{name}"
        Image.new("RGB", size, (30, 120, 200)).save(path)
        return str(path)

    def args(self, prompt: str, spec: ModelSpec, fault: Fault | None = None, **fields: Any) -> RequestArgs:
        """A request for `spec` at its defaults; image-only models get a start image."""
        fault = fault or Fault()
        values: dict[str, Any] = {"prompt": f"{prompt} {fault.prompt}".strip(), "provider": self.name}
        values.update(model=spec.id, **fields, **fault.args)
        if fault.image is not None:
            values["images"] = [self.picture(fault.image, "fault.png")]
        elif "text_to_video" not in spec.modes and not values.get("images"):
            values["images"] = [self.picture()]
        return RequestArgs(**values)

    def apply(self, fault: Fault) -> None:
        """A fresh simulator with the fault's switches and injected faults."""
        import copy

        self.reset(fault.faults)
        self.sim.config.update(copy.deepcopy(dict(fault.config)))


async def run_job(manager: JobManager, args: RequestArgs) -> JobRow:
    row = await manager.submit(args)
    done = await manager.wait(row.job_id, WAIT)
    assert done.terminal, f"{args.provider}: job still {done.status} after {WAIT:g} s ({done.message})"
    return done


async def wait_until(condition: Callable[[], bool], seconds: float = WAIT, what: str = "condition") -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"{what} not met in {seconds:g} s"
        await anyio.sleep(0.01)


def decode(path: str) -> tuple[int, float]:
    """Decode every frame with PyAV: (frames, seconds). Raises on a file that is not a whole video."""
    import av

    with av.open(path) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        seconds = float(container.duration or 0) / av.time_base
    return frames, seconds
