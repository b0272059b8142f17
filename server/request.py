"""The video request, declared once. RequestArgs' fields, each with its Param, make the flat parameters of the
tools that take a request (generate_video, estimate_cost and the spend question; the MCP SDK builds their input
schemas from the signature) and the CLI's `generate` and `cost` flags. A new request field is one field here."""

from __future__ import annotations

import argparse
import inspect
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

from pydantic import BaseModel, Field

from providers.options import VideoOptions

# estimate_cost takes generate_video's request: the same types and bounds, described once (in generate_video) so
# that every agent does not pay for each description twice on every turn (tools/list).
SAME = "As in generate_video."


@dataclass(frozen=True, eq=False)
class Param:
    """How a request field is asked for. Agents: a tool parameter described by `description` (short: every agent
    pays for it in tokens on every turn), refusing with `strict`, `ge` and `le` what RequestArgs (which takes a
    request as given) would coerce or judge later; of type `tool_type` (default: the field's), turned into the
    field's value by `from_tool`. People: the flag `--name-with-dashes` (or `flag`; "" for a positional) with
    argparse's keywords `cli`, its value turned into the field's by `from_flag`."""

    description: str
    strict: bool = False
    ge: int | None = None
    le: int | None = None
    tool_type: Any = None
    from_tool: Callable[[Any], Any] | None = None
    flag: str | None = None
    cli: dict[str, Any] = field(default_factory=dict)
    from_flag: Callable[[Any], Any] | None = None


def option_values(options: VideoOptions | None) -> dict[str, Any] | None:
    """The options given, as the catalog and the adapters check them (plain values, no unset ones)."""
    return None if options is None else options.model_dump(exclude_none=True) or None


def option_pairs(pairs: list[str] | None) -> dict[str, Any] | None:
    """--option NAME=VALUE pairs; a VALUE that parses as JSON is taken as such (numbers, objects)."""
    from server.settings import SettingsError

    if not pairs:
        return None
    options: dict[str, Any] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise SettingsError(f"--option takes NAME=VALUE, not {pair!r}")
        try:
            options[name.strip()] = json.loads(value)
        except ValueError:
            options[name.strip()] = value
    return options


class RequestArgs(BaseModel):
    """The request fields as an agent or a person gives them; anything may be missing. Checked against the model
    by the catalog (Catalog.resolve), which makes the VideoRequest the providers get."""

    prompt: Annotated[str, Param("What the video shows: subject, action, setting, camera, style.", flag="")]
    provider: Annotated[str | None, Param("Provider from list_models; default: the configured one.")] = None
    model: Annotated[str | None, Param("Model id from list_models; default: the provider's.")] = None
    # strict: a JSON `true` must not become 1 (pydantic's lax mode), nor "5" a number the agent did not send.
    duration: Annotated[
        float | None, Param("Seconds, one the model lists; default: its own.", strict=True, cli={"type": float})
    ] = None
    aspect_ratio: Annotated[str | None, Param("Aspect ratio such as 16:9, 9:16, 1:1.")] = None
    resolution: Annotated[str | None, Param("Such as 720p, 1080p, as the model lists.")] = None
    images: Annotated[
        list[str] | None,
        Param(
            "Start image(s): https URL, data URI or local file path.",
            flag="--image",
            cli={
                "action": "append",
                "metavar": "IMAGE",
                "help": "Start image: https URL, data URI or path (repeatable).",
            },
        ),
    ] = None
    end_image: Annotated[str | None, Param("Last frame (URL, data URI or path), where supported.")] = None
    video: Annotated[str | None, Param("Video to edit (URL, data URI or path); a file sets duration/shape.")] = None
    negative_prompt: Annotated[str | None, Param("What to avoid, where supported.")] = None
    seed: Annotated[
        int | None,
        Param("For repeatable results, where supported.", strict=True, ge=0, le=2**32 - 1, cli={"type": int}),
    ] = None
    audio: Annotated[
        bool | None,
        Param(
            "Generate sound, where supported (may cost more).",
            strict=True,
            cli={"action": argparse.BooleanOptionalAction},
        ),
    ] = None
    options: Annotated[
        dict[str, Any] | None,
        Param(
            "Provider-specific settings the model lists in list_models.",
            tool_type=VideoOptions | None,
            from_tool=option_values,
            flag="--option",
            cli={
                "action": "append",
                "metavar": "NAME=VALUE",
                "help": "A provider-specific setting (repeatable; VALUE may be JSON); see `models`.",
            },
            from_flag=option_pairs,
        ),
    ] = None


