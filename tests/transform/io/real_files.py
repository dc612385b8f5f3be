"""The real L1000 files committed under tests/data/l1000 (sources in tests/data/README.md)."""

from __future__ import annotations

from tests.conftest import REPO

L1000 = REPO / "tests" / "data" / "l1000"
LJP005_GCT = L1000 / "LJP005_A375_24H_X1_B19_QNORM_n377x978.gct"
LJP005_GCTX = L1000 / "LJP005_A375_24H_X1_B19_ZSPCQNORM_n377x978.gctx"
LJP009_GCT = L1000 / "LJP009_A375_24H_X1_B20_QNORM_n371x978.gct"
LJP009_Z_GCT = L1000 / "LJP009_A375_24H_X1_B20_ZSPCQNORM_n371x978.gct"
MODZ_GCT = L1000 / "cmapR_modzs_n272x978.gct"
MODZ_GCTX = L1000 / "cmapR_modzs_n272x978.gctx"
TINY_GCTX = L1000 / "cmapR_modzs_n25x50.gctx"
