"""The engine: validate a request, load (or reuse) its model, run its tool, return the files.

`run` serves one request (the CLI); `prepare` + `run_batch` serve the workers, which group
prepared requests with equal `batch_key`s into one diffusion call.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from typing import Any

from PIL import Image

from craftgen.engine.base import ProgressFn, RunContext, Tool, ToolInput, ToolResult
from craftgen.engine.deepcache import deep_cache
from craftgen.engine.devices import resolve_placement
from craftgen.engine.limits import Limits
from craftgen.engine.models import LoadedModel, ModelCache
from craftgen.engine.options import EngineOptions
from craftgen.engine.registry import ModelRegistry
from craftgen.engine.tools import TOOLS
from craftgen.engine.validation import check_prompt_tokens, resolve
from craftgen.errors import InvalidRequest
from craftgen.schemas import DiffusionRequest, ToolRequest


def _no_progress(done: int, total: int) -> None:
    return None


class Engine:
    """Runs tools on cached models. One engine per process; it is safe to share across threads."""

    def __init__(
        self,
        *,
        options: EngineOptions,
        limits: Limits,
        registry: ModelRegistry | None = None,
    ) -> None:
        self.options = options
        self.limits = limits
        self.registry = registry or ModelRegistry.load(options.registry_path, default=options.default_model)
        self.models = ModelCache(
            self.registry,
            placement=resolve_placement(
                options.device,
                dtype=options.dtype,
                channels_last=options.channels_last,
                attention=options.attention,
                compile=options.compile,
            ),
            allow_downloads=options.allow_downloads,
            max_loaded=options.max_loaded_models,
            memory_budget=options.model_memory_mb * 2**20,
        )

    @staticmethod
    def tool(name: str) -> Tool[Any]:
        try:
            return TOOLS[name]
        except KeyError:
            raise InvalidRequest(
                f"unknown tool {name!r}; choose one of {', '.join(TOOLS)}", field="tool"
            ) from None

    def prepare(
        self,
        request: ToolRequest,
        image: Image.Image | None = None,
        *,
        files: Mapping[str, Image.Image] | None = None,
    ) -> ToolInput[Any]:
        """Check a request and fill its defaults (loads at most a tokenizer; cheap enough for
        the API, so a too-long prompt is refused at submission, not when the job runs).
        `files` are the decoded input files by field name; `image` is short for files["image"]."""
        tool = self.tool(request.tool)
        inputs = dict(files or {})
        if image is not None:
            inputs["image"] = image
        item = resolve(request, inputs, tool=tool, limits=self.limits, options=self.options)
        if isinstance(item.request, DiffusionRequest):
            tokenizer = self.models.tokenizer(item.request.model)
            if tokenizer is not None:
                check_prompt_tokens(tokenizer, item, tool=tool, limits=self.limits)
        return item

    def batch_key(self, item: ToolInput[Any]) -> tuple[object, ...] | None:
        """Prepared inputs with equal keys may share one run_batch call; None runs alone. The
        sampler is part of every key (one scheduler per diffusion call)."""
        key = self.tool(item.request.tool).batch_key(item)
        if key is None or not isinstance(item.request, DiffusionRequest):
            return key
        return (*key, ("sampler", item.request.sampler))

    def run(
        self,
        request: ToolRequest,
        image: Image.Image | None = None,
        *,
        files: Mapping[str, Image.Image] | None = None,
        progress: ProgressFn | None = None,
    ) -> ToolResult:
        return self.run_batch([self.prepare(request, image, files=files)], progress=progress)[0]

    def run_batch(self, items: Sequence[ToolInput[Any]], *, progress: ProgressFn | None = None) -> list[ToolResult]:
        """Run prepared inputs that share a batch key as one batch; results in input order."""
        # 1. One tool, one key.
        if not items:
            return []
        tool = self.tool(items[0].request.tool)
        keys = {self.batch_key(item) for item in items}
        if len(items) > 1 and (len(keys) > 1 or None in keys):
            raise InvalidRequest("these requests cannot share a batch (their batch keys differ)")
        # 2. The model, loaded once and reused.
        first = items[0].request
        model = self.models.get(first.model) if tool.uses_model and isinstance(first, DiffusionRequest) else None
        if model is not None:
            for item in items:
                check_prompt_tokens(model.base.tokenizer, item, tool=tool, limits=self.limits)
        ctx = RunContext(
            model=model, options=self.options, limits=self.limits, progress=progress or _no_progress
        )
        # 3. Run under the model's lock: tools may patch modules (pattern) or switch adapters.
        if model is None:
            return tool.run(ctx, list(items))
        return self._run_locked(tool, model, ctx, items)

    def _run_locked(
        self, tool: Tool[Any], model: LoadedModel, ctx: RunContext, items: Sequence[ToolInput[Any]]
    ) -> list[ToolResult]:
        fast = getattr(items[0].request, "quality", "full") == "fast"  # one batch key, one quality
        if fast and tool.uses_inpaint:
            model.inpaint()  # load its UNet now, so the cache below covers it
        with ExitStack() as stack:
            stack.enter_context(model.lock)
            stack.enter_context(model.adapters_for(tool.name))
            stack.enter_context(model.sampler(getattr(items[0].request, "sampler", None)))  # one per batch key
            caches = [
                stack.enter_context(deep_cache(unet, interval=self.options.deepcache_interval))
                for unet in (model.unets() if fast else [])
            ]
            results = tool.run(ctx, list(items))
        if fast:
            reused = sum(cache.reused for cache in caches)
            forwards = sum(cache.forwards for cache in caches)
            for result in results:
                result.metrics["unet_forwards_reused"] = f"{reused}/{forwards}"
        return results
