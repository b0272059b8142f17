"""The provider contract and the models every part of mcp-videogen shares.

A provider adapter is mostly a declaration: its ModelSpecs (capabilities and price rules), how a
VideoRequest maps to its wire format, and how its statuses and errors map to ours. Everything
shared (validation, pricing, polling cadence, downloads) lives here or in the engine. An API that takes a
job by POST and is then asked about it by id (most are) is declared on a TaskProvider: its paths, a wire
model for each answer, a STATUS table and ERRORS / FAILURES tables; submit, poll, cancel and callbacks are
shared steps, each overridable.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Literal, TypeVar
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field, ValidationError

# Re-exported: adapters import the error types from here, with the rest of the contract.
from providers.errors import RETRYABLE as RETRYABLE
from providers.errors import ErrorCode as ErrorCode
from providers.errors import InvalidRequest as InvalidRequest
from providers.errors import ProviderError as ProviderError

if TYPE_CHECKING:  # providers.http is imported on first use: importing this module must stay cheap
    import httpx

    from providers.http import ProviderHTTP, RetryPolicy

# video_to_video: an input video (VideoRequest.video) is edited or continued; a model takes one when its spec
# says `video` (ModelSpec.modes lists what it makes from text and images).
Mode = Literal["text_to_video", "image_to_video", "video_to_video"]


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
    per_video: float = Field(0.0, description="a fixed amount per video, on top (not scaled by resolution)")
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
        if self.per_video:
            text += f"; plus ${self.per_video:.2f} a video"
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
    video: bool = Field(False, description="takes an input video (video_to_video)")
    max_video_bytes: int = Field(0, description="largest input video as a local file or data URI; 0: the default cap")
    max_video_seconds: float = Field(0.0, description="longest input video the provider takes; 0: not stated")
    min_video_side: int = Field(0, description="input video's shorter side in pixels at least; 0: not stated")
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
        if rule.per_video:
            lines.append(CostLine(item="per video", usd=rule.per_video))
            usd += rule.per_video
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
    video: str | None = Field(None, description="input video (video_to_video): URL, data URI or local path")
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


# A Submission.state key: the provider took the job but it must not run (Runway's own estimate is above our quote);
# the value says why. The engine stores the job's id first, then cancels it as if asked, with this message.
CANCEL_AT_ONCE = "cancel_at_once"
# With it: the most the provider says the job may charge (USD, Runway's estimatedCost). The job counts toward
# spend at that figure, since a task the provider had started before the cancel keeps its credits.
AT_MOST_USD = "at_most_usd"


class Submission(BaseModel):
    """What a provider hands back when it accepts a job."""

    ref: str = Field(description="the provider's id for the job")
    state: dict[str, Any] = Field(default_factory=dict, description="anything else needed to poll it later")
    charged_usd: float | None = None


@dataclass(frozen=True)
class Tuning:
    """The providers' VIDEOGEN_* numbers, parsed once by server.settings.Settings (its NUMBERS table: a bad value
    stops the start) and handed to every provider. Unset: the providers' own (DEFAULT_POLICY, the demo's 5 s)."""

    retry_scale: float = 1.0  # VIDEOGEN_RETRY_SCALE: multiplier on the retry waits (tests make them short)
    http_timeout: float | None = None  # VIDEOGEN_HTTP_TIMEOUT: seconds an answer may take
    demo_latency: float | None = None  # VIDEOGEN_DEMO_LATENCY: seconds a demo video takes

    @staticmethod
    def from_env(env: Mapping[str, str]) -> Tuning:
        """For a provider made without Settings (a test, a script): the same table, the same rules and message.
        A bad value is a BadSetting, which is both a ProviderError (INTERNAL) and a ValueError."""
        from server.settings import SettingsError, provider_tuning  # server.settings imports this module

        try:
            return provider_tuning(env)
        except SettingsError as error:
            raise BadSetting(str(error)) from None


class BadSetting(ProviderError, ValueError):
    """A provider made without Settings was given a VIDEOGEN_* number it cannot use (Settings refuses it at start)."""

    def __init__(self, message: str):
        super().__init__(ErrorCode.INTERNAL, message, retryable=False)


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
    # The id's name in the submit answer, and where a person checks for a job whose id was lost: for the one
    # "no id in the answer" error (no_id).
    id_field: ClassVar[str] = "id"
    where_to_check: ClassVar[str] = "the provider's dashboard"

    def __init__(
        self, env: Mapping[str, str] | None = None, allowed_dirs: Sequence[Path] = (), tuning: Tuning | None = None
    ):
        self.env = dict(os.environ if env is None else env)
        # The numbers Settings parsed (Settings.tuning); None: parsed here from `env`, by Settings' own rules.
        self.tuning = Tuning.from_env(self.env) if tuning is None else tuning
        # Where local image paths may be read from (already checked at request time; read again here).
        self.allowed_dirs = list(allowed_dirs)
        self._http: ProviderHTTP | None = None

    def no_id(
        self, status: int, job_id: str, *, what: str = "the request", id_field: str = "", detail: str = ""
    ) -> ProviderError:
        """The one error for a submit answered without the job's id (TaskProvider's submit, and any adapter's own):
        the job may exist and be charged. `what` was accepted; `id_field` (default: the class's) was missing;
        `detail` follows it (how many answers, their request ids)."""
        then = (
            f"it is looked up by our job id ({job_id}) instead"
            if self.can_reconcile
            else f"check {self.where_to_check} before submitting it again"
        )
        return ProviderError(
            ErrorCode.SUBMIT_UNCONFIRMED,
            f"{self.title} accepted {what} (HTTP {status}) but sent no {id_field or self.id_field}{detail}; the video "
            f"may be generating and charged: {then}.",
            retryable=False,
        )

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
        read timeout set by VIDEOGEN_HTTP_TIMEOUT, both from self.tuning. An adapter that needs another
        overrides this and changes what it returns, so the settings hold."""
        from providers.http import DEFAULT_POLICY

        scale, timeout = self.tuning.retry_scale, self.tuning.http_timeout
        policy = DEFAULT_POLICY
        return replace(
            policy,
            base_delay=policy.base_delay * scale,
            max_delay=policy.max_delay * scale,
            read_timeout=policy.read_timeout if timeout is None else timeout,
        )

    # -- declaration helpers -------------------------------------------------------------------
    def spec(self, model: str) -> ModelSpec | None:
        return next((m for m in self.models if m.id == model), None)

    def configured(self) -> bool:
        return all(self.env.get(var) for var in self.env_vars)

    def cancels(self, model: str) -> bool:
        """Whether a submitted job on this model can be cancelled (most providers: all or none of them)."""
        return self.supports_cancel

    # An aggregator (fal, Replicate) also runs models it publishes but we do not curate, read from their schemas.
    search_without_key = False  # whether `search` works before the provider's credentials are set

    async def describe(self, model_id: str) -> ModelSpec | None:
        """A published model's spec, read from its schema (cached by the provider); None: not one of its models,
        or a provider with no catalogue beyond its curated models."""
        return None

    async def search(self, text: str, limit: int = 8) -> list[str]:
        """Model ids of its live catalogue matching `text`, best first (none for a provider without one)."""
        return []

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


# -- adapters as declarations: the task template ---------------------------------------------------------------
# Most video APIs take a job with one POST, answer with its id, and are asked about it by that id until it ends.
# A TaskProvider declares that: its paths, a wire model for each answer, what its states mean (STATUS), what
# its error answers mean (ERRORS) and why its jobs fail (FAILURES). The steps below are shared; an adapter
# overrides one where its API differs (Kling's call step renews a token, Google's videos are fetched, ...).


class Wire(BaseModel):
    """Base of a provider's answer models. Extra fields are ignored (providers add fields without a new API
    version) and a number arrives as a string where a str is declared; with providers.wire.Maybe a field of the
    wrong shape reads as absent, so an odd answer takes one of the error paths rather than raising."""

    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True, populate_by_name=True)

    @classmethod
    def read(cls: type[W], body: Any) -> W | None:
        """`body` as this model, or None when it is not that shape (not an object, a wrong type)."""
        if not isinstance(body, dict):
            return None
        try:
            return cls.model_validate(body)
        except ValidationError:
            return None


