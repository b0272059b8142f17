"""The provider contract and the models every part of mcp-videogen shares.

A provider adapter is mostly a declaration: its ModelSpecs (capabilities and price rules), how a
VideoRequest maps to its wire format, and how its statuses and errors map to ours. Everything
shared (validation, pricing, polling cadence, downloads) lives here or in the engine.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

# Re-exported: adapters import the error types from here, with the rest of the contract.
from providers.errors import RETRYABLE as RETRYABLE
from providers.errors import ErrorCode as ErrorCode
from providers.errors import InvalidRequest as InvalidRequest
from providers.errors import ProviderError as ProviderError

if TYPE_CHECKING:  # providers.http is imported on first use: importing this module must stay cheap
    from providers.http import ProviderHTTP, RetryPolicy

Mode = Literal["text_to_video", "image_to_video"]


class PriceRule(BaseModel):
    """How a model is priced, in USD. Enough shapes for every provider we know:

    per second (with an audio rate), a flat price covering the first seconds, multipliers by
    resolution, or a table by duration.
    """

    model_config = ConfigDict(frozen=True)

    per_second: float = 0.0
    per_second_audio: float | None = Field(None, description="per-second rate when audio is generated")
    flat: float = Field(0.0, description="price of the first `flat_seconds` seconds")
    flat_seconds: float = 0.0
    by_duration: dict[str, float] | None = Field(None, description="fixed price per duration, e.g. {'5': 0.35}")
    resolution_factor: dict[str, float] = Field(default_factory=dict)
    note: str = ""

    def describe(self, with_note: bool = True) -> str:
        if self.by_duration:
            text = ", ".join(f"${v:.2f} for {k} s" for k, v in self.by_duration.items())
        elif self.flat:
            text = f"${self.flat:.2f} for the first {self.flat_seconds:g} s, then ${self.per_second:.3f}/s"
        elif self.per_second:
            text = f"${self.per_second:.3f}/s"
            if self.per_second_audio is not None:
                text += f" (${self.per_second_audio:.3f}/s with audio)"
        else:
            text = "free"
        if self.resolution_factor:
            text += "; " + ", ".join(f"{r} x{round(f, 2):g}" for r, f in self.resolution_factor.items())
        return text + (f"; {self.note}" if self.note and with_note else "")


class CostLine(BaseModel):
    item: str
    usd: float


class CostEstimate(BaseModel):
    """The price of one request, computed from the model's price rule. No job is created."""

    provider: str
    model: str
    usd: float = Field(description="estimated price in US dollars")
    breakdown: list[CostLine]
    rule: str = Field(description="the model's price rule in words")
    note: str = ""


class ModelSpec(BaseModel):
    """What a model can do and what it costs. Requests are validated against this before any call."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    description: str = ""
    modes: tuple[Mode, ...] = ("text_to_video",)
    durations: tuple[float, ...]
    default_duration: float
    aspect_ratios: tuple[str, ...]
    default_aspect_ratio: str
    resolutions: tuple[str, ...]
    default_resolution: str
    audio: bool = Field(False, description="whether audio can be generated")
    default_audio: bool = False
    max_images: int = 0
    end_image: bool = False
    negative_prompt: bool = False
    seed: bool = False
    max_prompt_chars: int = 2500
    options: dict[str, str] = Field(
        default_factory=dict, description="provider-specific settings this model takes: name -> what it takes"
    )
    price: PriceRule
    price_source: str = Field("", description="https URL where the provider publishes this price")
    price_checked: str = Field("", description="YYYY-MM-DD: when the price was last checked against price_source")
    typical_seconds: float = Field(120.0, description="how long a job usually takes; sets the polling cadence")

    @property
    def priced(self) -> bool:
        """Whether any request to this model can cost money (then its price needs a source)."""
        rule = self.price
        return bool(rule.per_second or rule.per_second_audio or rule.flat or any((rule.by_duration or {}).values()))

    def price_at_defaults(self) -> float:
        """The price of a request that sets nothing: the model's default duration, resolution and audio."""
        return self.price_for(self.default_duration, self.default_resolution, self.default_audio)[0]

    def price_for(self, duration: float, resolution: str, audio: bool) -> tuple[float, list[CostLine]]:
        rule = self.price
        lines: list[CostLine] = []
        if rule.by_duration:
            key = f"{duration:g}"
            usd = rule.by_duration.get(key, 0.0)
            lines.append(CostLine(item=f"{key} s video", usd=usd))
        else:
            rate = rule.per_second_audio if (audio and rule.per_second_audio is not None) else rule.per_second
            extra = max(0.0, duration - rule.flat_seconds) if rule.flat else duration
            if rule.flat:
                lines.append(CostLine(item=f"first {rule.flat_seconds:g} s", usd=rule.flat))
            if extra:
                what = "with audio" if audio and rule.per_second_audio is not None else ""
                lines.append(CostLine(item=f"{extra:g} s x ${rate:.3f}/s {what}".strip(), usd=extra * rate))
            usd = sum(line.usd for line in lines)
        factor = rule.resolution_factor.get(resolution, 1.0)
        if factor != 1.0:
            lines.append(CostLine(item=f"{resolution} x{factor:g}", usd=usd * (factor - 1)))
            usd *= factor
        return round(usd, 4), lines


