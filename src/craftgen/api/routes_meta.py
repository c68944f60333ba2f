"""What the service offers (tools, models) under /v1, and the unauthenticated probes:
/healthz (the process answers), /readyz (its database, queue and store answer), /metrics."""

from __future__ import annotations

import dataclasses
import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from sqlalchemy import text

from craftgen.api.deps import RuntimeDep
from craftgen.api.errors import error_response
from craftgen.api.shapes import ErrorBody, Health, ModelList, ToolList, ToolOut, ToolOutputsOut
from craftgen.engine.tools import TOOLS
from craftgen.runtime import Runtime

log = logging.getLogger("craftgen.api")

router = APIRouter(tags=["meta"])
probes = APIRouter(tags=["probes"])


@router.get("/tools")
def list_tools() -> ToolList:
    """The tools: what each takes (its request fields and their schema) and what it gives."""
    return ToolList(
        tools=[
            ToolOut(
                name=t.name,
                title=t.card.title,
                description=t.card.makes,
                needs_image=t.needs_image,
                needs_prompt=t.needs_prompt,
                fields=sorted(t.fields),
                input_files=list(t.input_files),
                outputs=ToolOutputsOut(**dataclasses.asdict(t.outputs)),
                request_schema=t.request_model.model_json_schema(),
            )
            for t in TOOLS.values()
        ]
    )


@router.get("/models")
def list_models(runtime: RuntimeDep) -> ModelList:
    """The model names a job may ask for, and the one used when it names none."""
    names = runtime.jobs.policy.max_request_models or tuple(runtime.engine.registry.names())
    return ModelList(models=list(names), default=runtime.engine.registry.default)


@probes.get("/healthz")
def healthz() -> Health:
    """The process is up and answering."""
    return Health(status="ok")


@probes.get("/readyz", response_model=Health, responses={503: {"model": ErrorBody}})
def readyz(runtime: RuntimeDep) -> Response | Health:
    """The database, the queue and the store all answer (else 503 naming the ones that do not)."""
    failed = [name for name, ok in readiness(runtime).items() if not ok]
    if failed:
        return error_response(503, code="not_ready", message=f"not ready: {', '.join(failed)} did not answer")
    return Health(status="ok")


def readiness(runtime: Runtime) -> dict[str, bool]:
    def database() -> None:
        with runtime.db.connect() as connection:
            connection.execute(text("SELECT 1"))

    results = {}
    for name, check in (("database", database), ("queue", runtime.queue.check), ("store", runtime.store.check)):
        try:
            check()
            results[name] = True
        except Exception:
            log.warning("readiness check %s failed", name, exc_info=True)
            results[name] = False
    return results


def metrics_registry(request: Request) -> CollectorRegistry:
    registry: CollectorRegistry = request.app.state.metrics
    return registry


@probes.get("/metrics", response_class=Response, responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}})
def metrics(registry: Annotated[CollectorRegistry, Depends(metrics_registry)]) -> Response:
    """Prometheus text: jobs by status and priority, queue depth, durations, batch sizes."""
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
