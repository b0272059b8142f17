"""Tool arguments as agents meet them: closed schemas every framework converts without loss, unknown names
refused with the closest valid one, and validation failures told in our words (INVALID_INPUT), not pydantic's."""

from __future__ import annotations

import difflib
import inspect
import json
import re
from typing import Any

from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError
from pydantic import ConfigDict, ValidationError

from providers.base import ErrorCode


class VideogenServer(MCPServer):
    """MCPServer whose tools refuse unknown arguments, publish input schemas every agent framework converts
    without loss, and answer bad arguments in our words (INVALID_INPUT) instead of pydantic's."""

    def add_tool(self, fn: Any, name: str | None = None, *args: Any, **kwargs: Any) -> None:
        super().add_tool(fn, name, *args, **kwargs)
        tool = self._tool_manager.get_tool(name or fn.__name__)
        assert tool is not None
        # The SDK builds the arguments model with pydantic's default extra="ignore": `aspectRatio` would be
        # dropped silently and a 16:9 video made. Same fields, but unknown names are an error.
        closed = type(tool.fn_metadata.arg_model.__name__, (tool.fn_metadata.arg_model,), {"model_config": FORBID})
        tool.fn_metadata.arg_model = closed
        # The SDK's schema of the same fields: the closed model is built on its first call, not at start-up.
        tool.parameters = published_schema(tool.parameters)
        # A docstring's indentation is tokens every agent pays for on every turn.
        tool.description = inspect.cleandoc(tool.description or "")

    async def call_tool(self, name: str, arguments: dict[str, Any], context: Context | None = None) -> Any:
        try:
            return await super().call_tool(name, arguments, context)
        except ToolError as error:
            # The SDK raises argument validation failures as ToolError caused by pydantic's ValidationError.
            tool = self._tool_manager.get_tool(name)
            if (
                tool is None
                or isinstance(error, UnexpectedToolError)
                or not isinstance(error.__cause__, ValidationError)
            ):
                raise
            raise ToolError(f"Error executing tool {name}: {invalid_input(error.__cause__, tool.parameters)}") from (
                error.__cause__
            )


FORBID = ConfigDict(extra="forbid", defer_build=True)


def published_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """An arguments model's JSON schema, shaped so every framework converts it without loss:
    - references inlined (no $defs), titles and `default: null` dropped (tokens, nothing to learn);
    - no `additionalProperties`: google-genai's converter fails on a boolean there, and strict converters
      (openai-agents, pydantic-ai, langchain) add `false` themselves; the server refuses unknown names anyway;
    - nullable parameters as `type: [X, "null"]` (see nullable())."""
    schema = dict(schema)
    defs = schema.pop("$defs", {})

    def lean(node: Any) -> Any:
        if isinstance(node, list):
            return [lean(item) for item in node]
        if not isinstance(node, dict):
            return node
        if "$ref" in node:
            node = {**defs[node["$ref"].rsplit("/", 1)[-1]], **{k: v for k, v in node.items() if k != "$ref"}}
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key in ("title", "additionalProperties") or (key == "default" and value is None):
                continue
            out[key] = {name: lean(v) for name, v in value.items()} if key == "properties" else lean(value)
        return nullable(out)

    def nullable(node: dict[str, Any]) -> dict[str, Any]:
        """`anyOf: [X, null]` as `type: [X, "null"]`: shorter, and google-genai keeps its description (of
        anyOf it keeps only X). An enum keeps anyOf, with the description also inside X."""
        if "anyOf" not in node:
            return node
        rest = {k: v for k, v in node.items() if k != "anyOf"}
        branches = [b for b in node["anyOf"] if b != {"type": "null"}]
        if len(branches) == 1 and len(node["anyOf"]) == 2 and isinstance(branches[0].get("type"), str):
            if "enum" not in branches[0]:
                return {**branches[0], "type": [branches[0]["type"], "null"], **rest}
        if "description" in rest:
            node["anyOf"] = [
                b if b == {"type": "null"} else {**b, "description": rest["description"]} for b in node["anyOf"]
            ]
        return node

    return lean(schema)


