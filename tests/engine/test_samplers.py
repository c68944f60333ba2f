"""Samplers as a job option: A1111's names (any case, or snake case) map to diffusers schedulers
as diffusers' documentation tables them; the sampler is part of the batch key and recorded in
every PNG; after a run the model's own scheduler is back; unknown names are refused naming
`sampler` and listing the known ones."""

from __future__ import annotations

import io

import diffusers
import numpy as np
import pytest
from PIL import Image

from craftgen.engine.engine import Engine
from craftgen.engine.requests import parse_request
from craftgen.engine.samplers import SCHEDULERS, build_scheduler, sampler_names
from craftgen.errors import InvalidRequest
from craftgen.imaging.io import read_parameters
from craftgen.schemas import SAMPLER_NAMES
from tests.conftest import smooth_image

TEXT = {"tool": "text", "prompt": "a fox", "seed": 2, "steps": 3, "width": 64, "height": 64}

DOCUMENTED = {  # diffusers' "A1111/k-diffusion -> diffusers" table
    "DPM++ 2M": ("DPMSolverMultistepScheduler", {}),
    "DPM++ 2M Karras": ("DPMSolverMultistepScheduler", {"use_karras_sigmas": True}),
    "DPM++ 2M SDE": ("DPMSolverMultistepScheduler", {"algorithm_type": "sde-dpmsolver++"}),
    "DPM++ 2M SDE Karras": (
        "DPMSolverMultistepScheduler",
        {"algorithm_type": "sde-dpmsolver++", "use_karras_sigmas": True},
    ),
    "DPM++ SDE": ("DPMSolverSinglestepScheduler", {}),
    "DPM++ SDE Karras": ("DPMSolverSinglestepScheduler", {"use_karras_sigmas": True}),
    "Euler a": ("EulerAncestralDiscreteScheduler", {}),
    "Euler": ("EulerDiscreteScheduler", {}),
    "LMS": ("LMSDiscreteScheduler", {}),
    "LMS Karras": ("LMSDiscreteScheduler", {"use_karras_sigmas": True}),
    "Heun": ("HeunDiscreteScheduler", {}),
    "DDIM": ("DDIMScheduler", {}),
    "PLMS": ("PNDMScheduler", {}),
    "UniPC": ("UniPCMultistepScheduler", {}),
}


def _pixels(result) -> np.ndarray:  # type: ignore[no-untyped-def]
    return np.asarray(result.outputs[0].image, np.int16)


def test_every_name_maps_to_the_documented_scheduler(engine: Engine) -> None:
    own = engine.models.get("tiny").base.scheduler.config
    assert set(SCHEDULERS) == set(SAMPLER_NAMES) == set(DOCUMENTED) and sampler_names() == SAMPLER_NAMES
    for name, (cls, options) in DOCUMENTED.items():
        scheduler = build_scheduler(name, own)
        assert type(scheduler) is getattr(diffusers, cls), name
        for key, value in options.items():
            assert scheduler.config[key] == value, (name, key)
        assert scheduler.config["beta_schedule"] == own["beta_schedule"], "the model's own betas carry over"


@pytest.mark.parametrize("name", SAMPLER_NAMES)
def test_each_sampler_runs_reports_progress_and_is_recorded(engine: Engine, name: str) -> None:
    seen: list[tuple[int, int]] = []
    result = engine.run(
        parse_request({**TEXT, "sampler": name}), progress=lambda done, total: seen.append((done, total))
    )

    assert seen and seen[-1] == (3, 3) and all(done <= total for done, total in seen)
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)
    recorded = read_parameters(Image.open(io.BytesIO(result.outputs[0].data)))
    assert recorded["sampler"] == name


def test_the_models_own_scheduler_comes_back_after_a_sampler_run(engine: Engine) -> None:
    model = engine.models.get("tiny")
    own = model.base.scheduler
    before = _pixels(engine.run(parse_request(TEXT)))
    euler = _pixels(engine.run(parse_request({**TEXT, "sampler": "Euler a"})))
    after = _pixels(engine.run(parse_request(TEXT)))

    assert np.array_equal(before, after) and model.base.scheduler is own
    assert not np.array_equal(before, euler)
    assert "sampler" not in read_parameters(Image.open(io.BytesIO(engine.run(parse_request(TEXT)).outputs[0].data)))


@pytest.mark.parametrize("spelling", ["euler_a", "EULER A", " Euler a ", "euler a"])
def test_snake_case_and_any_case_are_the_same_sampler(spelling: str) -> None:
    assert parse_request({**TEXT, "sampler": spelling}).sampler == "Euler a"  # type: ignore[attr-defined]
    assert parse_request({**TEXT, "sampler": "dpmpp_2m_karras"}).sampler == "DPM++ 2M Karras"  # type: ignore[attr-defined]


def test_an_unknown_sampler_is_refused_listing_the_known_ones() -> None:
    with pytest.raises(InvalidRequest) as refused:
        parse_request({**TEXT, "sampler": "Euler b"})
    assert refused.value.field == "sampler"
    assert all(repr(name) in str(refused.value) for name in SAMPLER_NAMES) and "'Euler b'" in str(refused.value)


def test_the_sampler_is_part_of_the_batch_key_and_a_batch_matches_lone_runs(engine: Engine) -> None:
    euler = [engine.prepare(parse_request({**TEXT, "seed": seed, "sampler": "Euler a"})) for seed in (1, 2)]
    plain = engine.prepare(parse_request({**TEXT, "seed": 3}))
    assert engine.batch_key(euler[0]) == engine.batch_key(euler[1]) != engine.batch_key(plain)
    with pytest.raises(InvalidRequest, match="cannot share a batch"):
        engine.run_batch([euler[0], plain])

    together = engine.run_batch(euler)  # an ancestral sampler: its noise still comes from each seed
    for item, batched in zip(euler, together, strict=True):
        (alone,) = engine.run_batch([item])
        assert int(np.abs(_pixels(batched) - _pixels(alone)).max()) <= 1


def test_image_tools_use_the_sampler_too_and_inpaint_still_keeps_the_rest(engine: Engine) -> None:
    photo = smooth_image(96, 64)
    mask = Image.new("L", photo.size, 0)
    mask.paste(255, (20, 10, 50, 40))
    request = {"tool": "inpaint", "prompt": "moss", "seed": 1, "steps": 3, "blend": 0}
    own = _pixels(engine.run(parse_request(request), photo, files={"mask": mask}))
    heun = _pixels(engine.run(parse_request({**request, "sampler": "Heun"}), photo, files={"mask": mask}))

    assert not np.array_equal(own, heun)
    outside = np.ones((64, 96), bool)
    outside[10:40, 20:50] = False
    assert np.array_equal(heun[outside], np.asarray(photo, np.int16)[outside])
    pipe, _ = engine.models.get("tiny").inpaint()
    assert pipe.scheduler is engine.models.get("tiny").base.scheduler, "every pipeline has the model's own back"
    varied = engine.run(parse_request({"tool": "variations", "seed": 1, "steps": 4, "sampler": "dpmpp_2m"}), photo)
    assert varied.outputs[0].image is not None and varied.outputs[0].image.size == photo.size
