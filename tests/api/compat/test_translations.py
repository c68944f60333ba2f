"""The drop-in APIs' plain translation functions, without a server."""

from __future__ import annotations

import base64
import io
import time

import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from craftgen.api.a1111.auth import credential
from craftgen.api.a1111.shapes import Img2ImgRequest, Txt2ImgRequest
from craftgen.api.a1111.translate import (
    img2img_job,
    png_info,
    repaint_mask,
    resolve_model,
    sampler_value,
    txt2img_job,
    upscale_job,
    with_text_chunk,
)
from craftgen.api.compat_jobs import renamed
from craftgen.api.image_links import LinkSigner
from craftgen.api.openai_images.shapes import GenerationRequest
from craftgen.api.openai_images.translate import (
    FIELD_NAMES,
    edit_mask,
    generation_plan,
    model_fields,
    parse_size,
    quality_fields,
)
from craftgen.errors import InvalidRequest

LIMITS = {"known": ("tiny", "sd15"), "default_steps": 20, "max_steps": 50}


def test_sizes_models_and_quality() -> None:
    assert parse_size("512x768") == (512, 768)
    assert parse_size("auto") is None and parse_size(None) is None
    with pytest.raises(InvalidRequest, match="WIDTHxHEIGHT"):
        parse_size("big")
    assert model_fields("dall-e-3", known=("tiny",)) == {}
    assert model_fields("gpt-image-1", known=("tiny",)) == {}
    assert model_fields("tiny", known=("tiny",)) == {"model": "tiny"}
    assert model_fields("nope", known=("tiny",)) == {"model": "nope"}  # the job service names the choices
    assert quality_fields("low", default_steps=20, max_steps=50) == {"quality": "fast"}
    assert quality_fields("high", default_steps=20, max_steps=50) == {"steps": 40}
    assert quality_fields("max", default_steps=20, max_steps=50) == {"steps": 50}
    assert quality_fields("auto", default_steps=20, max_steps=50) == {}


def test_generation_tools() -> None:
    def plan(**fields: object) -> dict[str, object]:
        return generation_plan(GenerationRequest.model_validate({"prompt": "p", **fields}), prompt="p", **LIMITS).body

    assert plan()["tool"] == "text"
    assert plan(background="transparent")["tool"] == "clipart"
    assert plan(output_format="svg")["tool"] == "clipart"
    assert plan(size="256x128", n=3) == {"tool": "text", "prompt": "p", "width": 256, "height": 128, "num_images": 3}
    with pytest.raises(InvalidRequest) as jpeg:
        plan(background="transparent", output_format="jpeg")
    assert jpeg.value.field == "output_format"
    with pytest.raises(InvalidRequest) as svg:
        plan(background="opaque", output_format="svg")
    assert svg.value.field == "background"


def test_errors_name_the_callers_fields() -> None:
    error = renamed(InvalidRequest("num_images must be at most 8, got 9", field="num_images"), FIELD_NAMES)
    assert (error.field, error.message) == ("n", "n must be at most 8, got 9")


def test_openai_mask_transparent_is_white() -> None:
    mask = Image.new("RGBA", (16, 16), (10, 20, 30, 255))
    mask.paste((0, 0, 0, 0), (4, 4, 8, 8))
    converted = np.asarray(edit_mask(mask, size=(16, 16)))
    assert converted.dtype == np.uint8 and set(np.unique(converted)) == {0, 255}
    assert (converted[4:8, 4:8] == 255).all() and converted.sum() == 16 * 255
    with pytest.raises(InvalidRequest, match="alpha"):
        edit_mask(Image.new("RGB", (16, 16)), size=(16, 16))
    with pytest.raises(InvalidRequest, match="nothing to edit"):
        edit_mask(Image.new("RGBA", (16, 16), (0, 0, 0, 255)), size=(16, 16))


