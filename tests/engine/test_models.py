"""Models: tiny built in, local folders load, bad names fail clearly, components are shared,
LoRA adapters change only the tool that names them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from craftgen.engine.engine import Engine
from craftgen.engine.limits import Limits
from craftgen.engine.options import EngineOptions
from craftgen.engine.registry import ModelRegistry
from craftgen.engine.requests import parse_request
from craftgen.engine.tiny import build_tiny_pipeline
from craftgen.errors import ModelUnavailable


def _first_image(engine: Engine, **fields) -> np.ndarray:
    result = engine.run(parse_request(dict(prompt="a cat", seed=1, **{"tool": "text", **fields})))
    return np.asarray(result.outputs[0].image)


def test_tiny_is_deterministic_across_builds() -> None:
    a, b = build_tiny_pipeline(), build_tiny_pipeline()
    for (name, pa), (_, pb) in zip(a.unet.state_dict().items(), b.unet.state_dict().items(), strict=True):
        assert torch.equal(pa, pb), name


def test_a_local_diffusers_folder_loads_and_matches(engine: Engine, tmp_path: Path) -> None:
    build_tiny_pipeline().save_pretrained(tmp_path / "tiny-folder")
    from_folder = _first_image(engine, model=str(tmp_path / "tiny-folder"))
    assert np.array_equal(from_folder, _first_image(engine, model="tiny"))


@pytest.mark.parametrize(
    ("model", "mentions"),
    [
        ("no-such-model", ["no-such-model", "registry names", "nothing matched"]),
        ("/nowhere/model.safetensors", ["single-file checkpoint", "does not exist"]),
        ("someone/some-model", ["Hub id", "downloads are off"]),
    ],
)
def test_a_model_that_cannot_load_names_what_was_tried(engine: Engine, model: str, mentions: list[str]) -> None:
    with pytest.raises(ModelUnavailable) as error:
        engine.run(parse_request(dict(tool="text", prompt="x", model=model)))
    for words in mentions:
        assert words in error.value.message


def test_a_folder_without_model_index_is_refused(engine: Engine, tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailable, match=r"model_index\.json"):
        engine.run(parse_request(dict(tool="text", prompt="x", model=str(tmp_path))))


def test_a_corrupt_checkpoint_is_a_clear_error(engine: Engine, tmp_path: Path) -> None:
    bad = tmp_path / "broken.safetensors"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ModelUnavailable, match=r"broken\.safetensors"):
        engine.run(parse_request(dict(tool="text", prompt="x", model=str(bad))))


def test_tools_share_one_set_of_weights(engine: Engine) -> None:
    model = engine.models.get("tiny")
    inpaint, _ = model.inpaint()
    assert model.img2img.unet is model.base.unet
    assert inpaint.vae is model.base.vae
    assert engine.models.get("tiny") is model, "a second request reuses the loaded model"


def test_least_recently_used_model_is_dropped(tmp_path: Path) -> None:
    build_tiny_pipeline().save_pretrained(tmp_path / "other")
    engine = Engine(options=EngineOptions(device="cpu", max_loaded_models=1), limits=Limits())
    engine.models.get("tiny")
    engine.models.get(str(tmp_path / "other"))
    assert engine.models.loaded_names() == [str(tmp_path / "other")]


def _write_tiny_lora(path: Path) -> None:
    """A LoRA for the tiny UNet with non-zero weights, saved the way diffusers saves LoRAs."""
    from diffusers import StableDiffusionPipeline
    from diffusers.utils import convert_state_dict_to_diffusers
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    pipe = build_tiny_pipeline()
    config = LoraConfig(
        r=4, lora_alpha=4, target_modules=["to_q", "to_k", "to_v", "to_out.0"], init_lora_weights=False
    )
    torch.manual_seed(0)
    pipe.unet.add_adapter(config)
    layers = convert_state_dict_to_diffusers(get_peft_model_state_dict(pipe.unet))
    StableDiffusionPipeline.save_lora_weights(path, unet_lora_layers=layers, safe_serialization=True)


def test_a_registry_lora_changes_only_its_tool(options: EngineOptions, tmp_path: Path) -> None:
    _write_tiny_lora(tmp_path / "clipart-lora")
    registry_file = tmp_path / "models.yaml"
    registry_file.write_text(
        "default: tiny\n"
        "models:\n"
        "  tiny:\n"
        "    source: tiny\n"
        "    loras:\n"
        "      clipart: {path: clipart-lora/pytorch_lora_weights.safetensors, scale: 1.0}\n",
        encoding="utf-8",
    )
    plain = Engine(options=options, limits=Limits())
    styled = Engine(options=options, limits=Limits(), registry=ModelRegistry.load(registry_file, default="tiny"))
    clipart = {"tool": "clipart", "prompt": "a cat", "seed": 1}

    with_lora = styled.run(parse_request(clipart)).outputs[0].image
    without = plain.run(parse_request(clipart)).outputs[0].image
    assert np.abs(np.asarray(with_lora, np.int16) - np.asarray(without, np.int16)).mean() > 1
    # The text tool names no LoRA: same pixels as a model without any.
    assert np.array_equal(_first_image(styled), _first_image(plain))


def _count_loads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record every base-pipeline load the model cache makes (by model name)."""
    from craftgen.engine import models

    loads: list[str] = []
    real = models.load_base_pipeline

    def counting(spec, **kwargs):  # type: ignore[no-untyped-def]
        loads.append(spec.name)
        return real(spec, **kwargs)

    monkeypatch.setattr(models, "load_base_pipeline", counting)
    return loads