W = TypeVar("W", bound=Wire)


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


class Accepted(Wire):
    """The submit answer. A subclass declares the provider's fields and names the one with the id."""

    ref_field: ClassVar[str] = "id"

    def job_ref(self) -> str | None:
        """The provider's id for the job (None: the answer has none, which the template reports)."""
        return _text(getattr(self, self.ref_field, None))

    def job_charge(self) -> float | None:
        """USD the submit itself charged, when the answer says (runblob's `price`)."""
        return None


class TaskAnswer(Wire):
    """A status answer (and, for most providers, a callback's body). A subclass declares the provider's fields,
    names the ones with the id, the state and the video URL (a field or a property), and overrides the readers
    its answers need beyond those."""

    ref_field: ClassVar[str] = "id"
    state_field: ClassVar[str] = "status"
    video_field: ClassVar[str] = "video_url"

    def job_ref(self) -> str | None:
        """The job's id as the answer gives it (a callback about another job is ignored)."""
        return _text(getattr(self, self.ref_field, None))

    def job_state(self) -> str | None:
        """The provider's state word: a key of the provider's STATUS table."""
        return _text(getattr(self, self.state_field, None))

    def job_video(self) -> str | None:
        return _text(getattr(self, self.video_field, None))

    def job_progress(self) -> float | None:
        return None

    def job_charge(self) -> float | None:
        """USD the job cost, when the answer says (credits, units or tokens times their price)."""
        return None

    def job_failure(self) -> tuple[str, str]:
        """(the provider's failure code, its reason in words), either may be empty: what FAILURES match."""
        return "", ""

    def readable(self) -> bool:
        """Whether this is a status answer at all (False: asked again later, as TRANSIENT)."""
        return True


