"""Background removal for a subject on white or one plain colour.

The background colour is the median of a border strip; colour distances are
CIE76 delta-E in Lab (OpenCV), so thresholds mean the same on every colour.
Background-like pixels connected to the border are background, enclosed ones
are holes only when large (a donut's hole, not an eye highlight). A trimap
with a few pixels of unknown band around the boundary goes to closed-form
matting (pymatting), and multi-level foreground estimation replaces the
background colour mixed into edge pixels, so the cutout has no halo. Large
images are matted on a downscaled copy to keep the time bounded; the alpha
and the colour correction are upsampled, the interior keeps its full detail.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

from craftgen.errors import InvalidRequest


@dataclass(frozen=True)
class Cutout:
    """A subject cut out of its plain background."""

    image: Image.Image  # RGBA, edge colours decontaminated
    alpha: np.ndarray  # float32 (H, W) in [0, 1]
    background: tuple[int, int, int]  # median border colour, RGB
    background_spread: float  # 95th percentile delta-E of border pixels from it
    is_plain: bool  # most border pixels lie within the tolerance of the background


def _refuse_unless_plain(*, is_plain: bool, spread: float) -> None:
    if not is_plain:
        raise InvalidRequest(
            f"the image has no plain background: its border colours vary by {spread:.1f} delta-E; "
            "cutout needs a subject on white or one plain colour",
            field="image",
        )


def require_plain_background(cutout: Cutout) -> Cutout:
    """Return `cutout`, or raise InvalidRequest when its image had no plain background."""
    _refuse_unless_plain(is_plain=cutout.is_plain, spread=cutout.background_spread)
    return cutout


def _lab(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)


def _border(arr: np.ndarray, width: int) -> np.ndarray:
    """The pixels of a `width`-pixel strip around the edge, as (N, C)."""
    c = arr.shape[2]
    parts = [arr[:width], arr[-width:], arr[width:-width, :width], arr[width:-width, -width:]]
    return np.concatenate([p.reshape(-1, c) for p in parts])


def _background_mask(bg_like: np.ndarray, *, min_hole_area: int) -> np.ndarray:
    """Background = background-like regions touching the edge, or enclosed and large (holes)."""
    _, labels, stats, _ = cv2.connectedComponentsWithStats(bg_like.astype(np.uint8), connectivity=4)
    keep = stats[:, cv2.CC_STAT_AREA] >= min_hole_area
    edge = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    keep[edge] = True
    keep[0] = False  # label 0 is the subject side, not a background region
    background: np.ndarray = keep[labels] & bg_like  # numpy types a mask indexed by a mask as Any
    return background


def _trimap(dist: np.ndarray, bg: np.ndarray, *, band: int, fg_threshold: float) -> np.ndarray:
    """0 = sure background, 1 = sure foreground, 0.5 = unknown band for the matting."""
    fg = ~bg
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * band + 1, 2 * band + 1))
    sure_bg = cv2.erode(bg.astype(np.uint8), kernel, borderValue=1).astype(bool)
    sure_fg = cv2.erode(fg.astype(np.uint8), kernel, borderValue=1).astype(bool)
    # Lines thinner than the band have no eroded core; their most distinct pixels
    # (near the local maximum of distance) anchor them, or matting would erase them.
    local_max = cv2.dilate(np.where(fg, dist, 0).astype(np.float32), kernel)
    core = fg & (local_max >= fg_threshold) & (dist >= 0.95 * local_max)
    trimap = np.full(dist.shape, 0.5)
    trimap[sure_bg] = 0.0
    trimap[sure_fg | core] = 1.0
    return trimap


def _alpha_from_trimap(rgb: np.ndarray, trimap: np.ndarray, *, subject: np.ndarray) -> np.ndarray:
    """The matte of the unknown band; the plain subject mask where matting has no anchor."""
    import pymatting  # noqa: PLC0415 - its import JIT-loads numba code; pay that only when cutting

    if not (trimap == 0.5).any():
        return trimap.astype(np.float32)
    if not (trimap == 1.0).any() or not (trimap == 0.0).any():
        # With one side unconstrained the matte is all of the other side.
        return subject.astype(np.float32)
    matte: np.ndarray = pymatting.estimate_alpha_cf(rgb, trimap)  # pymatting is untyped
    return matte.astype(np.float32)


def _foreground(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    import pymatting  # noqa: PLC0415 - see _alpha_from_trimap

    foreground: np.ndarray = pymatting.estimate_foreground_ml(rgb, alpha.astype(np.float64))  # untyped
    return foreground


def cut_out(
    image: Image.Image,
    *,
    strict: bool = False,
    min_hole_area: int = 64,
    border: int = 4,
    plain_tolerance: float = 12.0,
    plain_fraction: float = 0.9,
    band: int = 2,
    matting_max_side: int = 1024,
) -> Cutout:
    """Cut the subject of `image` out of its plain background.

    min_hole_area: enclosed background-coloured regions smaller than this many
    pixels stay opaque. plain_tolerance: delta-E within which a border pixel
    counts as background; the border is plain when at least plain_fraction of
    it is. band: half-width in pixels of the unknown band matting solves.
    strict: raise InvalidRequest (before matting) when the border is not plain.
    RGBA input that already has transparency keeps its alpha, unmatted.
    """
    # 1. Validate.
    w, h = image.size
    if min(w, h) < 4 * border + 1:
        raise InvalidRequest(f"image is too small for a cutout: {w}x{h}", field="image")
    if min_hole_area < 0:
        raise InvalidRequest(f"min_hole_area must be >= 0, got {min_hole_area}", field="min_hole_area")
    if band < 1 or matting_max_side < 16:
        raise ValueError(f"need band >= 1 and matting_max_side >= 16, got {band}, {matting_max_side}")
    rgba = np.asarray(image.convert("RGBA"))
    rgb = np.ascontiguousarray(rgba[..., :3])

    # 2. Background colour and how plain the border is.
    border_rgb = _border(rgb, border)
    r, g, b = (int(v) for v in np.median(border_rgb, axis=0))
    background = (r, g, b)
    bg_lab = _lab(np.array([[background]], np.uint8))[0, 0]
    border_dist = np.linalg.norm(_lab(border_rgb[None])[0] - bg_lab, axis=1)
    spread = round(float(np.percentile(border_dist, 95)), 2)
    is_plain = bool(np.mean(border_dist <= plain_tolerance) >= plain_fraction)
    if rgba[..., 3].min() < 255:
        # Already cut out: transparency is as plain as a background gets.
        alpha = rgba[..., 3].astype(np.float32) / 255.0
        return Cutout(
            image=Image.fromarray(rgba),
            alpha=alpha,
            background=background,
            background_spread=0.0,
            is_plain=True,
        )
    if strict:
        _refuse_unless_plain(is_plain=is_plain, spread=spread)

    # 3. Work on a downscaled copy when large; hole sizes scale with it.
    scale = min(1.0, matting_max_side / max(w, h))
    small = rgb
    if scale < 1.0:
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        small = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    hole_area = max(1, round(min_hole_area * scale * scale))

    # 4. Classify: blur the Lab image so noise does not decide, threshold from
    #    the typical border noise (a robust median, since the subject may touch the edge).
    lab = cv2.GaussianBlur(_lab(small), (3, 3), 0)
    dist = np.linalg.norm(lab - bg_lab, axis=2)
    noise = float(np.median(_border(dist[..., None], border)))
    bg_threshold = float(np.clip(3.0 * noise, 3.0, plain_tolerance))
    bg = _background_mask(dist < bg_threshold, min_hole_area=hole_area)

    # 5. Matte the unknown band, then decontaminate the edge colours.
    trimap = _trimap(dist, bg, band=band, fg_threshold=2.0 * bg_threshold)
    small_f = small.astype(np.float64) / 255.0
    alpha_small = _alpha_from_trimap(small_f, trimap, subject=~bg)
    fg_small = _foreground(small_f, alpha_small)

    # 6. Back to full size: upsample the alpha and only the colour correction.
    full_f = rgb.astype(np.float32) / 255.0
    if scale == 1.0:
        matte, colour = alpha_small, fg_small.astype(np.float32)
    else:
        matte = cv2.resize(alpha_small, (w, h), interpolation=cv2.INTER_LINEAR)
        correction = (fg_small - small_f).astype(np.float32)
        colour = full_f + cv2.resize(correction, (w, h), interpolation=cv2.INTER_LINEAR)
    # Matting leaves faint residue near 0 and 1; snap it so flat areas are exact.
    matte = np.clip(matte, 0.0, 1.0)
    matte[matte < 0.01] = 0.0
    matte[matte > 0.99] = 1.0
    out = np.dstack([np.clip(colour, 0.0, 1.0), matte]) * 255.0
    return Cutout(
        image=Image.fromarray(np.round(out).astype(np.uint8)),
        alpha=matte.astype(np.float32),
        background=background,
        background_spread=spread,
        is_plain=is_plain,
    )
