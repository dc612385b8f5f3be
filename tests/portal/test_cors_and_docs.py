"""Other web tools may call the API from their pages; the API's documentation loads nothing from
a CDN."""

from __future__ import annotations

import re

import pytest
from django.contrib.staticfiles import finders
from django.test import Client

pytestmark = pytest.mark.django_db
ORIGIN = "https://tool.example.org"


def test_the_api_answers_other_origins_without_credentials() -> None:
    response = Client().get("/api/health", HTTP_ORIGIN=ORIGIN)
    assert response["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in response


def test_a_cross_origin_search_passes_its_preflight() -> None:
    response = Client().options(
        "/api/search",
        HTTP_ORIGIN=ORIGIN,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="content-type",
    )
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "*"
    assert "POST" in response["Access-Control-Allow-Methods"]
    assert "content-type" in response["Access-Control-Allow-Headers"].lower()


def test_pages_are_not_opened_to_other_origins() -> None:
    response = Client().get("/", HTTP_ORIGIN=ORIGIN)
    assert "Access-Control-Allow-Origin" not in response


def test_the_api_documentation_loads_its_script_from_our_static_files() -> None:
    page = Client().get("/api/docs").content.decode()
    scripts = re.findall(r'<script[^>]*src="([^"]+)"', page)
    assert scripts
    assert all(src.startswith("/static/") for src in scripts), scripts
    assert not re.search(r"https?://(cdn|unpkg|cdnjs)", page)
    for src in scripts:  # collected by collectstatic, served by runserver and whitenoise
        assert finders.find(src.removeprefix("/static/")), src
