"""Full-text search over published images' prompt, title and tags, the database's own way.

SQLite (embedded): the FTS5 table `gallery_fts` (porter stemming), joined on rowid = seq; the
listing then orders and pages by the FTS rowid, so FTS5 hands matches over newest first and the
query stops after a page instead of sorting every match. PostgreSQL (scaled out): the generated
tsvector column `gallery_items.search` under a GIN index, matched with
plainto_tsquery('english', ...). Both are made by migration 0003. A query is reduced to its words
first and every word must match (both dialects stem, so "cats" finds "cat"); what a user types
never reaches either query language as syntax.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Generic, TypeVarTuple

from sqlalchemy import Integer, Select, column, func, literal_column, table, text

from craftgen.db.tables import GalleryItem

MAX_TERMS = 16  # more words than this add nothing but work

_fts = table("gallery_fts", column("rowid", Integer))


Row = TypeVarTuple("Row")  # the columns a query selects; search keeps them


@dataclass(frozen=True)
class Searched(Generic[*Row]):
    query: Select[*Row]
    seq: Any | None  # a column equal to gallery_items.seq that orders faster, if the dialect has one


def words(q: str) -> list[str]:
    """The words of a query, lower case, at most MAX_TERMS."""
    return re.findall(r"\w+", q.lower())[:MAX_TERMS]


def restrict(query: Select[*Row], *, dialect: str, q: str) -> Searched[*Row] | None:
    """`query` (over gallery_items) narrowed to rows with every word of `q` in their prompt,
    title or tags; None when `q` has no words."""
    terms = words(q)
    if not terms:
        return None
    if dialect == "sqlite":
        # Each word quoted: FTS5 then treats it as a plain string, never as an operator.
        fts_query = " ".join(f'"{term}"' for term in terms)
        narrowed = query.join(_fts, _fts.c.rowid == GalleryItem.seq).where(
            text("gallery_fts MATCH :fts").bindparams(fts=fts_query)
        )
        return Searched(query=narrowed, seq=_fts.c.rowid)
    if dialect == "postgresql":
        match = literal_column("gallery_items.search").op("@@")(func.plainto_tsquery("english", " ".join(terms)))
        return Searched(query=query.where(match), seq=None)
    raise ValueError(f"no full-text search for the {dialect} dialect")
