"""Local copies of the providers' HTTP APIs, served together under /<provider> by `mcp-videogen simulate`.

REGISTERED is the one table a provider with a simulator adds itself to: how to start its simulator, the
credentials it accepts, and how a test makes it fail each way its provider fails (Fault). With that entry the
provider gets `mcp-videogen simulate` and the whole contract suite (tests/test_contract.py).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from providers.errors import ErrorCode


@dataclass(frozen=True)
class Fault:
    """One way to make a simulator fail as its provider would, the way a person would trigger it there. The
    contract runs one job with these changes and expects the ErrorCode it is registered under."""

    config: Mapping[str, Any] = field(default_factory=dict)  # the simulator's test switches (sim.config)
    env: Mapping[str, str] = field(default_factory=dict)  # environment changes, e.g. a key the provider rejects
    prompt: str = ""  # a directive added to the prompt, e.g. "sim:fail=content"
    args: Mapping[str, Any] = field(default_factory=dict)  # request fields, e.g. an image the provider refuses
    image: tuple[int, int] | None = None  # a local PNG of this size (width, height) as the start image
    faults: str = ""  # injected by providers.simulators.faults, e.g. "submit.503=1"
    # Words the error message must hold (any case): what to do next, in the provider's terms. The contract
    # itself asks of every provider that an AUTH message names a credential variable and that a rate limit
    # or a transient fault says to retry or wait.
    says: tuple[str, ...] = ()


@dataclass(frozen=True)
class Registration:
    """A simulator: `factory` ("module:function", create_app(speed) -> ASGI app with `.state.sim`), the
    credentials it accepts, the speed tests run it at, and its faults by the error they must end in."""

    factory: str
    keys: Mapping[str, str]
    speed: float = 300.0
    faults: Mapping[ErrorCode, Fault] = field(default_factory=dict)
    # For a provider that takes start images only as URLs (Luma): the https URL the contract sends instead of a
    # local file (the simulator does not fetch it). None: a local file, converted as the provider needs.
    image_url: str | None = None


def _kling_keys() -> dict[str, str]:
    from providers.simulators.kling import DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY

    return {"KLING_ACCESS_KEY": DEFAULT_ACCESS_KEY, "KLING_SECRET_KEY": DEFAULT_SECRET_KEY}


_MANY = 1000  # a refusal that never clears, for a switch that counts its uses

REGISTERED: dict[str, Registration] = {
    "runway": Registration(
        "providers.simulators.runway:create_app",
        keys={"RUNWAYML_API_SECRET": "key_" + "5e" * 64},  # Runway's shape: key_ and 128 hex digits
        faults={
            ErrorCode.AUTH: Fault(
                env={"RUNWAYML_API_SECRET": "rw-not-a-runway-key-0000"}, says=("RUNWAYML_API_SECRET",)
            ),
            ErrorCode.OUT_OF_CREDIT: Fault(config={"credits": 10}, says=("enough credits",)),
            ErrorCode.RATE_LIMITED: Fault(config={"errors": [429] * _MANY}, says=("try again",)),
            ErrorCode.CONTENT_POLICY: Fault(prompt="sim:fail=content", says=("moderation", "change the prompt")),
            # An https URL (our check passes) that names an IP address, which Runway refuses.
            ErrorCode.INVALID_INPUT: Fault(args={"images": ["https://203.0.113.7/a.png"]}, says=("promptImage",)),
            ErrorCode.TRANSIENT: Fault(config={"errors": [503] * _MANY}),
        },
    ),
    "fal": Registration(
        "providers.simulators.fal:create_app",
        keys={"FAL_KEY": "sim-fal-key"},
        faults={
            ErrorCode.AUTH: Fault(config={"key": "fal-other-id:another-secret"}, says=("FAL_KEY",)),
            ErrorCode.OUT_OF_CREDIT: Fault(config={"balance": 0}, says=("top up",)),
            ErrorCode.RATE_LIMITED: Fault(config={"rate_limit": _MANY, "retry_after": 0.01, "on": "POST"}),
            ErrorCode.CONTENT_POLICY: Fault(prompt="sim:fail=content", says=("change the prompt",)),
            # A start image fal cannot load (a model error, 422 image_load_error): our checks cannot see that.
            ErrorCode.INVALID_INPUT: Fault(prompt="sim:fail=image_load_error", says=("fix the input",)),
            ErrorCode.TRANSIENT: Fault(config={"server_errors": _MANY, "error_status": 503, "on": "POST"}),
        },
    ),
    "kling": Registration(
        "providers.simulators.kling:create_app",
        keys=_kling_keys(),
        faults={
            ErrorCode.AUTH: Fault(
                env={"KLING_ACCESS_KEY": "an-unknown-access-key-0000000000"}, says=("KLING_ACCESS_KEY",)
            ),
            ErrorCode.OUT_OF_CREDIT: Fault(config={"balance": 0}, says=("buy or renew",)),
            ErrorCode.RATE_LIMITED: Fault(config={"fail_create": [1302] * _MANY}, says=("rate limit",)),
            ErrorCode.CONTENT_POLICY: Fault(prompt="sim:fail=content", says=("change the prompt",)),
            ErrorCode.INVALID_INPUT: Fault(config={"fail_create": [1201]}, says=("fix the request",)),
            ErrorCode.TRANSIENT: Fault(config={"fail_create": [5001] * _MANY}, says=("retry later",)),
        },
    ),
    "runblob": Registration(
        "providers.simulators.runblob:create_app",
        keys={"RUNBLOB_API_KEY": "sim-runblob-key"},
        faults={
            ErrorCode.AUTH: Fault(config={"api_keys": ["rb-live-someone-else"]}, says=("RUNBLOB_API_KEY",)),
            ErrorCode.OUT_OF_CREDIT: Fault(config={"credits": 0.0}, says=("top up",)),
            ErrorCode.RATE_LIMITED: Fault(config={"submit_faults": [429] * _MANY, "retry_after": 0}),
            ErrorCode.CONTENT_POLICY: Fault(prompt="sim:fail=content", says=("change the prompt",)),
            ErrorCode.INVALID_INPUT: Fault(prompt="sim:fail=image", says=("JPEG, PNG, GIF or WebP",)),
            ErrorCode.TRANSIENT: Fault(config={"submit_faults": [503] * _MANY, "retry_after": 0}),
        },
    ),
    "wireflow": Registration(
        "providers.simulators.wireflow:create_app",
        keys={"WIREFLOW_API_KEY": "sk-sim-wireflow-key"},
        speed=200.0,
        faults={
            ErrorCode.AUTH: Fault(env={"WIREFLOW_API_KEY": "wf-not-a-key-1234567"}, says=("WIREFLOW_API_KEY",)),
            ErrorCode.OUT_OF_CREDIT: Fault(config={"credits": 3}, says=("Top up",)),
            ErrorCode.RATE_LIMITED: Fault(config={"rate_limit_per_min": 0}, says=("retry in",)),
            ErrorCode.CONTENT_POLICY: Fault(prompt="sim:fail=content", says=("rephrase the prompt",)),
            ErrorCode.INVALID_INPUT: Fault(image=(64, 48), says=("at least 300 px",)),
            ErrorCode.TRANSIENT: Fault(faults="submit.503=1"),
        },
    ),
    "luma": Registration(
        "providers.simulators.luma:create_app",
        keys={"LUMAAI_API_KEY": "luma-sim-" + "4c" * 16},  # the docs' shape: luma-...
        image_url="https://storage.cdn-luma.com/dream_machine/sim/start.jpg",
        faults={
            ErrorCode.AUTH: Fault(env={"LUMAAI_API_KEY": "not-a-luma-key-0000"}, says=("LUMAAI_API_KEY",)),
            ErrorCode.OUT_OF_CREDIT: Fault(config={"balance_cents": 10}, says=("add credits",)),
            ErrorCode.RATE_LIMITED: Fault(config={"errors": [429] * _MANY}, says=("try again",)),
            ErrorCode.CONTENT_POLICY: Fault(prompt="sim:fail=content", says=("moderation", "change the prompt")),
            # Luma's 400 {"detail": "400: ..."} for a request it refuses (our checks leave none to trigger it).
            ErrorCode.INVALID_INPUT: Fault(config={"errors": [400]}, says=("fix the request",)),
            ErrorCode.TRANSIENT: Fault(config={"errors": [503] * _MANY}),
        },
    ),
    "replicate": Registration(
        "providers.simulators.replicate:create_app",
        keys={"REPLICATE_API_TOKEN": "r8_sim" + "7c" * 17},  # the simulator's DEFAULT_TOKEN
        faults={
            ErrorCode.AUTH: Fault(env={"REPLICATE_API_TOKEN": "r8_not-this-account-0"}, says=("REPLICATE_API_TOKEN",)),
            ErrorCode.OUT_OF_CREDIT: Fault(config={"credit": False}, says=("add credit",)),
            ErrorCode.RATE_LIMITED: Fault(config={"rate_limit": _MANY, "retry_after": 0}, says=("try again",)),
            ErrorCode.CONTENT_POLICY: Fault(prompt="sim:fail=content", says=("sensitive", "change the prompt")),
            # Replicate's 422 Input validation failed for a value our checks cannot judge (e.g. an unreadable image).
            ErrorCode.INVALID_INPUT: Fault(config={"invalid_field": "prompt"}, says=("fix the fields",)),
            ErrorCode.TRANSIENT: Fault(config={"server_errors": _MANY, "error_status": 503}),
        },
    ),
    "byteplus": Registration(
        "providers.simulators.byteplus:create_app",
        keys={"ARK_API_KEY": "sim-ark-api-key-0000"},
        faults={
            ErrorCode.AUTH: Fault(config={"api_keys": ["ark-someone-else"]}, says=("ARK_API_KEY",)),
            ErrorCode.OUT_OF_CREDIT: Fault(config={"overdue": True}, says=("top up",)),
            ErrorCode.RATE_LIMITED: Fault(config={"errors": [429] * _MANY}, says=("try again",)),
            ErrorCode.CONTENT_POLICY: Fault(prompt="sim:fail=content", says=("moderation", "change the prompt")),
            ErrorCode.INVALID_INPUT: Fault(image=(200, 150), says=("300-6000 px",)),
            ErrorCode.TRANSIENT: Fault(config={"errors": [503] * _MANY}),
        },
    ),
    "google": Registration(
        "providers.simulators.google:create_app",
        keys={"GEMINI_API_KEY": "AIzaSySimulatedGeminiKey" + "0" * 15},  # the simulator's DEFAULT_KEY
        faults={
            ErrorCode.AUTH: Fault(env={"GEMINI_API_KEY": "AIzaSyNotOurs" + "0" * 26}, says=("GEMINI_API_KEY",)),
            ErrorCode.OUT_OF_CREDIT: Fault(config={"credits_usd": 0.01}, says=("billing",)),
            ErrorCode.RATE_LIMITED: Fault(config={"errors": [429] * _MANY}, says=("try again",)),
            ErrorCode.CONTENT_POLICY: Fault(prompt="sim:fail=content", says=("safety", "change the prompt")),
            ErrorCode.INVALID_INPUT: Fault(prompt="sim:fail=image", image=(64, 48), says=("input image",)),
            ErrorCode.TRANSIENT: Fault(config={"errors": [503] * _MANY}),
        },
    ),
    "dashscope": Registration(
        "providers.simulators.dashscope:create_app",
        keys={"DASHSCOPE_API_KEY": "sk-sim" + "d5" * 16},  # the docs' shape: sk-...
        faults={
            ErrorCode.AUTH: Fault(config={"api_keys": ["sk-someone-else"]}, says=("DASHSCOPE_API_KEY",)),
            ErrorCode.OUT_OF_CREDIT: Fault(config={"arrearage": True}, says=("top up",)),
            ErrorCode.RATE_LIMITED: Fault(config={"errors": ["Throttling.RateQuota"] * _MANY}, says=("try again",)),
            ErrorCode.CONTENT_POLICY: Fault(prompt="sim:fail=content", says=("moderation", "change the prompt")),
            # DashScope's 400 InvalidParameter for a request it refuses (our checks leave none to trigger it).
            ErrorCode.INVALID_INPUT: Fault(config={"errors": ["InvalidParameter"]}, says=("fix the request",)),
            ErrorCode.TRANSIENT: Fault(config={"errors": ["ServiceUnavailable"] * _MANY}),
        },
    ),
    "minimax": Registration(
        "providers.simulators.minimax:create_app",
        keys={"MINIMAX_API_KEY": "sk-api-sim" + "3d" * 16},  # the platform's key shape: sk-api-...
        faults={
            ErrorCode.AUTH: Fault(config={"api_keys": ["sk-api-someone-else"]}, says=("MINIMAX_API_KEY",)),
            ErrorCode.OUT_OF_CREDIT: Fault(config={"balance_usd": 0.05}, says=("recharge",)),
            ErrorCode.RATE_LIMITED: Fault(config={"errors": [1002] * _MANY}, says=("try again",)),
            ErrorCode.CONTENT_POLICY: Fault(prompt="sim:fail=content", says=("content check", "change the prompt")),
            # MiniMax's 2013 invalid params for a value our checks cannot judge (e.g. an image URL it cannot use).
            ErrorCode.INVALID_INPUT: Fault(config={"errors": [2013]}, says=("fix the request",)),
            ErrorCode.TRANSIENT: Fault(config={"errors": [1033] * _MANY}, says=("try again",)),
        },
    ),
}

# name -> "module:factory"; each factory is create_app(speed: float = 1.0) -> ASGI app with `.state.sim`.
SIMULATORS: dict[str, str] = {name: entry.factory for name, entry in REGISTERED.items()}


def sample_env(base_url: str) -> dict[str, str]:
    """Environment that points every adapter at the simulators under `base_url`, with keys they accept."""
    env = {f"VIDEOGEN_{name.upper()}_BASE_URL": f"{base_url}/{name}" for name in REGISTERED}
    keys = {var: value for entry in REGISTERED.values() for var, value in entry.keys.items()}
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
