"""The blob store interface every backend implements (local folder now, S3 at scale)."""

from __future__ import annotations

from typing import Protocol


class BlobStore(Protocol):
    """Keys are '/'-separated relative paths, e.g. `jobs/<job id>/<attempt>/pattern-0.png`."""

    def put(self, key: str, data: bytes, *, media_type: str) -> None:
        """Store `data` at `key` whole: a reader never sees a partial file."""

    def get(self, key: str) -> bytes:
        """The bytes at `key`, or NotFound."""

    def delete(self, key: str) -> None:
        """Remove `key`; missing keys are fine."""

    def list(self, prefix: str) -> list[str]:
        """Every key under `prefix`."""

    def check(self) -> None:
        """Raise if the store cannot be used (readiness)."""


def open_store(url: str) -> BlobStore:
    """The store a URL names: `file:///path` (more schemes come with the scale-out backends)."""
    if url.startswith("file://"):
        from craftgen.storage.local import LocalStore

        return LocalStore(url.removeprefix("file://"))
    raise ValueError(f"unsupported storage URL {url!r} (expected file://...)")
