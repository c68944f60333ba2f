"""The service as users meet it: real `craftgen api` and `craftgen worker` processes on loopback."""

from __future__ import annotations

import io
import json
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from PIL import Image

from tests.conftest import smooth_image
from tests.service.conftest import Service, make_service, wait_for_job

SLOW = {"tool": "text", "prompt": "a slow cat", "width": 512, "height": 512, "steps": 40}


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _upload(client: httpx.Client, image: Image.Image) -> str:
    response = client.post("/v1/uploads", files={"file": ("in.png", _png(image), "image/png")})
    assert response.status_code == 201, response.text
    return response.json()["id"]


def _sticker() -> Image.Image:
    image = Image.new("RGB", (128, 128), "white")
    image.paste((200, 40, 40), (30, 30, 100, 100))
    return image


def _run(client: httpx.Client, body: dict) -> dict:
    response = client.post("/v1/jobs", json=body)
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "queued"
    return wait_for_job(client, response.json()["id"])


@pytest.mark.parametrize(
    ("body", "image", "sizes"),
    [
        ({"tool": "text", "prompt": "a cat", "num_images": 2}, None, [(128, 128)] * 2),
        ({"tool": "pattern", "prompt": "leaves", "repeat": "brick"}, None, [(128, 128), (384, 384)]),
        ({"tool": "clipart", "prompt": "a cat"}, None, [(128, 128), (128, 128)]),
        ({"tool": "cutout"}, "sticker", [(128, 128), (128, 128)]),
        ({"tool": "variations", "strength": 0.7}, "photo", [(160, 120)]),
        ({"tool": "outpaint", "left": 32, "bottom": 16}, "photo", [(192, 136)]),
        ({"tool": "upscale", "scale": 2, "strength": 0.7}, "photo", [(320, 240)]),
    ],
)
def test_every_tool_through_http(service: Service, body: dict, image: str | None, sizes: list) -> None:
    client = service.user(f"user-{body['tool']}")
    if image:
        body = {**body, "image": _upload(client, _sticker() if image == "sticker" else smooth_image(160, 120))}
    job = _run(client, body)

    assert job["status"] == "succeeded", job
    assert [(o["width"], o["height"]) for o in job["outputs"]] == sizes
    for output in job["outputs"]:
        response = client.get(output["url"])
        assert response.status_code == 200
        if output["kind"] == "svg":
            assert response.headers["content-type"].startswith("image/svg+xml")
            assert "attachment" in response.headers["content-disposition"]
            assert response.text.startswith("<svg")
        else:
            with Image.open(io.BytesIO(response.content)) as png:
                assert png.size == (output["width"], output["height"])


def test_progress_streams_then_a_final_status(service: Service) -> None:
    client = service.user("streamer")
    job_id = client.post("/v1/jobs", json={**SLOW, "steps": 20, "width": 256, "height": 256}).json()["id"]
    events: list[tuple[str, dict]] = []
    with client.stream("GET", f"/v1/jobs/{job_id}/events", timeout=180) as stream:
        name = None
        for line in stream.iter_lines():
            if line.startswith("event:"):
                name = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and name:
                events.append((name, json.loads(line.split(":", 1)[1])))
    progress = [data["progress"] for name, data in events if name == "progress"]
    assert len(progress) >= 2 and progress == sorted(progress), progress
    assert any(0 < value < 1 for value in progress), "progress seen mid-run"
    assert events[-1][0] == "status" and events[-1][1]["status"] == "succeeded"


def test_cancel(service: Service) -> None:
    client = service.user("canceler")
    job_id = client.post("/v1/jobs", json=SLOW).json()["id"]
    response = client.delete(f"/v1/jobs/{job_id}")
    assert response.status_code == 200 and response.json()["status"] == "canceled"
    time.sleep(1)
    job = client.get(f"/v1/jobs/{job_id}").json()
    assert job["status"] == "canceled" and job["outputs"] == []
    assert client.delete(f"/v1/jobs/{job_id}").status_code == 409


def test_a_free_users_second_job_is_429(service: Service) -> None:
    client = service.user("freebie", plan="free")
    first = client.post("/v1/jobs", json=SLOW)
    second = client.post("/v1/jobs", json={"tool": "text", "prompt": "another"})
    assert first.status_code == 202
    assert second.status_code == 429
    assert second.json()["error"]["code"] == "quota_exceeded"
    assert "one job at a time" in second.json()["error"]["message"]
    client.delete(f"/v1/jobs/{first.json()['id']}")


def test_a_retried_submission_returns_the_first_job(service: Service) -> None:
    client = service.user("retrier")
    body = {"tool": "text", "prompt": "a cat"}
    first = client.post("/v1/jobs", json=body, headers={"Idempotency-Key": "abc-1"})
    second = client.post("/v1/jobs", json=body, headers={"Idempotency-Key": "abc-1"})
    assert first.status_code == second.status_code == 202
    assert first.json()["id"] == second.json()["id"]
    assert len(client.get("/v1/jobs").json()["jobs"]) == 1


def test_fifty_concurrent_submissions_from_several_users_all_complete(service: Service) -> None:
    clients = [service.user(f"crowd-{n}") for n in range(5)]

    def submit(index: int) -> tuple[httpx.Client, str]:
        client = clients[index % len(clients)]
        response = client.post("/v1/jobs", json={"tool": "text", "prompt": f"cat {index}", "seed": index})
        assert response.status_code == 202, response.text
        return client, response.json()["id"]

    with ThreadPoolExecutor(max_workers=10) as pool:
        submitted = list(pool.map(submit, range(50)))
    jobs = [wait_for_job(client, job_id, timeout=300) for client, job_id in submitted]
    assert [job["status"] for job in jobs] == ["succeeded"] * 50
    assert all(len(job["outputs"]) == 1 for job in jobs)
    assert len({job["id"] for job in jobs}) == 50


def test_sigkill_mid_job_still_succeeds_exactly_once(tmp_path: Path) -> None:
    service = make_service(tmp_path, CRAFTGEN_LEASE_SECONDS="3")
    service.start_api()
    try:
        client = service.user("victim")
        first = service.start_worker("doomed")
        job_id = client.post("/v1/jobs", json=SLOW).json()["id"]
        deadline = time.monotonic() + 120
        while client.get(f"/v1/jobs/{job_id}").json()["progress"] < 0.05:
            assert time.monotonic() < deadline, "job never started"
            time.sleep(0.1)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        service.start_worker("rescuer")
        job = wait_for_job(client, job_id)
        assert job["status"] == "succeeded" and len(job["outputs"]) == 1
        assert client.get(job["outputs"][0]["url"]).status_code == 200
        stored = list((service.data_dir / "files" / "jobs" / job_id).rglob("*.png"))
        assert len(stored) == 1, stored
    finally:
        service.stop()


def test_restarting_the_api_keeps_queued_jobs(tmp_path: Path) -> None:
    service = make_service(tmp_path)
    service.start_api()
    try:
        client = service.user("patient")
        ids = [client.post("/v1/jobs", json={"tool": "text", "prompt": f"cat {n}"}).json()["id"] for n in range(3)]
        assert service.api is not None
        service.api.send_signal(signal.SIGTERM)
        service.api.wait(timeout=30)
        service.start_api()  # no worker ran yet: every job is still queued
        assert [client.get(f"/v1/jobs/{i}").json()["status"] for i in ids] == ["queued"] * 3
        service.start_worker("late")
        assert [wait_for_job(client, i)["status"] for i in ids] == ["succeeded"] * 3
    finally:
        service.stop()
