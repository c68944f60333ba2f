"""The community gallery through HTTP with several users, on SQLite and PostgreSQL: publish, find
by search, remix, like, unpublish; privacy (another user's private things are 404); cursors;
reports hiding an image until an admin looks; disabling a user."""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np
from PIL import Image

from tests.api.conftest import Api, assert_error, sticker

CLIPART = {
    "tool": "clipart",
    "prompt": "a strawberry picnic blanket",
    "seed": 7,
    "width": 128,
    "height": 128,
    "steps": 3,
}


def _run(api: Api, headers: dict[str, str], body: dict[str, object]) -> dict:
    submitted = api.client.post("/v1/jobs", headers=headers, json=body)
    assert submitted.status_code == 202, submitted.text
    assert api.worker().run_once() == 1
    job = api.client.get(f"/v1/jobs/{submitted.json()['id']}", headers=headers).json()
    assert job["status"] == "succeeded", job["error"]
    return job


def _output(job: dict, kind: str) -> str:
    return next(o["image_id"] for o in job["outputs"] if o["kind"] == kind)


def _gallery(api: Api, headers: dict[str, str], **params: object) -> list[str]:
    response = api.client.get("/v1/gallery", headers=headers, params=params)
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


def _pixels(api: Api, headers: dict[str, str], image_id: str) -> np.ndarray:
    response = api.client.get(f"/v1/images/{image_id}/file", headers=headers)
    assert response.status_code == 200
    with Image.open(io.BytesIO(response.content)) as image:
        return np.asarray(image.convert("RGBA"))


def test_publish_search_remix_like_unpublish(make_db_api: Callable[..., Api]) -> None:
    api = make_db_api()
    ada, bea, cal = api.user("ada", plan="pro"), api.user("bea"), api.user("cal")
    job = _run(api, ada, CLIPART)
    png, svg = _output(job, "image"), _output(job, "svg")

    # 1. Private by default: to anyone else the image, its files, its job and its remix are 404.
    for path in (
        f"/v1/images/{png}",
        f"/v1/images/{png}/file",
        f"/v1/images/{png}/svg",
        f"/v1/images/{svg}/file",
        f"/v1/jobs/{job['id']}",
        f"/v1/images/{png}/remix",
    ):
        assert api.client.get(path, headers=bea).status_code == 404, path
    assert api.client.put(f"/v1/images/{png}/like", headers=bea).status_code == 404
    assert api.client.post(f"/v1/images/{png}/publish", headers=bea).status_code == 404, "only the owner publishes"
    assert _gallery(api, bea, q="strawberry") == []

    # 2. Publish: only an image output, under the site's licence.
    refused = api.client.post(f"/v1/images/{svg}/publish", headers=ada, json={})
    assert_error(refused, 422, "invalid_request", field="image_id")
    published = api.client.post(
        f"/v1/images/{png}/publish", headers=ada, json={"title": "Picnic time", "tags": ["Summer", "fruit"]}
    )
    assert published.status_code == 200, published.text
    item = published.json()
    assert item["licence"] == "CC BY 4.0" and item["author"] == "ada" and item["tags"] == ["summer", "fruit"]
    assert (item["tool"], item["prompt"], item["seed"]) == ("clipart", CLIPART["prompt"], 7)
    assert item["settings"]["steps"] == 3 and item["settings"]["width"] == 128

    # 3. Found by another user: by prompt (stemmed), title, tag and tool; not by other words.
    for query in (
        {"q": "strawberries"},
        {"q": "picnic"},
        {"q": "summer"},
        {"q": "Picnic TIME"},
        {"tool": "clipart"},
        {},
    ):
        assert _gallery(api, bea, **query) == [png], query
    for query in ({"q": "giraffe"}, {"q": "strawberry giraffe"}, {"tool": "pattern"}):
        assert _gallery(api, bea, **query) == [], query
    assert api.client.get(f"/v1/images/{png}", headers=bea).json()["public"] is True
    assert api.client.get(f"/v1/images/{png}/svg", headers=bea).status_code == 200, "its cut file comes with it"

    # 4. Remix: a body POST /v1/jobs takes as it is, which makes the same image again.
    remix = api.client.get(f"/v1/images/{png}/remix", headers=bea).json()
    assert remix["needs_image"] is False and remix["tool"] == "clipart"
    assert remix["job"]["prompt"] == CLIPART["prompt"] and remix["job"]["seed"] == 7
    again = _run(api, {**bea}, remix["job"])
    assert np.array_equal(_pixels(api, bea, _output(again, "image")), _pixels(api, ada, png))

    # 5. Likes: one per user, however often they press.
    for headers in (bea, bea, cal):
        assert api.client.put(f"/v1/images/{png}/like", headers=headers).status_code == 200
    seen = api.client.get(f"/v1/images/{png}", headers=bea).json()
    assert (seen["likes"], seen["liked"]) == (2, True)
    # The gallery page says which pictures the viewer likes, so a heart shows filled.
    for headers, liked in ((bea, True), (ada, False)):
        listed = api.client.get("/v1/gallery", headers=headers).json()["items"]
        assert [(item["id"], item["likes"], item["liked"]) for item in listed if item["id"] == png] == [(png, 2, liked)]
    assert api.client.delete(f"/v1/images/{png}/like", headers=bea).json() == {
        "image_id": png,
        "likes": 1,
        "liked": False,
    }
    assert api.client.delete(f"/v1/images/{png}/like", headers=bea).json()["likes"] == 1

    # 6. Unpublish: gone from the gallery and search, and private again.
    assert api.client.delete(f"/v1/images/{png}/publish", headers=bea).status_code == 404, "only the owner"
    assert api.client.delete(f"/v1/images/{png}/publish", headers=ada).status_code == 204
    assert _gallery(api, bea) == [] and _gallery(api, bea, q="strawberry") == []
    assert api.client.get(f"/v1/images/{png}", headers=bea).status_code == 404
    assert api.client.get(f"/v1/images/{png}/svg", headers=bea).status_code == 404
    assert api.client.get(f"/v1/images/{png}", headers=ada).status_code == 200, "still the owner's"


