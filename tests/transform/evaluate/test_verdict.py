"""The verdict: does the model beat every baseline on global PCC, sample PCC and RMSE?"""

from __future__ import annotations

import pandas as pd

from transform.evaluate.run import BASELINE, INFORMATIVE, MODEL, beats_every_baseline, verdict


def _row(level: str, method: str, role: str, pcc: float, rmse: float) -> dict[str, object]:
    return {
        "level": level,
        "method": method,
        "role": role,
        "global_pcc": pcc,
        "sample_pcc": pcc,
        "rmse": rmse,
    }


TABLE = pd.DataFrame(
    [
        _row("landmarks", "model", MODEL, 0.9, 0.2),
        _row("landmarks", "standardized", BASELINE, 0.8, 0.3),
        _row("landmarks", "ceiling", INFORMATIVE, 1.0, 0.0),
        _row("all output genes", "model", MODEL, 0.9, 0.2),
        _row("all output genes", "standardized", BASELINE, 0.8, 0.3),
        _row("all output genes", "quantile mapping", BASELINE, 0.95, 0.25),
    ]
)


def test_informative_rows_do_not_count_and_one_lost_metric_loses_the_level() -> None:
    assert beats_every_baseline(TABLE) == {"landmarks": True, "all output genes": False}
    checks = verdict(TABLE)
    lost = checks[
        (checks["level"] == "all output genes") & (checks["baseline"] == "quantile mapping")
    ]
    assert lost[
        ["beats on global_pcc", "beats on sample_pcc", "beats on rmse"]
    ].values.tolist() == [[False, False, True]]


def test_a_tie_is_not_a_win() -> None:
    tied = TABLE.copy()
    tied.loc[1, ["global_pcc", "sample_pcc", "rmse"]] = [0.9, 0.9, 0.2]
    assert beats_every_baseline(tied)["landmarks"] is False
