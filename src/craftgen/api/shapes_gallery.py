"""The JSON bodies of the gallery, likes, reports, remix and moderation routes."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from craftgen.api.shapes import image_url
from craftgen.gallery.entries import GalleryEntry


class PublishIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = ""
    tags: list[str] = Field(default_factory=list)


class ReportIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str


class GalleryItemOut(BaseModel):
    id: str  # the image id
    url: str
    thumb_url: str  # a small WebP for grids
    author: str
    tool: str
    prompt: str
    title: str
    tags: list[str]
    seed: int | None
    settings: dict[str, Any]  # the tool's settings from the job that made it
    width: int
    height: int
    published_at: float
    likes: int
    liked: bool = False  # by the caller
    licence: str
    remix_url: str


class GalleryPageOut(BaseModel):
    items: list[GalleryItemOut]
    next_cursor: str | None  # pass as ?cursor= for the next page; null on the last one


class LikesOut(BaseModel):
    image_id: str
    likes: int
    liked: bool


class ReportOut(BaseModel):
    image_id: str
    reported: bool
    hidden: bool  # hidden until an admin looks (enough users reported it)


class RemixOut(BaseModel):
    image_id: str
    tool: str
    needs_image: bool  # add `image` (one of your uploads) to `job` before submitting it
    job: dict[str, Any]  # a body POST /v1/jobs accepts


class ReportedImageOut(BaseModel):
    item: GalleryItemOut
    author_id: str  # for /v1/admin/users/{id}/disable
    hidden: bool
    hidden_reason: str | None
    reports: int
    reasons: list[str]


class ReportList(BaseModel):
    images: list[ReportedImageOut]


class UserStatusOut(BaseModel):
    id: str
    name: str
    disabled: bool


def gallery_item_out(entry: GalleryEntry, *, licence: str, liked: bool = False) -> GalleryItemOut:
    return GalleryItemOut(
        id=entry.image_id,
        url=image_url(entry.image_id),
        thumb_url=f"/v1/images/{entry.image_id}/thumb",
        author=entry.author,
        tool=entry.tool,
        prompt=entry.prompt,
        title=entry.title,
        tags=entry.tags,
        seed=entry.seed,
        settings=entry.settings,
        width=entry.width,
        height=entry.height,
        published_at=entry.published_at,
        likes=entry.likes,
        liked=liked,
        licence=licence,
        remix_url=f"/v1/images/{entry.image_id}/remix",
    )
