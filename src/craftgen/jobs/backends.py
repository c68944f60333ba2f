"""Opening the queue backend a URL names (one file per backend; `queue.py` is the interface)."""

from __future__ import annotations

from craftgen.jobs.queue import JobQueue


def open_queue(url: str, *, database_url: str, sqs_endpoint_url: str | None = None) -> JobQueue:
    """The backend a URL names; an empty URL means the database itself (SQLite lease table).

    `redis://HOST:PORT/DB[?prefix=craftgen&max_deliveries=10]`: Redis Streams (queue_redis).
    `sqs://NAME?region=REGION[&endpoint=URL&wait=1&max_deliveries=10]`: Amazon SQS (queue_sqs);
    without `endpoint`, `sqs_endpoint_url` (the entry points pass CRAFTGEN_SQS_ENDPOINT_URL),
    else wherever boto3 points (AWS_ENDPOINT_URL_SQS, AWS_ENDPOINT_URL, AWS itself). Either
    checks its server here, so a queue that cannot be reached stops the process at start.
    """
    target = url or database_url
    if target.startswith("sqlite"):
        from craftgen.jobs.queue_sqlite import SqliteQueue  # noqa: PLC0415 - each backend only when named

        return SqliteQueue(target)
    if target.startswith(("redis://", "rediss://")):
        from craftgen.jobs import queue_redis  # noqa: PLC0415 - needs redis-py

        return queue_redis.from_url(target)
    if target.startswith("sqs://"):
        from craftgen.jobs import queue_sqs  # noqa: PLC0415 - needs boto3

        return queue_sqs.from_url(target, endpoint_url=sqs_endpoint_url)
    raise ValueError(
        f"unsupported queue URL {target!r} (expected sqlite:///..., redis://HOST:PORT/DB or sqs://NAME?region=...)"
    )
