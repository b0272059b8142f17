"""Tool input schemas every agent framework converts without loss, and arguments refused in our words
(issue 8, item 4). The frameworks' own conversions run in tests/clients; these are the fast checks of the
shapes they need, through the MCP SDK's in-process Client."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

import pytest
from mcp import Client
from pydantic import TypeAdapter

from providers.options import VideoOptions
from providers.registry import PROVIDERS, provider_class
from server import cli
from server.app import build_server
from server.arguments import VideogenServer, closest_name
from server.request import PARAMS, RequestArgs, takes_request
from server.settings import Settings
from server.tasks import IDENTIFIER

pytestmark = pytest.mark.anyio


async def tools(settings: Settings) -> dict[str, dict[str, Any]]:
    async with Client(build_server(settings)) as client:
        return {t.name: t.input_schema for t in (await client.list_tools()).tools}


def nodes(schema: Any, path: str = "") -> list[tuple[str, dict[str, Any]]]:
    """Every schema object inside a schema, with where it is."""
    found: list[tuple[str, dict[str, Any]]] = []
    if isinstance(schema, dict):
        found.append((path, schema))
        for key, value in schema.items():
            if key == "properties":
                for name, sub in value.items():
                    found += nodes(sub, f"{path}.{name}")
            elif key in ("items", "anyOf", "not"):
                found += nodes(value, f"{path}/{key}")
    elif isinstance(schema, list):
        for i, item in enumerate(schema):
            found += nodes(item, f"{path}[{i}]")
    return found


def test_every_option_a_model_declares_is_a_typed_field():
    declared = {
        option: f"{name}/{spec.id}"
        for name in PROVIDERS
        for spec in provider_class(name).models
        for option in spec.options
    }
    assert declared, "no model declares an option: the test would prove nothing"
    missing = {option: where for option, where in declared.items() if option not in VideoOptions.model_fields}
    assert missing == {}


async def test_every_input_field_is_described_and_no_object_is_free_form(settings: Settings):
    for tool, schema in (await tools(settings)).items():
        for name, spec in schema["properties"].items():
            assert spec.get("description"), f"{tool}.{name} has no description"
        for path, node in nodes(schema):
            where = f"{tool}{path}"
            # google-genai's converter fails on a boolean additionalProperties (true or false); strict
            # converters add `false` themselves.
            assert "additionalProperties" not in node, where
            assert "$ref" not in node and "$defs" not in node, where
            kinds = node.get("type") if isinstance(node.get("type"), list) else [node.get("type")]
            if "object" in kinds:
                assert node.get("properties"), f"{where} is a free-form object"


async def test_nullable_parameters_keep_their_description_in_every_branch(settings: Settings):
    """google-genai turns `anyOf: [X, null]` into X alone: the description must be in X too (or the
    parameter a `type: [X, "null"]`, which it keeps whole)."""
    for tool, schema in (await tools(settings)).items():
        for name, spec in schema["properties"].items():
            for branch in spec.get("anyOf", []):
                if branch.get("type") != "null":
                    assert branch.get("description") == spec["description"], f"{tool}.{name}"


async def test_bounds_are_in_the_schema(settings: Settings):
    schemas = await tools(settings)
    for tool in ("generate_video", "estimate_cost"):
        seed = schemas[tool]["properties"]["seed"]
        assert (seed["type"], seed["minimum"], seed["maximum"]) == (["integer", "null"], 0, 4294967295)
        options = schemas[tool]["properties"]["options"]["properties"]
        assert (options["cfg_scale"]["minimum"], options["cfg_scale"]["maximum"]) == (0, 1)
    for tool in ("generate_video", "get_status"):
        wait = schemas[tool]["properties"]["wait_seconds"]
        assert wait["minimum"] == 0 and wait["maximum"] == 3600
    limit = schemas["list_jobs"]["properties"]["limit"]
    assert (limit["minimum"], limit["maximum"]) == (1, 200)


def test_the_closest_valid_name_is_suggested():
    names = ["prompt", "duration", "aspect_ratio", "negative_prompt", "wait_seconds", "idempotency_key", "job_id"]
    assert closest_name("aspectRatio", names) == "aspect_ratio"
    assert closest_name("durationSeconds", names) == "duration"  # not wait_seconds, which merely looks alike
    assert closest_name("waitSeconds", names) == "wait_seconds"
    assert closest_name("jobId", names) == "job_id"
    assert closest_name("negativePrompt", names) == "negative_prompt"
    assert closest_name("idempotency-key", names) == "idempotency_key"
    assert closest_name("Prompt", names) == "prompt"
    assert closest_name("colour", names) is None


UNKNOWN = [
    ("generate_video", {"prompt": "x", "aspectRatio": "9:16", "durationSeconds": 1}),
    ("estimate_cost", {"prompt": "x", "aspectRatio": "9:16", "durationSeconds": 1}),
    ("get_status", {"job_id": "job_x", "waitSeconds": 5}),
    ("list_jobs", {"Limit": 5}),
    ("cancel_job", {"jobId": "job_x"}),
    ("list_models", {"providers": "demo"}),
    ("estimate_cost", {"prompt": "x", "options": {"cfgScale": 0.5}}),
]
SUGGESTED = {
    "aspectRatio": "aspect_ratio",
    "durationSeconds": "duration",
    "waitSeconds": "wait_seconds",
    "Limit": "limit",
    "jobId": "job_id",
    "providers": "provider",
    "cfgScale": "cfg_scale",
}


@pytest.mark.parametrize(("tool", "args"), UNKNOWN, ids=[f"{t}-{i}" for i, (t, _) in enumerate(UNKNOWN)])
async def test_unknown_arguments_are_refused_by_name_before_anything_is_written(
    settings: Settings, tool: str, args: dict[str, Any]
):
    async with Client(build_server(settings)) as client:
        result = await client.call_tool(tool, args)
    assert result.is_error, result.structured_content
    text = result.content[0].text
    assert text.startswith(f"Error executing tool {tool}: INVALID_INPUT: "), text
    for wrong, right in SUGGESTED.items():
        if wrong in json.dumps(args):
            assert f"{wrong}: unknown" in text and f"did you mean {right}?" in text, text
    assert "allowed: " in text
    if settings.index_path.exists():
        with sqlite3.connect(settings.index_path) as db:
            assert db.execute("SELECT COUNT(*) FROM jobs").fetchone()[0] == 0
    assert not list(settings.output_dir.glob("*"))


REFUSED = [
    ("estimate_cost", {"prompt": "x", "seed": True}, "seed: true should be a valid integer", "an integer from 0 to"),
    (
        "estimate_cost",
        {"prompt": "x", "seed": 2**32},
        "seed: 4294967296 should be less than",
        "an integer from 0 to 4294967295",
    ),
    ("generate_video", {"prompt": "x", "wait_seconds": 5000}, "wait_seconds: 5000", "a number from 0 to 3600"),
    ("list_jobs", {"limit": 0}, "limit: 0 should be greater than or equal to 1", "an integer from 1 to 200"),
    ("list_jobs", {"status": "done"}, 'status: "done" is not one of the choices', "one of pending, queued"),
    ("estimate_cost", {}, "prompt: missing", "a string"),
    ("estimate_cost", {"prompt": "x", "images": ["a", 3]}, "images[1]: 3 should be a valid string", "a string"),
    (
        "estimate_cost",
        {"prompt": "x", "options": "fast"},
        'options: "fast" should be an object',
        "an object with some of cfg_scale",
    ),
    ("estimate_cost", {"prompt": "x", "options": {"cfg_scale": 2}}, "options.cfg_scale: 2", "a number from 0 to 1"),
    (
        "estimate_cost",
        {"prompt": "x", "options": {"multi_shots": "many"}},
        'options.multi_shots: "many" is not one of the choices',
        "one of prefer, custom",
    ),
    (
        "estimate_cost",
        {"prompt": "x", "options": {"keep_original_sound": "yes"}},
        'options.keep_original_sound: "yes" should be a valid boolean',
        "true or false",
    ),
]


@pytest.mark.parametrize(
    ("tool", "args", "wrong", "allowed"), REFUSED, ids=[f"{t}-{i}" for i, (t, *_) in enumerate(REFUSED)]
)
async def test_schema_refusals_are_our_words_not_pydantics(
    settings: Settings, tool: str, args: dict[str, Any], wrong: str, allowed: str
):
    async with Client(build_server(settings)) as client:
        result = await client.call_tool(tool, args)
    assert result.is_error
    text = result.content[0].text
    assert f"INVALID_INPUT: {wrong}" in text and f"; allowed: {allowed}" in text, text
    for pydantic_words in ("errors.pydantic.dev", "For further information", "validation error", "type=", "[type"):
        assert pydantic_words not in text, text


async def test_typed_options_reach_the_catalog_as_given(settings: Settings):
    """The typed options go on as the plain values the agent gave: the catalog still judges which model
    takes which (kling-v1-6 takes cfg_scale, kling-v2-6 does not), the adapter the rest."""
    async with Client(build_server(settings)) as client:
        taken = await client.call_tool(
            "estimate_cost", {"prompt": "x", "provider": "kling", "model": "kling-v1-6", "options": {"cfg_scale": 0.8}}
        )
        refused = await client.call_tool(
            "estimate_cost", {"prompt": "x", "provider": "kling", "model": "kling-v2-6", "options": {"cfg_scale": 0.8}}
        )
        nulls = await client.call_tool(  # what a strict-mode model sends: every option, unused ones null
            "estimate_cost",
            {"prompt": "x", "provider": "demo", "options": {"multi_shots": None, "cfg_scale": None}},
        )
    assert not taken.is_error, taken.content
    assert refused.is_error and "does not take option(s) cfg_scale" in refused.content[0].text
    assert not nulls.is_error, nulls.content


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_task_support_is_announced_where_the_tasks_extension_defines_it(settings: Settings, mode: str):
    """The 2026-07-28 tasks extension is announced in the server's capabilities and has no per-tool flag; the
    2025-11-25 `execution.taskSupport` would promise that era's tasks/result protocol, which is not served."""
    async with Client(build_server(settings), mode=mode) as client:
        listed = (await client.list_tools()).tools
        extensions = client.server_capabilities.extensions or {}
    assert all(tool.execution is None for tool in listed)
    assert (IDENTIFIER in extensions) is (mode == "auto")