def invalid_input(error: ValidationError, schema: dict[str, Any]) -> str:
    """pydantic's errors as `INVALID_INPUT: <field>: <what is wrong>; allowed: <what is allowed>`, one line per
    field; an unknown name comes with the closest valid one."""
    lines: list[str] = []
    for item in error.errors(include_url=False):
        if item["type"] == "extra_forbidden":
            where, node = _walk(schema, item["loc"][:-1])
            name, names = str(item["loc"][-1]), list(node.get("properties", {}))
            near = closest_name(name, names)
            name = name if re.fullmatch(r"[A-Za-z_][\w-]*", name) else json.dumps(name)  # "", " x", "a.b" quoted
            hint = f" (did you mean {near}?)" if near else ""
            what = "unknown argument" if not where else "unknown key"
            line = f"{'.'.join([*where, name])}: {what}{hint}; allowed: {', '.join(names)}"
        else:
            where, node = _walk(schema, item["loc"])
            what = "missing" if item["type"] == "missing" else _wrong(item)
            line = f"{'.'.join(where) or 'arguments'}: {what}; allowed: {describe(node)}"
        if line not in lines:
            lines.append(line)
    return f"{ErrorCode.INVALID_INPUT.value}: " + "\n".join(lines)


def _walk(schema: dict[str, Any], loc: tuple[Any, ...]) -> tuple[list[str], dict[str, Any]]:
    """The field path and its schema for a pydantic error location (whose union tags are skipped)."""
    where: list[str] = []
    node = schema
    for part in loc:
        branches = [b for b in node.get("anyOf", []) if b.get("type") != "null"]
        node = branches[0] if len(branches) == 1 else node  # the non-null branch of a nullable field
        if isinstance(part, int) and "items" in node:
            where, node = [*where[:-1], f"{where[-1]}[{part}]"] if where else [f"[{part}]"], node["items"]
        elif part in node.get("properties", {}):
            where, node = [*where, str(part)], node["properties"][part]
    return where, node


def _wrong(item: Any) -> str:
    """What is wrong with one value, in words, without pydantic's type names."""
    shown = _shown(item.get("input"))
    if item["type"] in ("literal_error", "enum"):
        return f"{shown} is not one of the choices"
    if item["type"] in ("model_type", "dict_type", "model_attributes_type"):
        return f"{shown} should be an object"
    message: str = item["msg"]
    return f"{shown} {message[6:]}" if message.startswith("Input ") else f"{shown} is not accepted: {message}"


def describe(node: dict[str, Any]) -> str:
    """What a schema allows, in words: `an integer from 0 to 4294967295, or null`."""
    kinds = node.get("type")
    branches = node.get("anyOf") or ([{**node, "type": kind} for kind in kinds] if isinstance(kinds, list) else [node])
    words = [_kind(b) for b in branches if b.get("type") != "null"]
    return ", or ".join(words + ["null"] * any(b.get("type") == "null" for b in branches))


def _kind(node: dict[str, Any]) -> str:
    if "enum" in node:
        return "one of " + ", ".join(str(v) for v in node["enum"])
    kind = node.get("type")
    if kind in ("integer", "number"):
        word = "an integer" if kind == "integer" else "a number"
        low, high = node.get("minimum"), node.get("maximum")
        if low is not None and high is not None:
            return f"{word} from {_num(low)} to {_num(high)}"
        if low is not None:
            return f"{word} of at least {_num(low)}"
        return f"{word} of at most {_num(high)}" if high is not None else word
    if kind == "boolean":
        return "true or false"
    if kind == "string":
        return "a string"
    if kind == "array":
        return f"a list, each {_kind(node.get('items', {}))}"
    if kind == "object":
        return "an object with some of " + ", ".join(node.get("properties", {}))
    return "a JSON value"


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _shown(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def _snake(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()).strip("_")


def closest_name(name: str, names: list[str]) -> str | None:
    """The valid name an unknown one most likely meant: `aspectRatio` -> aspect_ratio, `durationSeconds` ->
    duration (a name sharing the first word wins over one that merely looks alike, such as wait_seconds)."""
    key = _snake(name)
    if key in names:
        return key
    first = key.split("_")[0]
    same_start = [n for n in names if n.split("_")[0] == first]
    pool = same_start or names
    found = difflib.get_close_matches(key, pool, n=1, cutoff=0.0 if same_start else 0.6)
    return found[0] if found else None
