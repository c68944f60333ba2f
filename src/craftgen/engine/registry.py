"""The model registry: names mapped to sources (built-in, diffusers folder, .safetensors, Hub id).

A small YAML file (`CRAFTGEN_MODEL_REGISTRY`) can name models, an inpainting variant for each and
LoRA adapters per tool:

    default: sd15
    models:
      sd15:
        source: /models/stable-diffusion-v1-5        # folder with model_index.json
        inpaint: /models/stable-diffusion-inpainting  # optional: its UNet is used for outpaint
        loras:
          clipart: {path: /models/clipart-style.safetensors, scale: 0.8}
      dreamy:
        source: /models/dreamy.safetensors            # a single-file checkpoint
        config: /models/stable-diffusion-v1-5          # optional: its configs, so nothing is fetched

A `--model` value that is not a registry name is taken as a source itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from craftgen.errors import InvalidRequest, ModelUnavailable

BUILTIN_SOURCES = ("tiny",)
TINY_INPAINT_SOURCE = "tiny-inpaint"  # the tiny model's 9-channel inpainting UNet


@dataclass(frozen=True)
class LoraSpec:
    """A LoRA adapter file applied while one tool runs."""

    path: Path
    scale: float = 1.0


@dataclass(frozen=True)
class ModelSpec:
    """Where a model's weights come from and what extras it has."""

    name: str
    source: str
    inpaint: str | None = None
    config: str | None = None
    loras: Mapping[str, LoraSpec] = field(default_factory=dict)


def _parse_spec(name: str, raw: object, *, base_dir: Path) -> ModelSpec:
    if isinstance(raw, str):
        raw = {"source": raw}
    if not isinstance(raw, dict) or "source" not in raw:
        raise ModelUnavailable(f"model registry entry {name!r} needs a 'source'")

    def local(value: str | None) -> str | None:
        # Relative paths in the registry are relative to the registry file, not the cwd.
        if value is None or value in BUILTIN_SOURCES or value == TINY_INPAINT_SOURCE:
            return value
        candidate = base_dir / value
        return str(candidate) if candidate.exists() else value

    loras: dict[str, LoraSpec] = {}
    for tool, lora in (raw.get("loras") or {}).items():
        lora_raw = {"path": lora} if isinstance(lora, str) else dict(lora)
        path = Path(lora_raw["path"])
        loras[str(tool)] = LoraSpec(
            path=path if path.is_absolute() else base_dir / path,
            scale=float(lora_raw.get("scale", 1.0)),
        )
    return ModelSpec(
        name=name,
        source=local(str(raw["source"])) or "",
        inpaint=local(raw.get("inpaint")),
        config=local(raw.get("config")),
        loras=loras,
    )


class ModelRegistry:
    """Resolves a model name (or a path / Hub id) to a ModelSpec."""

    def __init__(self, specs: Mapping[str, ModelSpec], *, default: str) -> None:
        self._specs = dict(specs)
        self._specs.setdefault("tiny", ModelSpec(name="tiny", source="tiny"))
        self.default = default

    @classmethod
    def load(cls, path: Path | None, *, default: str) -> ModelRegistry:
        """Read the registry file if there is one; `tiny` is always known."""
        if path is None:
            return cls({}, default=default)
        if not path.is_file():
            raise ModelUnavailable(f"model registry file not found: {path}")
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        models = data.get("models") or {}
        specs = {
            str(name): _parse_spec(str(name), raw, base_dir=path.parent)
            for name, raw in models.items()
        }
        return cls(specs, default=str(data.get("default", default)))

    def names(self) -> list[str]:
        return sorted(self._specs)

    def resolve(self, name: str | None) -> ModelSpec:
        """A registry entry by name, else the value itself taken as a source."""
        key = name or self.default
        if not key.strip():
            raise InvalidRequest("model must not be empty", field="model")
        if key in self._specs:
            return self._specs[key]
        return ModelSpec(name=key, source=key)