def test_remix_of_an_upload_tool_never_hands_out_the_upload(make_db_api: Callable[..., Api]) -> None:
    api = make_db_api()
    ada, bea = api.user("ada", plan="pro"), api.user("bea", plan="pro")
    upload = api.upload(ada, sticker())
    job = _run(api, ada, {"tool": "cutout", "image": upload})
    png = _output(job, "image")
    assert api.client.post(f"/v1/images/{png}/publish", headers=ada).status_code == 200

    own = api.client.get(f"/v1/images/{png}/remix", headers=ada).json()
    assert own["needs_image"] is False and own["job"]["image"] == upload
    theirs = api.client.get(f"/v1/images/{png}/remix", headers=bea).json()
    assert theirs["needs_image"] is True and "image" not in theirs["job"] and upload not in str(theirs)
    # Another user's upload id is no use to bea anyway.
    stolen = api.client.post("/v1/jobs", headers=bea, json={**theirs["job"], "image": upload})
    assert stolen.status_code == 404
    with_mine = api.client.post("/v1/jobs", headers=bea, json={**theirs["job"], "image": api.upload(bea, sticker())})
    assert with_mine.status_code == 202, with_mine.text


def test_newest_and_most_liked_pages_follow_cursors_and_ignore_new_rows(make_db_api: Callable[..., Api]) -> None:
    api = make_db_api()
    ada, bea = api.user("ada", plan="pro"), api.user("bea")
    job = _run(
        api, ada, {"tool": "text", "prompt": "a quilt square", "seed": 3, "num_images": 4, "width": 64, "height": 64}
    )
    first, second, third, fourth = [o["image_id"] for o in job["outputs"]]
    for image_id in (first, second, third):
        assert api.client.post(f"/v1/images/{image_id}/publish", headers=ada).status_code == 200

    page1 = api.client.get("/v1/gallery", headers=bea, params={"limit": 2}).json()
    assert [item["id"] for item in page1["items"]] == [third, second] and page1["next_cursor"]
    # Published between pages: it belongs before page 1, so page 2 neither shows nor shifts for it.
    api.client.post(f"/v1/images/{fourth}/publish", headers=ada)
    page2 = api.client.get("/v1/gallery", headers=bea, params={"limit": 2, "cursor": page1["next_cursor"]}).json()
    assert [item["id"] for item in page2["items"]] == [first] and page2["next_cursor"] is None

    api.client.put(f"/v1/images/{first}/like", headers=bea)
    liked = api.client.get("/v1/gallery", headers=bea, params={"order": "liked", "limit": 3}).json()
    assert [item["id"] for item in liked["items"]] == [first, fourth, third]
    rest = api.client.get("/v1/gallery", headers=bea, params={"order": "liked", "cursor": liked["next_cursor"]}).json()
    assert [item["id"] for item in rest["items"]] == [second]

    # Bad paging input is a 422 naming the field, never a 500.
    for params, field in (
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"order": "newest", "cursor": liked["next_cursor"]}, "cursor"),
        ({"limit": 1000}, "limit"),
        ({"tool": "paint"}, "tool"),
    ):
        response = api.client.get("/v1/gallery", headers=bea, params=params)
        assert_error(response, 422, "invalid_request", field=field)


