"""Load a model's pipelines from a ModelSpec: built-in tiny, diffusers folder, single file, Hub id.

Every failure becomes one ModelUnavailable that lists what was tried, so a user with a typo in
a path sees why nothing loaded instead of a stack trace from deep inside diffusers.
"""

from __future__ import annotations

from pathlib import Path

import torch

# From their own modules: for type checkers, diffusers' top-level names are placeholder classes.
from diffusers.models.unets.unet_2d_condition import UNet2DConditionModel
from diffusers.pipelines.stable_diffusion.pipeline_stable_diffusion import StableDiffusionPipeline
from transformers import CLIPTokenizer

from craftgen.engine import tiny
from craftgen.engine.devices import Placement
from craftgen.engine.registry import TINY_INPAINT_SOURCE, ModelSpec
from craftgen.engine.speedups import prepare_unet, prepare_vae
from craftgen.errors import ModelUnavailable


def _looks_like_hub_id(source: str) -> bool:
    parts = source.split("/")
    return len(parts) == 2 and all(parts) and not source.startswith((".", "/", "~"))


def load_base_pipeline(
    spec: ModelSpec, *, placement: Placement, allow_downloads: bool, known_names: list[str]
) -> StableDiffusionPipeline:
    """The text-to-image pipeline every tool of this model derives from."""
    source = spec.source
    tried: list[str] = [f"registry names ({', '.join(known_names)})"]
    try:
        # 1. Built in.
        if source == "tiny":
            pipe = tiny.build_tiny_pipeline()
        # 2. A diffusers folder.
        elif (path := Path(source).expanduser()).is_dir():
            tried.append(f"diffusers folder {path}")
            if not (path / "model_index.json").is_file():
                raise ModelUnavailable(_not_found(spec.name, tried, f"{path} has no model_index.json"))
            pipe = StableDiffusionPipeline.from_pretrained(
                path, dtype=placement.dtype, local_files_only=True, safety_checker=None
            )
        # 3. A single-file checkpoint.
        elif path.suffix in (".safetensors", ".ckpt"):
            tried.append(f"single-file checkpoint {path}")
            if not path.is_file():
                raise ModelUnavailable(_not_found(spec.name, tried, f"{path} does not exist"))
            pipe = StableDiffusionPipeline.from_single_file(
                str(path),
                config=spec.config,
                dtype=placement.dtype,
                local_files_only=not allow_downloads,
                safety_checker=None,
            )
        # 4. A Hub id, from the local cache unless downloads are allowed.
        elif _looks_like_hub_id(source):
            where = "the Hub" if allow_downloads else "the local Hub cache (downloads are off)"
            tried.append(f"Hub id {source} in {where}")
            pipe = StableDiffusionPipeline.from_pretrained(
                source,
                dtype=placement.dtype,
                local_files_only=not allow_downloads,
                safety_checker=None,
            )
        else:
            tried.append(f"path {source} (no such folder or .safetensors file)")
            raise ModelUnavailable(_not_found(spec.name, tried, "nothing matched"))
    except ModelUnavailable:
        raise
    except (OSError, ValueError, RuntimeError, KeyError) as exc:
        raise ModelUnavailable(_not_found(spec.name, tried, f"{type(exc).__name__}: {exc}")) from exc
    pipe.set_progress_bar_config(disable=True)
    if pipe.unet.dtype != placement.dtype:  # only the built-in model is made in fp32 first
        pipe.to(dtype=placement.dtype)
    pipe.to(placement.device)
    # SD 1.x pipelines decode in the VAE's own dtype (diffusers upcasts only SDXL's VAE).
    prepare_unet(pipe.unet, placement)
    prepare_vae(pipe.vae, placement)
    return pipe


def load_tokenizer(spec: ModelSpec, *, allow_downloads: bool) -> CLIPTokenizer | None:
    """Just the tokenizer of a built-in or folder model (cheap); None for other sources."""
    if spec.source == "tiny":
        return tiny.build_tokenizer()
    path = Path(spec.source).expanduser()
    if (path / "tokenizer").is_dir():
        try:
            tokenizer: CLIPTokenizer = CLIPTokenizer.from_pretrained(
                path, subfolder="tokenizer", local_files_only=True
            )
        except (OSError, ValueError):
            return None
        return tokenizer
    return None


def load_inpaint_unet(
    source: str, *, placement: Placement, allow_downloads: bool
) -> UNet2DConditionModel:
    """The UNet of a model's inpainting variant (9 input channels); other parts are shared."""
    try:
        if source == TINY_INPAINT_SOURCE:
            unet = tiny.build_tiny_inpaint_unet()
        else:
            unet = UNet2DConditionModel.from_pretrained(
                source,
                subfolder="unet",
                dtype=placement.dtype,
                local_files_only=not allow_downloads,
            )
    except (OSError, ValueError, RuntimeError) as exc:
        raise ModelUnavailable(
            f"inpainting variant {source!r} could not be loaded: {type(exc).__name__}: {exc}"
        ) from exc
    if unet.config["in_channels"] != 9:
        raise ModelUnavailable(
            f"inpainting variant {source!r} has {unet.config['in_channels']} input channels, not 9"
        )
    # diffusers wraps ModelMixin.to in functools.wraps, which mypy does not bind to the instance.
    unet.to(placement.device, placement.dtype)  # type: ignore[arg-type]
    return prepare_unet(unet, placement)


def _not_found(name: str, tried: list[str], reason: str) -> str:
    return f"model {name!r} could not be loaded ({reason}); tried: " + "; ".join(tried)


def free_memory() -> None:
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
