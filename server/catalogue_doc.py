"""docs/models.md, the catalogue for people: every provider and model, capability and price with its source,
generated from the registry (the same ModelSpecs the server validates and prices with).

    python -m server.catalogue_doc            write docs/models.md
    python -m server.catalogue_doc --check    exit 1 when the file is not what the registry says
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from providers.base import ModelSpec, Provider
from providers.registry import Providers
from server.catalog import listed_modes

DOC = "docs/models.md"
COMMAND = "python -m server.catalogue_doc"
ROOT = Path(__file__).resolve().parent.parent
MODES = {"text_to_video": "text", "image_to_video": "image", "video_to_video": "video"}


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return " ".join(text.split()).replace("|", "\\|")


def _cancel(provider: Provider) -> str:
    never = "no (a submitted job runs to its end and is charged)"
    if not provider.supports_cancel:
        return never
    without = [f"`{spec.id}`" for spec in provider.models if not provider.cancels(spec.id)]
    return f"yes, except {', '.join(without)}: {never}" if without else "yes"


def _seconds(values: tuple[float, ...]) -> str:
    return ", ".join(f"{v:g}" for v in values) + " s"


def _choices(values: tuple[str, ...], default: str) -> str:
    return ", ".join(f"**{v}**" if v == default else v for v in values)


def _usd(value: float) -> str:
    return f"${value:.2f}" if round(value, 2) == round(value, 4) else f"${value:.4f}".rstrip("0")


def _modes(spec: ModelSpec) -> str:
    """text + image (+ video, for a model taking an input video), as list_models shows them."""
    return " + ".join(MODES.get(m, m) for m in listed_modes(spec))


def _images(spec: ModelSpec) -> str:
    if "image_to_video" not in spec.modes:
        return "none"
    text = f"up to {spec.max_images} start image{'s' if spec.max_images != 1 else ''}"
    return text + (", an end image" if spec.end_image else "")


def _source(spec: ModelSpec) -> str:
    if not spec.priced:
        return "free (no charge, no source needed)"
    if not spec.price_source:
        return "**missing**"
    shown = spec.price_source.removeprefix("https://")
    return f"[{shown}]({spec.price_source})"


def _example(spec: ModelSpec) -> str:
    sound = "with audio" if spec.default_audio else "silent"
    return (
        f"{_usd(spec.price_at_defaults())} for a default video ({spec.default_duration:g} s, "
        f"{spec.default_resolution}, {spec.default_aspect_ratio}, {sound})"
    )


def _model(provider: Provider, spec: ModelSpec) -> list[str]:
    extras = [name for name, on in (("negative prompt", spec.negative_prompt), ("seed", spec.seed)) if on]
    rows = [
        ("Modes", _modes(spec) + " to video"),
        ("Durations", _seconds(spec.durations) + f" (default {spec.default_duration:g})"),
        ("Aspect ratios", _choices(spec.aspect_ratios, spec.default_aspect_ratio)),
        ("Resolutions", _choices(spec.resolutions, spec.default_resolution)),
        ("Audio", ("yes, on by default" if spec.default_audio else "yes, off by default") if spec.audio else "no"),
        ("Image inputs", _images(spec)),
        ("Prompt", f"up to {spec.max_prompt_chars} characters" + (f"; also {' and '.join(extras)}" if extras else "")),
        ("Options", "; ".join(f"`{k}`: {v}" for k, v in spec.options.items()) or "none"),
        ("Price rule", spec.price.describe()),
        ("Example price", _example(spec)),
        ("Price source", _source(spec)),
        ("Price checked", spec.price_checked or ("-" if not spec.priced else "**missing**")),
    ]
    default = " (the provider's default)" if spec.id == provider.default_model else ""
    lines = [f"### `{provider.name}/{spec.id}`: {spec.name}{default}", ""]
    if spec.description:
        lines += [" ".join(spec.description.split()), ""]
    lines += ["| | |", "|---|---|", *(f"| {name} | {_cell(value)} |" for name, value in rows), ""]
    return lines


def _provider(provider: Provider) -> list[str]:
    override = f"VIDEOGEN_{provider.name.upper()}_BASE_URL"
    keys = ", ".join(f"`{v}`" for v in provider.env_vars) or "none (works offline)"
    where = (
        f"`{provider.base_url_default}`; override with `{override}` (a proxy or a simulator)"
        if provider.base_url_default
        else "none (runs locally)"
    )
    lines = [
        f"## {provider.title}: `{provider.name}`",
        "",
        f"- Credentials: {keys}",
        f"- API base URL: {where}",
        f"- Cancel: {_cancel(provider)}",
        "",
        "| Model | Name | Inputs | Durations | Example price |",
        "|---|---|---|---|---|",
    ]
    for spec in provider.models:
        lines.append(
            f"| [`{spec.id}`](#{_anchor(provider, spec)}) | {_cell(spec.name)} | "
            f"{_modes(spec)} | {_seconds(spec.durations)} | "
            f"{_usd(spec.price_at_defaults())} |"
        )
    lines.append("")
    for spec in provider.models:
        lines += _model(provider, spec)
    return lines


def _anchor(provider: Provider, spec: ModelSpec) -> str:
    """GitHub's anchor for the model's heading: lower case, punctuation but - and _ dropped, spaces as -."""
    heading = f"{provider.name}/{spec.id}: {spec.name}" + (
        " (the provider's default)" if spec.id == provider.default_model else ""
    )
    kept = "".join(c for c in heading.lower() if c.isalnum() or c in " -_")
    return kept.replace(" ", "-")


def render() -> str:
    """The whole document, from the registry only (no environment: the same text on every machine)."""
    providers = Providers({})
    names = providers.names()
    count = sum(len(providers.get(name).models) for name in names)
    lines = [
        "# Models",
        "",
        f"<!-- Generated by `{COMMAND}` from the providers' ModelSpecs; do not edit by hand. -->",
        "",
        f"{count} models from {len(names)} providers. Prices are in US dollars as each provider publishes them; "
        "the server quotes the same rules (`estimate_cost`) before any money is spent. Defaults are in **bold**. "
        "`list_models` with `model=<provider/id>` gives the same details to an agent.",
        "",
    ]
    for name in names:
        lines += _provider(providers.get(name))
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when the file is out of date; write nothing")
    parser.add_argument("--output", default=str(ROOT / DOC), help=f"where the document goes (default: {DOC})")
    args = parser.parse_args(argv)
    path = Path(args.output)
    text = render()
    if args.check:
        current = path.read_text(encoding="utf-8") if path.exists() else ""
        if current != text:
            print(f"{path} is out of date: run `{COMMAND}` and commit it", file=sys.stderr)
            return 1
        return 0
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
