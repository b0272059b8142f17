"""What can be asked of which provider, and at what price.

Every request is checked here against the model's spec before a job exists or a provider hears of
it; each error says what was wrong and what is allowed.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, get_args

from providers.base import InvalidRequest, Mode, ModelSpec, Provider, ProviderError, VideoRequest
from providers.registry import Providers
from server.models import CostReport, ModelInfo, ModelList, ModelSummary, ProviderModels
from server.request import RequestArgs  # declared there with its tool parameters and CLI flags

if TYPE_CHECKING:
    from providers.videos import VideoRef

MODES: tuple[str, ...] = get_args(Mode)
# Rows in a listing without filters (about 290 characters each, text and structured together): the rest of the
# catalogue is named by model id, so list_models stays within an agent's budget however many providers join.
BARE_ROWS = 40


def _text(value: str, field: str) -> str:
    """Text must be valid Unicode all the way to the index and JSON (a lone surrogate is not)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidRequest(f"{field} contains characters that are not valid Unicode (lone surrogates)") from None
    return value


# How to name a model of an aggregator's live catalogue, per provider with `describe`.
ANY_MODEL = {
    "fal": "a fal endpoint id, e.g. fal-ai/kling-video/v2.1/standard/text-to-video",
    "replicate": "a Replicate owner/name, e.g. minimax/hailuo-02",
}
SEARCH_HITS = 8  # live-catalogue models described per provider for one search


def _unpriced(spec: ModelSpec) -> bool:
    """A model whose price cannot be quoted (an aggregator's, read from its schema, with no usable price)."""
    note = spec.price.note.lower()
    return not spec.priced and note.startswith(("unpriced", "unknown"))


def _estimated(spec: ModelSpec) -> bool:
    return spec.price.note.lower().startswith("estimate")


def rule_text(spec: ModelSpec) -> str:
    """The price rule in words; an unpriced model's says so instead of 'free'."""
    return spec.price.note if _unpriced(spec) else spec.price.describe()


def takes(spec: ModelSpec, mode: str) -> bool:
    """Whether a model makes videos in `mode` (video_to_video: it takes an input video)."""
    return spec.video if mode == "video_to_video" else mode in spec.modes


def listed_modes(spec: ModelSpec) -> list[Mode]:
    """The modes a listing shows: what it makes from text and images, and video_to_video when it takes a video."""
    extra: list[Mode] = ["video_to_video"] if spec.video and "video_to_video" not in spec.modes else []
    return [*spec.modes, *extra]


def _covering_duration(spec: ModelSpec, source: VideoRef | None) -> float:
    """The shortest duration the model offers that covers the input video's length (its longest if none does);
    the model's default when there is no readable input."""
    if source is None or source.seconds is None:
        return spec.default_duration
    covering = [d for d in spec.durations if d >= source.seconds - 1e-3]
    return min(covering) if covering else max(spec.durations)


def _nearest_ratio(spec: ModelSpec, source: VideoRef | None) -> str | None:
    """The model's aspect ratio nearest the input video's shape (by the ratio's logarithm), or None."""
    if source is None or not source.width or not source.height:
        return None
    shape = math.log(source.width / source.height)

    def distance(ratio: str) -> float:
        width, _, height = ratio.partition(":")
        return abs(math.log(float(width) / float(height)) - shape)

    return min(spec.aspect_ratios, key=distance)


def _choices(values: Sequence[object]) -> str:
    return ", ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in values)


