"""Downloads: the listing with sizes and SHA-256, ranged reads, the validators and conditional
requests of RFC 9110, the proxy's hand-over (X-Accel-Redirect), and nothing outside the folder."""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

import pytest
from django.test import Client
from django.utils.http import http_date
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db
PAYLOAD = bytes(range(256)) * 40  # 10,240 bytes
MTIME = 1_700_000_000  # 2023-11-14, the files' modification time
MATRIX = "/downloads/signatures_trt_cp.gctx"
ETAG = f'"{hashlib.sha256(PAYLOAD).hexdigest()}"'


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
    for path in folder.iterdir():
        os.utime(path, (MTIME, MTIME), follow_symlinks=False)
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
    # RFC 3230 / 5843: the digest is the base64 of the SHA-256 bytes, not their hex
    digest = base64.b64encode(hashlib.sha256(PAYLOAD).digest()).decode()
    assert response["Digest"] == f"sha-256={digest}"
    assert response["Repr-Digest"] == f"sha-256=:{digest}:"  # RFC 9530


@pytest.mark.parametrize(
    ("header", "first", "last"),
    [
        ("bytes=0-99", 0, 99),
        ("bytes=10000-", 10000, 10239),
        ("bytes=-40", 10200, 10239),
        ("bytes=10230-99999", 10230, 10239),
    ],
)
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


@pytest.mark.parametrize("accel", ["", "/_protected_downloads/"])
@pytest.mark.parametrize(
    "name",
    [
        "../secret.txt",
        "..%2Fsecret.txt",
        "link.txt",
        "subfolder/hidden.tsv",
        "%2e%2e/secret.txt",
        ".up.gmt.sha256",
        "nothing.gctx",
    ],
)
def test_nothing_outside_the_listed_files_is_served(
    offered: Path, settings, name: str, accel: str
) -> None:
    settings.DOWNLOADS_ACCEL_REDIRECT = accel
    response = Client().get(f"/downloads/{name}")
    assert response.status_code == 404
    assert b"not on offer" not in response.content
    assert "X-Accel-Redirect" not in response


def test_a_download_carries_a_strong_etag_from_its_checksum_and_its_last_modified(
    offered: Path,
) -> None:
    listed = APIClient().get("/api/downloads").json()["files"][0]
    for response in (Client().get(MATRIX), Client().get(MATRIX, HTTP_RANGE="bytes=0-9")):
        assert response["ETag"] == f'"{listed["sha256"]}"' == ETAG
        assert response["Last-Modified"] == http_date(MTIME)


@pytest.mark.parametrize(
    "conditions",
    [
        {"HTTP_IF_NONE_MATCH": ETAG},
        {"HTTP_IF_NONE_MATCH": f'"other", W/{ETAG}'},
        {"HTTP_IF_NONE_MATCH": "*"},
        {"HTTP_IF_MODIFIED_SINCE": http_date(MTIME)},
        {"HTTP_IF_MODIFIED_SINCE": http_date(MTIME + 3600)},
    ],
)
def test_a_current_copy_gets_304_with_the_validators(offered: Path, conditions: dict) -> None:
    for method in (Client().get, Client().head):
        response = method(MATRIX, **conditions)
        assert response.status_code == 304
        assert response["ETag"] == ETAG
        assert response["Last-Modified"] == http_date(MTIME)
        assert response.content == b""


@pytest.mark.parametrize(
    "conditions",
    [
        {"HTTP_IF_NONE_MATCH": '"another-version"'},
        {"HTTP_IF_MODIFIED_SINCE": http_date(MTIME - 1)},
        # If-None-Match decides alone when both are sent (RFC 9110 13.1.3)
        {"HTTP_IF_NONE_MATCH": '"another-version"', "HTTP_IF_MODIFIED_SINCE": http_date(MTIME)},
    ],
)
def test_a_stale_copy_gets_the_whole_file(offered: Path, conditions: dict) -> None:
    response = Client().get(MATRIX, **conditions)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PAYLOAD


