"""Measured comparisons of the craftgen engine against stock diffusers on the built-in tiny model.

Each row of the one printed table is a ratio taken in the same run against a named baseline:
(1) a batched `text` run vs four single diffusers calls, and vs one stock batched call;
(2) outpaint of a thin band vs stock inpainting of the whole widened canvas;
(3) peak resident memory of the tiled upscale vs stock img2img of the whole upscaled image, at two
input sizes, each measured in a fresh subprocess. Times are medians of several interleaved
repeats after a warm-up, with torch's thread count pinned. The tiny model has random weights, so
absolute times are not Stable Diffusion times; the ratios are what this measures.

    .venv/bin/python benchmarks/engine.py            # a few minutes on 2 cores
    .venv/bin/python benchmarks/engine.py --smoke    # seconds: every code path, smallest settings
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import gc
import json
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import diffusers
import numpy as np
import torch
from PIL import Image

from craftgen.engine.engine import Engine
from craftgen.engine.limits import Limits
from craftgen.engine.options import EngineOptions
from craftgen.engine.requests import parse_request

from bench_table import Row, cpu_model, print_rows, ratio

PROMPT = "watercolor floral pattern"
SEED = 1234
GUIDANCE = 7.5
STRENGTH = 0.5  # upscale refinement strength, for craftgen and the stock img2img alike
THREADS = 1  # see footer: 2 OpenMP threads stall badly when a neighbour holds one of 2 cores
RESULT_PREFIX = "BENCH-RESULT "  # marks the child's JSON line among library noise on stdout

ROW_TEXT_SINGLE = "1a text x4: one batched engine call vs 4 single pipe() calls"
ROW_TEXT_BATCH = "1b text x4: one batched engine call vs stock num_images_per_prompt=4"
ROW_OUTPAINT = "2  outpaint thin band vs stock inpaint of the full canvas"
ROW_UPSCALE_S1 = "3a upscale x2 peak RSS, input {size}px"
ROW_UPSCALE_S2 = "3b upscale x2 peak RSS, input {size}px"
ROW_UPSCALE_GROWTH = "3c upscale peak RSS growth {s1}px -> {s2}px"
ROW_UPSCALE_LATENT = "3d upscale largest UNet input latent"


@dataclass(frozen=True)
class Settings:
    """One benchmark configuration (the defaults, or the smallest for --smoke)."""

    size: int  # text images and the outpaint input are size x size
    steps: int
    repeats: int
    threads: int
    band: int  # pixels outpaint adds on the right
    upscale_sizes: tuple[int, int]  # input sides; the outputs are twice these
    tile: int
    overlap: int
    smoke: bool


@dataclass(frozen=True)
class Timing:
    """Wall times of one contender's timed repeats (the warm-up excluded)."""

    samples: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    def describe(self) -> str:
        return f"{self.median:.3f} s [{min(self.samples):.3f}-{max(self.samples):.3f}]"


# ---------------------------------------------------------------------------------------------
# Shared helpers
# ---------------------------------------------------------------------------------------------


def make_engine(settings: Settings) -> Engine:
    options = EngineOptions(
        device="cpu",
        default_model="tiny",
        default_size=settings.size,
        default_steps=settings.steps,
        default_guidance=GUIDANCE,
        upscale_tile=settings.tile,
        upscale_overlap=settings.overlap,
    )
    return Engine(options=options, limits=Limits())


