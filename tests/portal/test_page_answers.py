"""Pages answer only GET and HEAD (405 with Allow otherwise), carry CSP and Permissions-Policy
headers, have an icon, and a path that names nothing gets the project's 404 page."""

from __future__ import annotations

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db
PAGES = ["/", "/genes/", "/batch/", "/downloads/"]


@pytest.mark.parametrize("path", PAGES)
@pytest.mark.parametrize("method", ["post", "put", "delete", "options", "trace"])
def test_a_page_answers_other_methods_with_405_and_allow(path: str, method: str) -> None:
    response = Client(enforce_csrf_checks=True).generic(method.upper(), path)
    assert response.status_code == 405
    assert set(response["Allow"].replace(" ", "").split(",")) == {"GET", "HEAD"}


@pytest.mark.parametrize("path", [*PAGES, "/api/health", "/api/docs"])
def test_pages_and_the_api_carry_csp_and_permissions_policy(path: str) -> None:
    response = Client().get(path)
    policy = response["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert "unsafe-eval" not in policy
    assert "camera=()" in response["Permissions-Policy"]


def test_the_icon_is_linked_from_pages_and_favicon_ico_leads_to_it() -> None:
    page = Client().get("/").content.decode()
    assert 'rel="icon" href="/static/favicon.svg"' in page
    response = Client().get("/favicon.ico")
    assert response.status_code == 301
    assert response["Location"] == "/static/favicon.svg"


def test_a_path_that_names_nothing_gets_the_projects_404_page() -> None:
    response = Client().get("/no/such/page")
    assert response.status_code == 404
    page = response.content.decode()
    assert "Nothing lives at <code>/no/such/page</code>" in page
    assert "LINCS RNA-seq-like portal" in page


def test_the_api_documentation_loads_no_font_or_script_from_elsewhere() -> None:
    page = Client().get("/api/docs").content.decode()
    assert "googleapis" not in page
    assert "gstatic" not in page
    assert "http://" not in page
    assert "https://" not in page