async def test_an_unknown_name_that_is_no_identifier_is_quoted(settings: Settings):
    async with Client(build_server(settings)) as client:
        result = await client.call_tool("list_jobs", {"": 1, "limit ": 5})
    text = result.content[0].text
    assert result.is_error and '"": unknown argument' in text and '"limit ": unknown argument' in text, text
    assert "did you mean limit?" in text


async def test_tool_descriptions_carry_no_docstring_indentation(settings):
    async with Client(build_server(settings)) as client:
        tools = (await client.list_tools()).tools
    assert all(tool.description and "\n " not in tool.description for tool in tools)


async def test_tools_list_stays_small(settings):
    """What every agent pays for on every turn, as sent (compact JSON): at most 12,150 characters (issue 8;
    about 12,100 now, ~28,000 before issue 8; 12,000 until the `video` input of issue 9 took ~200: its field in
    generate_video and estimate_cost, and list_models' video_to_video mode). estimate_cost describes its request
    as generate_video's."""
    async with Client(build_server(settings)) as client:
        listed = await client.list_tools()
    sent = listed.model_dump_json(by_alias=True, exclude_none=True)
    assert len(sent) <= 12_150, len(sent)


async def test_estimate_cost_takes_generate_videos_request_with_its_bounds(settings):
    """The shorter descriptions keep every type and bound: the two tools refuse the same values."""
    async with Client(build_server(settings)) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        generate, estimate = (tools[name].input_schema["properties"] for name in ("generate_video", "estimate_cost"))
        for name, field in estimate.items():
            assert {k: v for k, v in field.items() if k != "description"} == {
                k: v for k, v in generate[name].items() if k != "description"
            }, name
            assert field["description"] == (
                generate[name]["description"] if name == "prompt" else "As in generate_video."
            )
        refused = await client.call_tool("estimate_cost", {"prompt": "a cat", "seed": -1})
    assert refused.is_error and "seed" in refused.content[0].text


