"""Cheaper numbers on the UNet: bf16, channels-last, SDPA vs classic attention, torch.compile.

Each row runs the same seeded DDIM loop with guidance (batch 2) on the UNet with one setting
changed from the baseline (fp32 weights, contiguous layout, SDPA attention, eager), all measured
in this run: wall time (median of repeats after a warm-up) and how far the final latents move
from the baseline's (relative L2). torch.compile's first call (compiling) is reported apart from
its steady state. The UNet has Stable Diffusion 1.5's shapes with seeded random weights (as in
fast.py) at 256 px; `--smoke` uses the tiny UNet.

    .venv/bin/python benchmarks/precision.py            # several minutes on 2 CPU cores
    .venv/bin/python benchmarks/precision.py --smoke    # seconds
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

import torch

# From their own modules: for type checkers, diffusers' top-level names are placeholder classes.
from diffusers.models.attention_processor import AttnProcessor, AttnProcessor2_0
from diffusers.models.unets.unet_2d_condition import UNet2DConditionModel

from craftgen.engine.devices import cpu_has_native_bf16
from craftgen.engine.tiny import build_scheduler, build_unet

from bench_table import Row, print_rows, ratio
from fast import sd15_unet

Loop = Callable[[], torch.Tensor]


def denoise(
    unet: Callable[..., Any], *, steps: int, latent: int, context: int, dtype: torch.dtype, channels_last: bool
) -> torch.Tensor:
    """A DDIM loop with guidance as a pipeline runs it; the UNet computes in `dtype`, the
    scheduler in fp32 (the same noise and text every run, so results compare)."""
    scheduler = build_scheduler()
    generator = torch.Generator().manual_seed(0)
    latents = torch.randn((1, 4, latent, latent), generator=generator)
    text = torch.randn((2, 77, context), generator=generator).to(dtype)
    scheduler.set_timesteps(steps)
    layout = torch.channels_last if channels_last else torch.contiguous_format
    with torch.no_grad():
        for t in scheduler.timesteps:
            sample = torch.cat([latents] * 2).to(dtype).contiguous(memory_format=layout)
            noise = unet(sample, t, encoder_hidden_states=text).sample.float()
            uncond, cond = noise.chunk(2)
            latents = scheduler.step(uncond + 7.5 * (cond - uncond), t, latents, return_dict=False)[0]
    return latents


def paired(baseline: Loop, variant: Loop, repeats: int, *, on: Callable[[], None] = lambda: None,
           off: Callable[[], None] = lambda: None) -> tuple[float, float, torch.Tensor]:
    """Median seconds of the baseline and the variant, runs interleaved (so a busy machine slows
    both alike), after a warm-up of each; `on`/`off` switch the variant's setting around its runs."""
    times: dict[str, list[float]] = {"baseline": [], "variant": []}
    result = torch.empty(0)
    for index in range(repeats + 1):  # the first round warms up (oneDNN picks kernels on first use)
        for name, run in (("baseline", baseline), ("variant", variant)):
            if name == "variant":
                on()
            started = time.perf_counter()
            output = run()
            elapsed = time.perf_counter() - started
            if name == "variant":
                off()
                result = output
            if index:
                times[name].append(elapsed)
    return statistics.median(times["baseline"]), statistics.median(times["variant"]), result


def deviation(result: torch.Tensor, reference: torch.Tensor) -> str:
    return f"{float((result - reference).norm() / reference.norm()):.4f}"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    # 1. The model and the loop.
    unet: UNet2DConditionModel
    if args.smoke:
        unet, latent, context, repeats, steps, label = build_unet().eval(), 8, 32, 1, 2, "tiny UNet, 64 px"
    else:
        unet, latent, context, repeats, steps = sd15_unet(), 32, 768, args.repeats, args.steps
        label = "SD 1.5 UNet, 256 px"

    def loop(module: Callable[..., Any], *, dtype: torch.dtype = torch.float32, channels_last: bool = False) -> Loop:
        return lambda: denoise(
            module, steps=steps, latent=latent, context=context, dtype=dtype, channels_last=channels_last
        )

    setup = f"{label}, {steps} DDIM steps, guidance batch 2, median of {repeats}, interleaved"
    rows: list[Row] = []
    base = loop(unet)
    reference = base()

    def add(name: str, timing: tuple[float, float, torch.Tensor], note: str) -> None:
        t_base, seconds, result = timing
        rows.append(
            Row(
                f"precision: {name}",
                craftgen=f"{seconds:.2f} s",
                baseline=f"{t_base:.2f} s (fp32, SDPA, eager)",
                ratio=ratio(t_base, seconds),
                note=f"{note}; rel. L2 to fp32 {deviation(result, reference)}",
            )
        )

    # 1. Classic attention (explicit matmul + softmax) instead of SDPA, switched per run.
    timing = paired(base, base, repeats, on=lambda: unet.set_attn_processor(AttnProcessor()),
                    off=lambda: unet.set_attn_processor(AttnProcessor2_0()))
    add("classic attention vs SDPA", timing, f"{setup}; above 1: classic is faster")
    # 2. Channels-last weights and inputs (the weights are converted around each run, untimed).
    # (The ignores: diffusers wraps ModelMixin.to in functools.wraps, which mypy does not bind.)
    timing = paired(base, loop(unet, channels_last=True), repeats,
                    on=lambda: unet.to(memory_format=torch.channels_last),  # type: ignore[call-arg]
                    off=lambda: unet.to(memory_format=torch.contiguous_format))  # type: ignore[call-arg]
    add("channels-last", timing, setup)
    # 3. torch.compile: the first call compiles, then the steady state. --smoke traces with
    # dynamo but skips Inductor's code generation (a minute even for the tiny UNet).
    backend = "eager" if args.smoke else "inductor"
    compiled = torch.compile(unet, backend=backend)
    started = time.perf_counter()
    loop(compiled)()
    first = time.perf_counter() - started
    timing = paired(base, loop(compiled), repeats)
    add("torch.compile steady state", timing, f"{setup}; {backend} backend, first call (compiling) {first:.1f} s")
    torch._dynamo.reset()
    # 4. bf16 weights and activations: a bf16 copy, next to the fp32 UNet.
    half = copy.deepcopy(unet).to(torch.bfloat16)  # type: ignore[arg-type]  # see the ignores in 2.
    timing = paired(base, loop(half, dtype=torch.bfloat16), repeats)
    native = "native bf16 (AVX512-BF16/AMX)" if cpu_has_native_bf16() else "NO native bf16: emulated"
    add("bf16 weights", timing, f"{setup}; CPU has {native}")

    print(f"craftgen precision benchmark: {label}, {steps} steps, {args.threads} threads, median of {repeats}; "
          f"torch {torch.__version__}")
    print_rows(rows)


if __name__ == "__main__":
    main()
