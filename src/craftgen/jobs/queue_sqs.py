"""The Amazon SQS queue: one standard queue per priority plus a dead-letter queue, on boto3.

A claim receives up to 10 messages (long polling when nothing is waiting) under a visibility
timeout that is the lease; the heartbeat is ChangeMessageVisibility, an ack is DeleteMessage and
a release sets the visibility to the delay. SQS moves a message received more than
`max_receive_count` times to `{name}-dead` itself (the redrive policy set here at start).
What SQS cannot do, and why that is safe here: it cannot delete a message by job id or refuse a
duplicate enqueue, and an old receipt handle may still delete or extend a message someone else
received since. The jobs table is the truth: a worker settles (acks) any message whose job is no
longer active, and finishes a job only while its own attempt owns the row, so a stray or
duplicate message costs one short claim, never a second result. Visibility is whole seconds.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from craftgen.jobs.queue import (
    PRIORITIES,
    PRIORITY_FREE,
    PRIORITY_PRO,
    DeadLetter,
    Delivery,
    QueueDepth,
)

log = logging.getLogger("craftgen.queue")

SUFFIXES = {PRIORITY_PRO: "pro", PRIORITY_FREE: "free"}
RETENTION = str(14 * 24 * 3600)  # the SQS maximum: a backlog outlives a long outage
MAX_VISIBILITY = 12 * 3600  # SQS's limit for one message
DEAD_LETTER_HOLD = 300  # seconds a taken dead letter stays hidden from other reapers
# A receipt handle from an earlier receive, or of a deleted message: the holder lost the job.
_STALE = {"ReceiptHandleIsInvalid", "MessageNotInflight", "AWS.SimpleQueueService.MessageNotInflight"}


class SqsQueue:
    def __init__(
        self,
        name: str,
        *,
        region: str | None = None,
        endpoint_url: str | None = None,
        wait_seconds: int = 1,
        max_receive_count: int = 100,
    ) -> None:
        if not name:
            raise ValueError("an SQS queue needs a name")
        if not 0 <= wait_seconds <= 20:
            raise ValueError(f"wait_seconds must be between 0 and 20, got {wait_seconds}")
        if max_receive_count < 1:
            raise ValueError(f"max_receive_count must be at least 1, got {max_receive_count}")
        self.name = name
        self.wait_seconds = wait_seconds
        # boto3 resolves the endpoint itself (AWS_ENDPOINT_URL_SQS, AWS_ENDPOINT_URL, the config
        # file) unless one is passed; the read timeout must outlast a long poll.
        config = Config(read_timeout=wait_seconds + 30, retries={"max_attempts": 5, "mode": "standard"})
        self.client: Any = boto3.session.Session(region_name=region).client(
            "sqs", endpoint_url=endpoint_url, config=config
        )
        # 1. The dead-letter queue, then the work queues that redrive into it.
        dead_url = self._create(f"{name}-dead", {"MessageRetentionPeriod": RETENTION})
        dead_arn = self.client.get_queue_attributes(QueueUrl=dead_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        redrive = json.dumps({"deadLetterTargetArn": dead_arn, "maxReceiveCount": max_receive_count})
        self.dead_url = dead_url
        self.urls = {
            priority: self._create(
                f"{name}-{SUFFIXES[priority]}", {"MessageRetentionPeriod": RETENTION, "RedrivePolicy": redrive}
            )
            for priority in PRIORITIES
        }

    def _create(self, queue_name: str, attributes: dict[str, str]) -> str:
        # CreateQueue with no attributes returns an existing queue as it is; setting them after
        # makes a changed setting (e.g. max_receive_count) apply to a queue made earlier.
        url: str = self.client.create_queue(QueueName=queue_name)["QueueUrl"]
        self.client.set_queue_attributes(QueueUrl=url, Attributes=attributes)
        return url

    def _url(self, priority: int) -> str:
        try:
            return self.urls[priority]
        except KeyError:
            raise ValueError(f"priority must be one of {PRIORITIES}, got {priority}") from None

    def enqueue(self, job_id: str, *, priority: int, batch_key: str) -> None:
        body = json.dumps({"job_id": job_id, "batch_key": batch_key})
        self.client.send_message(QueueUrl=self._url(priority), MessageBody=body)

    def claim(
        self, *, worker: str, max_items: int, lease_seconds: float, batch_key: str | None = None
    ) -> list[Delivery]:
        if max_items < 1:
            return []
        # A batch picks its key from up to 10 messages; for one job any message will do, so
        # receive just one rather than count a receive on nine more (receives feed the redrive).
        count = 1 if max_items == 1 and batch_key is None else 10
        visibility = _seconds(lease_seconds)
        # 1. A short poll of each priority, then (idle only) a long poll of each, so a waiting
        #    free job never sits behind an empty pro queue's long poll.
        for wait in (0, self.wait_seconds) if self.wait_seconds else (0,):
            for priority in PRIORITIES:
                messages = self.client.receive_message(
                    QueueUrl=self.urls[priority],
                    MaxNumberOfMessages=count,
                    WaitTimeSeconds=wait,
                    VisibilityTimeout=visibility,
                    MessageSystemAttributeNames=["ApproximateReceiveCount", "SentTimestamp"],
                ).get("Messages", [])
                if messages:
                    batch = self._batch(messages, priority=priority, max_items=max_items, batch_key=batch_key)
                    if batch or batch_key is None:
                        return batch
            if batch_key is not None:
                return []  # topping up a batch never long-polls: the worker is holding jobs
        return []

    def _batch(
        self, messages: list[dict[str, Any]], *, priority: int, max_items: int, batch_key: str | None
    ) -> list[Delivery]:
        url = self.urls[priority]
        messages.sort(key=lambda message: int(message["Attributes"].get("SentTimestamp", 0)))
        batch: list[Delivery] = []
        give_back: list[str] = []
        for message in messages:
            handle = message["ReceiptHandle"]
            try:
                body = json.loads(message["Body"])
                job_id, key = str(body["job_id"]), str(body["batch_key"])
            except (ValueError, KeyError, TypeError):
                # 2. Not one of ours: park it in the dead-letter queue rather than meet it forever.
                log.warning("moving unreadable message %s to %s", message.get("MessageId"), self.dead_url)
                self.client.send_message(QueueUrl=self.dead_url, MessageBody=message["Body"])
                self._delete(url, handle)
                continue
            if any(delivery.job_id == job_id for delivery in batch):
                self._delete(url, handle)  # a duplicate of a job this batch already holds
            elif key == (batch_key or (batch[0].batch_key if batch else key)) and len(batch) < max_items:
                # 3. The oldest message sets the batch key (unless one is asked for); the others
                #    that share it join.
                batch.append(
                    Delivery(
                        job_id=job_id,
                        receipt=handle,
                        deliveries=int(message["Attributes"].get("ApproximateReceiveCount", 1)),
                        batch_key=key,
                        priority=priority,
                    )
                )
            else:
                give_back.append(handle)
        # 4. The rest are visible again at once (their receive count has gone up regardless).
        for start in range(0, len(give_back), 10):
            self.client.change_message_visibility_batch(
                QueueUrl=url,
                Entries=[
                    {"Id": str(index), "ReceiptHandle": handle, "VisibilityTimeout": 0}
                    for index, handle in enumerate(give_back[start : start + 10])
                ],
            )
        return batch

    def renew(self, deliveries: Sequence[Delivery], *, lease_seconds: float) -> None:
        for delivery in deliveries:
            self._change(delivery, _seconds(lease_seconds))

    def ack(self, delivery: Delivery) -> None:
        self._delete(self._url(delivery.priority), delivery.receipt)

    def release(self, delivery: Delivery, *, delay: float = 0.0) -> None:
        self._change(delivery, _seconds(delay))

    def remove(self, job_id: str) -> None:
        # SQS finds messages only by receiving them, so a canceled job's message stays; the
        # worker that receives it sees the job is no longer active and acks it unrun.
        return None

    def missing(self, job_ids: Sequence[str]) -> set[str]:
        # SQS cannot be asked for a message by job id, and keeps every message it acknowledged;
        # a crash before the send is caught by the job row's enqueued_at instead.
        return set()

    def take_dead(self, *, max_items: int) -> list[DeadLetter]:
        response = self.client.receive_message(
            QueueUrl=self.dead_url,
            MaxNumberOfMessages=max(1, min(10, max_items)),
            WaitTimeSeconds=0,
            VisibilityTimeout=DEAD_LETTER_HOLD,
        )
        letters = []
        for message in response.get("Messages", []):
            try:
                job_id = str(json.loads(message["Body"])["job_id"])
            except (ValueError, KeyError, TypeError):
                continue  # not one of ours: left for a person to look at (hidden for a while)
            letters.append(DeadLetter(job_id=job_id, receipt=message["ReceiptHandle"], reason="redriven by SQS"))
        return letters

    def forget_dead(self, letter: DeadLetter) -> None:
        self._delete(self.dead_url, letter.receipt)

    def depth(self) -> QueueDepth:
        visible: dict[int, int] = {}
        in_flight: dict[int, int] = {}
        for priority, url in self.urls.items():
            attributes = self.client.get_queue_attributes(
                QueueUrl=url,
                AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
            )["Attributes"]
            if waiting := int(attributes.get("ApproximateNumberOfMessages", 0)):
                visible[priority] = waiting
            if running := int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0)):
                in_flight[priority] = running
        # The oldest message's age is only in CloudWatch (ApproximateAgeOfOldestMessage), not in
        # the SQS API; 0.0 means "not known here", and autoscaling on SQS reads the counts.
        return QueueDepth(visible=visible, in_flight=in_flight, oldest_visible_age=0.0)

    def check(self) -> None:
        for queue_name in [f"{self.name}-{SUFFIXES[p]}" for p in PRIORITIES] + [f"{self.name}-dead"]:
            self.client.get_queue_url(QueueName=queue_name)

    def close(self) -> None:
        self.client.close()

    def _change(self, delivery: Delivery, seconds: int) -> None:
        try:
            self.client.change_message_visibility(
                QueueUrl=self._url(delivery.priority), ReceiptHandle=delivery.receipt, VisibilityTimeout=seconds
            )
        except ClientError as error:
            if not _stale(error):
                raise

    def _delete(self, url: str, handle: str) -> None:
        try:
            self.client.delete_message(QueueUrl=url, ReceiptHandle=handle)
        except ClientError as error:
            if not _stale(error):
                raise


def _seconds(seconds: float) -> int:
    """SQS counts whole seconds: round up, so a lease is never shorter than asked."""
    return min(MAX_VISIBILITY, max(0, math.ceil(seconds)))


def _stale(error: ClientError) -> bool:
    details = error.response.get("Error", {})
    code, message = str(details.get("Code", "")), str(details.get("Message", ""))
    # AWS reports an expired handle as InvalidParameterValue "...receipt handle has expired".
    return code in _STALE or (code == "InvalidParameterValue" and "receipt handle" in message.lower())


def from_url(url: str, *, endpoint_url: str | None = None) -> SqsQueue:
    """`sqs://NAME?region=us-east-1[&endpoint=http://...][&wait=1][&max_deliveries=10]`."""
    parts = urlsplit(url)
    if not parts.netloc:
        raise ValueError(f"queue URL {url!r} names no queue (expected sqs://NAME?region=...)")
    query = dict(parse_qsl(parts.query))
    return SqsQueue(
        parts.netloc,
        region=query.get("region") or None,
        endpoint_url=query.get("endpoint") or endpoint_url,
        wait_seconds=int(query.get("wait", "1")),
        max_receive_count=int(query.get("max_deliveries", "100")),
    )