def test_switching_tool_on_a_loaded_model_does_not_reload(
    options: EngineOptions, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.conftest import smooth_image

    loads = _count_loads(monkeypatch)
    engine = Engine(options=options, limits=Limits())
    photo = smooth_image(64, 64)
    engine.run(parse_request(dict(tool="text", prompt="a cat", seed=1, steps=2, width=64, height=64)))
    engine.run(parse_request(dict(tool="variations", prompt="a cat", seed=1, steps=2, strength=1.0)), photo)
    engine.run(parse_request(dict(tool="outpaint", prompt="a cat", seed=1, steps=2, right=16)), photo)
    engine.run(parse_request(dict(tool="text", prompt="a dog", seed=2, steps=2, width=64, height=64)))
    assert loads == ["tiny"]


def test_a_memory_budget_keeps_the_most_recent_models_that_fit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    build_tiny_pipeline().save_pretrained(tmp_path / "other")
    other = str(tmp_path / "other")
    size = Engine(options=EngineOptions(device="cpu"), limits=Limits()).models.get("tiny").weight_bytes()
    one_and_a_half = int(size * 1.5 / 2**20) + 1
    loads = _count_loads(monkeypatch)
    # The count alone would keep both; the budget fits one.
    engine = Engine(
        options=EngineOptions(device="cpu", max_loaded_models=4, model_memory_mb=one_and_a_half), limits=Limits()
    )
    engine.models.get("tiny")
    engine.models.get("tiny")
    assert loads == ["tiny"], "re-using the loaded model does not reload it"
    engine.models.get(other)
    assert engine.models.loaded_names() == [other], "the least recently used model made room"
    engine.models.get(other)
    assert loads == ["tiny", other]
    engine.models.get("tiny")
    assert loads == ["tiny", other, "tiny"] and engine.models.loaded_names() == ["tiny"]


def test_a_budget_smaller_than_one_model_still_keeps_the_one_in_use(monkeypatch: pytest.MonkeyPatch) -> None:
    loads = _count_loads(monkeypatch)
    engine = Engine(options=EngineOptions(device="cpu", model_memory_mb=1), limits=Limits())
    model = engine.models.get("tiny")
    assert model.weight_bytes() > 2**20
    assert engine.models.get("tiny") is model and loads == ["tiny"]


def test_a_budget_that_fits_both_keeps_both(tmp_path: Path) -> None:
    build_tiny_pipeline().save_pretrained(tmp_path / "other")
    engine = Engine(options=EngineOptions(device="cpu", model_memory_mb=64), limits=Limits())
    engine.models.get("tiny")
    engine.models.get(str(tmp_path / "other"))
    assert engine.models.loaded_names() == ["tiny", str(tmp_path / "other")]
