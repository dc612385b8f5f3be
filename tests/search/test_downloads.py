"""Downloads: the listing with sizes and SHA-256, ranged reads, and nothing outside the folder."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from django.test import Client
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db
PAYLOAD = bytes(range(256)) * 40  # 10,240 bytes


@pytest.fixture
def offered(tmp_path: Path, settings) -> Path:
    folder = tmp_path / "downloads"
    folder.mkdir()
    (folder / "signatures_trt_cp.gctx").write_bytes(PAYLOAD)
    (folder / "up.gmt").write_text("SIG_A\tdesc\tTP53\tMDM2\n")
    (folder / "subfolder").mkdir()
    (folder / "subfolder" / "hidden.tsv").write_text("x\n")
    (tmp_path / "secret.txt").write_text("not on offer\n")
    (folder / "link.txt").symlink_to(tmp_path / "secret.txt")
    settings.DOWNLOADS_DIR = folder
    return folder


def test_the_listing_gives_each_regular_file_with_size_and_checksum(offered: Path) -> None:
    files = APIClient().get("/api/downloads").json()["files"]
    assert [f["name"] for f in files] == ["signatures_trt_cp.gctx", "up.gmt"]
    matrix = files[0]
    assert matrix["size"] == len(PAYLOAD)
    assert matrix["sha256"] == hashlib.sha256(PAYLOAD).hexdigest()
    assert matrix["kind"] == "matrix"
    assert matrix["url"] == "/downloads/signatures_trt_cp.gctx"


def test_a_whole_file_comes_back_byte_for_byte(offered: Path) -> None:
    response = Client().get("/downloads/signatures_trt_cp.gctx")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PAYLOAD
    assert response["Accept-Ranges"] == "bytes"
    assert "attachment" in response["Content-Disposition"]


@pytest.mark.parametrize(
    ("header", "first", "last"),
    [("bytes=0-99", 0, 99), ("bytes=10000-", 10000, 10239), ("bytes=-40", 10200, 10239),
     ("bytes=10230-99999", 10230, 10239)],
)  # fmt: skip
def test_a_range_is_answered_with_206_and_exactly_those_bytes(
    offered: Path, header: str, first: int, last: int
) -> None:
    response = Client().get("/downloads/signatures_trt_cp.gctx", HTTP_RANGE=header)
    assert response.status_code == 206
    assert b"".join(response.streaming_content) == PAYLOAD[first : last + 1]
    assert response["Content-Range"] == f"bytes {first}-{last}/{len(PAYLOAD)}"
    assert response["Content-Length"] == str(last - first + 1)


def test_a_range_past_the_end_is_416(offered: Path) -> None:
    response = Client().get("/downloads/up.gmt", HTTP_RANGE="bytes=5000-")
    assert response.status_code == 416
    assert response["Content-Range"].startswith("bytes */")


@pytest.mark.parametrize(
    "name",
    ["../secret.txt", "..%2Fsecret.txt", "link.txt", "subfolder/hidden.tsv", "%2e%2e/secret.txt",
     ".up.gmt.sha256", "nothing.gctx"],
)  # fmt: skip
def test_nothing_outside_the_listed_files_is_served(offered: Path, name: str) -> None:
    response = Client().get(f"/downloads/{name}")
    assert response.status_code == 404
    assert b"not on offer" not in response.content


def test_the_downloads_page_lists_the_files(offered: Path) -> None:
    page = Client().get("/downloads/").content.decode()
    assert "signatures_trt_cp.gctx" in page
    assert hashlib.sha256(PAYLOAD).hexdigest() in page


def test_an_absent_folder_offers_nothing(settings, tmp_path: Path) -> None:
    settings.DOWNLOADS_DIR = tmp_path / "none"
    assert APIClient().get("/api/downloads").json() == {"files": []}
    assert "No files are on offer" in Client().get("/downloads/").content.decode()
