"""Cheaper numbers behind settings: each one is applied where models load, changes pixels no
more than its kind should, and is off by default (the defaults match stock diffusers)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from diffusers.models.attention_processor import AttnProcessor, AttnProcessor2_0

from craftgen.config import Settings
from craftgen.engine.devices import cpu_has_native_bf16, resolve_dtype, resolve_placement
from craftgen.engine.engine import Engine
from craftgen.engine.limits import Limits
from craftgen.engine.options import EngineOptions
from craftgen.engine.requests import parse_request
from tests.conftest import smooth_image

TEXT = dict(tool="text", prompt="a cat", seed=3, steps=3, width=64, height=64)


def _text_pixels(engine: Engine) -> np.ndarray:
    return np.asarray(engine.run(parse_request(TEXT)).outputs[0].image, np.int16)


@pytest.fixture(scope="module")
def reference(options: EngineOptions) -> np.ndarray:
    return _text_pixels(Engine(options=options, limits=Limits()))


def test_defaults_are_exact_fp32_sdpa_eager_on_the_cpu() -> None:
    placement = resolve_placement("cpu")
    assert placement.dtype == torch.float32
    assert (placement.channels_last, placement.attention, placement.compile) == (False, "sdpa", False)
    assert Settings().engine_options().dtype == "auto"


def test_auto_dtype_is_fp16_on_cuda_and_fp32_on_the_cpu() -> None:
    assert resolve_dtype("auto", device=torch.device("cuda")) == torch.float16
    assert resolve_dtype("auto", device=torch.device("cpu")) == torch.float32
    assert resolve_dtype("bfloat16", device=torch.device("cpu")) == torch.bfloat16


@pytest.mark.parametrize(
    ("flags", "native"),
    [("fpu avx2 avx512f avx512_bf16", True), ("fpu avx2 amx_tile amx_bf16", True), ("fpu avx2 avx512f", False)],
)
def test_native_bf16_is_read_from_the_cpu_flags(tmp_path: Path, flags: str, native: bool) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor\t: 0\nflags\t\t: {flags}\n", encoding="utf-8")
    assert cpu_has_native_bf16(cpuinfo) is native
    assert cpu_has_native_bf16(tmp_path / "missing") is False


def test_settings_reach_the_engine_options(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {"DTYPE": "bfloat16", "CHANNELS_LAST": "1", "ATTENTION": "classic",
                        "COMPILE": "1", "MODEL_MEMORY_MB": "4096"}.items():
        monkeypatch.setenv(f"CRAFTGEN_{name}", value)
    options = Settings().engine_options()
    assert (options.dtype, options.channels_last, options.attention, options.compile) == (
        "bfloat16", True, "classic", True
    )
    assert options.model_memory_mb == 4096


def test_bf16_loads_every_module_in_bf16_and_every_tool_runs(options: EngineOptions, reference: np.ndarray) -> None:
    engine = Engine(options=replace(options, dtype="bfloat16"), limits=Limits())
    model = engine.models.get("tiny")
    modules = (model.base.unet, model.base.vae, model.base.text_encoder)
    assert all(module.dtype == torch.bfloat16 for module in modules)
    pixels = _text_pixels(engine)
    assert pixels.shape == reference.shape
    diff = np.abs(pixels - reference)
    assert diff.max() > 0, "bf16 took effect"
    assert diff.mean() < 8, "bf16 rounds; it does not change the picture"
    photo = smooth_image(64, 64)
    varied = engine.run(parse_request(dict(tool="variations", prompt="a cat", seed=1, steps=2, strength=1.0)), photo)
    assert varied.outputs[0].image.size == (64, 64)
    extended = engine.run(parse_request(dict(tool="outpaint", prompt="a cat", seed=1, steps=2, right=16)), photo)
    assert extended.outputs[0].image.size == (80, 64)


def test_channels_last_changes_only_the_layout(options: EngineOptions, reference: np.ndarray) -> None:
    engine = Engine(options=replace(options, channels_last=True), limits=Limits())
    model = engine.models.get("tiny")
    for conv in (model.base.unet.conv_in, model.base.vae.decoder.conv_in):
        assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    assert np.abs(_text_pixels(engine) - reference).max() <= 1


def test_classic_attention_is_the_explicit_kernel_with_the_same_result(
    options: EngineOptions, reference: np.ndarray
) -> None:
    engine = Engine(options=replace(options, attention="classic"), limits=Limits())
    model = engine.models.get("tiny")
    for module in (model.base.unet, model.base.vae):
        assert all(isinstance(p, AttnProcessor) for p in module.attn_processors.values())
    default = Engine(options=options, limits=Limits()).models.get("tiny")
    assert all(isinstance(p, AttnProcessor2_0) for p in default.base.unet.attn_processors.values())
    assert np.abs(_text_pixels(engine) - reference).max() <= 1


# Importing torch._dynamo warns about torch.jit internals; not craftgen's to fix.
@pytest.mark.filterwarnings("ignore:`torch.jit.script_method` is deprecated:DeprecationWarning")
def test_compile_wraps_the_unet_in_place(options: EngineOptions) -> None:
    # Only the wrapping: compiling itself takes a minute on the CPU (benchmarks/precision.py).
    model = Engine(options=replace(options, compile=True), limits=Limits()).models.get("tiny")
    assert model.base.unet._compiled_call_impl is not None
    assert model.img2img.unet is model.base.unet
