"""The pages in Chromium against the real server on the demo data; screenshots of each page.

Screenshots land in var/test-screenshots/ (the README shows them).
"""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, expect

from tests.browser.conftest import screenshot


def _search_dexamethasone(page: Page) -> None:
    page.goto("/")
    page.get_by_role("button", name="Dexamethasone, airway smooth muscle (RNA-seq)").click()
    expect(page.locator("#up-count")).to_have_text("150")
    expect(page.locator("#down-count")).to_have_text("150")
    screenshot(page, "home")
    page.locator("#search-button").click()
    page.wait_for_url("**/search/*")


def test_the_gene_box_suggests_genes_and_adds_them_to_a_side(page: Page) -> None:
    page.goto("/")
    page.fill("#gene-input", "FKBP")
    expect(page.locator("#gene-suggestions option[value='FKBP5']")).to_have_count(1)
    page.fill("#gene-input", "FKBP5")
    page.locator("#add-down").click()
    expect(page.locator("#down")).to_have_value("FKBP5")
    expect(page.locator("#down-count")).to_have_text("1")
    expect(page.locator("#gene-input")).to_have_value("")


def test_a_search_from_an_example_gives_a_sortable_filterable_table_and_plots(page: Page) -> None:
    _search_dexamethasone(page)
    rows = page.locator("#results-table tbody tr")
    expect(rows.first).to_be_visible()
    count = rows.count()
    assert count == 100
    expect(page.locator("#query-report")).to_contain_text("of 150 genes searched")
    expect(page.locator("#scatter .main-svg").first).to_be_visible()
    expect(page.locator("#bars .main-svg").first).to_be_visible()
    z_sum = page.locator("#results-table th[data-key='z_sum']")
    z_sum.click()
    values = [
        float(v) for v in page.locator("#results-table tbody tr td:nth-child(9)").all_inner_texts()
    ]
    assert values == sorted(values)
    z_sum.click()
    values = [
        float(v) for v in page.locator("#results-table tbody tr td:nth-child(9)").all_inner_texts()
    ]
    assert values == sorted(values, reverse=True)
    page.select_option("#direction-filter", "reverse")
    directions = page.locator("#results-table tbody tr td:nth-child(2)")
    assert all(
        "reverse" in (c or "") for c in directions.evaluate_all("els => els.map(e => e.className)")
    )
    page.select_option("#direction-filter", "")
    first_cell = page.locator("#results-table tbody tr td:nth-child(4)").first.inner_text()
    page.fill("#text-filter", first_cell)
    expect(page.locator("#row-count")).to_contain_text("shown")
    cells = page.locator("#results-table tbody tr td:nth-child(4)").all_inner_texts()
    assert cells
    assert all(cell == first_cell for cell in cells)
    expect(page.locator("#consensus-table tbody tr").first).to_be_visible()
    screenshot(page, "results")


def test_the_results_download_as_tsv(page: Page, tmp_path: Path) -> None:
    _search_dexamethasone(page)
    with page.expect_download() as download:
        page.locator("#export-tsv").click()
    path = tmp_path / "results.tsv"
    download.value.save_as(path)
    lines = path.read_text().splitlines()
    assert lines[0].startswith("# search ")
    table = [line for line in lines if not line.startswith("#")]  # then the hub genes, if any
    assert table[0].split("\t")[:3] == ["rank", "sig_id", "pert_type"]
    assert len(table) == 101


def test_a_signature_page_and_a_gene_page_with_its_plots(page: Page) -> None:
    _search_dexamethasone(page)
    page.locator("#results-table tbody tr td:last-child a").first.click()
    page.wait_for_url("**/signatures/*")
    expect(page.locator("#top-up tbody tr")).to_have_count(50)
    expect(page.locator("#top-down tbody tr")).to_have_count(50)
    expect(page.locator("#similar tbody tr").first).to_be_visible()
    rho = page.locator("#similar tbody tr td:nth-child(6)").all_inner_texts()
    assert all(-1 <= float(value) <= 1 for value in rho)
    screenshot(page, "signature")
    gene = page.locator("#top-up tbody tr td a").first
    symbol = gene.inner_text()
    gene.click()
    page.wait_for_url(f"**/genes/{symbol}")
    expect(page.locator("h1")).to_contain_text(symbol)
    expect(page.locator("#volcano .main-svg").first).to_be_visible()
    expect(page.locator("#by-cell .main-svg").first).to_be_visible()
    expect(page.locator("table.gene-table tbody tr").first).to_be_visible()
    first_rows = page.locator("table.gene-table tbody tr:first-child")
    cells = first_rows.evaluate_all("rows => rows.map(r => [...r.cells].map(c => c.innerText))")
    for row in cells:  # CD and log2 fold change shown
        assert float(row[3]) != 0
        assert row[4].strip()
    points = page.locator("#volcano").evaluate("el => el.data.map(t => t.x.length)")
    assert sum(points) > 0
    screenshot(page, "gene")


