"""Wiring: build the database, queue, store, engine and services from Settings, once per process.

Only entry points (CLI commands, the API app factory, the worker process) call `build_runtime`;
everything below receives the pieces it needs.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine as SqlEngine
from sqlalchemy.orm import Session, sessionmaker

from craftgen.config import Settings
from craftgen.db.migrate import migrate
from craftgen.db.session import make_engine, make_sessions
from craftgen.engine.engine import Engine
from craftgen.jobs.backends import open_queue
from craftgen.jobs.queue import JobQueue
from craftgen.jobs.service import JobService
from craftgen.storage.backends import open_store
from craftgen.storage.store import BlobStore


@dataclass
class Runtime:
    settings: Settings
    db: SqlEngine
    sessions: sessionmaker[Session]
    queue: JobQueue
    store: BlobStore
    engine: Engine
    jobs: JobService


def build_runtime(settings: Settings, *, run_migrations: bool = True) -> Runtime:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = make_engine(settings.resolved_database_url())
    if run_migrations:
        migrate(db)
    sessions = make_sessions(db)
    queue = open_queue(
        settings.queue_url,
        database_url=settings.resolved_database_url(),
        sqs_endpoint_url=settings.sqs_endpoint_url or None,
    )
    store = open_store(settings.resolved_storage_url(), s3_endpoint_url=settings.s3_endpoint_url or None)
    engine = Engine(options=settings.engine_options(), limits=settings.limits())
    jobs = JobService(sessions=sessions, queue=queue, store=store, engine=engine, policy=settings.job_policy())
    return Runtime(
        settings=settings, db=db, sessions=sessions, queue=queue, store=store, engine=engine, jobs=jobs
    )
