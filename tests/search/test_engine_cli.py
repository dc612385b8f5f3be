"""`python -m search.engine`: the engine on a downloaded index answers as the API does.

The same query through the API (Django, the registry, the database) and through the command line
(the index and the reference tables alone) gives the same signatures in the same order with the
same numbers; a GMT runs each of its queries; a gene lists what the gene API lists; bad input is
said on stderr with exit status 2; and the command loads neither Django nor torch.
"""

from __future__ import annotations

import io
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from rest_framework.test import APIClient

from search.engine.cli import main
from tests.conftest import REPO
from tests.search.conftest import PortalIndex

pytestmark = pytest.mark.django_db
NUMBERS = ("z_up", "z_down", "z_sum", "p_up", "p_down", "p", "fdr_up", "fdr_down", "fdr")


def _cli(*argv: str) -> tuple[int, str, pd.DataFrame]:
    out = io.StringIO()
    status = main(list(argv), out=out)
    text = out.getvalue()
    rows = [line for line in text.splitlines() if not line.startswith("#")]
    table = pd.read_csv(io.StringIO("\n".join(rows)), sep="\t") if rows else pd.DataFrame()
    return status, text, table


def _query(portal: PortalIndex) -> tuple[list[str], list[str]]:
    cd = portal.cd.iloc[:, 4].sort_values()
    return list(map(str, cd.index[-12:])), list(map(str, cd.index[:12]))


def test_a_query_on_the_command_line_equals_the_apis_answer(
    serve_portal_index: PortalIndex,
) -> None:
    up, down = _query(serve_portal_index)
    up_asked = [*up, "NOT_A_GENE"]
    api = APIClient().post(
        "/api/search", {"up": up_asked, "down": down, "mode": "both", "limit": 50}, format="json"
    )
    assert api.status_code == 201, api.content
    expected = pd.DataFrame(api.json()["results"])
    index = str(serve_portal_index.directory)
    status, text, table = _cli(
        "query", "--index", index, "--up", *up_asked, "--down", *down, "--limit", "50"
    )
    assert status == 0
    assert "# query up: unknown: NOT_A_GENE" in text
    assert f"{api.json()['n_searched']:,} signatures searched" in text
    assert table["sig_id"].tolist() == expected["sig_id"].tolist()
    assert table["rank"].tolist() == expected["rank"].tolist()
    assert table["direction"].tolist() == expected["direction"].tolist()
    for column in NUMBERS:
        assert np.allclose(
            table[column], expected[column].astype(float), rtol=1e-12, equal_nan=True
        ), column
    assert table["pert_iname"].tolist() == expected["pert_iname"].tolist()


def test_a_gmt_runs_each_query_and_a_filter_applies(
    serve_portal_index: PortalIndex, tmp_path
) -> None:
    up, down = _query(serve_portal_index)
    gmt = tmp_path / "queries.gmt"
    gmt.write_text(
        f"A_up\tx\t{chr(9).join(up)}\nA_down\tx\t{chr(9).join(down)}\nB\tx\t{chr(9).join(down)}\n"
    )
    kind = str(serve_portal_index.meta["pert_type"].iloc[0])
    status, _, table = _cli(
        "query",
        "--index",
        str(serve_portal_index.directory),
        "--gmt",
        str(gmt),
        "--limit",
        "5",
        "--filter",
        f"pert_type={kind}",
    )
    assert status == 0
    assert table.groupby("query").size().to_dict() == {"A": 5, "B": 5}
    assert set(table["pert_type"]) == {kind}


def test_a_gene_on_the_command_line_lists_what_the_gene_api_lists(
    serve_portal_index: PortalIndex,
) -> None:
    gene = str(serve_portal_index.cd.index[3])
    kind = str(serve_portal_index.meta["pert_type"].iloc[0])
    api = (
        APIClient()
        .get(f"/api/genes/{gene}/signatures", {"direction": "up", "pert_type": kind, "limit": 10})
        .json()
    )
    expected = api["tables"][kind]["up"]
    status, _, table = _cli(
        "gene",
        "--index",
        str(serve_portal_index.directory),
        gene,
        "--pert-type",
        kind,
        "--limit",
        "10",
    )
    assert status == 0
    assert table["sig_id"].tolist() == [row["sig_id"] for row in expected]
    assert np.allclose(table["value"], [row["cd"] for row in expected], rtol=1e-6)


