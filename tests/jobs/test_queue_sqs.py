"""SQS-only promises, on moto's server: queues made at start with a redrive policy, endpoints."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator

import pytest

from craftgen.config import Settings
from craftgen.jobs.backends import open_queue
from craftgen.jobs.queue import PRIORITY_FREE, PRIORITY_PRO
from craftgen.jobs.queue_sqs import SqsQueue


@pytest.fixture()
def name(moto_endpoint: str) -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


@pytest.fixture()
def queue(moto_endpoint: str, name: str) -> Iterator[SqsQueue]:
    queue = SqsQueue(name, region="us-east-1", endpoint_url=moto_endpoint, wait_seconds=0, max_receive_count=4)
    yield queue
    queue.close()


def attributes(queue: SqsQueue, url: str) -> dict[str, str]:
    return queue.client.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]


def test_the_queues_and_the_dead_letter_queue_are_made_at_start(queue: SqsQueue, name: str) -> None:
    urls = {url.rsplit("/", 1)[-1] for url in queue.client.list_queues(QueueNamePrefix=name)["QueueUrls"]}
    assert urls == {f"{name}-pro", f"{name}-free", f"{name}-dead"}
    dead_arn = attributes(queue, queue.dead_url)["QueueArn"]
    for url in queue.urls.values():
        policy = json.loads(attributes(queue, url)["RedrivePolicy"])
        assert policy["deadLetterTargetArn"] == dead_arn
        assert int(policy["maxReceiveCount"]) == 4
    assert "RedrivePolicy" not in attributes(queue, queue.dead_url)
    queue.check()


def test_opening_again_keeps_the_queues_and_applies_a_new_limit(
    queue: SqsQueue, name: str, moto_endpoint: str
) -> None:
    queue.enqueue("a", priority=PRIORITY_PRO, batch_key="k")
    again = SqsQueue(name, region="us-east-1", endpoint_url=moto_endpoint, wait_seconds=0, max_receive_count=7)
    try:
        assert again.urls == queue.urls
        assert json.loads(attributes(again, again.urls[PRIORITY_FREE])["RedrivePolicy"])["maxReceiveCount"] == 7
        assert [d.job_id for d in again.claim(worker="w", max_items=4, lease_seconds=30)] == ["a"]
    finally:
        again.close()


def test_aws_endpoint_url_sqs_is_honoured(monkeypatch: pytest.MonkeyPatch, moto_endpoint: str, name: str) -> None:
    monkeypatch.delenv("CRAFTGEN_SQS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL_SQS", moto_endpoint)
    queue = open_queue(f"sqs://{name}?region=us-east-1&wait=0", database_url="")
    try:
        assert isinstance(queue, SqsQueue)
        assert queue.client.meta.endpoint_url == moto_endpoint
        queue.enqueue("a", priority=PRIORITY_FREE, batch_key="k")
        (delivery,) = queue.claim(worker="w", max_items=1, lease_seconds=30)
        queue.ack(delivery)
        assert queue.depth().visible == {} and queue.depth().in_flight == {}
    finally:
        queue.close()


def test_the_runtime_passes_craftgen_sqs_endpoint_url_down(
    monkeypatch: pytest.MonkeyPatch, moto_endpoint: str, name: str
) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL_SQS", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("CRAFTGEN_SQS_ENDPOINT_URL", moto_endpoint)
    settings = Settings()  # read at the entry point, passed down as runtime.py does
    queue = open_queue(
        f"sqs://{name}?region=us-east-1&wait=0", database_url="", sqs_endpoint_url=settings.sqs_endpoint_url or None
    )
    try:
        assert isinstance(queue, SqsQueue)
        assert queue.client.meta.endpoint_url == moto_endpoint
    finally:
        queue.close()


def test_a_long_poll_returns_a_job_sent_while_it_waits(moto_endpoint: str, name: str) -> None:
    queue = SqsQueue(name, region="us-east-1", endpoint_url=moto_endpoint, wait_seconds=2)
    try:
        for priority, most in ((PRIORITY_PRO, 1.5), (PRIORITY_FREE, 3.5)):
            send = {"priority": priority, "batch_key": "k"}
            later = threading.Timer(0.3, queue.enqueue, args=(f"job-{priority}",), kwargs=send)
            started = time.monotonic()
            later.start()
            batch = queue.claim(worker="w", max_items=4, lease_seconds=30)
            later.join()
            assert [d.job_id for d in batch] == [f"job-{priority}"]
            # Idle, a claim long-polls pro then free: a pro job ends the wait at once, a free
            # one by the end of pro's poll.
            assert time.monotonic() - started < most
            queue.ack(batch[0])
    finally:
        queue.close()


def test_an_unreadable_message_goes_to_the_dead_letter_queue(queue: SqsQueue) -> None:
    queue.client.send_message(QueueUrl=queue.urls[PRIORITY_FREE], MessageBody="not json")
    queue.enqueue("a", priority=PRIORITY_FREE, batch_key="k")
    assert [d.job_id for d in queue.claim(worker="w", max_items=4, lease_seconds=30)] == ["a"]
    dead = queue.client.receive_message(QueueUrl=queue.dead_url, MaxNumberOfMessages=10)["Messages"]
    assert [message["Body"] for message in dead] == ["not json"]
    assert queue.depth().visible == {}


def test_leases_and_delays_round_up_to_whole_seconds(queue: SqsQueue) -> None:
    queue.enqueue("a", priority=PRIORITY_FREE, batch_key="k")
    (delivery,) = queue.claim(worker="w", max_items=1, lease_seconds=0.2)
    time.sleep(0.4)
    assert queue.claim(worker="w2", max_items=1, lease_seconds=30) == [], "a 0.2 s lease is held for 1 s"
    queue.ack(delivery)
