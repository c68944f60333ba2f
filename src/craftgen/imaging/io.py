"""Reading uploads safely and writing PNGs that carry their own generation parameters.

An upload is checked by size in bytes, then its header is read for format and pixel count
before any pixel is decoded, so a decompression bomb is refused without being inflated.
"""

from __future__ import annotations

import io
import json
import warnings
from collections.abc import Mapping

from PIL import Image, PngImagePlugin, UnidentifiedImageError

from craftgen.errors import InvalidRequest

ALLOWED_FORMATS = ("PNG", "JPEG", "WEBP")
PARAMETERS_KEY = "craftgen"  # PNG text chunk holding the JSON parameters


def open_image(
    data: bytes, *, max_bytes: int, max_pixels: int, field: str = "image"
) -> Image.Image:
    """Decode an uploaded image (PNG, JPEG or WebP) within the byte and pixel limits."""
    # 1. Bytes, before anything is parsed.
    if not data:
        raise InvalidRequest("the image file is empty", field=field)
    if len(data) > max_bytes:
        raise InvalidRequest(
            f"the image is {len(data)} bytes; the limit is {max_bytes} bytes", field=field
        )
    # 2. Header only: format and size, no pixels decoded yet.
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=list(ALLOWED_FORMATS))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InvalidRequest(
            f"the image has far too many pixels; the limit is {max_pixels}", field=field
        ) from None
    except UnidentifiedImageError:
        raise InvalidRequest(
            f"the file is not a readable image (allowed: {', '.join(ALLOWED_FORMATS)})", field=field
        ) from None
    width, height = image.size
    if width * height > max_pixels:
        raise InvalidRequest(
            f"the image is {width}x{height} = {width * height} pixels; the limit is {max_pixels}",
            field=field,
        )
    # 3. Decode, keeping transparency where there is any.
    try:
        image.load()
    except (OSError, SyntaxError, ValueError) as exc:
        raise InvalidRequest(f"the image could not be decoded: {exc}", field=field) from None
    has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    converted = image.convert("RGBA" if has_alpha else "RGB")
    converted.info["craftgen_params"] = read_parameters(image)
    converted.info["craftgen_format"] = image.format
    return converted


def read_parameters(image: Image.Image) -> dict[str, object]:
    """The parameters a craftgen PNG carries (empty for any other image)."""
    raw = getattr(image, "text", {}).get(PARAMETERS_KEY) if hasattr(image, "text") else None
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def png_bytes(image: Image.Image, *, parameters: Mapping[str, object], dpi: int) -> bytes:
    """PNG with the parameters as text chunks (JSON plus a readable line) and a DPI."""
    info = PngImagePlugin.PngInfo()
    info.add_text(PARAMETERS_KEY, json.dumps(dict(parameters), sort_keys=True, default=str))
    readable = ", ".join(f"{key}: {value}" for key, value in parameters.items() if value not in (None, ""))
    info.add_text("parameters", readable)
    info.add_text("Software", "craftgen")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", pnginfo=info, dpi=(dpi, dpi))
    return buffer.getvalue()