@pytest.mark.parametrize(
    "if_range",
    ['"another-version"', f"W/{ETAG}", http_date(MTIME - 1), http_date(MTIME + 1), "not a date"],
)
def test_if_range_naming_another_version_gives_200_and_the_whole_file(
    offered: Path, if_range: str
) -> None:
    response = Client().get(MATRIX, HTTP_RANGE="bytes=0-99", HTTP_IF_RANGE=if_range)
    assert response.status_code == 200
    assert "Content-Range" not in response
    assert response["Content-Length"] == str(len(PAYLOAD))
    assert b"".join(response.streaming_content) == PAYLOAD


@pytest.mark.parametrize("if_range", [ETAG, http_date(MTIME)])
def test_if_range_naming_this_version_gives_the_range(offered: Path, if_range: str) -> None:
    response = Client().get(MATRIX, HTTP_RANGE="bytes=0-99", HTTP_IF_RANGE=if_range)
    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes 0-99/{len(PAYLOAD)}"
    assert b"".join(response.streaming_content) == PAYLOAD[:100]


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("signatures_metadata.tsv", "text/tab-separated-values; charset=utf-8"),
        ("up.gmt", "text/plain; charset=utf-8"),
        ("model.pt", "application/octet-stream"),
        ("signatures_trt_cp.gctx", "application/x-hdf5"),
    ],
)
def test_a_range_keeps_the_content_type_of_the_whole_file(
    offered: Path, name: str, content_type: str
) -> None:
    (offered / name).write_bytes(PAYLOAD)
    whole = Client().get(f"/downloads/{name}")
    part = Client().get(f"/downloads/{name}", HTTP_RANGE="bytes=10-19")
    assert (whole.status_code, part.status_code) == (200, 206)
    assert whole["Content-Type"] == part["Content-Type"] == content_type
    assert whole["Content-Disposition"] == part["Content-Disposition"]
    assert whole["Content-Disposition"] == f'attachment; filename="{name}"'


def test_head_answers_the_headers_of_get_and_reads_no_file(offered: Path) -> None:
    got = Client().get(MATRIX)
    for headers in ({}, {"HTTP_RANGE": "bytes=0-9"}):  # a Range is for GET only (RFC 9110 14.2)
        head = Client().head(MATRIX, **headers)
        assert head.status_code == 200
        assert not head.streaming  # no file opened: a server draining a HEAD body reads nothing
        assert head.content == b""
        for name in ("Content-Length", "Content-Type", "ETag", "Last-Modified", "Accept-Ranges"):
            assert head[name] == got[name], name


def test_with_a_proxy_the_portal_hands_the_file_over_with_headers_only(
    offered: Path, settings
) -> None:
    settings.DOWNLOADS_ACCEL_REDIRECT = "/_protected_downloads/"
    (offered / "genes up & down.gmt").write_text("SIG_A\tdesc\tTP53\n")
    for name, location in (
        ("signatures_trt_cp.gctx", "signatures_trt_cp.gctx"),
        ("genes up & down.gmt", "genes%20up%20%26%20down.gmt"),
    ):
        response = Client().get(f"/downloads/{name}", HTTP_RANGE="bytes=0-9")
        assert response.status_code == 200
        assert response["X-Accel-Redirect"] == f"/_protected_downloads/{location}"
        assert response.content == b""
        assert not response.streaming
        assert "attachment" in response["Content-Disposition"]
        assert "Accept-Ranges" not in response  # nginx's own, for the file it sends
    assert response["Content-Type"] == "text/plain; charset=utf-8"


def test_the_downloads_page_lists_the_files(offered: Path) -> None:
    page = Client().get("/downloads/").content.decode()
    assert "signatures_trt_cp.gctx" in page
    assert hashlib.sha256(PAYLOAD).hexdigest() in page


def test_an_absent_folder_offers_nothing(settings, tmp_path: Path) -> None:
    settings.DOWNLOADS_DIR = tmp_path / "none"
    assert APIClient().get("/api/downloads").json() == {"files": []}
    assert "No files are on offer" in Client().get("/downloads/").content.decode()