# -- the request, declared once (issue 9 item 4) ---------------------------------------------------------

# One value of every request field as an agent sends it (JSON) and as a person types it (the CLI's flags).
EVERY_FIELD: dict[str, tuple[Any, list[str]]] = {
    "prompt": ("a fox in the snow", ["a fox in the snow"]),
    "provider": ("kling", ["--provider", "kling"]),
    "model": ("kling-v1-6", ["--model", "kling-v1-6"]),
    "duration": (5.5, ["--duration", "5.5"]),
    "aspect_ratio": ("9:16", ["--aspect-ratio", "9:16"]),
    "resolution": ("1080p", ["--resolution", "1080p"]),
    "images": (["https://example.com/a.png", "b.png"], ["--image", "https://example.com/a.png", "--image", "b.png"]),
    "end_image": ("c.png", ["--end-image", "c.png"]),
    "video": ("d.mp4", ["--video", "d.mp4"]),
    "negative_prompt": ("blur", ["--negative-prompt", "blur"]),
    "seed": (7, ["--seed", "7"]),
    "audio": (False, ["--no-audio"]),
    "options": (
        {"cfg_scale": 0.5, "multi_shots": "custom"},
        ["--option", "cfg_scale=0.5", "--option", "multi_shots=custom"],
    ),
}


