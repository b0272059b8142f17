"""Property tests: every tool, fed arbitrary JSON-ish arguments through the MCP SDK's own Client.

One in-process server per test function (the Client lives in a blocking portal's event loop, so each
hypothesis example is a plain synchronous call). The job index accumulates across examples, so every
property is stated as a change: what one call did to the index, the output folder and the provider.

Demo jobs take 10 min and no call waits for them (VIDEOGEN_MAX_WAIT_SECONDS=0), so nothing is ever
rendered: the output folder must stay empty, and the demo provider's submissions are counted to prove
that no invalid request ever reached it. A separate server renders at once, to show that whatever is
accepted also renders; a state machine interleaves generate/cancel/status/list against a model.

The tests at the end pin down bugs found this way (a lone surrogate in a prompt, a long word in the
demo renderer, a lost cancel wake-up), fixed since; each fails if its bug returns.
PROPERTY_EXAMPLES_SCALE=20 runs a deeper search.
"""

from __future__ import annotations

import base64
import math
import os
import re
import sqlite3
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import HealthCheck, assume, event, given, note
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from mcp import Client
from mcp.client._memory import InMemoryTransport
from mcp.shared.message import SessionMessage
from mcp_types import CallToolResult, JSONRPCRequest

from providers.demo import DEMO_MODEL, DemoProvider
from providers.registry import PROVIDERS, provider_class
from server.app import build_server
from server.settings import Settings

# Demo jobs that stay "queued" for 90 s (15% of the latency) and tool calls that never wait for them.
SLOW = {
    "VIDEOGEN_DEMO_LATENCY": "600",
    "VIDEOGEN_WAIT_SECONDS": "0",
    "VIDEOGEN_MAX_WAIT_SECONDS": "0",
    "VIDEOGEN_DEDUPE_SECONDS": "0",  # hypothesis repeats identical requests: each must make its own job
    # A search asks fal's public catalogue (no key needed): here a closed loopback port answers at once.
    "VIDEOGEN_FAL_BASE_URL": "http://127.0.0.1:9",
}

TOOLS = ("generate_video", "estimate_cost", "get_status", "list_jobs", "cancel_job", "list_models")
REQUEST_PARAMS = (
    "prompt",
    "provider",
    "model",
    "duration",
    "aspect_ratio",
    "resolution",
    "images",
    "end_image",
    "video",
    "negative_prompt",
    "seed",
    "audio",
    "options",
)
PARAMS = {
    "generate_video": (*REQUEST_PARAMS, "wait_seconds", "idempotency_key"),
    "estimate_cost": REQUEST_PARAMS,
    "get_status": ("job_id", "wait_seconds"),
    "cancel_job": ("job_id",),
    "list_jobs": ("status", "limit"),
    "list_models": ("provider", "mode", "audio", "max_usd", "model", "search"),
}
STATUSES = ("pending", "queued", "running", "downloading", "succeeded", "failed", "cancelled")


# More examples for a deeper (slower) search: PROPERTY_EXAMPLES_SCALE=20 pytest tests/test_properties.py
SCALE = float(os.environ.get("PROPERTY_EXAMPLES_SCALE", "1"))


def fuzz(examples: int) -> hsettings:
    return hsettings(
        max_examples=max(1, round(examples * SCALE)),
        deadline=None,
        database=None,  # nothing written next to the project
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,  # one server per test function, on purpose
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
        ],
    )


# -- the server under test ---------------------------------------------------------------------------


@dataclass
class Harness:
    """One running server and its Client, driven synchronously from hypothesis examples."""

    portal: BlockingPortal
    client: Client
    settings: Settings
    image_path: str
    image_data_uri: str
    submitted: list[str]  # job ids the demo provider was asked to make, in order
    seen_job_ids: set[str] = field(default_factory=set)
    raw: bool = False  # arguments may hold NaN and +-inf (RawNumbersTransport)

    def call(self, tool: str, arguments: dict[str, Any]) -> CallToolResult:
        if currently_in_test_context():
            note(f"{tool}({arguments!r})")
        sent = encode_non_finite(arguments) if self.raw else arguments
        try:
            result = self.portal.call(self.client.call_tool, tool, sent)
        except Exception as error:  # a protocol error or a crash in the client: never acceptable
            raise AssertionError(f"{tool} raised {type(error).__name__}: {error}") from error
        assert isinstance(result, CallToolResult), type(result)
        check_result(tool, result)
        if currently_in_test_context():  # shown by --hypothesis-show-statistics
            event(f"{tool}: {'refused' if result.is_error else 'answered'}")
        return result

    def job_ids(self) -> set[str]:
        with closing(sqlite3.connect(self.settings.index_path)) as db:
            return {row[0] for row in db.execute("SELECT job_id FROM jobs")}

    def job_count(self) -> int:
        with closing(sqlite3.connect(self.settings.index_path)) as db:
            return db.execute("SELECT COUNT(*) FROM jobs").fetchone()[0]

    def count_where(self, status: str) -> int:
        with closing(sqlite3.connect(self.settings.index_path)) as db:
            return db.execute("SELECT COUNT(*) FROM jobs WHERE status=?", (status,)).fetchone()[0]

    def files(self) -> set[Path]:
        """Everything the server may write besides the index: videos, thumbnails, kept input images."""
        found: set[Path] = set()
        for folder in (self.settings.output_dir, self.settings.data_dir / "inputs"):
            found |= {p for p in folder.rglob("*") if p.is_file()}
        return found

    def check_provider_calls(self) -> None:
        """The demo provider was only ever asked for jobs that are in the index, each at most once."""
        assert len(self.submitted) == len(set(self.submitted)), self.submitted
        assert set(self.submitted) <= self.job_ids()


