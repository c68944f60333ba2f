"""How fast the community gallery answers with many published images, on SQLite and PostgreSQL.

Seeds N published images (default 100,000; users, jobs, images and gallery rows by bulk core
inserts, the full-text index filled by the database as in production) into a fresh SQLite file
and a fresh, uniquely named PostgreSQL database (dropped afterwards), then times the very
function the API calls (`gallery_page`) for: the newest page, a deep page by cursor, the most
liked page, one tool's page, and searches for a common and a rare word. Each row gives the p95
in ms (p50 in the note); the baseline is the same question asked without the gallery's
structures: the sort key wrapped so no index applies, OFFSET paging for the deep page, and a
LIKE scan instead of full-text search.

    .venv/bin/python benchmarks/gallery.py            # 100k images; a few minutes on 2 cores
    .venv/bin/python benchmarks/gallery.py --smoke    # 2,000 images; seconds
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import ColumnElement, Engine, SQLColumnExpression, create_engine, insert, or_, select, text
from sqlalchemy.orm import Session, sessionmaker

from craftgen.db.migrate import migrate
from craftgen.db.session import make_engine, make_sessions
from craftgen.db.tables import GalleryItem, ImageRow, Job, User
from craftgen.engine.tools import TOOL_NAMES
from craftgen.gallery.entries import entry_query
from craftgen.gallery.listing import encode_cursor, gallery_page
from craftgen.gallery.options import GalleryOptions

from bench_table import Row, print_rows, ratio

POSTGRES_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
PAGE = 24
CHUNK = 5_000
COMMON, RARE = "flowers", "narwhal"  # in about 20% and 0.05% of prompts
ADJECTIVES = "cute tiny bold pastel vintage cozy bright soft golden rustic whimsical dreamy playful elegant".split()
NOUNS = (
    "cat fox owl bear rabbit mushroom strawberry lemon cactus teapot quilt button kite star moon cloud "
    "sailboat cottage bicycle lantern feather leaf acorn pumpkin snowflake heart rainbow bee whale turtle"
).split()
STYLES = "watercolor linocut sticker gingham doodle folk-art papercut embroidery chalk retro".split()


def _prompt(rng: random.Random) -> str:
    words = [rng.choice(ADJECTIVES), rng.choice(NOUNS), "with", rng.choice(NOUNS), rng.choice(STYLES)]
    if rng.random() < 0.2:
        words += ["and", COMMON]
    if rng.random() < 0.0005:
        words.append(RARE)
    return "a " + " ".join(words)


# Seeding -------------------------------------------------------------------------------------


def seed(engine: Engine, *, n: int, rng: random.Random) -> None:
    """n published images by n/100 users, published over the last year, a few hidden."""
    users = [{"id": f"u{i:08d}", "name": f"maker{i}", "plan": "free", "role": "user", "created_at": 0.0}
             for i in range(max(1, n // 100))]
    start = time.time() - 365 * 24 * 3600
    with engine.begin() as connection:
        connection.execute(insert(User), users)
    for first in range(0, n, CHUNK):
        jobs, images, items = [], [], []
        for i in range(first, min(n, first + CHUNK)):
            job_id, image_id, user = f"j{i:031d}", f"i{i:031d}", users[i % len(users)]["id"]
            tool = rng.choice(TOOL_NAMES)
            published = start + i * (365 * 24 * 3600 / n) + rng.random()
            request = {"tool": tool, "prompt": _prompt(rng), "seed": i, "steps": 25, "width": 512, "height": 512}
            jobs.append({"id": job_id, "user_id": user, "tool": tool, "request": request, "batch_key": "b",
                         "priority": 0, "status": "succeeded", "progress": 1.0, "attempts": 1, "created_at": published,
                         "credits_charged": 0})
            images.append({"id": image_id, "job_id": job_id, "user_id": user, "position": 0, "name": f"{tool}-0.png",
                           "output_group": f"{tool}-0", "kind": "image", "media_type": "image/png",
                           "storage_key": f"jobs/{job_id}/1/{tool}-0.png", "width": 512, "height": 512, "seed": i,
                           "created_at": published})
            hidden = rng.random() < 0.01
            items.append({"image_id": image_id, "user_id": user, "job_id": job_id, "tool": tool,
                          "prompt": request["prompt"], "title": f"{rng.choice(NOUNS)} {rng.choice(STYLES)}",
                          "tags": ",".join(rng.sample(NOUNS, 2)), "seed": i, "settings": request,
                          "published_at": published, "likes": int(rng.paretovariate(1.2)) - 1, "reports": 0,
                          "hidden_at": published if hidden else None, "hidden_reason": "admin" if hidden else None})
        with engine.begin() as connection:
            connection.execute(insert(Job), jobs)
            connection.execute(insert(ImageRow), images)
            connection.execute(insert(GalleryItem), items)
    with engine.connect() as connection:
        # PostgreSQL's autovacuum would gather statistics soon after; a bulk load gets them now.
        if engine.dialect.name == "postgresql":
            connection.execute(text("ANALYZE"))
            connection.commit()


# Timing --------------------------------------------------------------------------------------


def timed(run: Callable[[int], object], *, repeats: int) -> tuple[float, float]:
    """p50 and p95 in ms of `run(i)` over `repeats` calls, after one warm-up call."""
    run(0)
    samples = []
    for i in range(repeats):
        started = time.perf_counter()
        run(i)
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(0.95 * len(samples)))]


def baseline_page(sessions: sessionmaker[Session], *, where: Sequence[ColumnElement[bool]] = (), order: str = "newest",
                  offset: int = 0, use_index: bool = False) -> int:
    """The same page without the gallery's structures: sort keys wrapped (no index) or OFFSET."""
    with sessions() as session:
        keys: list[SQLColumnExpression[int]] = (
            [GalleryItem.likes, GalleryItem.seq] if order == "liked" else [GalleryItem.seq]
        )
        if not use_index:
            keys = [key + 0 for key in keys]
        query = (
            entry_query()  # the same rows and joins the gallery returns
            .where(GalleryItem.hidden_at.is_(None), *where)
            .order_by(*(key.desc() for key in keys))
            .offset(offset)
            .limit(PAGE + 1)
        )
        return len(session.execute(query).all())