def test_reported_images_hide_until_an_admin_looks(make_db_api: Callable[..., Api]) -> None:
    api = make_db_api()
    ada = api.user("ada", plan="pro")
    boss = api.user("boss", role="admin")
    reporters = [api.user(name) for name in ("bea", "cal", "dan")]
    job = _run(
        api, ada, {"tool": "text", "prompt": "a rude doodle", "seed": 1, "num_images": 2, "width": 64, "height": 64}
    )
    png, other = (o["image_id"] for o in job["outputs"])
    for image_id in (png, other):
        api.client.post(f"/v1/images/{image_id}/publish", headers=ada)

    # 1. Reports: one per user; the third distinct reporter hides it.
    assert api.client.post(f"/v1/images/{png}/report", headers=reporters[0], json={"reason": " "}).status_code == 422
    for headers in (reporters[0], reporters[0], reporters[1]):
        response = api.client.post(f"/v1/images/{png}/report", headers=headers, json={"reason": "rude"})
        assert response.status_code == 200 and response.json()["hidden"] is False
    assert png in _gallery(api, ada)
    assert api.client.post(f"/v1/images/{png}/report", headers=reporters[2], json={"reason": "rude"}).json()["hidden"]
    assert _gallery(api, reporters[0]) == [other] and _gallery(api, reporters[0], q="doodle") == [other]
    assert api.client.get(f"/v1/images/{png}", headers=reporters[0]).status_code == 404
    assert api.client.get(f"/v1/images/{png}", headers=ada).status_code == 200, "the owner still has it"

    # 2. Only admins review.
    assert api.client.get("/v1/admin/reports", headers=reporters[0]).status_code == 403
    assert api.client.post(f"/v1/admin/images/{other}/hide", headers=ada).status_code == 403
    (reported,) = api.client.get("/v1/admin/reports", headers=boss).json()["images"]
    assert reported["item"]["id"] == png and reported["hidden"] and reported["reports"] == 3
    assert reported["reasons"] == ["rude"] * 3
    # The admin can look at the hidden picture to judge it; a reporter cannot; nobody else's
    # private image opens for an admin either.
    assert api.client.get(reported["item"]["thumb_url"], headers=boss).status_code == 200
    assert api.client.get(f"/v1/images/{png}/file", headers=boss).status_code == 200
    assert api.client.get(reported["item"]["thumb_url"], headers=reporters[0]).status_code == 404
    private = _output(_run(api, ada, {"tool": "text", "prompt": "mine", "width": 64, "height": 64}), "image")
    assert api.client.get(f"/v1/images/{private}/thumb", headers=boss).status_code == 404

    # 3. The admin puts it back (reviewed: the list is empty), then hides the other one.
    assert api.client.post(f"/v1/admin/images/{png}/unhide", headers=boss).status_code == 204
    assert api.client.get("/v1/admin/reports", headers=boss).json()["images"] == []
    assert api.client.post(f"/v1/admin/images/{other}/hide", headers=boss).status_code == 204
    assert _gallery(api, reporters[0]) == [png]
    assert api.client.get(f"/v1/images/{other}/file", headers=reporters[0]).status_code == 404

    # 4. Disabling a user refuses their key with a clear 403 and takes their images out.
    author_id = reported["author_id"]
    assert api.client.post(f"/v1/admin/users/{author_id}/disable", headers=boss).json()["disabled"] is True
    refused = api.client.get("/v1/me", headers=ada)
    assert_error(refused, 403, "forbidden", message_contains="disabled")
    assert _gallery(api, reporters[0]) == []
    api.client.post(f"/v1/admin/users/{author_id}/enable", headers=boss)
    assert api.client.get("/v1/me", headers=ada).status_code == 200
    assert _gallery(api, reporters[0]) == [png], "what the admin hid stays hidden"


def test_public_images_have_small_webp_thumbnails_and_private_ones_stay_hidden(
    make_db_api: Callable[..., Api],
) -> None:
    api = make_db_api(thumbnail_size=64)
    ada, bea = api.user("ada"), api.user("bea")
    job = _run(api, ada, {**CLIPART, "width": 128, "height": 96})
    png, svg = _output(job, "image"), _output(job, "svg")
    # Private: the owner gets a thumbnail, anyone else a 404.
    assert api.client.get(f"/v1/images/{png}/thumb", headers=bea).status_code == 404
    own = api.client.get(f"/v1/images/{png}/thumb", headers=ada)
    assert own.status_code == 200 and own.headers["content-type"] == "image/webp"
    # Published: the gallery points at the thumbnail, which keeps the aspect ratio and the alpha.
    assert api.client.post(f"/v1/images/{png}/publish", headers=ada, json={}).status_code == 200
    (item,) = api.client.get("/v1/gallery", headers=bea).json()["items"]
    shown = api.client.get(item["thumb_url"], headers=bea)
    assert shown.status_code == 200 and shown.content == own.content, "made once, then served from the store"
    assert len(shown.content) < len(api.client.get(item["url"], headers=bea).content)
    with Image.open(io.BytesIO(shown.content)) as thumb:
        assert thumb.format == "WEBP" and thumb.size == (64, 48) and thumb.mode == "RGBA"
    # A cut file has no thumbnail: a clear error, not a broken picture.
    refused = api.client.get(f"/v1/images/{svg}/thumb", headers=ada)
    assert_error(refused, 422, "invalid_request", message_contains="raster")
