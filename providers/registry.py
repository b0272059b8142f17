"""Which providers exist, imported only when first used (cold start stays cheap)."""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from pathlib import Path

from providers.base import Provider, Tuning

# Order matters: with no VIDEOGEN_DEFAULT_PROVIDER, the first configured provider is the default,
# and the offline demo is the fallback when no key is set at all.
PROVIDERS: dict[str, str] = {
    "demo": "providers.demo:DemoProvider",
    "runway": "providers.runway:RunwayProvider",
    "fal": "providers.fal:FalProvider",
    "kling": "providers.kling:KlingProvider",
    "runblob": "providers.runblob:RunblobProvider",
    "wireflow": "providers.wireflow:WireflowProvider",
    "luma": "providers.luma:LumaProvider",
    "replicate": "providers.replicate:ReplicateProvider",
    "google": "providers.google:GoogleProvider",
    "byteplus": "providers.byteplus:BytePlusProvider",
    "dashscope": "providers.dashscope:DashScopeProvider",
    "minimax": "providers.minimax:MiniMaxProvider",
}
FALLBACK = "demo"


def provider_class(name: str) -> type[Provider]:
    module_name, _, attr = PROVIDERS[name].partition(":")
    return getattr(importlib.import_module(module_name), attr)


class Providers:
    """The provider instances of one engine, created on first use from one environment."""

    def __init__(self, env: Mapping[str, str], allowed_dirs: Sequence[Path] = (), tuning: Tuning | None = None):
        self.env = dict(env)
        self.allowed_dirs = list(allowed_dirs)
        self.tuning = tuning  # Settings' parsed numbers (None: each provider parses its env, as a script's would)
        self._instances: dict[str, Provider] = {}

    @staticmethod
    def names() -> list[str]:
        return list(PROVIDERS)

    def get(self, name: str) -> Provider:
        if name not in self._instances:
            self._instances[name] = provider_class(name)(self.env, self.allowed_dirs, tuning=self.tuning)
        return self._instances[name]

    def default_name(self) -> str:
        chosen = self.env.get("VIDEOGEN_DEFAULT_PROVIDER")
        if chosen:
            return chosen
        for name in PROVIDERS:
            if name != FALLBACK and self.get(name).configured():
                return name
        return FALLBACK

    async def aclose(self) -> None:
        for provider in self._instances.values():
            await provider.aclose()
        self._instances.clear()