def check_result(tool: str, result: CallToolResult) -> None:
    """An error result is one readable sentence from the tool, never a crash report."""
    if not result.is_error:
        return
    assert result.content and result.content[0].type == "text", result.content
    text = result.content[0].text
    assert "Traceback" not in text and 'File "/' not in text, text
    prefix = f"Error executing tool {tool}"
    # The SDK answers a tool that raised something other than a ToolError (a crash) with the bare
    # prefix and keeps the exception to itself; every deliberate refusal has a reason after it.
    assert text.startswith(prefix + ": "), f"{tool} crashed (no reason given): {text!r}"
    reason = text[len(prefix) + 2 :]
    assert reason.strip() and any(c.isalpha() for c in reason), text


# -- non-finite numbers on the wire ----------------------------------------------------------------------
#
# The SDK's client serialises requests with pydantic's JSON mode, which turns NaN and +-inf into null, so
# an in-process Client can never send them. A client speaking raw JSON can: the SDK's stdio and HTTP
# transports parse the NaN, Infinity and -Infinity tokens into floats. To test that path in-process, such
# numbers travel as sentinel strings and this transport turns them back into floats just before the
# server sees the request.

NON_FINITE = {"\x00NaN\x00": math.nan, "\x00Infinity\x00": math.inf, "\x00-Infinity\x00": -math.inf}


def encode_non_finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return "\x00NaN\x00" if math.isnan(value) else "\x00Infinity\x00" if value > 0 else "\x00-Infinity\x00"
    if isinstance(value, list):
        return [encode_non_finite(v) for v in value]
    if isinstance(value, dict):
        return {k: encode_non_finite(v) for k, v in value.items()}
    return value


def _decode_non_finite(value: Any) -> Any:
    if isinstance(value, str):
        return NON_FINITE.get(value, value)
    if isinstance(value, list):
        return [_decode_non_finite(v) for v in value]
    if isinstance(value, dict):
        return {k: _decode_non_finite(v) for k, v in value.items()}
    return value


class _DecodingWriteStream:
    def __init__(self, inner: Any):
        self._inner = inner

    async def send(self, item: SessionMessage, /) -> None:
        message = item.message
        if isinstance(message, JSONRPCRequest) and message.method == "tools/call" and message.params:
            params = {**message.params, "arguments": _decode_non_finite(message.params.get("arguments"))}
            item = SessionMessage(message.model_copy(update={"params": params}), metadata=item.metadata)
        await self._inner.send(item)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def __aenter__(self) -> _DecodingWriteStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


class RawNumbersTransport:
    """The SDK's in-memory transport (JSON-RPC messages, unserialised), passing NaN and +-inf through."""

    def __init__(self, server: Any):
        self._inner = InMemoryTransport(server)

    async def __aenter__(self) -> tuple[Any, Any]:
        read, write = await self._inner.__aenter__()
        return read, _DecodingWriteStream(write)

    async def __aexit__(self, *exc: Any) -> None:
        await self._inner.__aexit__(*exc)


@contextmanager
def running_harness(
    env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, raw: bool
) -> Iterator[Harness]:
    from PIL import Image

    picture = tmp_path / "inputs" / "red.png"
    Image.new("RGB", (32, 24), (220, 20, 20)).save(picture)
    data_uri = "data:image/png;base64," + base64.b64encode(picture.read_bytes()).decode()

    submitted: list[str] = []
    original_submit = DemoProvider.submit

    async def counting_submit(self: DemoProvider, job_id: str, request: Any, callback_url: str | None = None) -> Any:
        submitted.append(job_id)
        return await original_submit(self, job_id, request, callback_url)

    monkeypatch.setattr(DemoProvider, "submit", counting_submit)
    settings = Settings.from_env({**env, **SLOW})
    with start_blocking_portal("asyncio") as portal:

        def connect() -> Client:  # made inside the event loop
            server = build_server(settings)
            return Client(RawNumbersTransport(server)) if raw else Client(server)

        client = portal.call(connect)
        with portal.wrap_async_context_manager(client):
            yield Harness(portal, client, settings, str(picture), data_uri, submitted, raw=raw)
    assert not list(settings.output_dir.glob("*")), "no demo job may finish during these tests"


