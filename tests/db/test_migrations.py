"""The Alembic migrations build exactly the schema db/tables.py declares, on SQLite and on
PostgreSQL: the same tables, columns (names, types, nullability), primary keys, indexes and
unique constraints. A model changed without a migration, or a migration that drifts from the
model, fails here rather than on a deployment's first upgrade.

Two views of the same question: Alembic's own `compare_metadata` (what `alembic revision
--autogenerate` would write), and a plain inspector comparison that also covers primary keys,
which autogenerate does not compare.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, MetaData, UniqueConstraint, inspect

from craftgen.db.migrate import migrate
from craftgen.db.session import make_engine
from craftgen.db.tables import Base
from tests.pg import fresh_postgres_database

# Objects migration 0003 makes in raw SQL for full-text search, outside Base.metadata on purpose
# (see GalleryItem's docstring and gallery/search.py): each dialect does it its own way.
# SQLite: the FTS5 virtual table and the shadow tables FTS5 keeps beside it.
SQLITE_FTS_TABLES = frozenset(
    {"gallery_fts", *(f"gallery_fts_{shadow}" for shadow in ("config", "content", "data", "docsize", "idx"))}
)
# PostgreSQL: a generated tsvector column and its GIN index.
PG_SEARCH_COLUMN = ("gallery_items", "search")
PG_SEARCH_INDEX = "ix_gallery_search"
ALEMBIC_TABLE = "alembic_version"  # Alembic's own bookkeeping


@pytest.fixture(params=["sqlite", "postgresql"])
def migrated(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A fresh database brought to head by craftgen.db.migrate (the PostgreSQL one is dropped after)."""
    with ExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path / 'fresh.db'}"
        else:
            url = stack.enter_context(fresh_postgres_database())
        engine = make_engine(url)
        stack.callback(engine.dispose)  # before the database is dropped
        migrate(engine)
        yield engine


# 1. What Alembic's autogenerate sees -----------------------------------------------------------


def _flat(diffs: list[Any]) -> list[tuple[Any, ...]]:
    # compare_metadata groups the changes to one column in a list; the rest are single tuples.
    return [change for diff in diffs for change in (diff if isinstance(diff, list) else [diff])]


def _is_raw_sql_search(change: tuple[Any, ...], dialect: str) -> bool:
    kind = change[0]
    if dialect == "sqlite":
        return kind == "remove_table" and str(change[1].name) in SQLITE_FTS_TABLES
    if dialect == "postgresql":
        if kind == "remove_column":
            return (change[2], change[3].name) == PG_SEARCH_COLUMN
        return kind == "remove_index" and str(change[1].name) == PG_SEARCH_INDEX
    return False


def test_autogenerate_finds_nothing_to_migrate(migrated: Engine) -> None:
    dialect = migrated.dialect.name
    with migrated.connect() as connection:
        # compare_type: a column's type too. Server defaults are left out: SQLite reflects the
        # empty-string default as "''", which autogenerate reports as a change that is not one.
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        changes = _flat(compare_metadata(context, Base.metadata))

    expected = [change for change in changes if _is_raw_sql_search(change, dialect)]
    unexpected = [change for change in changes if change not in expected]
    assert unexpected == [], "db/tables.py and the migrations disagree; write a migration"
    # The filter above hides only what migration 0003 makes in raw SQL, and that is really there.
    assert len(expected) == (len(SQLITE_FTS_TABLES) if dialect == "sqlite" else 2), expected


# 2. Table by table, with the inspector ---------------------------------------------------------


@dataclass(frozen=True)
class TableShape:
    columns: dict[str, bool]  # name -> nullable
    primary_key: tuple[str, ...]
    indexes: frozenset[tuple[str, ...]]  # non-unique, by their columns in order
    uniques: frozenset[tuple[str, ...]]  # unique constraints and unique indexes alike


def _declared(metadata: MetaData) -> dict[str, TableShape]:
    shapes: dict[str, TableShape] = {}
    for table in metadata.tables.values():
        indexes: set[tuple[str, ...]] = set()
        uniques: set[tuple[str, ...]] = {(column.name,) for column in table.columns if column.unique}
        for index in table.indexes:
            columns = tuple(column.name for column in index.columns)
            (uniques if index.unique else indexes).add(columns)
        for constraint in table.constraints:
            if isinstance(constraint, UniqueConstraint):
                uniques.add(tuple(column.name for column in constraint.columns))
        shapes[table.name] = TableShape(
            columns={column.name: bool(column.nullable) for column in table.columns},
            primary_key=tuple(column.name for column in table.primary_key.columns),
            indexes=frozenset(indexes),
            uniques=frozenset(uniques),
        )
    return shapes


def _migrated(engine: Engine) -> dict[str, TableShape]:
    inspector = inspect(engine)
    dialect = engine.dialect.name
    shapes: dict[str, TableShape] = {}
    for name in inspector.get_table_names():
        if name == ALEMBIC_TABLE or (dialect == "sqlite" and name in SQLITE_FTS_TABLES):
            continue
        indexes: set[tuple[str, ...]] = set()
        uniques: set[tuple[str, ...]] = {
            tuple(unique["column_names"]) for unique in inspector.get_unique_constraints(name)
        }
        for index in inspector.get_indexes(name):
            if dialect == "postgresql" and index["name"] == PG_SEARCH_INDEX:
                continue
            if index.get("duplicates_constraint"):  # the index behind a unique constraint: counted above
                continue
            index_columns = tuple(str(column) for column in index["column_names"])
            (uniques if index["unique"] else indexes).add(index_columns)
        columns = {
            column["name"]: bool(column["nullable"])
            for column in inspector.get_columns(name)
            if not (dialect == "postgresql" and (name, column["name"]) == PG_SEARCH_COLUMN)
        }
        shapes[name] = TableShape(
            columns=columns,
            primary_key=tuple(inspector.get_pk_constraint(name)["constrained_columns"]),
            indexes=frozenset(indexes),
            uniques=frozenset(uniques),
        )
    return shapes


def test_the_migrated_tables_are_the_declared_ones(migrated: Engine) -> None:
    declared, built = _declared(Base.metadata), _migrated(migrated)

    assert sorted(built) == sorted(declared)
    for name, shape in declared.items():
        assert built[name] == shape, name


def test_the_raw_sql_search_objects_exist(migrated: Engine) -> None:
    inspector = inspect(migrated)
    if migrated.dialect.name == "sqlite":
        assert set(inspector.get_table_names()) >= SQLITE_FTS_TABLES
    else:
        table, column = PG_SEARCH_COLUMN
        assert column in {each["name"] for each in inspector.get_columns(table)}
        assert PG_SEARCH_INDEX in {each["name"] for each in inspector.get_indexes(table)}


def test_the_declared_shapes_see_what_matters() -> None:
    # The comparison above is only as good as what _declared reads; check it on known rows.
    shapes = _declared(Base.metadata)
    assert shapes["gallery_likes"].primary_key == ("image_id", "user_id")
    assert ("user_id", "idempotency_key") in shapes["jobs"].uniques and ("id",) in shapes["jobs"].uniques
    assert ("status", "priority", "seq") in shapes["jobs"].indexes
    assert shapes["users"].columns["password_hash"] and not shapes["users"].columns["name"]
