"""Fast mode (DeepCache-style UNet step caching) against the full UNet, on the real SD 1.5 UNet.

The UNet has Stable Diffusion 1.5's shapes (diffusers' default UNet2DConditionModel config,
860M parameters) with seeded random weights, run in a DDIM loop at 256 px (32x32 latents) with
classifier-free guidance (batch 2). Rows: wall time (median of repeats, same process, same
inputs), UNet FLOPs (torch.utils.flop_counter: machine-independent), and how far the cached
result's final latents are from the full result's (relative L2). `--smoke` uses the tiny UNet.

    .venv/bin/python benchmarks/fast.py            # a few minutes on 2 CPU cores
    .venv/bin/python benchmarks/fast.py --smoke    # seconds
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Sequence

import torch

# From their own modules: for type checkers, diffusers' top-level names are placeholder classes.
from diffusers.models.unets.unet_2d_condition import UNet2DConditionModel
from diffusers.schedulers.scheduling_ddim import DDIMScheduler
from torch.utils.flop_counter import FlopCounterMode

from craftgen.engine.deepcache import deep_cache
from craftgen.engine.tiny import build_scheduler, build_unet

from bench_table import Row, print_rows, ratio


def sd15_unet() -> UNet2DConditionModel:
    torch.manual_seed(0)
    return UNet2DConditionModel(cross_attention_dim=768).eval()  # the SD 1.x defaults


def denoise(
    unet: UNet2DConditionModel, scheduler: DDIMScheduler, *, steps: int, latent: int, context: int
) -> torch.Tensor:
    """A plain DDIM loop with guidance, as a pipeline runs it (seeded, so runs compare)."""
    generator = torch.Generator().manual_seed(0)
    latents = torch.randn((1, 4, latent, latent), generator=generator)
    text = torch.randn((2, 77, context), generator=generator)
    scheduler.set_timesteps(steps)
    with torch.no_grad():
        for t in scheduler.timesteps:
            noise = unet(torch.cat([latents] * 2), t, encoder_hidden_states=text).sample
            uncond, cond = noise.chunk(2)
            latents = scheduler.step(uncond + 7.5 * (cond - uncond), t, latents, return_dict=False)[0]
    return latents


def flop_text(flops: float) -> str:
    return f"{flops / 1e12:.3f} TFLOP" if flops >= 1e11 else f"{flops / 1e9:.3f} GFLOP"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--steps", type=int, default=9)
    parser.add_argument("--interval", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    # 1. The model and the loop.
    if args.smoke:
        unet, latent, context, repeats, steps, label = build_unet(), 8, 32, 1, 6, "tiny UNet, 64 px"
    else:
        unet, latent, context, repeats, steps = sd15_unet(), 32, 768, args.repeats, args.steps
        label = "SD 1.5 UNet, 256 px"
    scheduler = build_scheduler()

    def full() -> torch.Tensor:
        return denoise(unet, scheduler, steps=steps, latent=latent, context=context)

    def fast() -> torch.Tensor:
        with deep_cache(unet, interval=args.interval):
            return full()

    # 2. FLOPs, counted once each.
    flops = {}
    for name, run in (("full", full), ("fast", fast)):
        with FlopCounterMode(display=False) as counter:
            run()
        flops[name] = counter.get_total_flops()
    # 3. Time: a warm-up, then interleaved repeats.
    full(), fast()
    times: dict[str, list[float]] = {"full": [], "fast": []}
    for _ in range(repeats):
        for name, run in (("full", full), ("fast", fast)):
            started = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - started)
    reference, cached = full(), fast()
    deviation = float((cached - reference).norm() / reference.norm())
    t_full, t_fast = statistics.median(times["full"]), statistics.median(times["fast"])
    print(f"craftgen fast-mode benchmark: {label}, {steps} steps, guidance batch 2, interval {args.interval}, "
          f"{args.threads} threads, median of {repeats}; torch {torch.__version__}")
    setup = f"{label}, {steps} DDIM steps, interval {args.interval}"
    print_rows(
        [
            Row(
                "fast mode: UNet loop wall time",
                craftgen=f"{t_fast:.2f} s",
                baseline=f"{t_full:.2f} s (full UNet every step)",
                ratio=ratio(t_full, t_fast),
                note=f"{setup}; median of {repeats}",
            ),
            Row(
                "fast mode: UNet FLOPs",
                craftgen=flop_text(flops["fast"]),
                baseline=flop_text(flops["full"]),
                ratio=ratio(flops["full"], flops["fast"]),
                note="torch.utils.flop_counter",
            ),
            Row(
                "fast mode: final latents, relative L2 to full",
                craftgen=f"{deviation:.4f}",
                baseline="0 (full)",
                ratio="-",
                note="random weights: how far caching moves the result, not image quality",
            ),
        ]
    )

if __name__ == "__main__":
    main()