def sample_picture(size: int) -> Image.Image:
    """A smooth, deterministic RGB picture (gradients, a blob): padding and Lanczos see content."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    blob = np.exp(-((xx - 0.6) ** 2 + (yy - 0.4) ** 2) / 0.08)
    rgb = np.stack([255 * xx, 255 * (0.3 + 0.7 * blob), 255 * (1 - yy) * 0.8], axis=-1)
    return Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8))


def time_interleaved(
    contenders: dict[str, Callable[[], object]], *, repeats: int
) -> dict[str, Timing]:
    """Warm each contender up once, then time them in turn, `repeats` rounds.

    Interleaving spreads the machine's noise (shared, 2 cores) over every contender alike.
    """
    for run in contenders.values():
        run()
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(repeats):
        for name, run in contenders.items():
            start = time.perf_counter()
            run()
            samples[name].append(time.perf_counter() - start)
    return {name: Timing(tuple(values)) for name, values in samples.items()}


def max_pixel_diff(a: Sequence[Image.Image], b: Sequence[Image.Image]) -> int:
    """The largest per-channel difference between two equally long lists of images."""
    return max(
        int(np.abs(np.asarray(x, dtype=np.int16) - np.asarray(y, dtype=np.int16)).max())
        for x, y in zip(a, b, strict=True)
    )


def bench_text(engine: Engine, settings: Settings) -> list[Row]:
    """craftgen's one batched call for 4 images vs 4 single stock calls and vs one stock batch."""
    # 1. Contenders: the engine, and the very pipeline object it uses, called as stock diffusers.
    pipe = engine.models.get("tiny").txt2img
    size, steps = settings.size, settings.steps
    request = parse_request(dict(
        tool="text", prompt=PROMPT, num_images=4, width=size, height=size, steps=steps,
        guidance=GUIDANCE, seed=SEED,
    ))
    seeds = [SEED + index for index in range(4)]  # the engine seeds image i with seed + i
    last: dict[str, list[Image.Image]] = {}

    def craftgen() -> None:
        result = engine.run(request)
        last["craftgen"] = [output.image for output in result.outputs if output.image is not None]

    def stock_single() -> None:
        last["single"] = [
            pipe(
                PROMPT, width=size, height=size, num_inference_steps=steps, guidance_scale=GUIDANCE,
                generator=torch.Generator("cpu").manual_seed(seed),
            ).images[0]
            for seed in seeds
        ]

    def stock_batch() -> None:
        last["batch"] = pipe(
            PROMPT, width=size, height=size, num_inference_steps=steps, guidance_scale=GUIDANCE,
            num_images_per_prompt=4,
            generator=[torch.Generator("cpu").manual_seed(seed) for seed in seeds],
        ).images

    # 2. Time them, interleaved.
    times = time_interleaved(
        {"craftgen": craftgen, "single": stock_single, "batch": stock_batch}, repeats=settings.repeats
    )
    # 3. Rows; the pixel differences show the contenders made the same images.
    diff_single = max_pixel_diff(last["craftgen"], last["single"])
    diff_batch = max_pixel_diff(last["craftgen"], last["batch"])
    return [
        Row(
            ROW_TEXT_SINGLE,
            craftgen=times["craftgen"].describe(),
            baseline=f"{times['single'].describe()} (4 x pipe)",
            ratio=ratio(times["single"].median, times["craftgen"].median),
            note=f"{size}px, {steps} steps, CFG {GUIDANCE}; max |px diff| {diff_single}",
        ),
        Row(
            ROW_TEXT_BATCH,
            craftgen=times["craftgen"].describe(),
            baseline=f"{times['batch'].describe()} (1 x pipe)",
            ratio=ratio(times["batch"].median, times["craftgen"].median),
            note=f"~1.00x = no engine overhead; max |px diff| {diff_batch}",
        ),
    ]


# ---------------------------------------------------------------------------------------------
# Row 2: outpaint
# ---------------------------------------------------------------------------------------------


def bench_outpaint(engine: Engine, settings: Settings) -> list[Row]:
    """craftgen's strip outpaint of a thin right band vs stock inpainting of the whole canvas."""
    # 1. The input, and the stock inputs: the canvas edge-padded, the mask = the new band.
    size, band, steps = settings.size, settings.band, settings.steps
    picture = sample_picture(size)
    pipe, method = engine.models.get("tiny").inpaint()
    canvas = Image.fromarray(np.pad(np.asarray(picture), ((0, 0), (0, band), (0, 0)), mode="edge"))
    mask_array = np.zeros((size, size + band), np.uint8)
    mask_array[:, size:] = 255
    mask = Image.fromarray(mask_array)
    request = parse_request(dict(
        tool="outpaint", prompt=PROMPT, right=band, steps=steps, guidance=GUIDANCE, seed=SEED
    ))
    metrics: dict[str, Any] = {}

    def craftgen() -> None:
        metrics.update(engine.run(request, picture).metrics)

    def stock() -> None:
        pipe(
            PROMPT, image=canvas, mask_image=mask, width=size + band, height=size, strength=1.0,
            num_inference_steps=steps, guidance_scale=GUIDANCE,
            generator=torch.Generator("cpu").manual_seed(SEED), output_type="np",
        )

    # 2. Time them, interleaved.
    times = time_interleaved({"craftgen": craftgen, "stock": stock}, repeats=settings.repeats)
    # 3. One row: time ratio, with the pixel counts that explain it.
    craftgen_px = int(metrics["denoised_pixels"])
    stock_px = size * (size + band)
    return [
        Row(
            ROW_OUTPAINT,
            craftgen=f"{times['craftgen'].describe()}, {craftgen_px:,} px denoised",
            baseline=f"{times['stock'].describe()}, {stock_px:,} px denoised",
            ratio=ratio(times["stock"].median, times["craftgen"].median),
            note=(
                f"{size}x{size} +{band}px right, {steps} steps, {method}; "
                f"pixel ratio {stock_px / craftgen_px:.2f}x"
            ),
        )
    ]


