"""Apply a Placement's layout, attention and compile choices to freshly loaded modules.

Each is off (or diffusers' own default) unless its setting asks for it; benchmarks/precision.py
measures each against plain fp32 on the same UNet.
"""

from __future__ import annotations

import torch

# From their own modules: for type checkers, diffusers' top-level names are placeholder classes.
from diffusers.models.attention_processor import AttnProcessor
from diffusers.models.autoencoders.autoencoder_kl import AutoencoderKL
from diffusers.models.unets.unet_2d_condition import UNet2DConditionModel

from craftgen.engine.devices import Placement


def _layout_and_attention(module: UNet2DConditionModel | AutoencoderKL, placement: Placement) -> None:
    if placement.channels_last:
        # diffusers wraps ModelMixin.to in functools.wraps, which mypy does not bind to the instance.
        module.to(memory_format=torch.channels_last)  # type: ignore[call-arg]
    if placement.attention == "classic":
        # diffusers picks SDPA (AttnProcessor2_0) by default; this is the explicit-matmul one.
        module.set_attn_processor(AttnProcessor())


def prepare_unet(unet: UNet2DConditionModel, placement: Placement) -> UNet2DConditionModel:
    """A UNet as the placement asks, in place (and returned, for chaining)."""
    _layout_and_attention(unet, placement)
    if placement.compile:
        # nn.Module.compile works in place: the UNet keeps its type and config for from_pipe.
        unet.compile()
    return unet


def prepare_vae(vae: AutoencoderKL, placement: Placement) -> AutoencoderKL:
    _layout_and_attention(vae, placement)
    return vae
