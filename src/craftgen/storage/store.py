"""The blob store interface every backend implements (a local folder, or an S3-compatible bucket)."""

from __future__ import annotations

from typing import Protocol
from urllib.parse import urlsplit


class BlobStore(Protocol):
    """Keys are '/'-separated relative paths, e.g. `jobs/<job id>/<attempt>/pattern-0.png`.

    Every backend refuses the same keys (empty, absolute, or containing `..`) with ValueError.
    """

    def put(self, key: str, data: bytes, *, media_type: str) -> None:
        """Store `data` at `key` whole: a reader never sees a partial file."""

    def get(self, key: str) -> bytes:
        """The bytes at `key`, or NotFound."""

    def delete(self, key: str) -> None:
        """Remove `key`; missing keys are fine."""

    def list(self, prefix: str) -> list[str]:
        """Every key under the folder `prefix` ("" for all), sorted."""

    def url(self, key: str, *, expires: int | None = None) -> str | None:
        """A short-lived URL a client can GET `key` from directly, or None: serve it through the API."""

    def check(self) -> None:
        """Raise if the store cannot be used (readiness)."""


def open_store(url: str, *, s3_endpoint_url: str | None = None) -> BlobStore:
    """The store a URL names: `file:///path`, or `s3://bucket/optional/prefix`.

    An S3 store talks to `s3_endpoint_url` (MinIO and other S3-compatible stores; the entry
    points pass CRAFTGEN_S3_ENDPOINT_URL), else wherever boto3 points (AWS_ENDPOINT_URL_S3,
    AWS_ENDPOINT_URL, AWS itself). It is checked here, so a missing bucket stops the process at start, named.
    """
    if url.startswith("file://"):
        from craftgen.storage.local import LocalStore

        return LocalStore(url.removeprefix("file://"))
    if url.startswith("s3://"):
        from craftgen.storage.s3 import S3Store

        parts = urlsplit(url)
        if not parts.netloc:
            raise ValueError(f"storage URL {url!r} names no bucket (expected s3://BUCKET/optional/prefix)")
        store = S3Store(parts.netloc, parts.path.strip("/"), endpoint_url=s3_endpoint_url)
        store.check()
        return store
    raise ValueError(f"unsupported storage URL {url!r} (expected file://... or s3://BUCKET/prefix)")