def test_bad_input_is_said_with_exit_status_2(
    serve_portal_index: PortalIndex, capsys: pytest.CaptureFixture[str]
) -> None:
    index = str(serve_portal_index.directory)
    status, _, _ = _cli("query", "--index", index, "--up", "NOT_A_GENE", "ALSO_NOT")
    assert status == 2
    assert "only 0 of the 2 up genes can be searched" in capsys.readouterr().err
    status, _, _ = _cli("gene", "--index", index, "NOT_A_GENE")
    assert status == 2
    assert "NOT_A_GENE: unknown" in capsys.readouterr().err


def test_errors_of_files_filters_and_limits_are_said_with_exit_status_2(
    serve_portal_index: PortalIndex, capsys: pytest.CaptureFixture[str], tmp_path
) -> None:
    index = str(serve_portal_index.directory)
    up, _ = _query(serve_portal_index)
    duplicated = tmp_path / "twice.gmt"
    duplicated.write_text(f"A\tx\t{up[0]}\nA\tx\t{up[1]}\n")
    paired = tmp_path / "paired.gmt"
    paired.write_text(f"X_up\tx\t{up[0]}\nX_UP\tx\t{up[1]}\n")
    cases = [
        (["query", "--gmt", str(tmp_path / "absent.gmt")], "absent.gmt"),
        (["query", "--gmt", str(duplicated)], "A"),
        (["query", "--gmt", str(paired)], "X"),
        (["query", "--up", *up, "--filter", "cell=A375"], "give FIELD=VALUE"),
        (["query", "--up", *up, "--filter", "cell_id=HELA"], "no signature has cell_id HELA"),
        (["query", "--gmt", str(paired), "--up", *up], "either --gmt or --up"),
        (["query"], "give --up genes, --down genes or both"),
        (["gene", up[0], "--pert-type", "nope"], "no signature has pert_type nope"),
    ]
    for argv, said in cases:
        status, _, _ = _cli(*argv, "--index", index)
        assert status == 2, argv
        err = capsys.readouterr().err
        assert said in err, (argv, err)
        assert "Traceback" not in err
    with pytest.raises(SystemExit):  # argparse: 'give 1 or more'
        _cli("gene", up[0], "--limit", "0", "--index", index)
    assert "give 1 or more" in capsys.readouterr().err


def test_a_gmt_whose_first_query_fails_keeps_the_header_and_names_left_out_as_given(
    serve_portal_index: PortalIndex, capsys: pytest.CaptureFixture[str], tmp_path
) -> None:
    up, down = _query(serve_portal_index)
    gmt = tmp_path / "queries.gmt"
    gmt.write_text(
        "A_up\tx\tNOT_A_GENE\tALSO_NOT\n"
        f"B_up\tx\t{chr(9).join(up)}\nB_down\tx\t{chr(9).join(down)}\n"
        f"C\tx\t{chr(9).join(s.lower() for s in down)}\t{down[0].lower()}\n"
    )
    status, text, table = _cli(
        "query", "--index", str(serve_portal_index.directory), "--gmt", str(gmt), "--limit", "3"
    )
    assert status == 2
    assert "query A:" in capsys.readouterr().err
    assert table.columns[:3].tolist() == ["query", "rank", "sig_id"]
    assert table.groupby("query").size().to_dict() == {"B": 3, "C": 3}
    assert f"# C up: repeated: {down[0].lower()}" in text  # as the GMT gave it


def test_a_down_only_query_and_a_partly_matched_filter_on_the_command_line(
    serve_portal_index: PortalIndex,
) -> None:
    _, down = _query(serve_portal_index)
    status, text, table = _cli(
        "query",
        "--index",
        str(serve_portal_index.directory),
        "--down",
        *down,
        "--filter",
        "cell_id=mcf7",
        "--filter",
        "cell_id=HELA",
    )
    assert status == 0
    assert set(table["cell_id"]) == {"MCF7"}
    assert "# filter cell_id: no signature has HELA" in text
    assert "# filter cell_id: mcf7 read as MCF7" in text


def test_the_command_loads_neither_django_nor_torch(serve_portal_index: PortalIndex) -> None:
    gene = str(serve_portal_index.cd.index[0])
    code = (
        "import sys, io\nfrom search.engine.cli import main\n"
        f"main(['gene', '--index', {str(serve_portal_index.directory)!r}, {gene!r}], "
        "out=io.StringIO())\nprint('django' in sys.modules, 'torch' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip().splitlines()[-1] == "False False"
