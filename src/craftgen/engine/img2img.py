"""What image-to-image tools share: the working size, the steps img2img really runs, strength."""

from __future__ import annotations

from typing import Any

from craftgen.engine.base import ToolInput
from craftgen.errors import InvalidRequest


def working_size(width: int, height: int, *, max_side: int) -> tuple[int, int]:
    """The size diffusion runs at: within max_side, multiples of 8, aspect kept."""
    scale = min(1.0, max_side / max(width, height))
    return max(8, int(width * scale) // 8 * 8), max(8, int(height * scale) // 8 * 8)


def denoising_steps(steps: int, strength: float) -> int:
    """The steps img2img actually runs (diffusers skips the first (1 - strength) of them)."""
    return min(int(steps * strength), steps)


def check_strength(item: ToolInput[Any]) -> None:
    """Strength in (0, 1], and enough of it to run at least one denoising step."""
    request = item.request
    strength, steps = request.strength, request.steps
    assert strength is not None and steps is not None, "defaults are filled before checks"
    if not 0 < strength <= 1:
        raise InvalidRequest(f"strength must be in (0, 1], got {strength}", field="strength")
    if denoising_steps(steps, strength) < 1:
        raise InvalidRequest(
            f"strength {strength} with {steps} steps runs no denoising step; raise steps or strength",
            field="strength",
        )