def _param(name: str) -> Param:
    found = [m for m in RequestArgs.model_fields[name].metadata if isinstance(m, Param)]
    assert len(found) == 1, f"RequestArgs.{name} needs one Param"
    return found[0]


PARAMS: dict[str, Param] = {name: _param(name) for name in RequestArgs.model_fields}


def tool_annotation(name: str, brief: bool = False) -> Any:
    """A request field as a tool parameter's annotation. `brief`: described as generate_video's (the required
    prompt keeps its own description: an agent must know what to put there)."""
    info, param = RequestArgs.model_fields[name], PARAMS[name]
    checks: dict[str, Any] = {"strict": param.strict or None, "ge": param.ge, "le": param.le}
    full = Annotated[  # type: ignore[valid-type]  # a type chosen at run time, as pydantic allows
        param.tool_type or info.annotation,
        Field(**{k: v for k, v in checks.items() if v is not None}, description=param.description),
    ]
    return Annotated[full, Field(description=SAME)] if brief and not info.is_required() else full


def from_tool_values(values: dict[str, Any]) -> RequestArgs:
    """The request from a tool's validated parameters."""
    return RequestArgs(**{name: (PARAMS[name].from_tool or _same)(value) for name, value in values.items()})


def _same(value: Any) -> Any:
    return value


Tool = Callable[..., Awaitable[Any]]


def takes_request(*, brief: bool = False) -> Callable[[Tool], Tool]:
    """A tool (or a Resolve dependency) written as `async def fn(request: RequestArgs, ...)`, as the MCP SDK needs
    it: the request's fields as flat, annotated keyword parameters in place of `request`, so its input schema
    lists them (`brief`: described as generate_video's). Called with them, it calls `fn` with one RequestArgs."""

    def wrap(fn: Tool) -> Tool:
        # Not typing.get_type_hints: before 3.11 it wraps a parameter defaulting to None in Optional again.
        hints = inspect.get_annotations(fn, eval_str=True)
        parameters: list[inspect.Parameter] = []
        for p in inspect.signature(fn).parameters.values():
            if p.name == "request":
                parameters += [
                    inspect.Parameter(
                        name,
                        inspect.Parameter.KEYWORD_ONLY,
                        annotation=tool_annotation(name, brief),
                        default=inspect.Parameter.empty if info.is_required() else info.default,
                    )
                    for name, info in RequestArgs.model_fields.items()
                ]
            else:  # keyword-only, so that parameters with and without defaults may follow each other
                parameters.append(p.replace(kind=inspect.Parameter.KEYWORD_ONLY, annotation=hints.get(p.name, Any)))
        assert len(parameters) == len({p.name for p in parameters}), f"{fn.__name__} repeats a request field"

        async def tool(**kwargs: Any) -> Any:
            request = from_tool_values({name: kwargs.pop(name) for name in PARAMS if name in kwargs})
            return await fn(request=request, **kwargs)

        returns = hints.get("return", inspect.Signature.empty)
        tool.__signature__ = inspect.Signature(parameters, return_annotation=returns)  # type: ignore[attr-defined]
        tool.__annotations__ = {p.name: p.annotation for p in parameters} | {"return": returns}
        for attribute in ("__module__", "__name__", "__qualname__", "__doc__"):
            setattr(tool, attribute, getattr(fn, attribute))
        return tool

    return wrap


def add_request_flags(parser: argparse.ArgumentParser) -> None:
    """The request's fields as a command's flags (generate, cost); help: the tool's description unless `cli`
    says otherwise."""
    for name, param in PARAMS.items():
        flag = f"--{name.replace('_', '-')}" if param.flag is None else param.flag
        keywords = {"help": param.description, **param.cli}
        if flag:
            parser.add_argument(flag, dest=name, **keywords)
        else:
            parser.add_argument(name, **keywords)


def from_flags(args: argparse.Namespace) -> RequestArgs:
    """The request from a command's parsed flags."""
    return RequestArgs(**{name: (param.from_flag or _same)(getattr(args, name)) for name, param in PARAMS.items()})