def test_a1111_jobs() -> None:
    txt = Txt2ImgRequest(prompt="p", seed=5, batch_size=2, n_iter=3, cfg_scale=6, tiling=True, sampler_name="Euler a")
    body = txt2img_job(txt, model=None, known=("tiny",))
    assert body == {
        "tool": "pattern",
        "prompt": "p",
        "negative_prompt": "",
        "seed": 5,
        "num_images": 6,
        "guidance": 6,
        "sampler": "Euler a",
    }
    assert txt2img_job(txt, model="tiny", known=("tiny",))["model"] == "tiny"
    assert "seed" not in txt2img_job(Txt2ImgRequest(seed=-1), model=None, known=())
    with pytest.raises(InvalidRequest, match="hires"):
        txt2img_job(Txt2ImgRequest(enable_hr=True), model=None, known=())
    overridden = Txt2ImgRequest(override_settings={"sd_model_checkpoint": "tiny.safetensors [abc123]"})
    assert txt2img_job(overridden, model=None, known=("tiny",))["model"] == "tiny"
    masked = Img2ImgRequest(denoising_strength=0.4, mask_blur=6, inpainting_fill=2)
    body = img2img_job(masked, image_id="i", mask_id="m", model=None, known=())
    assert (body["tool"], body["strength"], body["blend"], body["mask"]) == ("inpaint", 1.0, 6, "m")
    plain = img2img_job(Img2ImgRequest(denoising_strength=0.4), image_id="i", mask_id=None, model=None, known=())
    assert (plain["tool"], plain["strength"]) == ("variations", 0.4)
    assert upscale_job(image_id="i", scale=4, upscaler="Lanczos") == {
        "tool": "upscale",
        "image": "i",
        "scale": 4,
        "strength": 0,
    }
    with pytest.raises(InvalidRequest, match="upscaler"):
        upscale_job(image_id="i", scale=2, upscaler="R-ESRGAN 4x+")


def test_a1111_names() -> None:
    assert resolve_model("tiny [deadbeef]", known=("tiny",)) == "tiny"
    with pytest.raises(InvalidRequest, match="unknown checkpoint"):
        resolve_model("sdxl", known=("tiny",))
    assert sampler_value(Txt2ImgRequest(sampler_name="DPM++ 2M", scheduler="karras")) == "DPM++ 2M Karras"
    assert sampler_value(Txt2ImgRequest(sampler_name="Euler a", scheduler="automatic")) == "Euler a"
    with pytest.raises(InvalidRequest, match="scheduler"):
        sampler_value(Txt2ImgRequest(sampler_name="Euler", scheduler="cosine"))


def test_a1111_mask_white_repaints_and_transparent_keeps() -> None:
    mask = Image.new("RGBA", (8, 8), (255, 255, 255, 255))
    mask.paste((255, 255, 255, 0), (0, 0, 4, 8))
    grey = np.asarray(repaint_mask(mask, invert=False))
    assert (grey[:, :4] == 0).all() and (grey[:, 4:] == 255).all()
    assert (np.asarray(repaint_mask(mask.convert("RGB"), invert=True)) == 0).all()


def test_parameters_chunk_is_replaced_not_added() -> None:
    buffer = io.BytesIO()
    info = PngImagePlugin.PngInfo()
    info.add_text("craftgen", '{"tool": "text", "prompt": "ferns", "seed": 3, "steps": 4}')
    info.add_text("parameters", "tool: text, seed: 3")
    Image.new("RGB", (8, 8)).save(buffer, format="PNG", pnginfo=info)
    rewritten = with_text_chunk(buffer.getvalue(), "parameters", "ferns\nSteps: 4, Seed: 3 ✓")
    image = Image.open(io.BytesIO(rewritten))
    assert image.info["parameters"] == "ferns\nSteps: 4, Seed: 3 ✓"  # before the pixels: read without load()
    image.load()
    assert rewritten.count(b"parameters\0") == 1 and image.size == (8, 8)
    text, items = png_info(image)
    assert text.startswith("ferns\nSteps: 4") and "Seed: 3" in text and "craftgen" in items


def test_credentials() -> None:
    basic = base64.b64encode(b"anyone:cg_key:with:colons").decode()
    assert credential(f"Basic {basic}") == "cg_key:with:colons"
    assert credential("Bearer cg_key") == "cg_key"
    assert credential("Basic !!!") is None and credential("") is None
    assert credential("Basic " + base64.b64encode(b"user-only").decode()) is None


def test_links_expire_and_resist_tampering() -> None:
    signer = LinkSigner(secret=b"s" * 32, max_age=60)
    token = signer.sign("abc", "webp", now=1000)
    assert signer.verify(token, now=1059) == ("abc", "webp")
    assert signer.verify(token, now=1061) is None
    assert signer.verify(token.replace("webp", "png"), now=1000) is None
    assert LinkSigner(secret=b"t" * 32, max_age=60).verify(token, now=1000) is None
    assert signer.verify("garbage", now=time.time()) is None
