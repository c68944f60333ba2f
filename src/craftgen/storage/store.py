"""The blob store interface every backend implements (a local folder, or an S3-compatible bucket)."""

from __future__ import annotations

from typing import Protocol


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
