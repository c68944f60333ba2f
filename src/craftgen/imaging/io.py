"""Reading uploads safely and writing PNGs that carry their own generation parameters.

An upload is checked by size in bytes, then its header is read for format and pixel count
before any pixel is decoded, so a decompression bomb is refused without being inflated. Any
error a decoder raises on a hostile or broken file (a truncated JPEG, a zTXt chunk that
inflates past Pillow's text limit, a malformed chunk) is the caller's InvalidRequest, never a
crash; the parameters a PNG carries are read within a size and nesting bound.
"""

from __future__ import annotations

import io
import json
import warnings
from collections.abc import Mapping

from PIL import Image, ImageOps, PngImagePlugin, UnidentifiedImageError

from craftgen.errors import InvalidRequest

ALLOWED_FORMATS = ("PNG", "JPEG", "WEBP")
PARAMETERS_KEY = "craftgen"  # PNG text chunk holding the JSON parameters
MAX_PARAMETERS_CHARS = 64 * 1024  # far more than any craftgen PNG writes
MAX_PARAMETERS_DEPTH = 16  # craftgen writes a flat object; deeper is not one of ours


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
    except MemoryError:
        raise
    except Exception as exc:  # noqa: BLE001 - decoders raise anything on a broken file
        raise _undecodable(exc, field=field) from None
    width, height = image.size
    if width * height > max_pixels:
        raise InvalidRequest(
            f"the image is {width}x{height} = {width * height} pixels; the limit is {max_pixels}",
            field=field,
        )
    # 3. Decode, keeping transparency where there is any.
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image.load()
            has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
            # A phone photo's pixels are stored sideways with an EXIF Orientation tag: upright
            # them, as every viewer shows them, so outputs match what the crafter saw.
            upright = ImageOps.exif_transpose(image)
            converted = upright.convert("RGBA" if has_alpha else "RGB")
    except MemoryError:
        raise
    except Exception as exc:  # noqa: BLE001 - as above
        raise _undecodable(exc, field=field) from None
    converted.info["craftgen_params"] = read_parameters(image)
    converted.info["craftgen_format"] = image.format
    return converted


def _undecodable(exc: Exception, *, field: str) -> InvalidRequest:
    reason = str(exc).strip() or type(exc).__name__
    return InvalidRequest(f"the image could not be decoded: {reason[:200]}", field=field)


def read_parameters(image: Image.Image) -> dict[str, object]:
    """The parameters a craftgen PNG carries (empty for any other image, or for a chunk that is
    too long, too deeply nested or not JSON: it is only a record, never trusted)."""
    text = getattr(image, "text", None)
    raw = text.get(PARAMETERS_KEY) if isinstance(text, dict) else None
    if not raw or not isinstance(raw, str) or len(raw) > MAX_PARAMETERS_CHARS:
        return {}
    if _nesting(raw) > MAX_PARAMETERS_DEPTH:
        return {}  # json.loads would recurse once per level (RecursionError on deep input)
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):
        return {}
    return value if isinstance(value, dict) else {}


def _nesting(raw: str) -> int:
    """A JSON text's deepest nesting of arrays and objects (brackets inside strings skipped)."""
    depth = deepest = 0
    in_string = escaped = False
    for char in raw:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def png_bytes(
    image: Image.Image, *, parameters: Mapping[str, object], dpi: int, icc_profile: bytes | None = None
) -> bytes:
    """PNG with the parameters as text chunks (JSON plus a readable line), a DPI (pHYs) and,
    when given, an ICC colour profile (iCCP)."""
    info = PngImagePlugin.PngInfo()
    info.add_text(PARAMETERS_KEY, json.dumps(dict(parameters), sort_keys=True, default=str))
    readable = ", ".join(f"{key}: {value}" for key, value in parameters.items() if value not in (None, ""))
    info.add_text("parameters", readable)
    info.add_text("Software", "craftgen")
    buffer = io.BytesIO()
    extra: dict[str, object] = {"icc_profile": icc_profile} if icc_profile else {}
    image.save(buffer, format="PNG", pnginfo=info, dpi=(dpi, dpi), **extra)
    return buffer.getvalue()
