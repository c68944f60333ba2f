"""The blob store contract, run against every backend (a local folder, S3 on moto's server)."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import httpx
import pytest

from craftgen.errors import NotFound
from craftgen.storage.backends import open_store
from craftgen.storage.local import LocalStore
from craftgen.storage.s3 import S3Store
from craftgen.storage.store import BlobStore

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4  # every byte value, so nothing is re-encoded


@functools.cache
def s3_client(endpoint: str) -> Any:
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")


def new_bucket(endpoint: str) -> str:
    name = f"craftgen-test-{uuid.uuid4().hex[:12]}"
    s3_client(endpoint).create_bucket(Bucket=name)
    return name


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BlobStore]:
    if request.param == "local":
        yield open_store(f"file://{tmp_path / 'files'}")
    else:
        endpoint = request.getfixturevalue("moto_endpoint")
        yield open_store(f"s3://{new_bucket(endpoint)}/outputs", s3_endpoint_url=endpoint)


# The contract ---------------------------------------------------------------------------------


def test_put_then_get_returns_the_same_bytes(store: BlobStore) -> None:
    store.put("jobs/j1/1/pattern-0.png", PNG, media_type="image/png")
    assert store.get("jobs/j1/1/pattern-0.png") == PNG


def test_put_overwrites(store: BlobStore) -> None:
    store.put("a.txt", b"first", media_type="text/plain")
    store.put("a.txt", b"second", media_type="text/plain")
    assert store.get("a.txt") == b"second"


def test_empty_files_are_files(store: BlobStore) -> None:
    store.put("empty", b"", media_type="application/octet-stream")
    assert store.get("empty") == b""
    assert store.list("") == ["empty"]


def test_get_of_a_missing_key_is_not_found(store: BlobStore) -> None:
    with pytest.raises(NotFound, match=r"nope\.png"):
        store.get("jobs/nope.png")


def test_delete_removes_and_is_idempotent(store: BlobStore) -> None:
    store.put("jobs/j1/a.png", PNG, media_type="image/png")
    store.delete("jobs/j1/a.png")
    store.delete("jobs/j1/a.png")
    store.delete("never/was.png")
    with pytest.raises(NotFound):
        store.get("jobs/j1/a.png")
    assert store.list("jobs") == []


def test_list_returns_exactly_the_keys_under_a_folder_sorted_and_relative(store: BlobStore) -> None:
    keys = ["jobs/j1/2/b.png", "jobs/j1/1/a.png", "jobs/j10/1/a.png", "uploads/u1", "jobs/j1.png"]
    for key in keys:
        store.put(key, b"x", media_type="image/png")
    expected = ["jobs/j1/1/a.png", "jobs/j1/2/b.png"]
    assert store.list("jobs/j1") == expected, "a prefix is a folder: jobs/j10 and jobs/j1.png are not in it"
    assert store.list("jobs/j1/") == expected
    assert store.list("jobs/none") == []
    assert store.list("uploads/u1") == [], "a file is not a folder"
    assert store.list("") == sorted(keys)


def test_redundant_separators_name_the_same_key(store: BlobStore) -> None:
    store.put("jobs//j1/./a.png", b"x", media_type="image/png")
    assert store.get("jobs/j1/a.png") == b"x"
    assert store.list("jobs") == ["jobs/j1/a.png"]


@pytest.mark.parametrize("key", ["../escape.png", "jobs/../../escape.png", "/etc/passwd", "", ".", "jobs/.."])
def test_keys_that_leave_the_store_are_refused(store: BlobStore, key: str) -> None:
    with pytest.raises(ValueError, match="invalid storage key"):
        store.put(key, b"x", media_type="image/png")
    for call in (store.get, store.delete, store.url):
        with pytest.raises(ValueError, match="invalid storage key"):
            call(key)


def test_list_refuses_a_prefix_that_leaves_the_store(store: BlobStore) -> None:
    with pytest.raises(ValueError, match="invalid storage key"):
        store.list("../")


def test_check_passes_on_a_usable_store(store: BlobStore) -> None:
    store.check()


# Backend specifics ----------------------------------------------------------------------------


def test_a_local_store_has_no_urls(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    store.put("a.png", PNG, media_type="image/png")
    assert store.url("a.png", expires=60) is None


def test_s3_keys_live_under_the_store_prefix(moto_endpoint: str) -> None:
    bucket = new_bucket(moto_endpoint)
    store = open_store(f"s3://{bucket}/outputs/v1/", s3_endpoint_url=moto_endpoint)
    store.put("jobs/j1/a.png", PNG, media_type="image/png")
    client = s3_client(moto_endpoint)
    (item,) = client.list_objects_v2(Bucket=bucket)["Contents"]
    assert item["Key"] == "outputs/v1/jobs/j1/a.png"
    head = client.head_object(Bucket=bucket, Key=item["Key"])
    assert head["ContentType"] == "image/png"


def test_s3_objects_are_never_public(moto_endpoint: str) -> None:
    bucket = new_bucket(moto_endpoint)
    store = S3Store(bucket, endpoint_url=moto_endpoint)
    store.put("a.png", PNG, media_type="image/png")
    with httpx.Client() as client:
        assert client.get(f"{moto_endpoint}/{bucket}/a.png").status_code == 403, "unsigned reads are refused"
    grants = s3_client(moto_endpoint).get_object_acl(Bucket=bucket, Key="a.png")["Grants"]
    grantees = {grant["Grantee"].get("URI") for grant in grants}
    assert not grantees & {
        "http://acs.amazonaws.com/groups/global/AllUsers",
        "http://acs.amazonaws.com/groups/global/AuthenticatedUsers",
    }


def test_s3_presigned_url_downloads_the_object_and_carries_its_expiry(moto_endpoint: str) -> None:
    store = S3Store(new_bucket(moto_endpoint), "outputs", endpoint_url=moto_endpoint, presign_seconds=300)
    store.put("jobs/j1/a.png", PNG, media_type="image/png")
    url = store.url("jobs/j1/a.png", expires=60)
    assert url is not None
    query = parse_qs(urlsplit(url).query)
    assert query["X-Amz-Expires"] == ["60"] and "X-Amz-Signature" in query
    with httpx.Client() as client:
        response = client.get(url)  # a plain HTTP client: no AWS credentials, only the URL
    assert response.status_code == 200
    assert response.content == PNG
    assert response.headers["content-type"] == "image/png"
    default = store.url("jobs/j1/a.png")
    assert default is not None and parse_qs(urlsplit(default).query)["X-Amz-Expires"] == ["300"]
    with pytest.raises(ValueError, match="expires must be positive"):
        store.url("jobs/j1/a.png", expires=0)


def test_open_store_fails_at_start_on_a_missing_bucket(moto_endpoint: str) -> None:
    with pytest.raises(OSError, match=r"S3 bucket 'no-such-bucket-here' does not exist at http://127\.0\.0\.1"):
        open_store("s3://no-such-bucket-here/outputs", s3_endpoint_url=moto_endpoint)


def test_open_store_reads_the_endpoint_from_craftgen_s3_endpoint_url(
    moto_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket = new_bucket(moto_endpoint)
    from craftgen.config import Settings

    monkeypatch.setenv("CRAFTGEN_S3_ENDPOINT_URL", moto_endpoint)
    settings = Settings()  # read at the entry point, passed down as runtime.py does
    store = open_store(f"s3://{bucket}", s3_endpoint_url=settings.s3_endpoint_url or None)
    store.put("a", b"x", media_type="text/plain")
    assert s3_client(moto_endpoint).get_object(Bucket=bucket, Key="a")["Body"].read() == b"x"


def test_s3_honours_the_standard_aws_endpoint_variable(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    bucket = new_bucket(moto_endpoint)
    monkeypatch.delenv("CRAFTGEN_S3_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", moto_endpoint)
    store = S3Store(bucket)
    assert store.endpoint_url == moto_endpoint
    store.put("a", b"x", media_type="text/plain")
    assert store.get("a") == b"x"


@pytest.fixture()
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Signing needs credentials, even for a URL that is never fetched."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")


@pytest.mark.usefixtures("aws_credentials")
def test_s3_compatible_endpoints_use_path_style_urls() -> None:
    # MinIO serves buckets as paths; a virtual-host URL (craftgen.minio:9000) would not resolve.
    store = S3Store("craftgen", "outputs", endpoint_url="http://minio:9000", region="us-east-1")
    url = store.url("a.png", expires=60)
    assert url is not None and url.startswith("http://minio:9000/craftgen/outputs/a.png?")


@pytest.mark.usefixtures("aws_credentials")
def test_an_unreachable_endpoint_is_a_clear_error() -> None:
    import socket

    with socket.socket() as sock:  # a loopback port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    store = S3Store("craftgen", endpoint_url=f"http://127.0.0.1:{port}", region="us-east-1")
    with pytest.raises(
        OSError, match=rf"S3 bucket 'craftgen' at http://127\.0\.0\.1:{port} cannot be used: Could not connect"
    ):
        store.check()


@pytest.mark.parametrize("url", ["s3://", "s3:///prefix", "gs://bucket/x"])
def test_open_store_refuses_urls_it_cannot_use(url: str) -> None:
    with pytest.raises(ValueError, match="storage URL"):
        open_store(url)
