"""/docs and /redoc work offline (#13): every script and style they load is served by this app
from the pinned fastapi-offline package, and a Content-Security-Policy lets nothing else run."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest

from tests.api.conftest import Api

_REFERENCES = re.compile(r"""<(?:script|link)\b[^>]*\b(?:src|href)=["']([^"']+)["']""")
_INLINE = re.compile(r"<script>(.*?)</script>", re.DOTALL)


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_docs_page_loads_only_same_origin_assets_under_a_csp(api: Api, page: str) -> None:
    response = api.client.get(page)

    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    html = response.text
    references = _REFERENCES.findall(html)
    assert references and all(ref.startswith("/") and not ref.startswith("//") for ref in references), references
    assert "http://" not in html and "https://" not in html
    for ref in references:
        asset = api.client.get(ref)
        assert asset.status_code == 200 and len(asset.content) > 100, ref
    # The policy: scripts from this origin only, plus exactly the page's inline scripts by hash.
    policy = dict(part.strip().split(" ", 1) for part in response.headers["content-security-policy"].split(";"))
    assert policy["default-src"] == "'none'"
    sources = policy["script-src"].split()
    assert sources[0] == "'self'" and not any("http" in source or source == "*" for source in sources)
    hashes = {
        f"'sha256-{base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()}'"
        for script in _INLINE.findall(html)
    }
    assert set(sources[1:]) == hashes
    assert policy["frame-ancestors"] == "'none'"


def test_the_assets_have_their_types_and_the_schema_is_still_served(api: Api) -> None:
    script = api.client.get("/docs-assets/swagger-ui-bundle.js")
    style = api.client.get("/docs-assets/swagger-ui.css")
    redoc = api.client.get("/docs-assets/redoc.standalone.js")

    assert "javascript" in script.headers["content-type"] and "javascript" in redoc.headers["content-type"]
    assert style.headers["content-type"].startswith("text/css")
    assert api.client.get("/openapi.json").json()["info"]["title"] == "craftgen"
    assert api.client.get("/docs-assets/../config.py").status_code == 404