def test_a_perturbagen_page_from_the_results_and_its_search(page: Page) -> None:
    _search_dexamethasone(page)
    name = page.locator("#results-table tbody tr td:nth-child(2) a").first
    name.click()
    page.wait_for_url("**/perturbagens/*")
    expect(page.locator("#perturbagen-signatures tbody tr").first).to_be_visible()
    expect(page.locator("#consensus-up tbody tr").first).to_be_visible()
    expect(page.locator("#similar-perturbagens tbody tr").first).to_be_visible()
    screenshot(page, "perturbagen")
    page.locator("#search-with").click()
    page.wait_for_url("**/?up=*")
    assert int(page.locator("#up-count").inner_text()) > 0
    assert int(page.locator("#down-count").inner_text()) > 0


def test_a_batch_is_submitted_and_finishes(page: Page, tmp_path: Path) -> None:
    page.goto("/batch/")
    gmt = "\n".join(
        [
            "DEX_up\tdemo\t"
            + "\t".join(["FKBP5", "TSC22D3", "PER1", "ZBTB16", "KLF15", "DUSP1", "NOTAGENE7"]),
            "DEX_down\tdemo\t" + "\t".join(["CCL2", "IL6", "CXCL8", "PTGS2", "IL1B", "SERPINE1"]),
            "TOO_SMALL\tdemo\tTP53",
        ]
    )
    page.fill("#gmt-text", gmt)
    page.locator("#batch-submit").click()
    page.wait_for_url("**/batch/*")
    expect(page.locator("#batch-state")).to_have_text("done", timeout=60_000)
    expect(page.locator("#batch-download")).to_be_visible()
    dex, small = page.locator('tr[data-query="0"]'), page.locator('tr[data-query="1"]')
    expect(dex.locator('[data-field="results"]')).to_have_text("50")
    expect(dex.locator('[data-field="unused"]')).to_have_text("NOTAGENE7")
    expect(small.locator('[data-field="error"]')).to_contain_text("at least 5")
    screenshot(page, "batch")
    with page.expect_download() as download:
        page.locator("#batch-download").click()
    path = tmp_path / "batch.tsv"
    download.value.save_as(path)
    lines = path.read_text().splitlines()
    assert lines[0].startswith("query\trank\tsig_id")
    assert sum(line.startswith("DEX\t") for line in lines) == 50
    assert any(line.startswith("TOO_SMALL") and "at least 5" in line for line in lines)


def test_the_downloads_page_lists_the_published_files(page: Page) -> None:
    page.goto("/downloads/")
    names = page.locator("#downloads-table tbody tr td:first-child").all_inner_texts()
    assert "signatures_trt_cp.gctx" in names
    assert "profiles_rnaseq_like.gctx" in names
    assert "model.pt" in names
    screenshot(page, "downloads")


def test_a_slice_is_downloaded_from_the_downloads_page(page: Page, tmp_path: Path) -> None:
    page.goto("/downloads/")
    page.fill("#slice-cell-id", "A375")
    page.fill("#slice-pert-type", "trt_cp")
    page.fill("#slice-genes", "FKBP5\nTSC22D3\nNOT_A_GENE")
    page.locator("#slice-form button").click()
    expect(page.locator("#slice-error")).to_contain_text("NOT_A_GENE")
    page.fill("#slice-genes", "FKBP5\nTSC22D3")
    with page.expect_download() as download:
        page.locator("#slice-form button").click()
    path = tmp_path / "slice.tsv"
    download.value.save_as(path)
    lines = path.read_text().splitlines()
    assert lines[0].startswith("# index ")
    assert [line.split("\t")[0] for line in lines[2:]] == ["FKBP5", "TSC22D3"]
    assert len(lines[1].split("\t")) > 2  # gene, then the A375 trt_cp signatures


