"""Published input schemas (OpenAPI / JSON Schema objects), read the same way for every aggregator.

fal publishes each endpoint's queue OpenAPI document, Replicate each model version's Cog OpenAPI schema. Both
describe the input as an object schema whose properties may point elsewhere (`$ref`, Cog's `allOf: [{$ref}]`,
pydantic's `anyOf: [X, {type: null}]` for an optional field). `flatten` turns such a property into one plain
rule; `problems` checks a request body against the properties the way the schema states them (required
fields, unknown fields, types, enums, ranges, lengths), before anything is sent or paid for.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

TYPES: dict[str, type | tuple[type, ...]] = {
    "string": str,
    "integer": int,
    "number": (int, float),
    "boolean": bool,
    "array": list,
    "object": dict,
}


def _target(ref: Any, components: Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
        found = components.get(ref.rsplit("/", 1)[-1])
        return dict(found) if isinstance(found, dict) else {}
    return {}


def flatten(rule: Any, components: Mapping[str, Any], depth: int = 0) -> dict[str, Any]:
    """One property's rule with its references merged in: `$ref`, `allOf` parts, and an `anyOf`/`oneOf` whose
    only non-null branch is the rule (an optional field). An `anyOf` of several real branches (fal's
    `image_size`: an object or a name) keeps no type, so any value of them passes here and fal judges it."""
    if not isinstance(rule, dict) or depth > 8:
        return {}
    merged = {k: v for k, v in rule.items() if k not in ("allOf", "anyOf", "oneOf", "$ref")}
    parts = [_target(rule.get("$ref"), components)] if "$ref" in rule else []
    parts += [flatten(p, components, depth + 1) for p in rule.get("allOf") or [] if isinstance(p, dict)]
    branches = [b for b in (rule.get("anyOf") or rule.get("oneOf") or []) if isinstance(b, dict)]
    real = [flatten(b, components, depth + 1) for b in branches if b.get("type") != "null"]
    if len(real) == 1:
        parts.append(real[0])
        if len(real) < len(branches):
            merged["nullable"] = True
    elif real:
        merged["branches"] = real
    for part in parts:
        merged = {**part, **merged}
    return merged


def properties(schema: Mapping[str, Any], components: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    raw = schema.get("properties")
    return {name: flatten(rule, components) for name, rule in raw.items()} if isinstance(raw, dict) else {}


def choices(rule: Mapping[str, Any], kind: type) -> list[Any]:
    """The enum values of one type (booleans never count as numbers)."""
    return [v for v in rule.get("enum") or [] if isinstance(v, kind) and not isinstance(v, bool)]


def _fits(rule: Mapping[str, Any], value: Any) -> str | None:
    """Why `value` does not fit `rule` (a type, enum, range or length the schema states), or None."""
    kind = rule.get("type")
    if value is None:
        return None if rule.get("nullable") else f"must be a {kind}" if isinstance(kind, str) else None
    if "branches" in rule:
        return None if any(_fits(b, value) is None for b in rule["branches"]) else "is not a value this model takes"
    wanted = TYPES.get(kind) if isinstance(kind, str) else None
    if wanted is not None and (not isinstance(value, wanted) or (isinstance(value, bool) and kind != "boolean")):
        return f"must be a {kind}"
    if "enum" in rule and not any(value == v and type(value) is type(v) for v in rule["enum"]):
        if not (kind == "number" and isinstance(value, (int, float)) and value in rule["enum"]):
            return f"must be one of {', '.join(str(v) for v in rule['enum'])}"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        for key, broken, words in (
            ("minimum", lambda lim: value < lim, "at least"),
            ("maximum", lambda lim: value > lim, "at most"),
            ("exclusiveMinimum", lambda lim: value <= lim, "more than"),
            ("exclusiveMaximum", lambda lim: value >= lim, "less than"),
        ):
            limit = rule.get(key)
            if isinstance(limit, (int, float)) and not isinstance(limit, bool) and broken(limit):
                return f"must be {words} {limit:g}"
    if isinstance(value, str):
        if isinstance(rule.get("maxLength"), int) and len(value) > rule["maxLength"]:
            return f"must be at most {rule['maxLength']} characters (is {len(value)})"
        if isinstance(rule.get("minLength"), int) and len(value) < rule["minLength"]:
            return f"must be at least {rule['minLength']} characters"
    return None


def problems(props: Mapping[str, Mapping[str, Any]], required: list[str], data: Mapping[str, Any]) -> list[str]:
    """What the schema says is wrong with `data`: required fields missing, fields it does not declare, and values
    of the wrong type or outside an enum, range or length. Rules between fields it cannot state are the model's."""
    found = [f"{name} is required" for name in required if name not in data]
    for name, value in data.items():
        rule = props.get(name)
        if rule is None:
            found.append(f"{name} is not an input of this model")
        elif why := _fits(rule, value):
            found.append(f"{name} {why}")
    return found


def option_text(rule: Mapping[str, Any]) -> str:
    """A short account of one schema field, for ModelSpec.options (what an agent may pass in `options`)."""
    if values := rule.get("enum"):
        text = "one of " + ", ".join(str(v) for v in values[:8]) + (", ..." if len(values) > 8 else "")
    else:
        text = str(rule.get("type") or "a value")
        low, high = rule.get("minimum"), rule.get("maximum")
        if isinstance(low, (int, float)) and isinstance(high, (int, float)):
            text += f" {low:g}..{high:g}"
    if "default" in rule and rule["default"] not in (None, "", [], {}):
        text += f" (default {rule['default']})"
    about = str(rule.get("description") or "").strip().split(". ")[0][:60]
    return f"{about}: {text}" if about else text