class VideoRequest(BaseModel):
    """A request after validation: every field resolved against the model's spec."""

    prompt: str
    provider: str
    model: str
    mode: Mode
    duration: float
    aspect_ratio: str
    resolution: str
    images: list[str] = Field(default_factory=list, description="URLs, data URIs or local paths")
    end_image: str | None = None
    negative_prompt: str | None = None
    seed: int | None = None
    audio: bool = False
    options: dict[str, Any] = Field(default_factory=dict, description="provider-specific settings (ModelSpec.options)")


JobStatus = Literal["pending", "queued", "running", "downloading", "succeeded", "failed", "cancelled"]
TERMINAL: frozenset[str] = frozenset({"succeeded", "failed", "cancelled"})


class Snapshot(BaseModel):
    """What the provider says about a job right now, in our terms."""

    status: Literal["queued", "running", "succeeded", "failed", "cancelled"]
    progress: float | None = None
    queue_position: int | None = None
    message: str = ""
    video_url: str | None = None
    error: ProviderErrorInfo | None = None
    charged_usd: float | None = None


class ProviderErrorInfo(BaseModel):
    code: ErrorCode
    message: str
    retryable: bool = False


Snapshot.model_rebuild()


class Submission(BaseModel):
    """What a provider hands back when it accepts a job."""

    ref: str = Field(description="the provider's id for the job")
    state: dict[str, Any] = Field(default_factory=dict, description="anything else needed to poll it later")
    charged_usd: float | None = None


