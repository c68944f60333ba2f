"""What a public image looks like to anyone (a frozen view), and the tag and title rules."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import Select, select

from craftgen.db.tables import GalleryItem, ImageRow, User
from craftgen.errors import InvalidRequest
from craftgen.gallery.options import GalleryOptions

_TAG = re.compile(r"[\w][\w -]*")


@dataclass(frozen=True)
class GalleryEntry:
    image_id: str
    author: str
    author_id: str
    tool: str
    prompt: str
    title: str
    tags: list[str]
    seed: int | None
    settings: dict[str, object]
    width: int
    height: int
    published_at: float
    likes: int
    reports: int
    hidden_reason: str | None


def entry_query() -> Select[GalleryItem, str, int, int]:
    """Gallery rows with what a view needs from their author and image (joins on primary keys)."""
    return (
        select(GalleryItem, User.name, ImageRow.width, ImageRow.height)
        .join(User, User.id == GalleryItem.user_id)
        .join(ImageRow, ImageRow.id == GalleryItem.image_id)
    )


def entry(item: GalleryItem, author: str, width: int, height: int) -> GalleryEntry:
    return GalleryEntry(
        image_id=item.image_id,
        author=author,
        author_id=item.user_id,
        tool=item.tool,
        prompt=item.prompt,
        title=item.title,
        tags=split_tags(item.tags),
        seed=item.seed,
        settings=dict(item.settings),
        width=width,
        height=height,
        published_at=item.published_at,
        likes=item.likes,
        reports=item.reports,
        hidden_reason=item.hidden_reason,
    )


def split_tags(stored: str) -> list[str]:
    return [tag for tag in stored.split(",") if tag]


def clean_tags(tags: list[str], *, options: GalleryOptions) -> str:
    """Tags as stored (lower case, comma-separated, each once), or InvalidRequest naming the bad one."""
    if len(tags) > options.max_tags:
        raise InvalidRequest(f"at most {options.max_tags} tags, got {len(tags)}", field="tags")
    cleaned: list[str] = []
    for raw in tags:
        tag = " ".join(raw.lower().split())
        if not tag or len(tag) > options.max_tag_chars or not _TAG.fullmatch(tag):
            raise InvalidRequest(
                f"a tag is 1 to {options.max_tag_chars} letters, digits, spaces or '-', got {tag!r}", field="tags"
            )
        if tag not in cleaned:
            cleaned.append(tag)
    return ",".join(cleaned)


def clean_title(title: str, *, options: GalleryOptions) -> str:
    title = " ".join(title.split())
    if len(title) > options.max_title_chars:
        raise InvalidRequest(
            f"title must be at most {options.max_title_chars} characters, got {len(title)}", field="title"
        )
    return title
