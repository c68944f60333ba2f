"""The request limits the engine enforces, as one frozen value built from Settings."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """Bounds on what one request may ask for; every one is a named setting."""

    min_side: int = 64  # smallest width/height in pixels
    max_side: int = 1536  # largest width/height of a generated image
    max_num_images: int = 8
    max_steps: int = 100
    max_guidance: float = 30.0
    max_prompt_tokens: int = 77  # CLIP's context; longer prompts would be cut silently
    max_prompt_chars: int = 2000  # checked before tokenizing, so a huge prompt costs nothing
    max_body_bytes: int = 1024 * 1024  # a request body (JSON, a form), refused before it is parsed
    # A multipart body (uploads: an image, and a mask where a tool takes one), with its framing.
    max_multipart_bytes: int = 2 * 20 * 1024 * 1024 + 1024 * 1024
    max_upload_bytes: int = 20 * 1024 * 1024
    max_upload_pixels: int = 4096 * 4096  # checked from the header, before decoding
    max_expand: int = 1024  # pixels outpaint may add on one side
    max_canvas_side: int = 3072  # largest side of an outpainted canvas
    max_upscale_pixels: int = 4096 * 4096  # largest upscaled output
    max_svg_nodes: int = 20000  # path commands in one SVG cut file
    max_print_pixels: int = 6000 * 6000  # a print-sized output, bleed included (20 x 20 in at 300 DPI)