class ErrorAnswer(Wire):
    """An error body. The default reads any JSON shape with providers.http.describe; a provider whose errors
    carry a code declares its fields and overrides the readers."""

    raw: Any = Field(None, exclude=True)

    @classmethod
    def of(cls: type[E], response: httpx.Response) -> E:
        body = json_body(response)
        found = cls.read(body) or cls()
        found.raw = body
        return found

    def error_code(self) -> str:
        return ""

    def error_text(self) -> str:
        from providers.http import describe

        return describe(self.raw)

    def fields(self, status: int | None) -> dict[str, Any]:
        """More names the ERRORS messages may use (a provider's way of quoting its code and message); `status`
        is None for an error inside a 200 answer."""
        text = self.error_text()
        return {"said": f": {text}" if text else ""}


E = TypeVar("E", bound=ErrorAnswer)
A = TypeVar("A", bound=Accepted)
T = TypeVar("T", bound=TaskAnswer)


def _one_of(value: object, allowed: int | str | tuple[Any, ...] | range | None) -> bool:
    if allowed is None:
        return True
    return value in allowed if isinstance(allowed, (tuple, range)) else value == allowed


@dataclass(frozen=True)
class Rule:
    """A row of an ERRORS or FAILURES table: when it applies, what it is in our terms, and the message (what
    happened and what to do, a str.format template). Every condition given must hold; the first row that
    applies wins, so put narrow rows first (an OR is two rows with one message).

    Conditions: `status` (HTTP status: an int, a tuple or a range), `method` ("GET", "POST", ...), `state`
    (a failed job's state word), `code` (a regex searched in the provider's error code) and `text` (a regex
    searched in its message, any case). Templates may use {title}, {status}, {method}, {state}, {code},
    {text}, {matched} (what `code` or `text` matched) and what the answer's `fields()` add (e.g. {said})."""

    code: ErrorCode
    message: str
    status: int | tuple[int, ...] | range | None = None
    method: str | None = None
    state: str | tuple[str, ...] | None = None
    match: str | None = None
    text: str | None = None
    retryable: bool | None = None  # None: as the code says (RETRYABLE)

    def applies(self, *, status: int | None, method: str, state: str, code: str, text: str) -> str | None:
        """What this row matched ("" when it has no pattern), or None when it does not apply."""
        if not (_one_of(status, self.status) and _one_of(method, self.method) and _one_of(state, self.state)):
            return None
        if (self.status is not None and status is None) or (self.state is not None and not state):
            return None
        matched = ""
        if self.match is not None:
            found = re.search(self.match, code)
            if found is None:
                return None
            matched = found[0]
        if self.text is not None:
            found = re.search(self.text, text, re.IGNORECASE)
            if found is None:
                return None
            matched = matched or found[0]
        return matched

    def render(self, fields: Mapping[str, Any]) -> str:
        return self.message.format_map(fields)