def test_the_api_documentation_renders_offline_under_the_content_security_policy(
    page: Page,
) -> None:
    outside: list[str] = []  # requests answered from elsewhere (redoc's logo is blocked, unsent)
    page.on(
        "requestfinished",
        lambda request: (
            outside.append(request.url)
            if not request.url.startswith(
                ("http://127.0.0.1", "http://localhost", "data:", "blob:")
            )
            else None
        ),
    )
    page.goto("/api/docs")
    expect(page.get_by_text("LINCS RNA-seq-like portal API").first).to_be_visible(timeout=20_000)
    expect(page.get_by_text("gene_signatures").first).to_be_attached()
    assert outside == [], f"requests that left the portal: {outside}"


def test_a_side_below_the_minimum_shows_the_apis_reason_beside_it(page: Page) -> None:
    page.goto("/")
    expect(page.locator("#minimum")).to_contain_text("at least 5 genes")
    page.fill("#up", "TP53\nMDM2\nCDKN1A")
    page.fill("#down", "")
    page.locator("#search-button").click()
    expect(page.locator("#error-up")).to_contain_text("only 3 of the 3 up genes can be searched")
    expect(page.locator("#error-up")).to_contain_text("at least 5 are needed")


def test_an_ambiguous_alias_can_be_settled_on_the_results_page(page: Page) -> None:
    page.goto("/")
    page.fill("#up", "FKBP5\nTSC22D3\nPER1\nZBTB16\nKLF15\nDUSP1\nMDR1\nIL8")
    page.fill("#down", "")
    page.locator("#search-button").click()
    page.wait_for_url("**/search/**")
    expect(page.locator("#query-report")).to_contain_text("IL8 → CXCL8")
    page.locator("button.choose[data-query='MDR1'][data-candidate='ABCB1']").click()
    page.wait_for_function("() => !document.querySelector(\"button.choose[data-query='MDR1']\")")
    expect(page.locator("#query-report")).to_contain_text("MDR1 → ABCB1")


def test_a_batch_page_keeps_its_state_when_a_status_check_fails_and_then_goes_on(
    page: Page,
) -> None:
    page.goto("/batch/")
    page.fill(
        "#gmt-text", "DEX\tdemo\t" + "\t".join(["FKBP5", "TSC22D3", "PER1", "ZBTB16", "KLF15"])
    )
    failures = {"left": 1}

    def first_check_fails(route) -> None:  # a 503 from a proxy, then the portal again
        if failures["left"]:
            failures["left"] -= 1
            route.fulfill(status=503, body="busy")
        else:
            route.continue_()

    page.route("**/api/search/batch/*", first_check_fails)
    page.locator("#batch-submit").click()
    page.wait_for_url("**/batch/*")
    expect(page.locator("#batch-note")).to_contain_text("Could not check the batch (status 503)")
    expect(page.locator("#batch-note")).to_have_text("", timeout=15_000)  # checked again
    expect(page.locator("#batch-state")).to_have_text("done")


def test_on_a_phone_every_header_link_is_on_screen_and_wide_tables_scroll_inside(
    page: Page,
) -> None:
    page.set_viewport_size({"width": 375, "height": 800})
    _search_dexamethasone(page)
    for name in ("Gene lookup", "API"):
        box = page.get_by_role("link", name=name, exact=True).first.bounding_box()
        assert box is not None
        assert box["x"] + box["width"] <= 375, name
    assert page.evaluate("document.documentElement.scrollWidth") <= 375


def test_the_results_table_gives_doses_and_times_with_their_units(page: Page) -> None:
    _search_dexamethasone(page)
    doses = page.locator("#results-table tbody tr td:nth-child(5)").all_inner_texts()
    assert any(text.endswith(" uM") for text in doses)
    times = page.locator("#results-table tbody tr td:nth-child(6)").all_inner_texts()
    assert all(text.endswith(" h") for text in times if text)
