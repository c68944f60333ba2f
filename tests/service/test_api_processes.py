"""`craftgen api --processes N` (#13): the API on several processes (one event loop per core),
each with its own app and change feed, sharing the database; jobs submitted through any of them
are one list."""

from __future__ import annotations

from pathlib import Path

from tests.service.conftest import make_service, wait_ready


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def test_the_api_runs_on_several_processes(tmp_path: Path) -> None:
    service = make_service(tmp_path)
    try:
        service.api = service._spawn("api", "--port", str(service.port), "--processes", "2", log_name="api")
        wait_ready(service.url, service.api, tmp_path / "api.log")
        # uvicorn's supervisor spawns the serving processes (multiprocessing's spawn_main).
        serving = [
            pid for pid in _children(service.api.pid) if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()
        ]
        assert len(serving) == 2, serving

        pat = service.user("pat")
        made = [
            pat.post("/v1/jobs", json={"tool": "text", "prompt": "quilt", "width": 64, "height": 64}) for _ in range(6)
        ]
        assert [response.status_code for response in made] == [202] * 6
        listed = {job["id"] for job in pat.get("/v1/jobs").json()["jobs"]}
        assert listed == {response.json()["id"] for response in made}
    finally:
        service.stop()