def find_rule(
    rules: Sequence[Rule],
    *,
    status: int | None = None,
    method: str = "",
    state: str = "",
    code: str = "",
    text: str = "",
) -> tuple[Rule, str] | None:
    """The first row of `rules` that applies, with what it matched."""
    for rule in rules:
        matched = rule.applies(status=status, method=method, state=state, code=code, text=text)
        if matched is not None:
            return rule, matched
    return None


@dataclass(frozen=True)
class State:
    """A row of a STATUS table: a provider state word in our terms. `message` is a template ({title}, {state},
    {progress}); a failed state with one meaning (an expired task) names its `error`, others are read with the
    FAILURES table."""

    status: Literal["queued", "running", "succeeded", "failed", "cancelled"]
    message: str = ""
    error: Rule | None = None


UNKNOWN_STATE = State("running", "{title} reports {state!r}; still watching")
NO_VIDEO = Rule(
    ErrorCode.PROVIDER_FAILED,
    "{title} reported the video done but gave no video URL; submitting again may work.",
    retryable=True,
)
FAILED_SOMEHOW = Rule(
    ErrorCode.PROVIDER_FAILED,
    "{title} could not generate the video ({said}); submitting again may work.",
    retryable=True,
)


class TaskProvider(Provider, Generic[A, T]):
    """A provider whose API takes a job by POST and is asked about it by id: a declaration.

    Declare: `submit_path`, `status_path` and `cancel_path` ("{ref}" is the job's id, quoted; no cancel_path:
    the provider cannot cancel), the wire models `accepted_model` / `status_model` / `error_model`, and the
    tables STATUS (state word -> State), ERRORS and FAILURES (Rule rows; FAILED_SOMEHOW and NO_VIDEO for the
    rest); write `body(request)`. The steps are shared: the Bearer key of `env_vars[0]`, the submit and its one
    "no id in the answer" error, the poll (a 404 after our own cancel is that cancel), callbacks read with the
    status model, the cancel (a 404 is already gone, a refusal says `cancel_refused`), charges from the answer.

    Hooks, where an API differs: `auth_headers` / `http_options` (another header, a per-request token), `call`
    (an envelope, a token to renew: Kling), `request_body` (the job id in the body), `submit_path_for`,
    `submit_headers`, `add_callback` (a callback named another way: Google), `submission_state`, `status_url`,
    `charged_usd`, `state_message`, `failure_fields`, `missing_video`, `fetches_video` (the provider's `fetch`
    reads the video: Google), `cancel` (DashScope), and any Provider method (`check`, `reconcile`, `fetch`)."""

    submit_path: ClassVar[str] = ""
    status_path: ClassVar[str] = ""
    cancel_path: ClassVar[str | None] = None
    cancel_method: ClassVar[str] = "DELETE"
    # When a cancel is refused (INVALID_INPUT: the job is past cancelling): the message, {title} and {ref}.
    cancel_refused: ClassVar[str] = ""
    # The submit body's field for the callback URL (with supports_callbacks).
    callback_field: ClassVar[str] = "callback_url"
    # The message of a job cancelled by us that the provider forgets (a status read then answers 404).
    cancelled_message: ClassVar[str] = "cancelled at {title}"
    unreadable: ClassVar[str] = "{title} sent an unreadable status answer; asking again later."

    accepted_model: type[A]
    status_model: type[T]
    error_model: ClassVar[type[ErrorAnswer]] = ErrorAnswer
    STATUS: ClassVar[Mapping[str, State]] = {}
    UNKNOWN_STATE: ClassVar[State] = UNKNOWN_STATE
    ERRORS: ClassVar[Sequence[Rule]] = ()
    FAILURES: ClassVar[Sequence[Rule]] = ()
    FAILED_SOMEHOW: ClassVar[Rule] = FAILED_SOMEHOW
    # A finished job without a video. A TRANSIENT rule means "ask again later" (the URL may come next read).
    NO_VIDEO: ClassVar[Rule] = NO_VIDEO
    # True when `fetch` reads the finished video (job_video is then only a sign that there is one).
    fetches_video: ClassVar[bool] = False

    # -- the HTTP step ---------------------------------------------------------------------------
    def http_options(self) -> dict[str, Any]:
        return {"headers": self.auth_headers(), "error_mapper": self.error_for}

    def auth_headers(self) -> dict[str, str]:
        """`Authorization: Bearer <the first env var>`, or NOT_CONFIGURED naming it."""
        var = self.env_vars[0]
        key = self.env.get(var, "").strip()  # a trailing newline is a common 401
        if not key:
            raise ProviderError(ErrorCode.NOT_CONFIGURED, f"{self.title} is not configured: set {var}.")
        return {"Authorization": f"Bearer {key}"}

    async def call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
        expected: Sequence[int] = (200, 201, 202, 204),
    ) -> tuple[int, Any]:
        """One request: (HTTP status, the JSON answer or None). Errors are raised, mapped by `error_for`."""
        response = await self.http.request(
            method, path, json=json, headers=headers, idempotent=idempotent, expected=expected
        )
        return response.status_code, json_body(response)

    @classmethod
    def error_for(cls, response: httpx.Response) -> ProviderError | None:
        """An error answer in our terms by the ERRORS table; None leaves it to the shared default."""
        try:
            method = response.request.method
            ref = response.request.url.path.rsplit("/", 1)[-1]
        except RuntimeError:  # a response made without its request
            method, ref = "", ""
        return cls.error_from(cls.error_model.of(response), status=response.status_code, method=method, ref=ref)

    @classmethod
    def error_from(
        cls, answer: ErrorAnswer, *, status: int | None, method: str = "", ref: str = ""
    ) -> ProviderError | None:
        """`answer` by the ERRORS table (status None: an error inside a 200 answer, as Kling sends them)."""
        code, text = answer.error_code(), answer.error_text()
        found = find_rule(cls.ERRORS, status=status, method=method, code=code, text=text)
        if found is None:
            return None
        rule, matched = found
        fields = {
            "title": cls.title,
            "status": status,
            "method": method,
            "ref": ref,
            "code": code,
            "text": text,
            "matched": matched,
            **answer.fields(status),
        }
        return ProviderError(rule.code, rule.render(fields), retryable=rule.retryable)

    # -- submit ----------------------------------------------------------------------------------
    def body(self, request: VideoRequest) -> dict[str, Any]:
        """The JSON the provider receives for a validated request."""
        raise NotImplementedError

    async def request_body(self, job_id: str, request: VideoRequest) -> dict[str, Any]:
        """`body(request)`, made in a worker thread: it may read and re-encode images."""
        import anyio.to_thread

        return await anyio.to_thread.run_sync(self.body, request)

    def add_callback(self, body: dict[str, Any], callback_url: str, job_id: str) -> None:
        """Where the submit body names the callback URL (`callback_field`)."""
        body[self.callback_field] = callback_url

    def submit_path_for(self, request: VideoRequest) -> str:
        return self.submit_path

    def submit_headers(self, job_id: str) -> Mapping[str, str] | None:
        return None

    def submission_state(self, accepted: A, request: VideoRequest) -> dict[str, Any]:
        """What to keep with the submission for later steps (an endpoint, a request id)."""
        return {}

    async def submit(self, job_id: str, request: VideoRequest, callback_url: str | None = None) -> Submission:
        body = await self.request_body(job_id, request)
        if callback_url:
            self.add_callback(body, callback_url, job_id)
        status, answer = await self.call(
            "POST", self.submit_path_for(request), json=body, headers=self.submit_headers(job_id)
        )
        accepted = self.accepted_model.read(answer)
        ref = accepted.job_ref() if accepted is not None else None
        if accepted is None or not ref:
            raise self.no_id(status, job_id)
        return Submission(ref=ref, state=self.submission_state(accepted, request), charged_usd=accepted.job_charge())

    # -- poll ------------------------------------------------------------------------------------
    def status_url(self, submission: Submission, request: VideoRequest) -> str:
        return self.status_path.format(ref=quote(submission.ref, safe=""))

    async def poll(self, submission: Submission, request: VideoRequest) -> Snapshot:
        try:
            _, answer = await self.call("GET", self.status_url(submission, request))
        except ProviderError as error:
            # A provider that forgets a cancelled job: after our own cancel a 404 is that cancel.
            if error.code == ErrorCode.NOT_FOUND and submission.state.get("cancelled"):
                return Snapshot(status="cancelled", message=self.cancelled_message.format(title=self.title))
            raise
        return self.read_status(answer, submission, request)

    def read_status(
        self, body: Any, submission: Submission | None = None, request: VideoRequest | None = None
    ) -> Snapshot:
        """A status answer's JSON in our terms; one that is not a status answer is TRANSIENT (asked again)."""
        task = self.status_model.read(body)
        if task is None or not task.readable():
            raise ProviderError(ErrorCode.TRANSIENT, self.unreadable.format(title=self.title))
        return self.snapshot(task, submission, request)

    def parse_callback(self, payload: dict[str, Any], submission: Submission) -> Snapshot | None:
        """A callback carrying the status answer's shape, read with the same tables. None for another job, a
        state the table does not know, or a finished job whose video is not in it yet (a poll reads those)."""
        task = self.status_model.read(payload)
        if task is None or task.job_state() not in self.STATUS or about_another_job(task.job_ref(), submission.ref):
            return None
        if self.STATUS[task.job_state() or ""].status == "succeeded" and not task.job_video():
            return None
        return self.snapshot(task, submission, None)

    def snapshot(self, task: T, submission: Submission | None = None, request: VideoRequest | None = None) -> Snapshot:
        """A status answer (or a callback) in our terms, by the STATUS table."""
        state = task.job_state() or ""
        rule = self.STATUS.get(state)
        if rule is None:
            return Snapshot(status="running", message=self.state_message(self.UNKNOWN_STATE, task, request))
        if rule.status == "succeeded":
            url = task.job_video()
            if not url:
                return self.missing_video(task, submission, request)
            charged = self.charged_usd(task, submission, request)
            message = self.state_message(rule, task, request)
            url = None if self.fetches_video else url  # the engine then calls `fetch`
            return Snapshot(status="succeeded", progress=1.0, message=message, video_url=url, charged_usd=charged)
        if rule.status == "failed":
            error = self._info(rule.error, self._fields(task)) if rule.error else self.failure(task)
            charged = self.charged_usd(task, submission, request)
            return Snapshot(status="failed", message=error.message, error=error, charged_usd=charged)
        if rule.status == "cancelled":
            charged = self.charged_usd(task, submission, request)
            return Snapshot(status="cancelled", message=self.state_message(rule, task, request), charged_usd=charged)
        progress = task.job_progress() if rule.status == "running" else None
        return Snapshot(status=rule.status, progress=progress, message=self.state_message(rule, task, request))

    def missing_video(self, task: T, submission: Submission | None, request: VideoRequest | None) -> Snapshot:
        """A finished job without a video, by NO_VIDEO: failed, or (a TRANSIENT rule) asked about again."""
        if self.NO_VIDEO.code == ErrorCode.TRANSIENT:
            raise ProviderError(ErrorCode.TRANSIENT, self.NO_VIDEO.render(self._fields(task)))
        error = self._info(self.NO_VIDEO, self._fields(task))
        charged = self.charged_usd(task, submission, request)
        return Snapshot(status="failed", message=error.message, error=error, charged_usd=charged)

    def state_message(self, rule: State, task: T, request: VideoRequest | None) -> str:
        return rule.message.format_map(self._fields(task))

    def charged_usd(self, task: T, submission: Submission | None, request: VideoRequest | None) -> float | None:
        """What a finished job cost: by default what the answer says (`job_charge`)."""
        return task.job_charge()

    def failure(self, task: T) -> ProviderErrorInfo:
        """A failed job's error, by the FAILURES table (FAILED_SOMEHOW when no row applies)."""
        code, reason = task.job_failure()
        fields = self._fields(task)
        found = find_rule(self.FAILURES, state=task.job_state() or "", code=code, text=reason)
        rule, matched = found or (self.FAILED_SOMEHOW, "")
        return self._info(rule, {**fields, "matched": matched, **self.failure_fields(task, matched)})

    def failure_fields(self, task: T, matched: str) -> dict[str, Any]:
        """More names FAILURES messages may use. By default {said}: "code: reason", or what there is."""
        code, reason = task.job_failure()
        reason = reason.strip().rstrip(".")
        said = f"{code}: {reason}" if code and reason else code or reason or "no reason given"
        return {"said": said}

    def _fields(self, task: T) -> dict[str, Any]:
        code, reason = task.job_failure()
        progress = task.job_progress()
        return {
            "title": self.title,
            "state": task.job_state(),  # None when the answer has none: {state!r} says so
            "progress": progress or 0.0,
            "code": code,
            "reason": reason,
            "said": reason or code,
            "matched": "",
        }

    @staticmethod
    def _info(rule: Rule, fields: Mapping[str, Any]) -> ProviderErrorInfo:
        retryable = rule.code in RETRYABLE if rule.retryable is None else rule.retryable
        return ProviderErrorInfo(code=rule.code, message=rule.render(fields), retryable=retryable)

    # -- cancel ----------------------------------------------------------------------------------
    async def cancel(self, submission: Submission, request: VideoRequest) -> None:
        """`cancel_method cancel_path`; a job already gone counts as cancelled; a refusal (the job is past
        cancelling) says so with `cancel_refused`. Without a cancel_path: the provider cannot cancel."""
        if self.cancel_path is None:
            return await super().cancel(submission, request)
        path = self.cancel_path.format(ref=quote(submission.ref, safe=""))
        try:
            await self.call(self.cancel_method, path, idempotent=True)
        except ProviderError as error:
            if error.code == ErrorCode.INVALID_INPUT and self.cancel_refused:
                message = self.cancel_refused.format(title=self.title, ref=submission.ref, error=error.message)
                raise ProviderError(ErrorCode.INVALID_INPUT, message, retryable=False) from None
            if error.code != ErrorCode.NOT_FOUND:  # already gone: nothing left to cancel
                raise
        submission.state["cancelled"] = True  # stored by the engine: a later 404 is this cancel, not a loss
