"""The built-in `tiny` model: the real Stable Diffusion architecture at toy size, seeded, random weights.

Built locally in a second, so every code path runs offline and in tests (the way diffusers' own
tests build `get_dummy_components()`). Its images are noise; anything that shows them says so.
The VAE keeps SD's 8x downscale so sizes, latents and tiling behave as with a real model.
"""

from __future__ import annotations

import torch

# From their own modules: for type checkers, diffusers' top-level names are placeholder classes.
from diffusers.models.autoencoders.autoencoder_kl import AutoencoderKL
from diffusers.models.unets.unet_2d_condition import UNet2DConditionModel
from diffusers.pipelines.stable_diffusion.pipeline_stable_diffusion import StableDiffusionPipeline
from diffusers.schedulers.scheduling_ddim import DDIMScheduler
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

TINY_NOTICE = "the built-in 'tiny' model has random weights: its images are noise, for testing only"

_CROSS_ATTENTION_DIM = 32


def _bytes_to_unicode() -> dict[int, str]:
    """CLIP's byte-to-character table, so the tokenizer can spell any text byte by byte."""
    printable = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    chars = printable[:]
    extra = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + extra)
            extra += 1
    return {b: chr(c) for b, c in zip(printable, chars, strict=True)}


# Whole-word tokens for the words tools add to prompts and for common craft words, so prompt
# lengths in tokens are close to a real CLIP tokenizer's; any other word is spelled by bytes.
_WORDS = (
    "clipart isolated on a plain white background flat colors clean outline scenery gradient "
    "shadow texture photo frame seamless pattern of the and with in cute watercolor floral flowers "
    "cat dog bird sticker vintage pastel pink blue green red yellow purple orange black gold "
    "strawberries lemons leaves botanical geometric christmas halloween kawaii cartoon simple"
).split()


def _word_merges(words: tuple[str, ...] | list[str]) -> tuple[list[str], list[tuple[str, str]]]:
    """BPE merges that build each word left to right, and the tokens they create."""
    tokens: list[str] = []
    merges: list[tuple[str, str]] = []
    seen: set[str] = set()
    for word in words:
        symbols = [*word[:-1], word[-1] + "</w>"]
        current = symbols[0]
        for symbol in symbols[1:]:
            merged = current + symbol
            if merged not in seen:
                seen.add(merged)
                tokens.append(merged)
                merges.append((current, symbol))
            current = merged
    return tokens, merges


def build_tokenizer() -> CLIPTokenizer:
    """A CLIP tokenizer over bytes plus a few whole words: real code, no download."""
    symbols = list(_bytes_to_unicode().values())
    word_tokens, merges = _word_merges(_WORDS)
    vocab_list = symbols + [s + "</w>" for s in symbols] + word_tokens
    vocab_list += ["<|startoftext|>", "<|endoftext|>"]
    vocab = {token: index for index, token in enumerate(vocab_list)}
    # tokenizers' BPE takes (left, right) pairs; transformers annotates merges as list[str].
    return CLIPTokenizer(vocab=vocab, merges=merges, model_max_length=77)  # type: ignore[arg-type]


def build_unet(*, in_channels: int = 4, seed: int = 0) -> UNet2DConditionModel:
    torch.manual_seed(seed)
    unet: UNet2DConditionModel = UNet2DConditionModel(  # @register_to_config leaves it untyped
        block_out_channels=(32, 64),
        layers_per_block=2,
        sample_size=64,
        in_channels=in_channels,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=_CROSS_ATTENTION_DIM,
        norm_num_groups=32,
    )
    return unet


def build_vae(*, seed: int = 0) -> AutoencoderKL:
    torch.manual_seed(seed)
    vae: AutoencoderKL = AutoencoderKL(
        block_out_channels=(8, 16, 16, 16),
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        latent_channels=4,
        layers_per_block=1,
        norm_num_groups=8,
        sample_size=512,
    )
    return vae


def build_text_encoder(*, vocab_size: int, seed: int = 0) -> CLIPTextModel:
    torch.manual_seed(seed)
    config = CLIPTextConfig(
        bos_token_id=vocab_size - 2,
        eos_token_id=vocab_size - 1,
        pad_token_id=vocab_size - 1,
        hidden_size=_CROSS_ATTENTION_DIM,
        intermediate_size=37,
        layer_norm_eps=1e-05,
        num_attention_heads=4,
        num_hidden_layers=2,
        vocab_size=vocab_size,
        max_position_embeddings=77,
    )
    return CLIPTextModel(config)


def build_scheduler() -> DDIMScheduler:
    """The scheduler SD 1.x ships with, in its DDIM form (deterministic, img2img/inpaint-ready)."""
    scheduler: DDIMScheduler = DDIMScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        clip_sample=False,
        set_alpha_to_one=False,
        steps_offset=1,
    )
    return scheduler


def build_tiny_pipeline(*, seed: int = 0) -> StableDiffusionPipeline:
    """The whole tiny text-to-image pipeline, same weights for the same seed."""
    tokenizer = build_tokenizer()
    return StableDiffusionPipeline(
        unet=build_unet(seed=seed),
        vae=build_vae(seed=seed),
        text_encoder=build_text_encoder(vocab_size=len(tokenizer), seed=seed),
        tokenizer=tokenizer,
        # diffusers annotates these too narrowly: `scheduler` as the KarrasDiffusionSchedulers enum
        # (it takes a scheduler object), and the safety parts as required, though None turns them off.
        scheduler=build_scheduler(),  # type: ignore[arg-type]
        safety_checker=None,  # type: ignore[arg-type]
        feature_extractor=None,  # type: ignore[arg-type]
        requires_safety_checker=False,
    )


def build_tiny_inpaint_unet(*, seed: int = 0) -> UNet2DConditionModel:
    """The 9-channel UNet an SD inpainting model has (latents + mask + masked-image latents)."""
    return build_unet(in_channels=9, seed=seed + 1)