def like_scan(word: str) -> ColumnElement[bool]:
    pattern = f"%{word}%"
    return or_(GalleryItem.prompt.ilike(pattern), GalleryItem.title.ilike(pattern), GalleryItem.tags.ilike(pattern))


def measure(engine: Engine, *, label: str, repeats: int, rng: random.Random) -> list[Row]:
    sessions = make_sessions(engine)
    options = GalleryOptions(page_size=PAGE)
    page = lambda **kw: gallery_page(sessions, options, **kw)  # noqa: E731 - the API's own function
    base_repeats = max(5, repeats // 4)  # the scans are slow; fewer samples give the same picture
    # Cursors deep in the listing (about 40-90% down), found once by walking OFFSET.
    with sessions() as session:
        visible_items = select(text("count(*)")).select_from(GalleryItem).where(GalleryItem.hidden_at.is_(None))
        visible = session.scalar(visible_items)
    offsets = [int(visible * rng.uniform(0.4, 0.9)) for _ in range(20)]
    cursors = []
    for offset in offsets:
        with sessions() as session:
            last = session.scalar(
                select(GalleryItem.seq)
                .where(GalleryItem.hidden_at.is_(None))
                .order_by(GalleryItem.seq.desc())
                .offset(offset)
                .limit(1)
            )
        cursors.append(encode_cursor("newest", (last,)))
    tools = list(TOOL_NAMES)
    cases: list[tuple[str, Callable[[int], object], Callable[[int], object], str]] = [
        ("newest page", lambda i: page(), lambda i: baseline_page(sessions), "sort key without its index"),
        ("deep page (cursor)", lambda i: page(cursor=cursors[i % len(cursors)]),
         lambda i: baseline_page(sessions, offset=offsets[i % len(offsets)], use_index=True),
         "OFFSET paging to the same rows"),
        ("most-liked page", lambda i: page(order="liked"), lambda i: baseline_page(sessions, order="liked"),
         "sort key without its index"),
        ("tool filter page", lambda i: page(tool=tools[i % len(tools)]),
         lambda i: baseline_page(sessions, where=[GalleryItem.tool + "" == tools[i % len(tools)]]),
         "filter and sort without the index"),
        (f"search common word ({COMMON!r})", lambda i: page(q=COMMON),
         lambda i: baseline_page(sessions, where=[like_scan(COMMON)], use_index=True), "LIKE scan, newest first"),
        (f"search rare word ({RARE!r})", lambda i: page(q=RARE),
         lambda i: baseline_page(sessions, where=[like_scan(RARE)], use_index=True), "LIKE scan, newest first"),
        ("search common word, most liked", lambda i: page(q=COMMON, order="liked"),
         lambda i: baseline_page(sessions, where=[like_scan(COMMON)], order="liked", use_index=True),
         "LIKE scan, most liked first"),
    ]
    rows = []
    for name, run, baseline, how in cases:
        p50, p95 = timed(run, repeats=repeats)
        b50, b95 = timed(baseline, repeats=base_repeats)
        rows.append(
            Row(
                f"gallery {name} p95, {label}",
                f"{p95:.2f} ms",
                f"{b95:.2f} ms",
                ratio(b95, p95),
                f"p50 {p50:.2f} ms (baseline {b50:.2f}); {repeats} queries, baseline {base_repeats}: {how}",
            )
        )
        print(f"  {rows[-1].name}: {rows[-1].craftgen} (baseline {rows[-1].baseline})", flush=True)
    return rows


# Databases -----------------------------------------------------------------------------------


@contextmanager
def sqlite_database(folder: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{folder / 'gallery.db'}")
    try:
        yield engine
    finally:
        engine.dispose()


@contextmanager
def postgres_database() -> Iterator[Engine]:
    name = f"craftgen_bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}")
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="2,000 images and 20 queries: seconds")
    parser.add_argument("--images", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--skip-postgres", action="store_true")
    args = parser.parse_args(argv)
    n, repeats = (2_000, 20) if args.smoke else (args.images, args.queries)
    label = f"{n // 1000}k" if n >= 1000 else str(n)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="craftgen-gallery-") as folder:
        backends = [("sqlite", lambda: sqlite_database(Path(folder)))]
        if not args.skip_postgres:
            backends.append(("postgresql", postgres_database))
        for dialect, open_database in backends:
            with open_database() as engine:
                migrate(engine)
                started = time.perf_counter()
                seed(engine, n=n, rng=random.Random(5))
                print(f"{dialect}: seeded {n} images in {time.perf_counter() - started:.1f} s", flush=True)
                rows += measure(engine, label=f"{label}, {dialect}", repeats=repeats, rng=random.Random(7))
    print_rows(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