class Catalog:
    def __init__(self, providers: Providers, allowed_dirs: Sequence[Path]):
        self.providers = providers
        self.allowed_dirs = list(allowed_dirs)

    def provider(self, name: str | None) -> Provider:
        name = (name or self.providers.default_name()).strip().lower()
        if name not in self.providers.names():
            raise InvalidRequest(f"unknown provider {name!r}; available: {_choices(self.providers.names())}")
        return self.providers.get(name)

    def spec(self, provider: Provider, model: str | None) -> ModelSpec:
        model = (model or provider.default_model).strip()
        spec = provider.spec(model)
        if spec is None and provider.name in ANY_MODEL and "/" in model:
            raise InvalidRequest(
                f"unknown model {model!r} for provider {provider.name!r}: {provider.title} publishes no schema for "
                "that id, or that model takes no text prompt or makes no video. list_models "
                f"provider={provider.name} search=<words> finds its video models."
            )
        if spec is None:
            ids = [m.id for m in provider.models]
            more = (
                f"; or any video model of {provider.title}'s catalogue by its id ({ANY_MODEL[provider.name]}); "
                f"list_models provider={provider.name} search=<words> finds them"
                if provider.name in ANY_MODEL
                else ""
            )
            raise InvalidRequest(
                f"unknown model {model!r} for provider {provider.name!r}; available: {_choices(ids)}{more}"
            )
        return spec

    async def prepare(self, provider_name: str | None, model: str | None) -> None:
        """Read a model an aggregator publishes (a fal endpoint id, a Replicate owner/name) that is not curated,
        so the synchronous checks (resolve, estimate, models) find it: the provider's `describe` fetches its
        schema and price and caches them. Call before those for a request or a listing naming a model.
        Unknown ids are left for them to refuse; a schema that cannot be read raises ProviderError saying so."""
        if not model or not model.strip():
            return
        await self.provider(provider_name).describe(model.strip())

    async def _prepare_any(self, model: str) -> str | None:
        """For list_models(model=...) without a provider: the provider that knows `model` (curated first, then
        the aggregators' catalogues), or None."""
        for name in self.providers.names():
            if self.providers.get(name).spec(model) is not None:
                return name
        failed: list[ProviderError] = []
        for name in self.providers.names():
            try:
                if await self.providers.get(name).describe(model) is not None:
                    return name
            except ProviderError as error:  # another catalogue may still have it
                failed.append(error)
        if failed:
            raise failed[0]
        return None

    def resolve(self, args: RequestArgs, *, check_files: bool = True) -> tuple[Provider, ModelSpec, VideoRequest]:
        """Validate every field against the model's spec; fill in the model's defaults."""
        provider = self.provider(args.provider)
        spec = self.spec(provider, args.model)
        where = f"{provider.name}/{spec.id}"

        prompt = _text(args.prompt, "prompt").strip()
        if not prompt:
            raise InvalidRequest("prompt is empty; describe the video you want")
        if len(prompt) > spec.max_prompt_chars:
            raise InvalidRequest(f"prompt is {len(prompt)} characters; {where} accepts at most {spec.max_prompt_chars}")

        images = [_text(i, "images").strip() for i in (args.images or []) if i.strip()]
        end_image = _text(args.end_image or "", "end_image").strip() or None
        video = None if args.video is None else _text(args.video, "video").strip()
        if video == "":  # not silently text-to-video: the agent meant to send one
            raise InvalidRequest("video is empty; pass a path, an https URL or a data URI (or leave video out)")
        mode: Mode = "image_to_video" if images or end_image else "text_to_video"
        if video:
            if not spec.video:
                takers = ", ".join(f"{p}/{m}" for p, m in self._video_models()) or "none"
                raise InvalidRequest(
                    f"{where} does not take an input video (video); models that do: {takers}. Remove video, "
                    "or choose one of those"
                )
            if images or end_image:
                raise InvalidRequest(f"{where} edits the input video without images; remove images/end_image, or video")
            mode = "video_to_video"
        elif spec.video and not spec.modes:
            raise InvalidRequest(f"{where} is video-to-video only; pass an input video in video")
        elif "text_to_video" not in spec.modes and not images:  # before the next: no images is not "images"
            raise InvalidRequest(f"{where} is image-to-video only; pass a start image in images")
        elif mode not in spec.modes:
            raise InvalidRequest(f"{where} does not take images (text-to-video only); remove images/end_image")
        if len(images) > spec.max_images:
            raise InvalidRequest(f"{len(images)} images given; {where} accepts at most {spec.max_images}")
        if end_image and not spec.end_image:
            raise InvalidRequest(f"{where} does not support end_image (a last frame)")
        if end_image and not images:
            raise InvalidRequest("end_image needs a start image in images")

        # A video to edit that can be read (a file or data URI) sets what the agent left out: its length (the
        # shortest duration covering it) and its shape (the nearest aspect ratio). Read here, estimates included,
        # so a quote and the job it prices agree; the same read checks it against the model's limits.
        source = None
        if video and (check_files or args.duration is None or args.aspect_ratio is None):
            from providers.videos import validate_video

            source = validate_video(
                video,
                self.allowed_dirs,
                max_bytes=spec.max_video_bytes,
                max_seconds=spec.max_video_seconds,
                min_side=spec.min_video_side,
                where=where,
            )
        duration = float(args.duration) if args.duration is not None else _covering_duration(spec, source)
        if not any(abs(duration - d) < 1e-6 for d in spec.durations):
            raise InvalidRequest(
                f"duration {duration:g} s is not supported by {where}; allowed: {_choices(spec.durations)} seconds"
            )
        aspect_ratio = (args.aspect_ratio or _nearest_ratio(spec, source) or spec.default_aspect_ratio).strip()
        if aspect_ratio not in spec.aspect_ratios:
            raise InvalidRequest(
                f"aspect_ratio {aspect_ratio!r} is not supported by {where}; allowed: {_choices(spec.aspect_ratios)}"
            )
        resolution = (args.resolution or spec.default_resolution).strip()
        by_lower = {r.lower(): r for r in spec.resolutions}
        if resolution.lower() not in by_lower:
            raise InvalidRequest(
                f"resolution {resolution!r} is not supported by {where}; allowed: {_choices(spec.resolutions)}"
            )
        resolution = by_lower[resolution.lower()]
        audio = spec.default_audio if args.audio is None else args.audio
        if audio and not spec.audio:
            raise InvalidRequest(f"{where} cannot generate audio; set audio to false")
        negative_prompt = _text(args.negative_prompt or "", "negative_prompt").strip() or None
        if negative_prompt and not spec.negative_prompt:
            raise InvalidRequest(f"{where} does not support negative_prompt")
        if negative_prompt and len(negative_prompt) > spec.max_prompt_chars:
            raise InvalidRequest(f"negative_prompt is longer than {spec.max_prompt_chars} characters")
        if args.seed is not None and not spec.seed:
            raise InvalidRequest(f"{where} does not support seed")
        if args.seed is not None and not 0 <= args.seed <= 2**32 - 1:
            raise InvalidRequest(f"seed {args.seed} is out of range; allowed: 0 to {2**32 - 1}")

        options = dict(args.options or {})
        unknown = sorted(set(options) - set(spec.options))
        if unknown:
            allowed = ", ".join(f"{k} ({v})" for k, v in spec.options.items()) or "none"
            raise InvalidRequest(f"{where} does not take option(s) {', '.join(unknown)}; its options: {allowed}")

        if check_files:
            from providers.images import validate_image

            for image in [*images, *([end_image] if end_image else [])]:
                validate_image(image, self.allowed_dirs)

        request = VideoRequest(
            prompt=prompt,
            provider=provider.name,
            model=spec.id,
            mode=mode,
            duration=duration,
            aspect_ratio=aspect_ratio,
            resolution=resolution,
            images=images,
            end_image=end_image,
            video=video,
            negative_prompt=negative_prompt,
            seed=args.seed,
            audio=audio,
            options=options,
        )
        provider.check(request)
        return provider, spec, request

    def _video_models(self) -> list[tuple[str, str]]:
        """(provider, model) of every model taking an input video."""
        return [(n, spec.id) for n in self.providers.names() for spec in self.providers.get(n).models if spec.video]

    def estimate(self, args: RequestArgs) -> CostReport:
        # Prices do not depend on images: they are checked only when a job is made. A video to edit is read when
        # it sets the duration or aspect ratio (resolve).
        provider, spec, request = self.resolve(args, check_files=False)
        return self.price(provider, spec, request)

    def price(self, provider: Provider, spec: ModelSpec, request: VideoRequest) -> CostReport:
        usd, lines = spec.price_for(request.duration, request.resolution, request.audio)
        notes = [] if provider.configured() else [f"set {', '.join(provider.missing_env())} to use {provider.title}"]
        if _unpriced(spec):
            notes.insert(0, "UNPRICED: no price can be quoted before it runs, so it will not be started; see rule")
        elif _estimated(spec):
            notes.insert(0, f"ESTIMATE: {provider.title}'s base rate; the real charge may differ (see rule)")
        return CostReport(
            provider=provider.name,
            model=spec.id,
            usd=usd,
            breakdown=lines,
            rule=rule_text(spec),
            configured=provider.configured(),
            note="; ".join(notes),
        )

    def models(
        self,
        provider_name: str | None = None,
        *,
        mode: str | None = None,
        audio: bool | None = None,
        max_usd: float | None = None,
        model: str | None = None,
        compact: bool = False,
    ) -> ModelList:
        """The catalogue, filtered: every filter narrows, None means any. `model` (an id, or provider/id) picks
        one model (or the same id at several providers). `compact`: rows of ModelSummary, for choosing; else
        ModelInfo in full. Unknown providers, modes and models, and bad prices, raise InvalidRequest."""
        if model and "/" in model and not provider_name and model.split("/", 1)[0] in self.providers.names():
            provider_name, model = model.split("/", 1)
        names = [self.provider(provider_name).name] if provider_name else self.providers.names()
        if mode is not None and mode not in MODES:
            raise InvalidRequest(f"unknown mode {mode!r}; allowed: {_choices(MODES)}")
        if max_usd is not None and not (math.isfinite(max_usd) and max_usd >= 0):
            raise InvalidRequest(f"max_usd {max_usd!r} is not a price; give US dollars, 0 or more (e.g. 0.5)")
        wanted = model.strip() if model else None
        if wanted is not None:
            ids = [spec.id for name in names for spec in self.providers.get(name).models]
            if wanted not in ids:
                where = f" of provider {names[0]!r}" if provider_name else ""
                close = difflib.get_close_matches(wanted, list(dict.fromkeys(ids)), n=3)
                hint = f" (did you mean {_choices(close)}?)" if close else ""
                raise InvalidRequest(
                    f"unknown model {wanted!r}{where}{hint}; call list_models without `model` to see every model id"
                )
        default_provider = self.providers.default_name()
        infos: list[ModelInfo] = []
        for name in names:
            provider = self.providers.get(name)
            for spec in provider.models:
                usd, _ = spec.price_for(spec.default_duration, spec.default_resolution, spec.default_audio)
                if (
                    (wanted is not None and spec.id != wanted)
                    or (mode is not None and not takes(spec, mode))
                    or (audio is not None and spec.audio != audio)
                    or (max_usd is not None and usd > max_usd + 1e-9)
                ):
                    continue
                infos.append(self._info(provider, spec, usd, default_provider))
        default = self.providers.get(default_provider)
        listing = ModelList(
            default_provider=default_provider, default_model=f"{default.name}/{default.default_model}", models=[]
        )
        bare = compact and not (provider_name or mode or audio is not None or max_usd is not None or wanted)
        if bare:  # rows for usable providers up to BARE_ROWS; the others as their ids, so the size stays bounded
            shown: list[ModelInfo] = []
            for name in sorted(names, key=lambda n: n != default_provider):
                of = [info for info in infos if info.provider == name]
                if of and of[0].configured and len(shown) + len(of) <= BARE_ROWS:
                    shown += of
                elif of:
                    listing.others.append(
                        ProviderModels(provider=name, missing_env=of[0].missing_env, models=[i.model for i in of])
                    )
            infos = shown
        listing.models = (
            [ModelSummary(**info.model_dump(include=set(ModelSummary.model_fields))) for info in infos]
            if compact
            else list(infos)
        )
        if not listing.models and not listing.others:
            listing.note = "No model matches these filters; drop or widen one."
        elif compact:
            listing.note = (
                "Filters: provider, mode, audio, max_usd; model=<id> gives one in full (aspect ratios, options, "
                "price rule)."
                + (" Other providers list their model ids; provider=<name> shows their rows." if listing.others else "")
            )
        return listing

    def _info(self, provider: Provider, spec: ModelSpec, usd: float, default_provider: str) -> ModelInfo:
        return ModelInfo(
            provider=provider.name,
            provider_title=provider.title,
            model=spec.id,
            name=spec.name,
            description=spec.description,
            modes=listed_modes(spec),
            durations=list(spec.durations),
            default_duration=spec.default_duration,
            aspect_ratios=list(spec.aspect_ratios),
            default_aspect_ratio=spec.default_aspect_ratio,
            resolutions=list(spec.resolutions),
            default_resolution=spec.default_resolution,
            audio=spec.audio,
            max_images=spec.max_images,
            end_image=spec.end_image,
            negative_prompt=spec.negative_prompt,
            seed=spec.seed,
            max_prompt_chars=spec.max_prompt_chars,
            options=dict(spec.options),
            price=rule_text(spec),
            price_source=spec.price_source,
            price_checked=spec.price_checked,
            example_cost_usd=usd,
            configured=provider.configured(),
            missing_env=provider.missing_env(),
            is_default=provider.name == default_provider and spec.id == provider.default_model,
        )

    async def amodels(
        self,
        provider_name: str | None = None,
        *,
        mode: str | None = None,
        audio: bool | None = None,
        max_usd: float | None = None,
        model: str | None = None,
        search: str | None = None,
        compact: bool = False,
    ) -> ModelList:
        """`models`, reading first what it needs from an aggregator: a `model` it publishes (described and
        cached), or, with `search`, the curated models and the providers' live catalogues matching the words."""
        if search is not None and search.strip():
            return await self.search(search, provider_name, mode=mode, audio=audio, max_usd=max_usd)
        wanted = (model or "").strip()
        if wanted:
            split = "/" in wanted and wanted.split("/", 1)[0] in self.providers.names()
            if provider_name:
                await self.prepare(provider_name, wanted)
            elif split:  # provider/id, e.g. fal/fal-ai/kling-video/v2.1/standard/text-to-video
                await self.prepare(*wanted.split("/", 1))
            else:
                provider_name = await self._prepare_any(wanted)
        return self.models(provider_name, mode=mode, audio=audio, max_usd=max_usd, model=model, compact=compact)

    async def _described_hits(
        self, provider: Provider, hits: list[str], problems: list[str]
    ) -> list[tuple[str, ModelSpec]]:
        """The specs of a catalogue's search hits, described at once (each cached by the provider), in order."""
        import anyio

        specs: list[ModelSpec | None] = [None] * len(hits)

        async def one(index: int, hit: str) -> None:
            try:
                specs[index] = provider.spec(hit) or await provider.describe(hit)
            except ProviderError as error:
                problems.append(f"{provider.name}/{hit}: {error.message}")

        async with anyio.create_task_group() as group:
            for index, hit in enumerate(hits):
                group.start_soon(one, index, hit)
        return [(provider.name, spec) for spec in specs if spec is not None]

    async def search(
        self,
        text: str,
        provider_name: str | None = None,
        *,
        mode: str | None = None,
        audio: bool | None = None,
        max_usd: float | None = None,
    ) -> ModelList:
        """Compact rows of the models matching every word of `text`: curated ones by id, name and description,
        and up to SEARCH_HITS per aggregator from its live catalogue (fal's Platform API, Replicate's search),
        each described from its published schema (cached). Prices that are estimates or unknown are named."""
        words = _text(text, "search").lower().split()
        if len(text) > 200:
            raise InvalidRequest("search is longer than 200 characters; give a few words, e.g. 'seedance'")
        names = [self.provider(provider_name).name] if provider_name else self.providers.names()
        base = self.models(provider_name, mode=mode, audio=audio, max_usd=max_usd)  # checks the filters
        default_provider = base.default_provider
        rows: dict[tuple[str, str], ModelInfo] = {}
        for info in base.models:  # in full (not compact): ModelInfo rows
            assert isinstance(info, ModelInfo)
            text_of = f"{info.model} {info.name} {info.description}".lower()
            if all(word in text_of for word in words):
                rows[(info.provider, info.model)] = info
        problems: list[str] = []
        found: list[tuple[str, ModelSpec]] = []
        for name in names:
            provider = self.providers.get(name)
            if not (provider.configured() or provider.search_without_key):
                continue
            try:
                hits = await provider.search(" ".join(words), SEARCH_HITS)
            except ProviderError as error:
                problems.append(f"{provider.title}'s catalogue could not be searched: {error.message}")
                continue
            found += await self._described_hits(provider, hits, problems)
        for name, spec in found:
            if (name, spec.id) not in rows:
                provider = self.providers.get(name)
                usd = spec.price_at_defaults()
                if (
                    (mode is not None and not takes(spec, mode))
                    or (audio is not None and spec.audio != audio)
                    or (max_usd is not None and (usd > max_usd + 1e-9 or _unpriced(spec)))
                ):
                    continue
                rows[(name, spec.id)] = self._info(provider, spec, usd, default_provider)
        infos = list(rows.values())
        listing = ModelList(default_provider=default_provider, default_model=base.default_model, models=[])
        listing.models = [ModelSummary(**i.model_dump(include=set(ModelSummary.model_fields))) for i in infos]
        specs = {(i.provider, i.model): self.providers.get(i.provider).spec(i.model) for i in infos}
        estimated = [f"{p}/{m}" for (p, m), spec in specs.items() if spec is not None and _estimated(spec)]
        unpriced = [f"{p}/{m}" for (p, m), spec in specs.items() if spec is not None and _unpriced(spec)]
        notes = [] if infos else [f"No model matches {text!r}; try other words or drop a filter."]
        if estimated:
            notes.append(f"Price is an estimate (the provider's base rate) for {', '.join(estimated)}.")
        if unpriced:
            notes.append(f"UNPRICED, will not run (cost cannot be quoted; 0 shown): {', '.join(unpriced)}.")
        notes += problems
        notes.append("model=<id> gives one in full (price rule and source, options).")
        listing.note = " ".join(notes)
        return listing
