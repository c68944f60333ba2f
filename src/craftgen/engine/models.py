"""Loaded models, cached per process: one set of weights, a pipeline per task sharing them.

Switching tool never reloads weights: img2img and inpaint pipelines are built with `from_pipe`,
which reuses the base pipeline's modules. A model's LoRA adapters are loaded once and switched
on only for the tool that names them.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

# From their own modules: for type checkers, diffusers' top-level names are placeholder classes.
from diffusers.models.unets.unet_2d_condition import UNet2DConditionModel
from diffusers.pipelines.stable_diffusion.pipeline_stable_diffusion import StableDiffusionPipeline
from diffusers.pipelines.stable_diffusion.pipeline_stable_diffusion_img2img import StableDiffusionImg2ImgPipeline
from diffusers.pipelines.stable_diffusion.pipeline_stable_diffusion_inpaint import StableDiffusionInpaintPipeline
from transformers import CLIPTokenizer

from craftgen.engine.devices import Placement
from craftgen.engine.loader import free_memory, load_base_pipeline, load_inpaint_unet, load_tokenizer
from craftgen.engine.registry import ModelRegistry, ModelSpec
from craftgen.engine.samplers import build_scheduler
from craftgen.errors import ModelUnavailable


@dataclass
class LoadedModel:
    """One model's pipelines. Callers hold `lock` while they run (tools may patch modules)."""

    spec: ModelSpec
    base: StableDiffusionPipeline
    placement: Placement
    allow_downloads: bool
    lock: threading.RLock = field(default_factory=threading.RLock)
    _img2img: StableDiffusionImg2ImgPipeline | None = None
    _inpaint: StableDiffusionInpaintPipeline | None = None
    _inpaint_variant: StableDiffusionInpaintPipeline | None = None
    _adapters: dict[str, float] = field(default_factory=dict)
    _own_scheduler: Any = None  # the model's own scheduler (left out `sampler`)
    _schedulers: dict[str, Any] = field(default_factory=dict)  # built samplers, by name
    _sampler: str | None = None

    def __post_init__(self) -> None:
        self._own_scheduler = self.base.scheduler

    @property
    def name(self) -> str:
        return self.spec.name

    def weight_bytes(self) -> int:
        """Bytes of every parameter and buffer this model holds (shared tensors counted once)."""
        modules = [self.base.unet, self.base.vae, self.base.text_encoder, *self.unets()[1:]]
        seen: set[int] = set()
        total = 0
        for module in modules:
            for tensor in (*module.parameters(), *module.buffers()):
                if tensor.data_ptr() not in seen:
                    seen.add(tensor.data_ptr())
                    total += tensor.numel() * tensor.element_size()
        return total

    def unets(self) -> list[UNet2DConditionModel]:
        """Every UNet this model has loaded (its own, and its inpainting variant's)."""
        unets = [self.base.unet]
        if self._inpaint_variant is not None:
            unets.append(self._inpaint_variant.unet)
        return unets

    @property
    def txt2img(self) -> StableDiffusionPipeline:
        return self.base

    @property
    def img2img(self) -> StableDiffusionImg2ImgPipeline:
        if self._img2img is None:
            self._img2img = StableDiffusionImg2ImgPipeline.from_pipe(self.base)
            self._img2img.set_progress_bar_config(disable=True)
            self._set_schedulers()
        return self._img2img

    def inpaint(self) -> tuple[StableDiffusionInpaintPipeline, str]:
        """The inpainting pipeline and its method: the model's own variant, else masked img2img."""
        if self.spec.inpaint:
            if self._inpaint_variant is None:
                unet = load_inpaint_unet(
                    self.spec.inpaint,
                    placement=self.placement,
                    allow_downloads=self.allow_downloads,
                )
                self._inpaint_variant = StableDiffusionInpaintPipeline.from_pipe(self.base, unet=unet)
                self._inpaint_variant.set_progress_bar_config(disable=True)
                self._set_schedulers()
            return self._inpaint_variant, "inpaint-model"
        if self._inpaint is None:
            # With a 4-channel UNet, diffusers' inpaint pipeline re-imposes the known region's
            # noised latents at every step: masked img2img.
            self._inpaint = StableDiffusionInpaintPipeline.from_pipe(self.base)
            self._inpaint.set_progress_bar_config(disable=True)
            self._set_schedulers()
        return self._inpaint, "masked-img2img"

    @contextmanager
    def sampler(self, name: str | None) -> Iterator[None]:
        """Run every pipeline of this model with the named sampler's scheduler (None: the
        model's own), then put the model's own back. Callers hold `lock`."""
        self._sampler = name
        self._set_schedulers()
        try:
            yield
        finally:
            self._sampler = None
            self._set_schedulers()

    def _set_schedulers(self) -> None:
        scheduler = self._own_scheduler
        if self._sampler is not None:
            if self._sampler not in self._schedulers:
                self._schedulers[self._sampler] = build_scheduler(self._sampler, self._own_scheduler.config)
            scheduler = self._schedulers[self._sampler]
        for pipe in (self.base, self._img2img, self._inpaint, self._inpaint_variant):
            if pipe is not None and pipe.scheduler is not scheduler:
                pipe.scheduler = scheduler

    @contextmanager
    def adapters_for(self, tool: str) -> Iterator[None]:
        """Switch on the LoRA this tool names (if any) and off every other adapter."""
        self._load_adapters()
        if not self._adapters:
            yield
            return
        lora = self.spec.loras.get(tool)
        if lora is None:
            self.base.disable_lora()
        else:
            self.base.enable_lora()
            self.base.set_adapters([tool], adapter_weights=[lora.scale])
        try:
            yield
        finally:
            self.base.disable_lora()

    def _load_adapters(self) -> None:
        for tool, lora in self.spec.loras.items():
            if tool in self._adapters:
                continue
            if not lora.path.exists():
                raise ModelUnavailable(f"LoRA for tool {tool!r} not found: {lora.path}")
            try:
                self.base.load_lora_weights(str(lora.path), adapter_name=tool)
            except (OSError, ValueError, RuntimeError, KeyError) as exc:
                raise ModelUnavailable(
                    f"LoRA {lora.path} for tool {tool!r} could not be loaded: {exc}"
                ) from exc
            self._adapters[tool] = lora.scale


