"""/v1/gallery and the community side of /v1/images: publish, like, report and remix."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from craftgen.api.deps import RuntimeDep, UserDep
from craftgen.api.shapes import ErrorBody
from craftgen.api.shapes_gallery import (
    GalleryItemOut,
    GalleryPageOut,
    LikesOut,
    PublishIn,
    RemixOut,
    ReportIn,
    ReportOut,
    gallery_item_out,
)
from craftgen.gallery import votes
from craftgen.gallery.listing import Order, gallery_page
from craftgen.gallery.publish import publish, unpublish
from craftgen.gallery.remix import remix

router = APIRouter(tags=["gallery"], responses={404: {"model": ErrorBody}, 422: {"model": ErrorBody}})


@router.get("/gallery")
def list_gallery(
    runtime: RuntimeDep,
    user: UserDep,
    order: Order = "newest",
    q: Annotated[str, Query(max_length=200)] = "",
    tool: str | None = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: int | None = None,
) -> GalleryPageOut:
    """Public images, newest or most liked first; `q` searches prompt, title and tags."""
    options = runtime.settings.gallery_options()
    page = gallery_page(
        runtime.sessions, options, order=order, q=q, tool=tool, cursor=cursor, limit=limit, viewer_id=user.id
    )
    return GalleryPageOut(
        items=[
            gallery_item_out(entry, licence=options.licence, liked=entry.image_id in page.liked) for entry in page.items
        ],
        next_cursor=page.next_cursor,
    )


@router.post("/images/{image_id}/publish")
def publish_image(image_id: str, runtime: RuntimeDep, user: UserDep, body: PublishIn | None = None) -> GalleryItemOut:
    """Make one of your images public, under the site's licence (again: change title and tags)."""
    body = body or PublishIn()
    options = runtime.settings.gallery_options()
    entry = publish(runtime.sessions, options, user_id=user.id, image_id=image_id, title=body.title, tags=body.tags)
    return gallery_item_out(entry, licence=options.licence)


@router.delete("/images/{image_id}/publish", status_code=204, response_class=Response)
def unpublish_image(image_id: str, runtime: RuntimeDep, user: UserDep) -> Response:
    """Make a published image private again."""
    unpublish(runtime.sessions, user_id=user.id, image_id=image_id)
    return Response(status_code=204)


@router.put("/images/{image_id}/like")
def like_image(image_id: str, runtime: RuntimeDep, user: UserDep) -> LikesOut:
    """Like a public image (once; again changes nothing)."""
    likes = votes.like(runtime.sessions, user_id=user.id, image_id=image_id)
    return LikesOut(image_id=image_id, likes=likes, liked=True)


@router.delete("/images/{image_id}/like")
def unlike_image(image_id: str, runtime: RuntimeDep, user: UserDep) -> LikesOut:
    """Take your like back."""
    likes = votes.unlike(runtime.sessions, user_id=user.id, image_id=image_id)
    return LikesOut(image_id=image_id, likes=likes, liked=False)


@router.post("/images/{image_id}/report")
def report_image(image_id: str, body: ReportIn, runtime: RuntimeDep, user: UserDep) -> ReportOut:
    """Report a public image to the admins; enough reports hide it until one looks."""
    options = runtime.settings.gallery_options()
    result = votes.report(runtime.sessions, options, user_id=user.id, image_id=image_id, reason=body.reason)
    return ReportOut(image_id=image_id, reported=True, hidden=result.hidden)


@router.get("/images/{image_id}/remix")
def remix_image(image_id: str, runtime: RuntimeDep, user: UserDep) -> RemixOut:
    """A job body that re-makes this image (a public one or your own), for POST /v1/jobs."""
    found = remix(runtime.sessions, viewer_id=user.id, image_id=image_id)
    return RemixOut(image_id=found.image_id, tool=found.tool, needs_image=found.needs_image, job=found.job)