def json_types(node: dict[str, Any]) -> set[str]:
    """The JSON types a schema node allows, null aside."""
    kinds = [b.get("type") for b in node["anyOf"]] if "anyOf" in node else [node.get("type")]
    flat = {k for kind in kinds for k in (kind if isinstance(kind, list) else [kind])}
    return flat - {"null"}


def echo_server() -> VideogenServer:
    """A server with one tool that takes the request as generate_video does and answers the RequestArgs it got."""
    echo = VideogenServer("echo")

    @echo.tool()
    @takes_request()
    async def echo_request(request: RequestArgs) -> str:
        return request.model_dump_json()

    return echo


async def test_the_tools_requestargs_and_the_cli_take_the_same_request_field_by_field(settings: Settings):
    fields = list(RequestArgs.model_fields)
    assert list(EVERY_FIELD) == fields, "every request field needs a sample here"
    async with Client(build_server(settings)) as client:
        schemas = {tool.name: tool.input_schema for tool in (await client.list_tools()).tools}
    generate, estimate = schemas["generate_video"], schemas["estimate_cost"]
    assert list(generate["properties"])[: len(fields)] == fields and list(estimate["properties"]) == fields
    required = [name for name, info in RequestArgs.model_fields.items() if info.is_required()]
    assert generate["required"] == estimate["required"] == required
    async with Client(echo_server()) as client:
        echoed = (await client.list_tools()).tools[0].input_schema["properties"]
        answer = await client.call_tool("echo_request", {name: value for name, (value, _) in EVERY_FIELD.items()})
    assert not answer.is_error, answer.content
    agent = RequestArgs.model_validate_json(answer.content[0].text)
    parsed = {
        command: cli._parser().parse_args([command, *(arg for _, argv in EVERY_FIELD.values() for arg in argv)])
        for command in ("generate", "cost")
    }
    for name, info in RequestArgs.model_fields.items():
        sent = EVERY_FIELD[name][0]
        # The tool's parameter: generate_video's schema, estimate_cost's the same but for the description.
        assert generate["properties"][name] == echoed[name], name
        assert json_types(TypeAdapter(info.annotation).json_schema()) == json_types(generate["properties"][name]), name
        assert getattr(agent, name) == sent, name
        for command, flags in parsed.items():  # the flag's value, typed as the agent's (not "7" for 7)
            typed = (PARAMS[name].from_flag or (lambda value: value))(getattr(flags, name))
            assert (typed, type(typed)) == (sent, type(sent)), (command, name)
            assert getattr(cli._request(flags), name) == sent, (command, name)
