"""Samplers: AUTOMATIC1111's sampler names mapped to diffusers schedulers.

The names are a request vocabulary (schemas.SamplerName; our snake-case spellings such as
"dpmpp_2m_karras" and any capitalisation are accepted too); the table here follows diffusers'
documentation ("A1111/k-diffusion -> diffusers"). A request's `sampler` swaps the model's
scheduler for the named one, built from the model's own scheduler config (its training betas and
prediction type carry over); left out, the model's own scheduler runs, as a plain diffusers call
would. DPM2 (a), DPM fast/adaptive and DPM++ 2S a have no working diffusers equivalent here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import diffusers

from craftgen.schemas import SAMPLER_NAMES, sampler_key


@dataclass(frozen=True)
class Scheduler:
    cls: str  # the diffusers scheduler class
    options: Mapping[str, Any] = field(default_factory=dict)  # from_config overrides


_KARRAS = {"use_karras_sigmas": True}
_SDE = {"algorithm_type": "sde-dpmsolver++"}
_SINGLESTEP = {"lower_order_final": True}  # what its final zero sigma needs (diffusers changes it anyway, loudly)

SCHEDULERS: dict[str, Scheduler] = {
    "DPM++ 2M": Scheduler("DPMSolverMultistepScheduler"),
    "DPM++ 2M Karras": Scheduler("DPMSolverMultistepScheduler", _KARRAS),
    "DPM++ 2M SDE": Scheduler("DPMSolverMultistepScheduler", _SDE),
    "DPM++ 2M SDE Karras": Scheduler("DPMSolverMultistepScheduler", {**_SDE, **_KARRAS}),
    "DPM++ SDE": Scheduler("DPMSolverSinglestepScheduler", _SINGLESTEP),
    "DPM++ SDE Karras": Scheduler("DPMSolverSinglestepScheduler", {**_SINGLESTEP, **_KARRAS}),
    "Euler a": Scheduler("EulerAncestralDiscreteScheduler"),
    "Euler": Scheduler("EulerDiscreteScheduler"),
    "LMS": Scheduler("LMSDiscreteScheduler"),
    "LMS Karras": Scheduler("LMSDiscreteScheduler", _KARRAS),
    "Heun": Scheduler("HeunDiscreteScheduler"),
    "DDIM": Scheduler("DDIMScheduler"),
    "PLMS": Scheduler("PNDMScheduler", {"skip_prk_steps": True}),  # as Stable Diffusion's own config
    "UniPC": Scheduler("UniPCMultistepScheduler"),
}
assert tuple(SCHEDULERS) == SAMPLER_NAMES, "every sampler name has its scheduler, in the same order"


def sampler_names() -> tuple[str, ...]:
    """The sampler names requests take (A1111's spelling), for listings such as /sdapi/v1/samplers."""
    return SAMPLER_NAMES


def aliases(name: str) -> tuple[str, ...]:
    """Other spellings a request may use for a sampler: our snake-case name."""
    return (sampler_key(name),)


def build_scheduler(name: str, config: Mapping[str, Any]) -> Any:
    """The named sampler's scheduler, configured from a model's own scheduler config."""
    scheduler = SCHEDULERS.get(name)
    if scheduler is None:
        raise ValueError(f"unknown sampler {name!r}; choose one of {', '.join(SAMPLER_NAMES)}")
    cls = getattr(diffusers, scheduler.cls)
    return cls.from_config(dict(config), **scheduler.options)
