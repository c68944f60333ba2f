"""The public gallery, one page at a time: newest or most liked first, optionally one tool's
images or a full-text search, with keyset (cursor) pagination.

Newest first is publish order (`seq`, which the database assigns); most liked breaks ties by
it. A cursor is the last row's sort key, base64-encoded: the next page starts strictly after
it, so rows published meanwhile never shift or repeat a page, and a deep page costs what the
first one does (an index range scan, never an OFFSET). Hidden rows are left out by the
partial indexes' own condition.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import select, tuple_
from sqlalchemy.orm import InstrumentedAttribute, Session, sessionmaker

from craftgen.db.tables import GalleryItem, GalleryLike
from craftgen.engine.tools import TOOL_NAMES
from craftgen.errors import InvalidRequest
from craftgen.gallery import search
from craftgen.gallery.entries import GalleryEntry, entry, entry_query
from craftgen.gallery.options import GalleryOptions

Order = Literal["newest", "liked"]
ORDERS: tuple[Order, ...] = ("newest", "liked")
MAX_KEY = 2**63  # sort keys are non-negative and below this (a signed 64-bit integer)


@dataclass(frozen=True)
class GalleryPage:
    items: list[GalleryEntry]
    next_cursor: str | None  # None on the last page
    liked: frozenset[str] = frozenset()  # image ids on this page the viewer has liked


def sort_key(order: Order) -> tuple[InstrumentedAttribute[Any], ...]:
    if order == "liked":
        return (GalleryItem.likes, GalleryItem.seq)
    return (GalleryItem.seq,)


def encode_cursor(order: Order, values: tuple[object, ...]) -> str:
    raw = json.dumps([order, *values], separators=(",", ":")).encode("utf-8")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_cursor(cursor: str, *, order: Order) -> tuple[object, ...]:
    """The sort key a cursor holds; InvalidRequest for anything this module did not make."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value = json.loads(raw)
    except (binascii.Error, ValueError):
        raise InvalidRequest("cursor is not one this API returned", field="cursor") from None
    width = len(sort_key(order))
    if not isinstance(value, list) or len(value) != width + 1 or value[0] not in ORDERS:
        raise InvalidRequest("cursor is not one this API returned", field="cursor")
    if value[0] != order:
        raise InvalidRequest(f"cursor belongs to order={value[0]}, not order={order}", field="cursor")
    # Sort keys are counts and sequence numbers: a value no 64-bit column holds is not one of
    # ours (SQLite cannot even bind one, OverflowError).
    if not all(type(part) is int and 0 <= part < MAX_KEY for part in value[1:]):
        raise InvalidRequest("cursor is not one this API returned", field="cursor")
    return tuple(value[1:])


def gallery_page(
    sessions: sessionmaker[Session],
    options: GalleryOptions,
    *,
    order: Order = "newest",
    q: str = "",
    tool: str | None = None,
    cursor: str | None = None,
    limit: int | None = None,
    viewer_id: str | None = None,
) -> GalleryPage:
    # 1. Validate.
    limit = options.page_size if limit is None else limit
    if not 1 <= limit <= options.max_page_size:
        raise InvalidRequest(f"limit must be between 1 and {options.max_page_size}, got {limit}", field="limit")
    if tool is not None and tool not in TOOL_NAMES:
        raise InvalidRequest(f"tool must be one of {', '.join(TOOL_NAMES)}, got {tool!r}", field="tool")
    if order not in ORDERS:
        raise InvalidRequest(f"order must be one of {', '.join(ORDERS)}, got {order!r}", field="order")
    keys: tuple[Any, ...] = sort_key(order)
    after = decode_cursor(cursor, order=order) if cursor else None
    with sessions() as session:
        # 2. Filters: visible rows, a tool, the words searched for, the cursor.
        query = entry_query().where(GalleryItem.hidden_at.is_(None))
        if tool is not None:
            query = query.where(GalleryItem.tool == tool)
        searched = search.restrict(query, dialect=session.get_bind().dialect.name, q=q)
        if searched is not None:
            query = searched.query
            if searched.seq is not None:  # the same values as seq, in the search index's own order
                keys = (*keys[:-1], searched.seq)
        if after is not None:
            query = query.where(tuple_(*keys) < tuple_(*after))
        # 3. One row more than a page says whether another page follows.
        rows = session.execute(query.order_by(*(key.desc() for key in keys)).limit(limit + 1)).all()
        items = rows[:limit]
        # 4. Which of this page the viewer likes: one primary-key lookup per row, never a scan.
        liked: frozenset[str] = frozenset()
        if viewer_id is not None and items:
            page_ids = [row[0].image_id for row in items]
            likes = select(GalleryLike.image_id).where(
                GalleryLike.user_id == viewer_id, GalleryLike.image_id.in_(page_ids)
            )
            liked = frozenset(session.scalars(likes))
    next_cursor = None
    if len(rows) > limit:
        last = items[-1][0]
        next_cursor = encode_cursor(order, tuple(getattr(last, key.key) for key in sort_key(order)))
    return GalleryPage(items=[entry(*row) for row in items], next_cursor=next_cursor, liked=liked)
