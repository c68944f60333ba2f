"""An S3-compatible bucket (AWS S3, MinIO, ...) as a blob store, on boto3.

Objects stay private: nothing here sets an ACL or a bucket policy, and a client that needs a file
gets it through the API or a short-lived presigned GET URL. Keys follow the same rules as
LocalStore (relative, no `..`, `a//b` is `a/b`), so a key means the same object on either store.
boto3 resolves the endpoint itself (AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, the AWS config file)
unless one is passed in; a non-AWS endpoint gets path-style addressing, which MinIO needs.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from craftgen.errors import NotFound

_MISSING_KEY = {"NoSuchKey", "404", "NotFound"}
_MISSING_BUCKET = {"NoSuchBucket", "404", "NotFound"}
_DENIED = {"AccessDenied", "403", "Forbidden", "InvalidAccessKeyId", "SignatureDoesNotMatch"}


class S3Store:
    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        presign_seconds: int = 300,
    ) -> None:
        if not bucket:
            raise ValueError("an S3 store needs a bucket name")
        if presign_seconds <= 0:
            raise ValueError(f"presign_seconds must be positive, got {presign_seconds}")
        self.bucket = bucket
        self.prefix = "/".join(PurePosixPath(prefix).parts).strip("/") if prefix else ""
        self.presign_seconds = presign_seconds
        self.client = _client(endpoint_url=endpoint_url, region=region)
        self.endpoint_url: str = self.client.meta.endpoint_url

    def _key(self, key: str) -> str:
        parts = PurePosixPath(key).parts
        if not parts or key.startswith("/") or ".." in parts:
            raise ValueError(f"invalid storage key {key!r}")
        relative = "/".join(parts)
        return f"{self.prefix}/{relative}" if self.prefix else relative

    def put(self, key: str, data: bytes, *, media_type: str) -> None:
        # One PutObject is atomic: a reader sees the old object or the new one, never a part.
        self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data, ContentType=media_type)

    def get(self, key: str) -> bytes:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as error:
            if _code(error) in _MISSING_KEY:
                raise NotFound(f"no stored file {key!r}") from None
            raise
        body = response["Body"]
        try:
            data: bytes = body.read()
        finally:
            body.close()
        return data

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._key(key))  # a missing key is fine

    def list(self, prefix: str) -> list[str]:
        # A prefix names a folder, as on disk: "jobs/a" lists jobs/a/..., never jobs/ab/...
        folder = self._key(prefix) + "/" if prefix else (f"{self.prefix}/" if self.prefix else "")
        strip = len(self.prefix) + 1 if self.prefix else 0
        keys: list[str] = []
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=folder):
            keys.extend(item["Key"][strip:] for item in page.get("Contents", []))
        return sorted(keys)

    def url(self, key: str, *, expires: int | None = None) -> str | None:
        """A presigned GET URL for `key`, valid for `expires` seconds (default: presign_seconds)."""
        seconds = self.presign_seconds if expires is None else expires
        if seconds <= 0:
            raise ValueError(f"expires must be positive, got {seconds}")
        url: str = self.client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": self._key(key)}, ExpiresIn=seconds
        )
        return url

    def check(self) -> None:
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError as error:
            code = _code(error)
            if code in _MISSING_BUCKET:
                reason = "does not exist"
            elif code in _DENIED:
                reason = "is not accessible with these credentials"
            else:
                reason = f"did not answer HeadBucket ({code})"
            raise OSError(f"S3 bucket {self.bucket!r} {reason} at {self.endpoint_url}") from error
        except BotoCoreError as error:  # the endpoint does not answer, no credentials, ...
            raise OSError(f"S3 bucket {self.bucket!r} at {self.endpoint_url} cannot be used: {error}") from error


def _client(*, endpoint_url: str | None, region: str | None) -> Any:
    """An S3 client; boto3 fills in whatever endpoint and region are left unset."""
    session = boto3.session.Session(region_name=region)
    # SigV4 everywhere: presigned URLs otherwise fall back to SigV2, which newer regions refuse.
    config = Config(signature_version="s3v4", retries={"max_attempts": 3, "mode": "standard"})
    # MinIO and most S3-compatible stores serve buckets as paths, not as host names.
    path_style = config.merge(Config(s3={"addressing_style": "path"}))
    if endpoint_url is not None:
        return session.client("s3", endpoint_url=endpoint_url, config=config if _is_aws(endpoint_url) else path_style)
    client = session.client("s3", config=config)  # boto3 picked the endpoint: see which
    return client if _is_aws(client.meta.endpoint_url) else session.client("s3", config=path_style)


def _is_aws(endpoint_url: str) -> bool:
    host = endpoint_url.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0]
    return host.endswith((".amazonaws.com", ".amazonaws.com.cn"))


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))