class Provider:
    """A video provider. Subclasses declare their models and map requests, statuses and errors."""

    name: ClassVar[str]
    title: ClassVar[str]
    env_vars: ClassVar[tuple[str, ...]] = ()
    default_model: ClassVar[str]
    # Declared on the class; an instance may narrow it (the demo's typical_seconds follows its latency).
    models: tuple[ModelSpec, ...]
    supports_cancel: ClassVar[bool] = False
    # True only when sending the same submit twice cannot cost twice (the local demo).
    resubmit_is_safe: ClassVar[bool] = False
    # True when `reconcile` really looks the job up by our id (so "not found" means "not created").
    can_reconcile: ClassVar[bool] = False
    # Seconds after a submit started within which `reconcile` may still be called (an idempotency key's
    # replay window); None: no limit.
    reconcile_within: ClassVar[float | None] = None
    # True when `submit` passes a callback URL the provider POSTs to, and `parse_callback` reads those posts.
    supports_callbacks: ClassVar[bool] = False

    base_url_default: ClassVar[str] = ""

    def __init__(self, env: Mapping[str, str] | None = None, allowed_dirs: Sequence[Path] = ()):
        self.env = dict(os.environ if env is None else env)
        # Where local image paths may be read from (already checked at request time; read again here).
        self.allowed_dirs = list(allowed_dirs)
        self._http: ProviderHTTP | None = None

    @property
    def base_url(self) -> str:
        """The API root: VIDEOGEN_<NAME>_BASE_URL (a proxy or a simulator) or the provider's own."""
        return (self.env.get(f"VIDEOGEN_{self.name.upper()}_BASE_URL") or self.base_url_default).rstrip("/")

    def secrets(self) -> list[str]:
        """The credential values, for redaction."""
        return [self.env[var] for var in self.env_vars if self.env.get(var)]

    # -- HTTP ------------------------------------------------------------------------------------
    @property
    def http(self) -> ProviderHTTP:
        """This provider's one HTTP client (retries, error mapping, redaction), made on first use."""
        if self._http is None:
            from providers.http import ProviderHTTP

            self._http = ProviderHTTP(
                self.title, self.base_url, secrets=self.secrets(), policy=self.retry_policy(), **self.http_options()
            )
        return self._http

    def http_options(self) -> dict[str, Any]:
        """What this provider's client adds: ProviderHTTP's `headers`, `auth` (a callable run per
        request, for rotating tokens) and `error_mapper` keywords. May raise NOT_CONFIGURED."""
        return {}

    def retry_policy(self) -> RetryPolicy:
        """The shared retry policy, its waits scaled by VIDEOGEN_RETRY_SCALE (tests make them short) and its
        read timeout set by VIDEOGEN_HTTP_TIMEOUT. An adapter that needs another overrides this and changes
        what it returns, so the settings hold."""
        from providers.http import DEFAULT_POLICY

        scale = self._env_number("VIDEOGEN_RETRY_SCALE", 1.0)
        policy = DEFAULT_POLICY
        return replace(
            policy,
            base_delay=policy.base_delay * scale,
            max_delay=policy.max_delay * scale,
            read_timeout=self._env_number("VIDEOGEN_HTTP_TIMEOUT", policy.read_timeout),
        )

    def _env_number(self, name: str, default: float) -> float:
        raw = self.env.get(name, "").strip()
        try:
            value = float(raw) if raw else default
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and value > 0):
            raise ProviderError(ErrorCode.INTERNAL, f"{name} must be a positive number, not {raw!r}.")
        return value

    # -- declaration helpers -------------------------------------------------------------------
    def spec(self, model: str) -> ModelSpec | None:
        return next((m for m in self.models if m.id == model), None)

    def configured(self) -> bool:
        return all(self.env.get(var) for var in self.env_vars)

    def missing_env(self) -> list[str]:
        return [var for var in self.env_vars if not self.env.get(var)]

    def poll_interval(self, spec: ModelSpec, elapsed: float) -> float:
        """Seconds until the next status request: frequent at first, then about 1/20 of the typical run."""
        base = max(1.0, spec.typical_seconds / 20)
        return min(base, 1.0 + elapsed / 10)

    def check(self, request: VideoRequest) -> None:
        """Rules a ModelSpec cannot express (e.g. ratios allowed only with a start image). Raise
        InvalidRequest; runs when the request is validated, before any job exists or money is spent."""

    # -- the job life cycle --------------------------------------------------------------------
    async def submit(self, job_id: str, request: VideoRequest, callback_url: str | None = None) -> Submission:
        """Send the job. `request` was validated against the spec, and its images were checked to be
        readable images inside the allowed folders (or URLs) before this is called. `callback_url` (only
        given to providers with `supports_callbacks`) is where the provider should POST status changes."""
        raise NotImplementedError

    async def poll(self, submission: Submission, request: VideoRequest) -> Snapshot:
        raise NotImplementedError

    def parse_callback(self, payload: dict[str, Any], submission: Submission) -> Snapshot | None:
        """What a callback the provider POSTed says, in the same terms as `poll` (sharing its mapping). None:
        nothing we can act on (an unknown status, another job's id, a result the callback does not carry);
        the engine then asks with a poll. The per-job token proved who sent it, not that it is well formed:
        the engine treats an exception like None."""
        return None

    async def cancel(self, submission: Submission, request: VideoRequest) -> None:
        """Cancel at the provider. May update `submission.state`; the engine stores it afterwards."""
        raise ProviderError(ErrorCode.INVALID_INPUT, f"{self.title} has no way to cancel a job once submitted.")

    async def reconcile(self, job_id: str, request: VideoRequest) -> Submission | None:
        """Find a job whose submit outcome is unknown. None: the provider cannot tell us."""
        return None

    async def fetch(self, snapshot: Snapshot, submission: Submission, request: VideoRequest, dest: Path) -> None:
        """Write the finished video to `dest` (a temp file). Only for providers that make the file
        themselves; for a snapshot with a `video_url` the engine's shared downloader is used instead."""
        raise NotImplementedError

    async def aclose(self) -> None:
        """Release connections."""
        if self._http is not None:
            client, self._http = self._http, None
            await client.aclose()


def about_another_job(given: Any, ref: str) -> bool:
    """Whether a callback names a job other than `ref` (a callback may beat the submit's reply, when the
    provider's id is not known yet: then it cannot be told, and the per-job token vouches for it)."""
    return bool(ref and given and str(given) != ref)


def json_body(response: Any, default: Any = None) -> Any:
    """A response's JSON, or `default` when its body is not JSON (a proxy's HTML page, a cut-off body)."""
    try:
        return response.json()
    except ValueError:
        return default
