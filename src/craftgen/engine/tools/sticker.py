"""sticker: a die-cut sticker, from a prompt (clipart-style generation, then cut out) or from an
upload, with a solid border `offset` mm wide that follows the subject's outline.

The subject is fitted into the sticker's size (the print size, else the picture's own), the
border is every pixel within the offset of it (so convex corners come out round), inward
corners a blade cannot follow are rounded by a closing, and the shape is one piece with no
holes. The PNG is transparent outside the border (with `bleed`, the border colour runs on past
the cut line by that much); the SVG has exactly one closed path, the cut line ("CutContour",
as print-then-cut software names it), in the print's unit. With `sheet`, the stickers are laid
out on A4 or Letter instead, 2 mm apart, one cut path each.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Annotated, Literal

import cv2
import numpy as np
from PIL import Image
from pydantic import Field, field_validator

from craftgen.engine.base import OutputFile, RunContext, Tool, ToolCard, ToolInput, ToolOutputs, ToolResult, png_output
from craftgen.engine.cut_files import cut_rules, measure_cut_file
from craftgen.engine.diffusion import TextToImageRequest, size_defaults, txt2img
from craftgen.engine.limits import Limits
from craftgen.engine.options import EngineOptions
from craftgen.engine.print_size import PrintSpec, print_spec
from craftgen.errors import InvalidRequest
from craftgen.imaging.cutlines import outline_path, sticker_shape
from craftgen.imaging.cutout import cut_out
from craftgen.imaging.printing import contain
from craftgen.imaging.vectorize import SVG_NS
from craftgen.schemas import UPLOAD_EXAMPLE, CutRules, OptionalUploadId, Studio, examples

STICKER_SUFFIX = "die-cut sticker design, isolated on a plain white background, flat colors, bold clean outline"
STICKER_NEGATIVE = "background scenery, gradient background, shadow, texture, photo, frame, border"
DEFAULT_OFFSET_MM = 3.0
MIN_OFFSET_MM = 0.5
MAX_OFFSET_MM = 20.0
MARGIN_MM = 0.5  # between the border and the edge of the file, so the cut line never touches it
CUT_COLOUR = "#ff00ff"  # the spot colour print-then-cut software reads as the cut line
_HEX = re.compile(r"#[0-9a-fA-F]{6}")
SHEETS_MM = {"A4": (210.0, 297.0), "Letter": (215.9, 279.4)}
SHEET_MARGIN_MM = 10.0  # kept clear for the cutter's registration marks
SHEET_SPACING_MM = 2.0  # between stickers (sticker printers' spacing)


class StickerRequest(CutRules, TextToImageRequest):
    """A die-cut sticker with a border and one closed cut line, from a prompt or an upload."""

    model_config = examples(
        {"tool": "sticker", "prompt": "a happy avocado", "offset": 3, "print_width": 3, "print_height": 3},
        {"tool": "sticker", "image": UPLOAD_EXAMPLE, "offset": 2, "border_color": "#fff4d6"},
    )

    tool: Literal["sticker"] = "sticker"
    image: OptionalUploadId = None
    offset: Annotated[
        float,
        Field(
            ge=MIN_OFFSET_MM,
            le=MAX_OFFSET_MM,
            description="the border's width around the subject, in mm (sticker printers ask 2-3 mm)",
        ),
        Studio("Border", unit="mm", half=True, order=10, hint="the white edge around your picture"),
    ] = DEFAULT_OFFSET_MM
    border_color: Annotated[
        str,
        Field(description="the border's colour, #rrggbb"),
        Studio("Border colour", half=True, order=10, hint="#ffffff is white"),
    ] = "#ffffff"

    sheet: Annotated[
        Literal["A4", "Letter"] | None,
        Field(
            description=(
                "lay the stickers out on a sheet of this paper, 2 mm apart inside a 10 mm margin, "
                "one cut path each (the request's stickers in turn until the sheet is full or "
                "sheet_count); left out: one file per sticker"
            )
        ),
        Studio("Sticker sheet", choices=((None, "No: one file per sticker"), ("A4", "A4"), ("Letter", "US Letter"))),
    ] = None
    sheet_count: Annotated[
        int | None,
        Field(ge=1, le=200, description="at most this many stickers on the sheet; left out: as many as fit"),
    ] = None

    @field_validator("border_color")
    @classmethod
    def _hex_colour(cls, value: str) -> str:
        if not _HEX.fullmatch(value):
            raise ValueError("must be a colour written #rrggbb")
        return value.lower()


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    return int(hex_colour[1:3], 16), int(hex_colour[3:5], 16), int(hex_colour[5:7], 16)


class StickerTool(Tool[StickerRequest]):
    name = "sticker"
    request_model = StickerRequest
    card = ToolCard(
        title="Sticker",
        makes="A die-cut sticker: your picture with a border and one cut line, ready to print and cut.",
        example="a happy avocado",
        ideas=("a happy avocado", "a sleepy cat", "a rainbow with clouds", "a cup of coffee with a heart"),
        order=3,
    )
    outputs = ToolOutputs(transparent=True, svg=True)
    prompt_suffix = STICKER_SUFFIX
    negative_suffix = STICKER_NEGATIVE

    def defaults(self, request: StickerRequest, image: Image.Image | None, options: EngineOptions) -> dict[str, object]:
        return size_defaults(options, request)

    def validate(self, item: ToolInput[StickerRequest], limits: Limits) -> None:
        request = item.request
        if item.image is None and not request.prompt.strip():
            raise InvalidRequest("the sticker tool needs a prompt or an image", field="prompt")
        if item.image is not None and request.num_images != 1:
            raise InvalidRequest("a sticker from an image makes one sticker; num_images must be 1", field="num_images")
        # The border (twice the offset, plus margins) must leave room for the subject.
        spec = print_spec(request, dpi=_dpi(item))
        width, height = _canvas(item, spec)
        border = 2 * spec.mm_to_px(request.offset + MARGIN_MM)
        if min(width, height) - border < 16:
            largest = max(MIN_OFFSET_MM, spec.px_to_mm((min(width, height) - 16) / 2) - MARGIN_MM)
            raise InvalidRequest(
                f"a {request.offset:g} mm border does not fit a sticker {spec.px_to_mm(width):.1f} x "
                f"{spec.px_to_mm(height):.1f} mm; the widest that fits is {largest:.1f} mm",
                field="offset",
            )

        if request.sheet is not None:
            inner_w, inner_h = (side - 2 * SHEET_MARGIN_MM for side in SHEETS_MM[request.sheet])
            sticker_w, sticker_h = spec.px_to_mm(width), spec.px_to_mm(height)
            if sticker_w > inner_w or sticker_h > inner_h:
                raise InvalidRequest(
                    f"a {sticker_w:.0f} x {sticker_h:.0f} mm sticker does not fit on {request.sheet} "
                    f"({inner_w:.0f} x {inner_h:.0f} mm inside the margins)",
                    field="print_width",
                )
        elif request.sheet_count is not None:
            raise InvalidRequest("sheet_count needs a sheet (A4 or Letter)", field="sheet_count")

    def batch_key(self, item: ToolInput[StickerRequest]) -> tuple[object, ...] | None:
        # Each sticker runs alone: a batched call may move a generated pixel by one level, and
        # the die-cut shape thresholds the cut-out, so one level can move the cut line by a
        # pixel; alone, a seed always gives the same sticker.
        return None

    def run(self, ctx: RunContext, items: list[ToolInput[StickerRequest]]) -> list[ToolResult]:
        # 1. The subjects: generated on a plain background (one call for the batch), or uploaded.
        prompted = [item for item in items if item.image is None]
        generated: list[list[Image.Image]] = []
        if prompted:
            assert ctx.model is not None
            generated = txt2img(
                ctx.model.txt2img,
                prompted,
                progress=ctx.progress,
                suffix=STICKER_SUFFIX,
                negative_suffix=STICKER_NEGATIVE,
            )
        pictures = iter(generated)
        results = []
        for item in items:
            images = [item.image] if item.image is not None else next(pictures)
            result = ToolResult(tool="sticker", model=ctx.model_name, seed=item.seed, outputs=[])
            made: list[Made] = []
            for index, image in enumerate(images):
                seed = item.image_seed(index) if item.image is None else None
                one = self._sticker(ctx, item, image, index=index, seed=seed)
                made.append(one)
                result.outputs += one.files
                result.warnings += one.warnings
                if index == 0:
                    result.metrics.update(one.metrics)
            if item.request.sheet is not None:
                result.outputs, sheet_metrics = self._sheet(ctx, item, made)
                result.metrics.update(sheet_metrics)
            results.append(result)
        if not prompted:
            ctx.progress(1, 1)
        return results

    def _sticker(
        self, ctx: RunContext, item: ToolInput[StickerRequest], image: Image.Image, *, index: int, seed: int | None
    ) -> Made:
        request = item.request
        spec = print_spec(request, dpi=ctx.options.dpi)
        prefix = f"sticker-{index}"
        warnings: list[str] = []
        # 2. Cut the subject out and fit it inside the border, centred on the sticker's canvas.
        cut = cut_out(image, strict=False)
        if not cut.is_plain:
            warnings.append(
                f"{prefix}: the background was not plain (spread {cut.background_spread:.1f}); "
                "the sticker may include background"
            )
        width, height = _canvas(item, spec)
        offset_px = spec.mm_to_px(request.offset)
        inset = round(offset_px + spec.mm_to_px(MARGIN_MM))
        subject = _crop_to_subject(cut.image, cut.alpha)
        fitted = contain(subject, (width - 2 * inset, height - 2 * inset))
        bleed = spec.bleed_px if spec.sized else 0
        canvas = Image.new("RGBA", (width + 2 * bleed, height + 2 * bleed), (0, 0, 0, 0))
        canvas.paste(fitted, (inset + bleed, inset + bleed))
        art = np.asarray(canvas, np.float32) / 255.0
        # The resize's ringing leaves faint alpha around the subject; snap it so the border is clean.
        art[..., 3][art[..., 3] < 0.04] = 0.0
        art[..., 3][art[..., 3] > 0.96] = 1.0
        solid = art[..., 3] >= 0.5
        # 3. The die-cut shape: the offset border, inward corners rounded, one piece.
        rules = cut_rules(request, spec)
        round_px = max(spec.mm_to_px(request.offset / 2), rules.min_feature_px)
        shape = sticker_shape(solid, offset=offset_px, round_radius=round_px)
        printed = shape
        if bleed:
            away = cv2.distanceTransform((~shape).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
            printed = away <= bleed
        # 4. The PNG: the subject over the border colour, transparent elsewhere.
        colour = np.array(_rgb(request.border_color), np.float32) / 255.0
        alpha = art[..., 3:4]
        rgb = art[..., :3] * alpha + colour * (1 - alpha)
        out = np.dstack([np.where(printed[..., None], rgb, 0.0), printed.astype(np.float32)])
        png_image = Image.fromarray(np.round(out * 255).astype(np.uint8), "RGBA")
        png = png_output(png_image, name=f"{prefix}.png", kind="image", item=item, ctx=ctx, seed=seed, fitted=True)
        # 5. The SVG: exactly one closed cut path around the border.
        d, nodes = outline_path(shape, tolerance=max(0.5, spec.mm_to_px(0.05)))
        svg_w, svg_h = spec.svg_size(png_image.width, png_image.height)
        root = ET.Element(
            "svg",
            {
                "xmlns": SVG_NS,
                "viewBox": f"0 0 {png_image.width} {png_image.height}",
                "width": svg_w,
                "height": svg_h,
            },
        )
        ET.SubElement(
            root,
            "path",
            {
                "id": "CutContour",
                "d": d,
                "fill": "none",
                "stroke": CUT_COLOUR,
                "stroke-width": f"{spec.mm_to_px(0.25):.2f}",
            },
        )
        svg_text = ET.tostring(root, encoding="unicode")
        svg = OutputFile(
            name=f"{prefix}.svg",
            kind="svg",
            media_type="image/svg+xml",
            data=svg_text.encode("utf-8"),
            width=png_image.width,
            height=png_image.height,
            seed=seed,
        )
        metrics: dict[str, int | float | str | bool] = {
            "background_plain": cut.is_plain,
            "offset_mm": request.offset,
            "corner_radius_mm": round(spec.px_to_mm(round_px), 2),
            "cut_paths": 1,
            "svg_nodes": nodes,
            "sticker_width_mm": round(spec.px_to_mm(float(np.ptp(np.flatnonzero(shape.any(axis=0)))) + 1), 1),
            "sticker_height_mm": round(spec.px_to_mm(float(np.ptp(np.flatnonzero(shape.any(axis=1)))) + 1), 1),
            "cut_min_feature_mm": rules.min_feature_mm,
        }
        metrics.update(measure_cut_file(_filled(svg_text), rules))
        return Made(files=[png, svg], metrics=metrics, warnings=warnings, image=png_image, shape=shape, printed=printed)

    def _sheet(
        self, ctx: RunContext, item: ToolInput[StickerRequest], made: list[Made]
    ) -> tuple[list[OutputFile], dict[str, int | float | str | bool]]:
        """The stickers packed in rows on the sheet, one cut path each (in the sheet's mm)."""
        request = item.request
        assert request.sheet is not None
        spec = print_spec(request, dpi=ctx.options.dpi)
        sheet_w, sheet_h = (round(spec.mm_to_px(side)) for side in SHEETS_MM[request.sheet])
        margin, spacing = spec.mm_to_px(SHEET_MARGIN_MM), spec.mm_to_px(SHEET_SPACING_MM)
        # 1. Each sticker cropped to what is printed of it (bleed included).
        crops = []
        for one in made:
            ys, xs = np.nonzero(one.printed)
            box = (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)
            crops.append((one.image.crop(box), one.shape[box[1] : box[3], box[0] : box[2]]))
        cell_w = max(c.width for c, _ in crops)
        cell_h = max(c.height for c, _ in crops)
        columns = max(1, int((sheet_w - 2 * margin + spacing) // (cell_w + spacing)))
        rows = max(1, int((sheet_h - 2 * margin + spacing) // (cell_h + spacing)))
        count = min(columns * rows, request.sheet_count or columns * rows)
        # 2. Row by row, the request's stickers in turn, each centred in its cell.
        canvas = Image.new("RGBA", (sheet_w, sheet_h), (0, 0, 0, 0))
        paths = []
        tolerance = max(0.5, spec.mm_to_px(0.05))
        for k in range(count):
            crop, shape = crops[k % len(crops)]
            x0 = margin + (k % columns) * (cell_w + spacing) + (cell_w - crop.width) / 2
            y0 = margin + (k // columns) * (cell_h + spacing) + (cell_h - crop.height) / 2
            canvas.alpha_composite(crop, (round(x0), round(y0)))
            d, _ = outline_path(shape, tolerance=tolerance, origin=(round(x0), round(y0)))
            paths.append(d)
        name = "sticker-sheet"
        png = png_output(canvas, name=f"{name}.png", kind="image", item=item, ctx=ctx, seed=item.seed, fitted=True)
        svg_w, svg_h = (f"{side:.1f}mm" for side in SHEETS_MM[request.sheet])
        root = ET.Element(
            "svg", {"xmlns": SVG_NS, "viewBox": f"0 0 {sheet_w} {sheet_h}", "width": svg_w, "height": svg_h}
        )
        stroke = f"{spec.mm_to_px(0.25):.2f}"
        for number, d in enumerate(paths):
            ET.SubElement(
                root,
                "path",
                {
                    "id": f"CutContour-{number + 1}",
                    "d": d,
                    "fill": "none",
                    "stroke": CUT_COLOUR,
                    "stroke-width": stroke,
                },
            )
        svg = OutputFile(
            name=f"{name}.svg",
            kind="svg",
            media_type="image/svg+xml",
            data=ET.tostring(root, encoding="unicode").encode("utf-8"),
            width=sheet_w,
            height=sheet_h,
            seed=item.seed,
        )
        metrics: dict[str, int | float | str | bool] = {
            "sheet": request.sheet,
            "sheet_stickers": count,
            "sheet_spacing_mm": SHEET_SPACING_MM,
            "sheet_margin_mm": SHEET_MARGIN_MM,
        }
        return [png, svg], metrics


@dataclass
class Made:
    """One sticker: its files, and the pixels a sheet lays out."""

    files: list[OutputFile]
    metrics: dict[str, int | float | str | bool]
    warnings: list[str]
    image: Image.Image  # the RGBA sticker
    shape: np.ndarray  # inside the cut line
    printed: np.ndarray  # what is printed (the shape grown by the bleed)


def _dpi(item: ToolInput[StickerRequest]) -> int:
    return item.request.dpi or EngineOptions.dpi


def _canvas(item: ToolInput[StickerRequest], spec: PrintSpec) -> tuple[int, int]:
    """The sticker's size in pixels (trim): the print size, else the picture's own size."""
    if spec.sized:
        return spec.trim_px
    if item.image is not None:
        return item.image.size
    request = item.request
    assert request.width is not None and request.height is not None
    return request.width, request.height


def _crop_to_subject(image: Image.Image, alpha: np.ndarray) -> Image.Image:
    """The cut-out cropped to its opaque part (all of it when nothing is opaque)."""
    ys, xs = np.nonzero(alpha >= 0.5)
    if ys.size == 0:
        raise InvalidRequest("the picture has no subject to make a sticker of", field="image")
    return image.crop((int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1))


def _filled(svg: str) -> str:
    """The cut file with its path filled, as measure_cut_file draws shapes."""
    return svg.replace('fill="none"', 'fill="#000000"')
