"""Opening the blob store a URL names (one file per backend; `store.py` is the interface)."""

from __future__ import annotations

from urllib.parse import urlsplit

from craftgen.storage.store import BlobStore


def open_store(url: str, *, s3_endpoint_url: str | None = None) -> BlobStore:
    """The store a URL names: `file:///path`, or `s3://bucket/optional/prefix`.

    An S3 store talks to `s3_endpoint_url` (MinIO and other S3-compatible stores; the entry
    points pass CRAFTGEN_S3_ENDPOINT_URL), else wherever boto3 points (AWS_ENDPOINT_URL_S3,
    AWS_ENDPOINT_URL, AWS itself). It is checked here, so a missing bucket stops the process at start, named.
    """
    if url.startswith("file://"):
        from craftgen.storage.local import LocalStore  # noqa: PLC0415 - each backend only when named

        return LocalStore(url.removeprefix("file://"))
    if url.startswith("s3://"):
        from craftgen.storage.s3 import S3Store  # noqa: PLC0415 - needs boto3

        parts = urlsplit(url)
        if not parts.netloc:
            raise ValueError(f"storage URL {url!r} names no bucket (expected s3://BUCKET/optional/prefix)")
        store = S3Store(parts.netloc, parts.path.strip("/"), endpoint_url=s3_endpoint_url)
        store.check()
        return store
    raise ValueError(f"unsupported storage URL {url!r} (expected file://... or s3://BUCKET/prefix)")
