"""/v1/admin: review reported images, hide or unhide images, disable or enable users (admins only)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response

from craftgen.api.deps import AdminDep, RuntimeDep, admin_user
from craftgen.api.shapes import ErrorBody
from craftgen.api.shapes_gallery import ReportedImageOut, ReportList, UserStatusOut, gallery_item_out
from craftgen.gallery import moderation

router = APIRouter(
    prefix="/admin",
    tags=["admin"],
    dependencies=[Depends(admin_user)],
    responses={403: {"model": ErrorBody}, 404: {"model": ErrorBody}},
)


@router.get("/reports")
def reports(runtime: RuntimeDep) -> ReportList:
    """Reported images no admin has reviewed yet, most reported first."""
    licence = runtime.settings.gallery_licence
    return ReportList(
        images=[
            ReportedImageOut(
                item=gallery_item_out(found.entry, licence=licence),
                author_id=found.entry.author_id,
                hidden=found.hidden,
                hidden_reason=found.entry.hidden_reason,
                reports=found.entry.reports,
                reasons=found.reasons,
            )
            for found in moderation.open_reports(runtime.sessions)
        ]
    )


@router.post("/images/{image_id}/hide", status_code=204, response_class=Response)
def hide(image_id: str, runtime: RuntimeDep) -> Response:
    """Take a published image out of the gallery (its reports count as reviewed)."""
    moderation.set_hidden(runtime.sessions, image_id=image_id, hidden=True)
    return Response(status_code=204)


@router.post("/images/{image_id}/unhide", status_code=204, response_class=Response)
def unhide(image_id: str, runtime: RuntimeDep) -> Response:
    """Put a hidden image back in the gallery (its reports count as reviewed)."""
    moderation.set_hidden(runtime.sessions, image_id=image_id, hidden=False)
    return Response(status_code=204)


@router.post("/users/{user_id}/disable")
def disable(user_id: str, runtime: RuntimeDep, admin: AdminDep) -> UserStatusOut:
    """Refuse a user's keys and sign-ins and hide their public images."""
    user = moderation.set_user_disabled(runtime.sessions, admin_id=admin.id, user_id=user_id, disabled=True)
    return UserStatusOut(id=user.id, name=user.name, disabled=True)


@router.post("/users/{user_id}/enable")
def enable(user_id: str, runtime: RuntimeDep, admin: AdminDep) -> UserStatusOut:
    """Let a disabled user back in (and their images back into the gallery)."""
    user = moderation.set_user_disabled(runtime.sessions, admin_id=admin.id, user_id=user_id, disabled=False)
    return UserStatusOut(id=user.id, name=user.name, disabled=False)
