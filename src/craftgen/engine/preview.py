"""Live previews: a small picture of a run's current latents, made only when someone asks.

A preview is a linear projection of the 4 latent channels to RGB (the well-known SD 1.x
latent-to-RGB factors), at latent resolution (1/8 of the image side), so it costs a tiny matrix
product rather than a VAE decode. The engine hands a progress function a lazy `Preview`; the
worker calls it only at its throttled preview rate and stores the result as a small data URL.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from PIL import Image

Preview = Callable[[], list[Image.Image]]
"""Renders one small image per request of the batch (its first image), in batch order; valid
only during the progress call it is passed to."""

# Rows: latent channels; columns: R, G, B. Fitted for SD 1.x's VAE (also the tiny model's shape;
# its random VAE makes previews noise, like its images).
SD15_LATENT_RGB = (
    (0.3512, 0.2297, 0.3227),
    (0.3250, 0.4974, 0.2350),
    (-0.2829, 0.1762, 0.2721),
    (-0.2120, -0.2616, -0.7177),
)


@dataclass(frozen=True)
class PreviewProgress:
    """A progress function that can also take a lazy preview of the step just done.

    It is a plain `(done, total)` progress function too, so tools that cannot preview (and
    wrappers that only know that shape) keep working; the diffusion step callback passes the
    preview through `report`.
    """

    report: Callable[[int, int, Preview | None], None]

    def __call__(self, done: int, total: int) -> None:
        self.report(done, total, None)


def latents_to_rgb(latents: torch.Tensor) -> list[Image.Image]:
    """[n, 4, h, w] latents (as the UNet sees them) to n RGB images of h x w."""
    if latents.ndim != 4 or latents.shape[1] != len(SD15_LATENT_RGB):
        return []  # another latent space: no projection known, so no preview
    factors = torch.tensor(SD15_LATENT_RGB, dtype=torch.float32)
    rgb = torch.einsum("nchw,ck->nhwk", latents.detach().to("cpu", torch.float32), factors)
    pixels = ((rgb + 1) * 127.5).clamp(0, 255).to(torch.uint8).numpy()
    return [Image.fromarray(array, "RGB") for array in pixels]


def first_images(num_images: Sequence[int]) -> list[int]:
    """Batch positions of each request's first image, requests laid out one after another."""
    firsts, start = [], 0
    for count in num_images:
        firsts.append(start)
        start += count
    return firsts


def latent_preview(latents: torch.Tensor, positions: Sequence[int]) -> Preview:
    """A lazy preview of the latents at `positions`. Nothing is copied until it is called, so
    call it during the progress report it came with: the next step overwrites the latents."""
    return lambda: latents_to_rgb(latents[list(positions)])


def data_url(image: Image.Image, *, longest: int, quality: int = 70) -> str:
    """A WebP data URL of `image`, scaled so its longest side is `longest` pixels."""
    scale = longest / max(image.size)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    buffer = io.BytesIO()
    image.resize(size, Image.Resampling.BILINEAR).save(buffer, format="WEBP", quality=quality)
    return "data:image/webp;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
