"""Loading signature metadata into the database: one SignatureSet per search index version.

The rows come from the sig_info table the signature pipeline writes (transform/signatures), in the
order of the signatures in the index (`position`). PostgreSQL loads them with COPY; SQLite with
batched bulk inserts. Loading a version that is already there is a no-op unless forced.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from django.db import connection, transaction

from search.models import Signature, SignatureSet
from transform.io.files import sha256_file as file_sha256
from transform.io.meta import MISSING_READ

TEXT_COLUMNS = (
    "pert_type",
    "pert_id",
    "pert_iname",
    "cell_id",
    "pert_dose_unit",
    "pert_time_unit",
    "batch",
)
REQUIRED = ("sig_id", "pert_type", "pert_iname", "cell_id")
# Columns of search_signature in the order rows are written.
COLUMNS = (
    "signature_set_id",
    "sig_id",
    "position",
    *TEXT_COLUMNS,
    "pert_dose",
    "pert_time",
    "n_cases",
    "n_controls",
)
CHUNK_ROWS = 50_000


class SignatureTableError(ValueError):
    """A sig_info table that cannot be loaded, with the reason."""


@dataclass(frozen=True, slots=True)
class SignatureLoadReport:
    version: str
    n_signatures: int
    skipped: bool


def read_sig_table(path: Path) -> pd.DataFrame:
    """The sig_info table with the columns the database keeps, checked."""
    try:
        table = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError) as error:
        reason = f"{path}: cannot be read as a tab-separated table: {error}"
        raise SignatureTableError(reason) from error
    missing = [name for name in REQUIRED if name not in table.columns]
    if missing:
        raise SignatureTableError(f"{path}: lacks the column(s) {', '.join(missing)}")
    duplicated = table["sig_id"][table["sig_id"].duplicated()]
    if len(duplicated):
        raise SignatureTableError(f"{path}: sig_id {duplicated.iloc[0]!r} appears twice")
    for name in TEXT_COLUMNS:  # CMap's -666 (and NA, NaN, an empty cell) is missing: ""
        table[name] = (
            table[name].where(~table[name].isin(MISSING_READ), "") if name in table else ""
        )
    for name in ("pert_dose", "pert_time"):
        values = table[name] if name in table.columns else pd.Series("", index=table.index)
        table[name] = _numbers(path, name, values.where(~values.isin(MISSING_READ), ""))
    for name in ("n_cases", "n_controls"):
        values = table[name] if name in table.columns else pd.Series("0", index=table.index)
        table[name] = _numbers(path, name, values.where(~values.isin(MISSING_READ), "0"))
        table[name] = table[name].astype(np.int64)
    return table


def _numbers(path: Path, name: str, values: pd.Series) -> pd.Series:
    """A number column ("" missing); a cell that is no number is refused, naming its row."""
    numbers = pd.to_numeric(values.replace("", None), errors="coerce")
    wrong = numbers.isna() & (values != "")
    if wrong.any():
        at = int(np.flatnonzero(wrong.to_numpy())[0])
        raise SignatureTableError(
            f"{path}: {name} {values.iloc[at]!r} (line {at + 2}) is not a number"
        )
    return numbers


FACETS = ("pert_type", "cell_id", "pert_iname", "pert_time")


def table_facets(table: pd.DataFrame) -> dict[str, list[object]]:
    """The distinct values of each filterable field, sorted (numbers as numbers)."""
    facets: dict[str, list[object]] = {}
    for name in FACETS:
        values = table[name].dropna()
        if not pd.api.types.is_numeric_dtype(values):
            values = values[values != ""]
        facets[name] = sorted(v.item() if hasattr(v, "item") else v for v in values.unique())
    return facets


def signature_set_load(
    *, sig_info: Path, version: str, force: bool = False, source: str | None = None
) -> SignatureLoadReport:
    """Load the signatures of `sig_info` as the set `version` (idempotent; COPY on PostgreSQL);
    `source` names where they came from (default: the sig_info path)."""
    checksum = file_sha256(sig_info)
    existing = SignatureSet.objects.filter(version=version).first()
    current = existing is not None and existing.source_checksum == checksum and not force
    if (
        existing is not None
        and current
        and Signature.objects.filter(signature_set=existing).count() == existing.n_signatures
    ):
        return SignatureLoadReport(version, existing.n_signatures, skipped=True)
    table = read_sig_table(sig_info)
    with transaction.atomic():
        if existing:
            existing.delete()
        signature_set = SignatureSet.objects.create(
            version=version,
            source=source or str(sig_info),
            source_checksum=checksum,
            n_signatures=len(table),
            facets=table_facets(table),
        )
        rows = _rows(table, signature_set.pk)
        if connection.vendor == "postgresql":
            _copy(rows)
        else:
            _insert(rows)
    return SignatureLoadReport(version, len(table), skipped=False)


def _rows(table: pd.DataFrame, set_id: int) -> Iterator[tuple[object, ...]]:
    text = [table[name].to_numpy() for name in TEXT_COLUMNS]
    dose, time = table["pert_dose"].to_numpy(), table["pert_time"].to_numpy()
    cases, controls = table["n_cases"].to_numpy(), table["n_controls"].to_numpy()
    for at, sig_id in enumerate(table["sig_id"].to_numpy()):
        yield (
            set_id,
            sig_id,
            at,
            *(column[at] for column in text),
            _number(dose[at]),
            _number(time[at]),
            int(cases[at]),
            int(controls[at]),
        )


def _number(value: float) -> float | None:
    return None if np.isnan(value) else float(value)


def _copy(rows: Iterator[tuple[object, ...]]) -> None:
    table = Signature._meta.db_table
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY {table} ({', '.join(COLUMNS)}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(row)


def _insert(rows: Iterator[tuple[object, ...]]) -> None:
    batch: list[Signature] = []
    for row in rows:
        batch.append(Signature(**dict(zip(COLUMNS, row, strict=True))))
        if len(batch) == CHUNK_ROWS:
            Signature.objects.bulk_create(batch, batch_size=2000)
            batch = []
    Signature.objects.bulk_create(batch, batch_size=2000)


def signature_set_load_from_index(*, directory: Path, force: bool = False) -> SignatureLoadReport:
    """The metadata of the index in `directory`, in index order, as the set of its version."""
    import tempfile

    from search.engine.index import SearchIndex

    index = SearchIndex.open(directory)
    table = pd.DataFrame({"sig_id": np.asarray(index.table.sig_ids, dtype=object)})
    for name, column in index.table.columns.items():
        table[name] = np.asarray(column, dtype=object)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "sig_info.txt"
        table.to_csv(path, sep="\t", index=False)
        return signature_set_load(
            sig_info=path,
            version=index.version,
            force=force,
            source=str(Path(directory).resolve() / "metadata.h5"),
        )
