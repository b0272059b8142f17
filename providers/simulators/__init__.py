"""Local copies of the providers' HTTP APIs, served together under /<provider> by `mcp-videogen simulate`."""

from __future__ import annotations

import importlib
from typing import Any

# name -> "module:factory"; each factory is create_app(speed: float = 1.0) -> ASGI app with `.state.sim`.
SIMULATORS: dict[str, str] = {
    "runway": "providers.simulators.runway:create_app",
    "fal": "providers.simulators.fal:create_app",
    "kling": "providers.simulators.kling:create_app",
    "runblob": "providers.simulators.runblob:create_app",
    "wireflow": "providers.simulators.wireflow:create_app",
}


def sample_env(base_url: str) -> dict[str, str]:
    """Environment that points every adapter at the simulators under `base_url`, with keys they accept."""
    from providers.simulators.kling import DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY

    env = {f"VIDEOGEN_{name.upper()}_BASE_URL": f"{base_url}/{name}" for name in SIMULATORS}
    keys = {
        "RUNWAYML_API_SECRET": "key_" + "5e" * 64,  # Runway's shape: key_ and 128 hex digits
        "FAL_KEY": "sim-fal-key",
        "KLING_ACCESS_KEY": DEFAULT_ACCESS_KEY,
        "KLING_SECRET_KEY": DEFAULT_SECRET_KEY,
        "RUNBLOB_API_KEY": "sim-runblob-key",
        "WIREFLOW_API_KEY": "sk-sim-wireflow-key",
    }
    return {**env, **keys}


def create_app(name: str, speed: float = 1.0) -> Any:
    module_name, _, attr = SIMULATORS[name].partition(":")
    return getattr(importlib.import_module(module_name), attr)(speed=speed)


def build_app(speed: float = 1.0, names: list[str] | None = None, faults: str = "", seed: int = 0) -> Any:
    """One ASGI app with every simulator mounted under its provider's name, faults injected as `faults` says
    (see providers.simulators.faults)."""
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Mount, Route

    from providers.simulators.faults import FaultInjector, FaultPlan

    chosen = names or list(SIMULATORS)
    apps = {name: create_app(name, speed) for name in chosen}
    plans = {name: FaultPlan(faults, seed=seed + n, speed=speed) for n, name in enumerate(chosen)}

    async def index(_: Any) -> JSONResponse:
        injected = {name: dict(plan.injected) for name, plan in plans.items()}
        return JSONResponse({"simulators": {name: f"/{name}" for name in apps}, "speed": speed, "faults": injected})

    routes = [
        Route("/", index),
        *(Mount(f"/{name}", app=FaultInjector(sub, plans[name])) for name, sub in apps.items()),
    ]
    app = Starlette(routes=routes)
    app.state.simulators = {name: sub.state.sim for name, sub in apps.items()}
    app.state.faults = plans
    return app