@pytest.fixture
def harness(env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    """One server in mode "auto", reached in-process the way tests/test_tools.py does."""
    with running_harness(env, tmp_path, monkeypatch, raw=False) as h:
        yield h


@pytest.fixture
def raw_harness(env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    """One server reached over JSON-RPC messages that may carry NaN and +-inf."""
    with running_harness(env, tmp_path, monkeypatch, raw=True) as h:
        yield h


# -- strategies ---------------------------------------------------------------------------------------

NASTY_STRINGS = [
    "",
    " ",
    "\t\r\n ",
    "\x00",
    "a\x00b",
    "\x1b[31mred\x1b[0m",
    "'",
    '"',
    "'; DROP TABLE jobs; --",
    "' OR '1'='1",
    "%s%s%n",
    "{0}{job_id}",
    "../../../../etc/passwd",
    "..\\..\\windows\\win.ini",
    "/etc/passwd",
    "~/.ssh/id_rsa",
    "file:///etc/passwd",
    "ftp://example.com/a.png",
    "data:",
    "data:image/png;base64,!!!",
    "data:text/plain;base64,aGVsbG8=",
    "https://",
    "null",
    "None",
    "NaN",
    "-1",
    "1e309",
    "\u202e\u200b\ufeff",
    "İıß\u0301",
    "🎬🐱‍👤",
    "\U0010fffd",
    "job_",
    "job_0000000000000000",
]


def _repeat(piece: str, times: int) -> str:
    return piece * times


TEXT = st.one_of(
    st.text(max_size=30),
    st.sampled_from(NASTY_STRINGS),
    st.text(st.characters(codec="utf-8", categories=["Cc", "Zs", "Zl", "Zp", "Cf"]), max_size=20),
    st.builds(_repeat, st.sampled_from(["x", " ", "é", "🎬", "\x00", "a b "]), st.integers(2490, 12_000)),
)
NUMBERS = st.one_of(
    st.integers(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.sampled_from([0, 1, -1, 2**31 - 1, 2**32 - 1, 2**32, 2**63, 2**64, 10**30, 10**400, -(10**400)]),
    st.floats(),  # NaN and +-inf reach the server as null through the SDK client: see RawNumbersTransport
    st.sampled_from([0.5, 3.0000001, 2.9999999, 1e-300, 1e308, -0.0]),
)
SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, TEXT)
JSONISH = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=8,
)
UNKNOWN_KEYS = st.one_of(st.text(max_size=12), st.sampled_from(["_meta", "__proto__", "ctx", "confirmation", "self"]))


def junk_arguments(tool: str) -> st.SearchStrategy[dict[str, Any]]:
    """Any subset of the tool's parameters, each any JSON-ish value, plus unknown extras."""
    known = st.dictionaries(st.sampled_from(PARAMS[tool]), JSONISH, max_size=len(PARAMS[tool]))
    extra = st.dictionaries(UNKNOWN_KEYS, JSONISH, max_size=2)
    return st.builds(lambda a, b: {**b, **a}, known, extra)


def valid_request(images: list[str | None], with_generate_fields: bool) -> st.SearchStrategy[dict[str, Any]]:
    """Requests the demo model accepts, each field present or left to its default."""
    spec = DEMO_MODEL
    fields: dict[str, st.SearchStrategy[Any]] = {
        "provider": st.sampled_from([None, "demo", " Demo ", "DEMO", ""]),
        "model": st.sampled_from([None, "demo-v1", " demo-v1 ", ""]),
        "duration": st.one_of(
            st.none(), st.sampled_from(spec.durations), st.sampled_from([int(d) for d in spec.durations])
        ),
        "aspect_ratio": st.sampled_from([None, *spec.aspect_ratios, " 16:9 "]),
        "resolution": st.sampled_from([None, *spec.resolutions, "720P", " 360p "]),
        "negative_prompt": st.one_of(st.none(), st.text(max_size=40)),
        "seed": st.one_of(st.none(), st.integers(0, 2**32 - 1)),
        "audio": st.sampled_from([None, False]),
        "images": st.sampled_from([None, [], ["   "], *[[i] for i in images if i]]),
        "options": st.sampled_from([None, {}]),  # the demo model declares no options
    }
    if with_generate_fields:
        fields["wait_seconds"] = st.one_of(st.none(), st.floats(0, 3600), st.integers(0, 3600))
        fields["idempotency_key"] = st.one_of(st.none(), st.just(""), st.text(min_size=1, max_size=40))
    prompt = st.text(min_size=1, max_size=200).filter(lambda s: s.strip())
    optional = st.fixed_dictionaries({}, optional=fields)
    return st.builds(lambda p, rest: {"prompt": p, **rest}, prompt, optional)


def perturbed(base: st.SearchStrategy[dict[str, Any]], tool: str) -> st.SearchStrategy[dict[str, Any]]:
    """A valid request with one field replaced by junk, removed, or joined by an unknown field."""

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        args = dict(draw(base))
        how = draw(st.sampled_from(["replace", "replace", "replace", "drop", "extra"]))
        if how == "replace":
            args[draw(st.sampled_from(PARAMS[tool]))] = draw(JSONISH)
        elif how == "drop":
            args.pop(draw(st.sampled_from(sorted(args))), None)
        else:
            args[draw(UNKNOWN_KEYS.filter(lambda k: k not in PARAMS[tool]))] = draw(JSONISH)
        return args

    return build()


def request_arguments(tool: str, images: list[str | None]) -> st.SearchStrategy[dict[str, Any]]:
    base = valid_request(images, with_generate_fields=tool == "generate_video")
    return st.one_of(base, perturbed(base, tool), junk_arguments(tool))


@st.composite
def generate_calls(draw: st.DrawFn) -> dict[str, Any]:
    """Arguments for generate_video; the harness's real image path and data URI are filled in later."""
    return draw(request_arguments("generate_video", ["{image_path}", "{image_data_uri}", "https://example.com/a.png"]))


def fill_images(args: dict[str, Any], h: Harness) -> dict[str, Any]:
    swap = {"{image_path}": h.image_path, "{image_data_uri}": h.image_data_uri}
    images = args.get("images")
    if isinstance(images, list):
        args = {**args, "images": [swap.get(i, i) if isinstance(i, str) else i for i in images]}
    return args


@st.composite
def any_model_request(draw: st.DrawFn) -> dict[str, Any]:
    """A request to any provider's model (their specs differ from the demo's), each field usually one the
    model lists and sometimes one it does not."""
    name = draw(st.sampled_from(sorted(PROVIDERS)))
    spec = draw(st.sampled_from(provider_class(name).models))

    def pick(listed: Sequence[Any], others: Sequence[Any]) -> Any:
        return draw(st.sampled_from(list(listed)) if draw(st.integers(0, 4)) else st.sampled_from(list(others)))

    args: dict[str, Any] = {"prompt": "a lighthouse at dusk", "provider": name, "model": spec.id}
    optional = {
        "duration": lambda: pick(spec.durations, [0, -5, 2.5, 11, 15, 60]),
        "resolution": lambda: pick(spec.resolutions, ["480p", "720p", "1080p", "4k", ""]),
        "aspect_ratio": lambda: pick(spec.aspect_ratios, ["16:9", "1:1", "4:5", "5:4", "21:9"]),
        "audio": lambda: draw(st.booleans()),
        "seed": lambda: draw(st.integers(-1, 2**33)),
        "negative_prompt": lambda: draw(st.sampled_from(["blur", "", " "])),
        "images": lambda: draw(st.sampled_from([[], ["https://example.com/a.png"], ["https://example.com/a.png"] * 2])),
        "end_image": lambda: "https://example.com/z.png",
        "video": lambda: draw(
            st.sampled_from(["https://videos.example.com/in.mp4", "http://videos.example.com/in.mp4"])
        ),
        "options": lambda: draw(
            st.one_of(
                st.builds(dict, st.lists(st.tuples(st.sampled_from([*spec.options, "bogus"]), JSONISH), max_size=2)),
                st.just({}),
            )
        ),
    }
    for key in draw(st.lists(st.sampled_from(sorted(optional)), unique=True, max_size=len(optional))):
        args[key] = optional[key]()
    return args


# -- properties -----------------------------------------------------------------------------------------


def test_the_strategies_cover_every_parameter_of_every_tool(harness: Harness):
    """If a tool grows a parameter, the fuzzing below must learn about it."""
    tools = {t.name: t for t in harness.portal.call(harness.client.list_tools).tools}
    assert set(tools) == set(TOOLS)
    for name, tool in tools.items():
        assert set(tool.input_schema.get("properties", {})) == set(PARAMS[name]), name


@fuzz(90)
@given(args=generate_calls())
def test_generate_video_makes_exactly_one_job_or_none(harness: Harness, args: dict[str, Any]):
    h = harness
    args = fill_images(args, h)
    before_ids, before_files = h.job_ids(), h.files()
    result = h.call("generate_video", args)
    after_ids = h.job_ids()
    if result.is_error:
        assert after_ids == before_ids, "a refused request left a job in the index"
        assert h.files() == before_files, "a refused request left a file behind"
    else:
        job = result.structured_content
        assert job is not None and job["job_id"] in after_ids
        if job["job_id"] in h.seen_job_ids:  # the same idempotency_key again: the same job, nothing new
            assert after_ids == before_ids
        else:
            assert after_ids - before_ids == {job["job_id"]}, "a valid request must make exactly one job"
        h.seen_job_ids.add(job["job_id"])
        # What was stored is the validated, normalised request, never the raw junk.
        request = job["request"]
        assert job["provider"] == request["provider"] == "demo" and job["model"] == request["model"] == "demo-v1"
        assert request["duration"] in DEMO_MODEL.durations
        assert request["aspect_ratio"] in DEMO_MODEL.aspect_ratios
        assert request["resolution"] in DEMO_MODEL.resolutions
        assert request["prompt"] == request["prompt"].strip() and request["prompt"]
        assert job["status"] in ("pending", "queued", "running") and job["video"] is None
        assert job["cost"] == 0
        # ...and the job can be found again.
        again = h.call("get_status", {"job_id": job["job_id"]})
        assert not again.is_error and again.structured_content["job_id"] == job["job_id"]
    h.check_provider_calls()


@fuzz(80)
@given(
    args=st.one_of(
        request_arguments("estimate_cost", ["{image_path}", "https://example.com/a.png"]), any_model_request()
    )
)
def test_estimate_cost_never_creates_a_job(harness: Harness, args: dict[str, Any]):
    h = harness
    args = fill_images(args, h)
    before_ids, before_files = h.job_ids(), h.files()
    result = h.call("estimate_cost", args)
    assert h.job_ids() == before_ids and h.files() == before_files
    assert h.submitted == []
    if not result.is_error:
        report = result.structured_content
        assert report["provider"] in PROVIDERS and isinstance(report["model"], str)
        assert math.isfinite(report["usd"]) and report["usd"] >= 0
        assert report["configured"] is (report["provider"] == "demo")


def refusal(result: CallToolResult, tool: str) -> str:
    """An error's reason without the tool's name, nor the tool's own argument names after an unknown one
    (the tools take different arguments)."""
    return re.sub("unknown argument.*", "unknown argument", result.content[0].text.replace(tool, "TOOL"))


@fuzz(60)
@given(
    args=st.one_of(
        request_arguments("estimate_cost", []),
        any_model_request(),
    )
)
def test_estimate_cost_and_generate_video_validate_alike(harness: Harness, args: dict[str, Any]):
    """estimate_cost refuses exactly what generate_video refuses, for the same reason; what it
    accepts, generate_video accepts too (or refuses for a reason estimate_cost does not judge:
    image files, a provider without credentials)."""
    h = harness
    estimate = h.call("estimate_cost", args)
    before = h.job_count()
    generate = h.call("generate_video", args)
    if estimate.is_error:
        assert generate.is_error, "generate_video accepted what estimate_cost refused"
        assert refusal(generate, "generate_video") == refusal(estimate, "estimate_cost")
        assert h.job_count() == before
    elif generate.is_error:
        text = generate.content[0].text
        configured = estimate.structured_content["configured"]
        judged_elsewhere = args.get("images") or args.get("end_image") or args.get("video")  # files: for a job
        assert (not configured and "NOT_CONFIGURED" in text) or judged_elsewhere, text
    else:
        job = generate.structured_content
        cost = estimate.structured_content
        assert (job["provider"], job["model"], job["cost"]) == (cost["provider"], cost["model"], cost["usd"])
        assert h.job_count() == before + 1
    h.check_provider_calls()


JOB_IDS = st.one_of(
    TEXT,
    st.builds(lambda s: "job_" + s, st.text(alphabet="0123456789abcdef", min_size=16, max_size=16)),
)


@pytest.fixture
def seeded(harness: Harness) -> Harness:
    """A harness whose index already holds one unfinished job (so an injected query would find it)."""
    result = harness.call("generate_video", {"prompt": "the one real job", "idempotency_key": "seed"})
    assert not result.is_error, result.content
    harness.seen_job_ids.add(result.structured_content["job_id"])
    return harness


def _status_args(job_id: Any, wait: Any, with_wait: bool) -> dict[str, Any]:
    return {"job_id": job_id, **({"wait_seconds": wait} if with_wait else {})}


@fuzz(80)
@given(
    tool=st.sampled_from(["get_status", "cancel_job"]),
    args=st.one_of(
        st.builds(_status_args, JOB_IDS, st.one_of(st.none(), st.floats(0, 3600), JSONISH), st.booleans()),
        st.builds(lambda a: {"job_id": a}, JSONISH),
        junk_arguments("get_status"),
    ),
)
def test_unknown_job_ids_get_a_clear_error(seeded: Harness, tool: str, args: dict[str, Any]):
    h = seeded
    (real,) = h.seen_job_ids
    job_id = args.get("job_id")
    assume(not (isinstance(job_id, str) and job_id.strip() == real))
    if tool == "cancel_job":
        args = {k: v for k, v in args.items() if k != "wait_seconds"}
    before = h.job_count()
    result = h.call(tool, args)
    assert result.is_error, f"{tool} found a job for {job_id!r}"
    text = result.content[0].text
    if isinstance(job_id, str) and "job_id" in args and "no job with id" not in text:
        # The only other acceptable refusal is the schema's (a bad wait_seconds, an unknown argument).
        assert "INVALID_INPUT: " in text and ("wait_seconds" in text or "unknown argument" in text), text
    assert h.job_count() == before
    # The real job is untouched: an id that names another job (or SQL) cannot cancel it.
    status = h.call("get_status", {"job_id": real}).structured_content["status"]
    assert status in ("pending", "queued", "running"), status


@fuzz(30)
@given(
    pad=st.text(st.sampled_from(" \t\n\r"), max_size=3),
    pad_right=st.text(st.sampled_from(" \t\n\r"), max_size=3),
    variant=st.sampled_from(["same", "upper", "prefix", "suffix", "like"]),
)
def test_job_ids_match_exactly_except_for_surrounding_whitespace(
    seeded: Harness, pad: str, pad_right: str, variant: str
):
    h = seeded
    (real,) = h.seen_job_ids
    job_id = {
        "same": real,
        "upper": real.upper(),
        "prefix": real[:-1],
        "suffix": real + "0",
        "like": real[:-3] + "%",
    }[variant]
    result = h.call("get_status", {"job_id": pad + job_id + pad_right})
    if variant == "same":
        assert not result.is_error and result.structured_content["job_id"] == real
    else:
        assert result.is_error and "no job with id" in result.content[0].text


@pytest.fixture
def many_jobs(harness: Harness) -> Harness:
    """25 jobs (more than list_jobs' default page), 5 of them cancelled."""
    ids = []
    for n in range(25):
        result = harness.call("generate_video", {"prompt": f"job number {n}", "resolution": "360p"})
        assert not result.is_error, result.content
        ids.append(result.structured_content["job_id"])
    for job_id in ids[:5]:
        assert harness.call("cancel_job", {"job_id": job_id}).structured_content["status"] == "cancelled"
    # Let every watcher make its first move, so no status changes while the examples count them.
    deadline = time.monotonic() + 10
    while harness.count_where("pending") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert harness.count_where("pending") == 0
    assert harness.count_where("queued") == 20
    return harness


@fuzz(80)
@given(
    args=st.one_of(
        st.fixed_dictionaries(
            {},
            optional={
                "status": st.one_of(st.sampled_from(STATUSES), st.just(None), JSONISH),
                "limit": st.one_of(st.integers(-3, 205), st.sampled_from([1, 20, 200, 201, 2**63]), JSONISH),
            },
        ),
        junk_arguments("list_jobs"),
    )
)
def test_list_jobs_respects_status_and_limit(many_jobs: Harness, args: dict[str, Any]):
    h = many_jobs
    before = h.job_count()
    result = h.call("list_jobs", args)
    assert h.job_count() == before
    status, limit = args.get("status"), args.get("limit", 20)
    exact_limit = type(limit) is int
    if exact_limit and not 1 <= limit <= 200:
        assert result.is_error and "limit" in result.content[0].text, result.content
    if isinstance(status, str) and status not in STATUSES:
        assert result.is_error and "status" in result.content[0].text, result.content
    if result.is_error:
        return
    jobs = result.structured_content["jobs"]
    assert len(jobs) <= 200
    if status is not None:
        assert {j["status"] for j in jobs} <= {status}
    if exact_limit and (status is None or status in STATUSES):
        available = before if status is None else h.count_where(status)
        assert len(jobs) == min(limit, available)
    created = [j["created_at"] for j in jobs]
    assert created == sorted(created, reverse=True), "newest first"
    assert len({j["job_id"] for j in jobs}) == len(jobs)


@fuzz(60)
@given(
    args=st.one_of(
        st.builds(
            lambda name, left, right, upper: {"provider": left + (name.upper() if upper else name) + right},
            st.sampled_from(sorted(PROVIDERS)),
            st.sampled_from(["", " ", "\t"]),
            st.sampled_from(["", " ", "\n"]),
            st.booleans(),
        ),
        junk_arguments("list_models"),
    )
)
def test_list_models_for_any_provider(harness: Harness, args: dict[str, Any]):
    h = harness
    result = h.call("list_models", args)
    assert h.job_count() == 0
    provider = args.get("provider")
    wanted = provider.strip().lower() if isinstance(provider, str) else None
    if set(args) - set(PARAMS["list_models"]):
        assert result.is_error and "unknown argument" in result.content[0].text, result.content
        return
    filtered = any(args.get(k) is not None for k in PARAMS["list_models"] if k != "provider")
    if wanted in PROVIDERS and not filtered:
        assert not result.is_error, result.content
    elif isinstance(provider, str) and provider and not filtered:
        assert result.is_error and "unknown provider" in result.content[0].text, result.content
    if result.is_error:
        return
    models = result.structured_content["models"]
    assert (models or filtered) and all(m["provider"] in PROVIDERS for m in models)
    if wanted:
        assert {m["provider"] for m in models} == {wanted}
    assert result.structured_content["default_model"].partition("/")[0] in PROVIDERS
    assert all(math.isfinite(m["example_cost_usd"]) and m["example_cost_usd"] >= 0 for m in models)


@fuzz(120)
@given(tool=st.sampled_from(TOOLS), data=st.data())
def test_any_tool_with_any_arguments(harness: Harness, tool: str, data: st.DataObject):
    """Pure junk at every tool: an answer or a reasoned refusal, and only generate_video makes jobs."""
    h = harness
    args = data.draw(junk_arguments(tool), label="arguments")
    before = h.job_ids()
    result = h.call(tool, args)
    after = h.job_ids()
    if tool == "generate_video" and not result.is_error:
        new = after - before
        assert len(new) <= 1 and (new == {result.structured_content["job_id"]} or not new)
    else:
        assert after == before, f"{tool} changed the job index"
    h.check_provider_calls()


def test_raw_transport_really_delivers_non_finite_numbers(raw_harness: Harness):
    """The transport trick above works: the tools see NaN and inf, not null."""
    for token, shown in ((math.nan, "nan"), (math.inf, "inf"), (-math.inf, "-inf")):
        result = raw_harness.call("estimate_cost", {"prompt": "x", "duration": token})
        assert result.is_error and f"duration {shown} s is not supported" in result.content[0].text, result.content
    result = raw_harness.call("list_jobs", {"limit": math.nan})
    text = result.content[0].text
    assert result.is_error and "INVALID_INPUT: limit: NaN" in text and "an integer from 1 to 200" in text, text


FLOATS_AT_THE_EDGE = st.one_of(
    st.sampled_from([math.nan, math.inf, -math.inf, -0.0, 5e-324, 1e308, -1e308]),
    st.floats(),
)


@fuzz(80)
@given(
    tool=st.sampled_from(TOOLS),
    param_values=st.data(),
)
def test_non_finite_numbers_in_any_parameter(raw_harness: Harness, tool: str, param_values: st.DataObject):
    """NaN, +-inf and friends in any parameter of any tool (as raw JSON clients can send): a reasoned
    refusal or an answer, and never a job made from a non-finite number."""
    h = raw_harness
    base: dict[str, Any] = {
        "generate_video": {"prompt": "edge"},
        "estimate_cost": {"prompt": "edge"},
        "get_status": {"job_id": "job_0000000000000000"},
        "cancel_job": {"job_id": "job_0000000000000000"},
        "list_jobs": {},
        "list_models": {},
    }[tool]
    names = param_values.draw(st.lists(st.sampled_from(PARAMS[tool]), min_size=1, max_size=3, unique=True))
    values = st.one_of(FLOATS_AT_THE_EDGE, st.lists(FLOATS_AT_THE_EDGE, max_size=2), JSONISH)
    args = {**base, **{name: param_values.draw(values, label=name) for name in names}}
    before = h.job_ids()
    result = h.call(tool, args)
    after = h.job_ids()
    if tool == "generate_video" and not result.is_error:
        assert after - before <= {result.structured_content["job_id"]}
        request = result.structured_content["request"]
        assert math.isfinite(request["duration"]) and request["duration"] in DEMO_MODEL.durations
    else:
        assert after == before, f"{tool} changed the job index"
    if not result.is_error and tool == "estimate_cost":
        assert math.isfinite(result.structured_content["usd"])
    h.check_provider_calls()


def test_a_job_with_an_unencodable_prompt_does_not_break_list_jobs(harness: Harness):
    made = harness.call("generate_video", {"prompt": "a\udcff"})
    listed = harness.call("list_jobs", {})
    # Either refused up front, or stored and listed: never a job that breaks listing for everyone.
    assert made.is_error or not listed.is_error, listed.content


@pytest.fixture
def rendering(env: dict[str, str]) -> Iterator[tuple[BlockingPortal, Client, Settings]]:
    """A server whose demo jobs render at once (latency 0)."""
    settings = Settings.from_env({**env, "VIDEOGEN_DEMO_LATENCY": "0", "VIDEOGEN_WAIT_SECONDS": "30"})
    with start_blocking_portal("asyncio") as portal:
        client = portal.call(lambda: Client(build_server(settings)))
        with portal.wrap_async_context_manager(client):
            yield portal, client, settings


def _longest_word(text: str) -> int:
    return max((len(w) for w in text.split()), default=0)


# Prompts whose words are short: see the xfail below for long words.
RENDERABLE_PROMPTS = st.one_of(
    st.sampled_from(NASTY_STRINGS),
    st.text(max_size=300),
    st.builds(_repeat, st.sampled_from(["a b ", "🎬 ", "é\u0301 ", "\x00 ", "word\t"]), st.integers(1, 600)),
).filter(lambda p: p.strip() and len(p.strip()) <= 2500 and _longest_word(p) <= 30)


@fuzz(12)
@given(
    prompt=RENDERABLE_PROMPTS,
    negative=st.one_of(st.none(), st.sampled_from(NASTY_STRINGS), st.text(max_size=50)),
    seed=st.one_of(st.none(), st.integers(0, 2**32 - 1)),
    ratio=st.sampled_from(DEMO_MODEL.aspect_ratios),
)
def test_every_accepted_request_renders(
    rendering: tuple[BlockingPortal, Client, Settings], prompt: str, negative: str | None, seed: int | None, ratio: str
):
    """What validation lets through, the demo renders: nothing is accepted only to fail later."""
    portal, client, settings = rendering
    args = {"prompt": prompt, "negative_prompt": negative, "seed": seed, "aspect_ratio": ratio, "duration": 1}
    note(repr(args))
    result = portal.call(client.call_tool, "generate_video", {**args, "resolution": "360p"})
    check_result("generate_video", result)
    assert not result.is_error, result.content
    job = result.structured_content
    assert job["status"] == "succeeded", job
    video = Path(job["video"]["path"])
    assert video.parent == settings.output_dir and video.is_file() and video.name.endswith(".mp4")


def test_a_prompt_with_a_long_word_renders_promptly(rendering: tuple[BlockingPortal, Client, Settings]):
    portal, client, _ = rendering
    args = {"prompt": "x" * 450, "duration": 1, "resolution": "360p", "wait_seconds": 1}
    result = portal.call(client.call_tool, "generate_video", args)
    # A one-second 360p demo video with a short prompt renders in about 0.1 s.
    assert result.structured_content["status"] == "succeeded", result.structured_content["message"]


# -- a stateful model of the job life cycle -------------------------------------------------------------


class JobLifecycle(RuleBasedStateMachine):
    """Interleaved generate_video (also with repeated idempotency keys), cancel_job, get_status and
    list_jobs against one server, checked against a model of which jobs exist and which are cancelled."""

    def __init__(self) -> None:
        super().__init__()
        self._stack = ExitStack()
        root = Path(self._stack.enter_context(tempfile.TemporaryDirectory()))
        (root / "inputs").mkdir()
        env = {
            "VIDEOGEN_DATA_DIR": str(root / "data"),
            "VIDEOGEN_OUTPUT_DIR": str(root / "videos"),
            "VIDEOGEN_ALLOWED_DIRS": str(root / "inputs"),
            "VIDEOGEN_HEARTBEAT_SECONDS": "0.2",
            "VIDEOGEN_LEASE_SECONDS": "3",
            **SLOW,
        }
        self.settings = Settings.from_env(env)
        self.portal = self._stack.enter_context(start_blocking_portal("asyncio"))
        client = self.portal.call(lambda: Client(build_server(self.settings)))
        self.client = self._stack.enter_context(self.portal.wrap_async_context_manager(client))
        self.jobs: dict[str, str] = {}  # job_id -> "active" | "cancelled"
        self.order: list[str] = []  # oldest first
        self.keys: dict[str, str] = {}  # idempotency key (stripped) -> job_id

    def teardown(self) -> None:
        self._stack.close()

    def call(self, tool: str, arguments: dict[str, Any]) -> CallToolResult:
        note(f"{tool}({arguments!r})")
        result = self.portal.call(self.client.call_tool, tool, arguments)
        check_result(tool, result)
        return result

    def index(self) -> set[str]:
        with closing(sqlite3.connect(self.settings.index_path)) as db:
            return {row[0] for row in db.execute("SELECT job_id FROM jobs")}

    @rule(
        prompt=st.one_of(st.text(max_size=20), st.sampled_from(["a fox", " ", ""])),
        key=st.one_of(st.none(), st.sampled_from(["k1", " k1 ", "k2", "", "  ", "x" * 201])),
        junk=st.one_of(st.just({}), st.dictionaries(st.sampled_from(REQUEST_PARAMS[1:]), JSONISH, max_size=1)),
    )
    def generate(self, prompt: str, key: str | None, junk: dict[str, Any]) -> None:
        args = {"prompt": prompt, **junk, **({"idempotency_key": key} if key is not None else {})}
        result = self.call("generate_video", args)
        stripped = (key or "").strip()
        if len(stripped) > 200:
            assert result.is_error
            assert junk or "idempotency_key must be at most 200" in result.content[0].text
            return
        if result.is_error:
            return
        job_id = result.structured_content["job_id"]
        if stripped in self.keys:
            assert job_id == self.keys[stripped], "the same idempotency_key must give the same job"
            return
        assert job_id not in self.jobs, "a new request must make a new job"
        self.jobs[job_id] = "active"
        self.order.append(job_id)
        if stripped:
            self.keys[stripped] = job_id

    @precondition(lambda self: self.jobs)
    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        job_id = data.draw(st.sampled_from(self.order))
        result = self.call("cancel_job", {"job_id": job_id})
        assert not result.is_error and result.structured_content["status"] == "cancelled", result.content
        self.jobs[job_id] = "cancelled"

    @rule(job_id=JOB_IDS)
    def cancel_unknown(self, job_id: str) -> None:
        assume(job_id.strip() not in self.jobs)
        result = self.call("cancel_job", {"job_id": job_id})
        assert result.is_error and "no job with id" in result.content[0].text

    @precondition(lambda self: self.jobs)
    @rule(data=st.data())
    def status(self, data: st.DataObject) -> None:
        job_id = data.draw(st.sampled_from(self.order))
        result = self.call("get_status", {"job_id": job_id})
        assert not result.is_error
        status = result.structured_content["status"]
        if self.jobs[job_id] == "cancelled":
            assert status == "cancelled"
        else:
            assert status in ("pending", "queued", "running"), status

    @rule(limit=st.integers(1, 8), cancelled_only=st.booleans())
    def listing(self, limit: int, cancelled_only: bool) -> None:
        args: dict[str, Any] = {"limit": limit, **({"status": "cancelled"} if cancelled_only else {})}
        result = self.call("list_jobs", args)
        assert not result.is_error
        listed = [j["job_id"] for j in result.structured_content["jobs"]]
        expected = [j for j in self.order if not cancelled_only or self.jobs[j] == "cancelled"]
        assert len(listed) == min(limit, len(expected))
        assert set(listed) <= set(expected)

    @invariant()
    def index_matches_the_model(self) -> None:
        assert self.index() == set(self.jobs)


TestJobLifecycle = JobLifecycle.TestCase
TestJobLifecycle.settings = hsettings(
    max_examples=max(1, round(20 * SCALE)),
    stateful_step_count=15,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


class SlowStatusProvider(DemoProvider):
    """The demo behind a status check that takes 0.3 s (an HTTP round trip) and a 30 s polling cadence,
    like a paid provider's."""

    name = "slowstatus"

    def poll_interval(self, spec: Any, elapsed: float) -> float:
        return 30.0

    async def poll(self, submission: Any, request: Any) -> Any:
        await anyio.sleep(0.3)
        return await super().poll(submission, request)


def test_cancel_during_a_status_check_takes_effect_promptly(env: dict[str, str], monkeypatch: pytest.MonkeyPatch):
    from providers import registry

    monkeypatch.setitem(registry.PROVIDERS, "slowstatus", f"{__name__}:SlowStatusProvider")
    settings = Settings.from_env({**env, **SLOW})

    async def scenario() -> str:
        async with Client(build_server(settings)) as client:
            made = await client.call_tool("generate_video", {"prompt": "x", "provider": "slowstatus"})
            job_id = made.structured_content["job_id"]
            await anyio.sleep(0.1)  # the watcher is inside its first status check now
            status = "unknown"
            with anyio.move_on_after(3):  # cancel_job itself waits up to 15 s for the cancellation
                status = (await client.call_tool("cancel_job", {"job_id": job_id})).structured_content["status"]
            if status != "cancelled":
                status = (await client.call_tool("get_status", {"job_id": job_id})).structured_content["status"]
            return status

    assert anyio.run(scenario) == "cancelled"
