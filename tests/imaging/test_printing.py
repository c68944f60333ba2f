"""imaging/printing.py: units, the sRGB profile, cover/contain, and tiles resized wrap-aware."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageCms

from craftgen.imaging.printing import contain, cover, fit_tile, print_pixels, srgb_profile
from craftgen.imaging.seams import seam_scores
from craftgen.imaging.tiling import REPEATS


def _smooth_torus(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """A blurred random field that is periodic on a height x width torus."""
    spectrum = np.fft.fft2(rng.uniform(0, 255, (height, width, 3)), axes=(0, 1))
    fy = np.fft.fftfreq(height)[:, None, None]
    fx = np.fft.fftfreq(width)[None, :, None]
    return np.real(np.fft.ifft2(spectrum * np.exp(-((fx**2 + fy**2) * 400)), axes=(0, 1)))


def _periodic_tile(repeat: str, width: int = 96, height: int = 80) -> Image.Image:
    """A detailed tile that repeats exactly under `repeat`."""
    rng = np.random.default_rng(1)
    if repeat == "mirror":
        base = rng.uniform(0, 255, (height, width, 3))  # mirror repeats any image
    elif repeat == "half-drop":
        # Periodic under (W, H/2) and (0, H): symmetrise a field on a 2W-wide torus.
        field = _smooth_torus(height, 2 * width, rng)
        base = (field + np.roll(field, (height // 2, width), axis=(0, 1)))[:, :width]
    elif repeat == "brick":
        field = _smooth_torus(2 * height, width, rng)
        base = (field + np.roll(field, (height, width // 2), axis=(0, 1)))[:height]
    else:
        base = _smooth_torus(height, width, rng)
    base = (base - base.min()) / (base.max() - base.min()) * 255
    return Image.fromarray(base.astype(np.uint8))


def test_print_pixels_per_unit() -> None:
    assert print_pixels(12, "in", 300) == 3600
    assert print_pixels(210, "mm", 300) == 2480  # A4 width
    assert print_pixels(29.7, "cm", 300) == 3508
    assert print_pixels(22, "in", 150) == 3300  # a fat quarter's long side for fabric


def test_the_profile_is_srgb() -> None:
    profile = ImageCms.ImageCmsProfile(io.BytesIO(srgb_profile()))
    assert "sRGB" in ImageCms.getProfileDescription(profile)


def test_cover_fills_and_crops_evenly_contain_fits_on_transparency() -> None:
    image = Image.new("RGB", (200, 100), (255, 0, 0))
    image.paste((0, 0, 255), (0, 0, 50, 100))  # a blue quarter on the left
    covered = np.asarray(cover(image, (100, 100)))
    assert covered.shape == (100, 100, 3) and covered[:, :5, 2].mean() < 10  # the left quarter was cropped

    contained = np.asarray(contain(image, (100, 100)))
    assert contained.shape == (100, 100, 4)
    assert contained[:20, :, 3].max() == 0 and contained[30:70, :, 3].min() == 255


@pytest.mark.parametrize("repeat", REPEATS)
@pytest.mark.parametrize("size", [(173, 131), (61, 47)])  # up and down, non-integer factors
def test_a_resized_tile_still_repeats(repeat: str, size: tuple[int, int]) -> None:
    tile = _periodic_tile(repeat)
    before = seam_scores(tile, repeat=repeat)
    fitted = fit_tile(tile, size, repeat=repeat)
    scores = seam_scores(fitted, repeat=repeat)

    assert fitted.size == size
    for axis in scores:
        assert before[axis] > 0.95 and scores[axis] > 0.95, (repeat, size, scores)


def test_a_plain_resize_would_have_cut_the_seam_that_fit_tile_keeps() -> None:
    tile = _periodic_tile("half-drop")
    naive = seam_scores(tile.resize((173, 131), Image.Resampling.LANCZOS), repeat="half-drop")
    fitted = seam_scores(fit_tile(tile, (173, 131), repeat="half-drop"), repeat="half-drop")
    grid_padded = seam_scores(fit_tile(tile, (173, 131), repeat="grid"), repeat="half-drop")

    assert fitted["seam_score_x"] > naive["seam_score_x"] and fitted["seam_score_x"] >= grid_padded["seam_score_x"]


@pytest.mark.parametrize("repeat", ["grid", "half-drop", "brick"])
def test_bleed_continues_the_repeat(repeat: str) -> None:
    tile = _periodic_tile(repeat)
    trim = np.asarray(fit_tile(tile, (120, 90), repeat=repeat))
    bled = np.asarray(fit_tile(tile, (120, 90), repeat=repeat, bleed=7))

    assert bled.shape[:2] == (104, 134)
    assert np.array_equal(bled[7:-7, 7:-7], trim)
    if repeat == "grid":
        assert np.array_equal(bled[7:-7, :7], trim[:, -7:]) and np.array_equal(bled[:7, 7:-7], trim[-7:])