class ModelCache:
    """Keeps the most recently used models loaded: at most `max_loaded`, and, with a
    `memory_budget` (bytes; 0: none), only as many as fit it. The model asked for always stays."""

    def __init__(
        self,
        registry: ModelRegistry,
        *,
        placement: Placement,
        allow_downloads: bool,
        max_loaded: int,
        memory_budget: int = 0,
    ) -> None:
        self.registry = registry
        self.placement = placement
        self.allow_downloads = allow_downloads
        self.max_loaded = max_loaded
        self.memory_budget = memory_budget
        self._loaded: OrderedDict[str, LoadedModel] = OrderedDict()
        self._tokenizers: dict[str, CLIPTokenizer | None] = {}
        self._lock = threading.Lock()

    def get(self, name: str | None) -> LoadedModel:
        spec = self.registry.resolve(name)
        with self._lock:
            if spec.name in self._loaded:
                self._loaded.move_to_end(spec.name)
                self._evict()  # it may have grown since (an inpainting UNet)
                return self._loaded[spec.name]
            base = load_base_pipeline(
                spec,
                placement=self.placement,
                allow_downloads=self.allow_downloads,
                known_names=self.registry.names(),
            )
            model = LoadedModel(
                spec=spec,
                base=base,
                placement=self.placement,
                allow_downloads=self.allow_downloads,
            )
            self._loaded[spec.name] = model
            self._evict()
            return model

    def _evict(self) -> None:
        """Drop least recently used models until at most `max_loaded` remain and they fit the
        budget (inpainting UNets loaded since count too); the newest one always stays."""
        dropped = False
        while len(self._loaded) > self.max_loaded or (
            self.memory_budget and len(self._loaded) > 1 and self._bytes() > self.memory_budget
        ):
            self._loaded.popitem(last=False)
            dropped = True
        if dropped:
            free_memory()

    def _bytes(self) -> int:
        return sum(model.weight_bytes() for model in self._loaded.values())

    def tokenizer(self, name: str | None) -> CLIPTokenizer | None:
        """A model's tokenizer without its weights, so prompts can be checked where requests
        arrive (the API); None where only loading the whole model would tell."""
        spec = self.registry.resolve(name)
        if spec.name in self._loaded:
            tokenizer: CLIPTokenizer = self._loaded[spec.name].base.tokenizer
            return tokenizer
        if spec.name not in self._tokenizers:
            self._tokenizers[spec.name] = load_tokenizer(spec, allow_downloads=self.allow_downloads)
        return self._tokenizers[spec.name]

    def loaded_names(self) -> list[str]:
        return list(self._loaded)