# ---------------------------------------------------------------------------------------------
# Row 3: upscale peak memory, one fresh subprocess per measurement
# ---------------------------------------------------------------------------------------------


def proc_status_kib(field: str) -> int:
    """A memory field of /proc/self/status (VmRSS, VmHWM), in KiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not found in /proc/self/status")


def ru_maxrss_kib() -> int:
    """getrusage's resident high-water mark (KiB on Linux); see reset_peak for its catch."""
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def reset_peak() -> bool:
    """Reset this process's resident high-water mark to its current RSS; False where impossible.

    ru_maxrss is max(the high-water mark of this process's memory, that of the memory it replaced
    at exec): a child started by a big parent inherits the parent's RSS as its floor, and a
    child's own import-time peak hides a smaller run. Writing 5 to clear_refs resets the first
    (VmHWM, the same counter); the second cannot be reset, so the peak is read from VmHWM.
    """
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def release_freed_memory() -> None:
    """Collect garbage and hand glibc's freed heap back, so the baseline counts live memory only."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):  # not glibc: the baseline then also holds its cache
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def child_upscale(*, method: str, input_size: int, settings: Settings) -> dict[str, Any]:
    """In a fresh process: the peak RSS one x2 upscale adds above its own warmed-up baseline."""
    # 1. Model, and a hook that records the largest latent the UNet is given.
    engine = make_engine(settings)
    model = engine.models.get("tiny")
    largest: dict[str, Any] = {"area": 0, "shape": None}

    def record(module: torch.nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        sample = args[0] if args else kwargs["sample"]
        if sample.shape[-2] * sample.shape[-1] > largest["area"]:
            largest.update(area=sample.shape[-2] * sample.shape[-1], shape=list(sample.shape))

    model.base.unet.register_forward_pre_hook(record, with_kwargs=True)

    def upscale(picture: Image.Image) -> None:
        if method == "craftgen":
            engine.run(
                parse_request(dict(
                    tool="upscale", prompt=PROMPT, scale=2, strength=STRENGTH, steps=settings.steps,
                    guidance=GUIDANCE, seed=SEED,
                )),
                picture,
            )
        else:
            resized = picture.resize((picture.width * 2, picture.height * 2), Image.Resampling.LANCZOS)
            model.img2img(
                PROMPT, image=resized, strength=STRENGTH, num_inference_steps=settings.steps,
                guidance_scale=GUIDANCE, generator=torch.Generator("cpu").manual_seed(SEED),
                output_type="np",
            )

    # 2. Warm up on a tiny input (allocator, oneDNN), then take the baseline.
    picture = sample_picture(input_size)
    upscale(sample_picture(16))
    release_freed_memory()
    baseline = proc_status_kib("VmRSS")
    was_reset = reset_peak()
    maxrss_before = ru_maxrss_kib()
    largest.update(area=0, shape=None)
    # 3. The measured run; its peak is VmHWM, or ru_maxrss where the mark could not be reset.
    start = time.perf_counter()
    upscale(picture)
    seconds = time.perf_counter() - start
    maxrss_after = ru_maxrss_kib()
    peak = proc_status_kib("VmHWM") if was_reset else maxrss_after
    return {
        "method": method,
        "input_size": input_size,
        "baseline_kib": baseline,
        "peak_kib": peak,
        "delta_kib": peak - baseline,
        "peak_source": "VmHWM after reset" if was_reset else "ru_maxrss",
        "ru_maxrss_kib": maxrss_after,
        "ru_maxrss_moved": maxrss_after > maxrss_before,  # False: an earlier peak hides this run's
        "largest_latent": largest["shape"],
        "seconds": seconds,
    }


def run_child(*, method: str, input_size: int, settings: Settings) -> dict[str, Any]:
    """Run one upscale measurement in a fresh interpreter and read back its JSON line."""
    command = [
        sys.executable, str(Path(__file__).resolve()), "--child", method,
        "--input-size", str(input_size), "--steps", str(settings.steps),
        "--tile", str(settings.tile), "--overlap", str(settings.overlap),
        "--threads", str(settings.threads),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"child {method} @ {input_size}px failed ({done.returncode}):\n{done.stderr}")
    for line in done.stdout.splitlines():
        if line.startswith(RESULT_PREFIX):
            return dict(json.loads(line[len(RESULT_PREFIX):]))
    raise RuntimeError(f"child {method} @ {input_size}px printed no result:\n{done.stdout}")


def mib(kib: int) -> str:
    return f"{kib / 1024:.1f} MiB"


def latent(shape: list[int] | None) -> str:
    return "none" if shape is None else f"{shape[-2]}x{shape[-1]} (batch {shape[0]})"


def latent_area(shape: list[int] | None) -> int:
    return 0 if shape is None else shape[-2] * shape[-1]


def bench_upscale(settings: Settings) -> list[Row]:
    """Peak-RSS deltas of craftgen's tiled upscale and stock whole-image img2img at two sizes."""
    # 1. Four fresh processes, two at a time (one per core; each one's memory is its own).
    s1, s2 = settings.upscale_sizes
    configs = [(method, size) for method in ("craftgen", "stock") for size in (s1, s2)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {
            config: pool.submit(run_child, method=config[0], input_size=config[1], settings=settings)
            for config in configs
        }
        runs = {config: future.result() for config, future in futures.items()}

    def delta(method: str, size: int) -> int:
        return max(int(runs[(method, size)]["delta_kib"]), 1)

    def flag(method: str, size: int) -> str:
        run = runs[(method, size)]
        hidden = run["peak_source"] == "ru_maxrss" and not run["ru_maxrss_moved"]
        return " (!earlier peak hides it)" if hidden else ""

    # 2. One row per size.
    rows = [
        Row(
            name.format(size=size),
            craftgen=f"{mib(delta('craftgen', size))}{flag('craftgen', size)}",
            baseline=f"{mib(delta('stock', size))}{flag('stock', size)} (img2img whole)",
            ratio=ratio(delta("stock", size), delta("craftgen", size)),
            note=f"{size}px -> {2 * size}px, tile {settings.tile}/{settings.overlap}, strength {STRENGTH}",
        )
        for name, size in ((ROW_UPSCALE_S1, s1), (ROW_UPSCALE_S2, s2))
    ]
    # 3. Growth from S1 to S2, and the largest latent the UNet saw.
    growth_craftgen = delta("craftgen", s2) / delta("craftgen", s1)
    growth_stock = delta("stock", s2) / delta("stock", s1)
    rows.append(
        Row(
            ROW_UPSCALE_GROWTH.format(s1=s1, s2=s2),
            craftgen=f"{growth_craftgen:.2f}x",
            baseline=f"{growth_stock:.2f}x (img2img whole)",
            ratio=ratio(growth_stock, growth_craftgen),
            note=f"output pixels grow {(s2 / s1) ** 2:.1f}x",
        )
    )
    craftgen_areas = [latent_area(runs[("craftgen", size)]["largest_latent"]) for size in (s1, s2)]
    stock_area = latent_area(runs[("stock", s2)]["largest_latent"])
    rows.append(
        Row(
            ROW_UPSCALE_LATENT,
            craftgen=" / ".join(latent(runs[("craftgen", size)]["largest_latent"]) for size in (s1, s2)),
            baseline=" / ".join(latent(runs[("stock", size)]["largest_latent"]) for size in (s1, s2)),
            ratio=ratio(stock_area, max(craftgen_areas[1], 1)),
            note=f"latent h x w at {s1}px / {s2}px input (ratio: area at {s2}px); craftgen's "
            + ("stays fixed" if craftgen_areas[0] == craftgen_areas[1] else "GROWS"),
        )
    )
    return rows


# ---------------------------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------------------------


def header(settings: Settings) -> str:
    mode = "smoke" if settings.smoke else "full"
    return "\n".join(
        [
            f"craftgen engine benchmark ({mode}): tiny model, CPU, fp32",
            f"cpu: {cpu_model()} ({platform.machine()}), torch threads pinned to {torch.get_num_threads()}",
            f"python {platform.python_version()}, torch {torch.__version__}, diffusers {diffusers.__version__}",
            f"size {settings.size}px, steps {settings.steps}, guidance {GUIDANCE}, seed {SEED}, "
            f"times = median of {settings.repeats} repeat(s) after 1 warm-up",
        ]
    )


def footer(settings: Settings) -> str:
    return "\n".join(
        [
            "How to read this:",
            f"- Machine: {cpu_model()}, {settings.threads} torch thread(s). The 'tiny' model is the SD",
            "  architecture at toy size with random weights: absolute times are not SD times.",
            "  The ratios are what this measures; every one is baseline / craftgen, so above 1",
            "  craftgen does better (faster, less memory, flatter growth, smaller latent).",
            "- Times: median [min-max] of the timed repeats (time.perf_counter); contenders run",
            "  interleaved, each after one warm-up. Threads default to 1: on a shared 2-core machine two",
            "  OpenMP threads stall (up to 100x) whenever another process holds a core; pass",
            "  --threads 2 on a quiet machine.",
            "- 1a/1b call the engine's own pipeline object as stock diffusers: same seeds, size, steps,",
            "  guidance. 'max |px diff|' 0 = the very same images (1-2 = float rounding of batched math).",
            "- 2: craftgen denoises only a strip (new band + outpaint_context); stock inpaints the",
            "  whole edge-padded canvas with the new band masked, strength 1.0.",
            "- 3: each value comes from a fresh subprocess: build the model, warm up on a 16px input,",
            "  gc + malloc_trim, baseline = VmRSS, reset the high-water mark (clear_refs), run,",
            "  peak = VmHWM; shown = peak - baseline. VmHWM is the counter ru_maxrss reports, but",
            "  resettable: ru_maxrss alone would also keep the import-time peak and, across exec, the",
            "  PARENT's RSS. Torch's CPU allocator and glibc reuse freed memory, so this is the extra",
            "  memory the run took from the OS, not the sum of its tensors.",
        ]
    )


# ---------------------------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> tuple[argparse.Namespace, Settings]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="smallest settings, one repeat (CI)")
    parser.add_argument("--repeats", type=int, help="timed repeats per contender (default 5)")
    parser.add_argument("--size", type=int, help="text side and outpaint input side (default 512)")
    parser.add_argument("--steps", type=int, help="inference steps (default 4, at least 2)")
    parser.add_argument("--threads", type=int, default=THREADS, help=f"torch threads (default {THREADS})")
    # The upscale children's own arguments.
    parser.add_argument("--tile", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--overlap", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--child", choices=("craftgen", "stock"), help=argparse.SUPPRESS)
    parser.add_argument("--input-size", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    def pick(value: int | None, *, smoke: int, full: int) -> int:
        return value if value is not None else (smoke if args.smoke else full)

    settings = Settings(
        size=pick(args.size, smoke=64, full=512),
        steps=pick(args.steps, smoke=2, full=4),
        repeats=pick(args.repeats, smoke=1, full=5),
        threads=args.threads,
        band=pick(None, smoke=16, full=64),
        upscale_sizes=(32, 64) if args.smoke else (128, 256),
        tile=pick(args.tile, smoke=64, full=128),
        overlap=pick(args.overlap, smoke=16, full=32),
        smoke=bool(args.smoke),
    )
    # Refuse what the engine would refuse, naming the value.
    if settings.size % 8 or settings.size < 64:
        parser.error(f"--size must be a multiple of 8 and at least 64, got {settings.size}")
    if settings.steps < 2:
        parser.error(f"--steps must be at least 2 (upscale strength {STRENGTH}), got {settings.steps}")
    if settings.repeats < 1:
        parser.error(f"--repeats must be at least 1, got {settings.repeats}")
    if settings.threads < 1:
        parser.error(f"--threads must be at least 1, got {settings.threads}")
    if args.child is not None and args.input_size is None:
        parser.error("--child needs --input-size")
    return args, settings


def main(argv: Sequence[str] | None = None) -> int:
    args, settings = parse_args(argv)
    torch.set_num_threads(settings.threads)
    if args.child is not None:
        result = child_upscale(method=args.child, input_size=args.input_size, settings=settings)
        print(RESULT_PREFIX + json.dumps(result), flush=True)
        return 0
    started = time.perf_counter()
    print(header(settings), flush=True)
    engine = make_engine(settings)
    rows = bench_text(engine, settings) + bench_outpaint(engine, settings) + bench_upscale(settings)
    print_rows(rows)
    print(footer(settings))
    print(f"total wall time {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
