"""Remix: a job body that re-makes an image (same tool, prompt, seed and settings), ready for
POST /v1/jobs. Another user's input upload is never handed out: for the tools that start from
an upload, the body has no `image` (nor `mask`) and says one is needed."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from craftgen.db.tables import Job
from craftgen.engine.tools import TOOLS
from craftgen.errors import NotFound
from craftgen.gallery.publish import public_settings
from craftgen.gallery.visibility import visible_image


@dataclass(frozen=True)
class Remix:
    image_id: str
    tool: str
    job: dict[str, object]  # a POST /v1/jobs body
    needs_image: bool  # the caller must add `image` (an upload of theirs) before submitting


def remix(sessions: sessionmaker[Session], *, viewer_id: str, image_id: str) -> Remix:
    with sessions() as session:
        image = visible_image(session, viewer_id=viewer_id, image_id=image_id)
        if image.kind != "image":
            raise NotFound(f"image {image_id!r} is a {image.kind} file; remix the image it was made with")
        job = session.scalar(select(Job).where(Job.id == image.job_id))
        if job is None:
            raise NotFound(f"image {image_id!r} not found")
        request = dict(job.request)
    tool = TOOLS[job.tool]
    body = public_settings(request)
    body["tool"] = job.tool
    # This one image, not the whole batch it came from (image i of a job used seed + i).
    if image.seed is not None:
        body["seed"] = image.seed
    if "num_images" in tool.fields:
        body["num_images"] = 1
    # The author's own input files (image, mask) go back into the body; nobody else's do.
    own_uploads = image.user_id == viewer_id and all(request.get(name) for name in tool.input_files)
    if own_uploads:
        body.update({name: request[name] for name in tool.input_files})
    return Remix(image_id=image_id, tool=job.tool, job=body, needs_image=tool.needs_image and not own_uploads)
