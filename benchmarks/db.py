"""PostgreSQL at scale: loading 1,000,000 signatures' metadata, and the page queries on them.

Against the running PostgreSQL (BENCH_DATABASE_URL, default postgresql://postgres@127.0.0.1:5432/
portal_bench; the database is created if missing and its tables dropped afterwards):
- load: `signature_set_load` (COPY) of a generated sig_info table of N signatures, against the
  baseline measured in the same run, the ORM's batched bulk_create (the SQLite path), on a tenth
  of the rows and scaled up;
- page queries, p50 and p99 over repeated random requests: a signature page (by sig_id), the
  results join (100 sig_ids), a perturbagen listing and a cell-line listing (first 50 by position),
  a stored search by id;
- the metadata every page and API row shows (`selectors.signatures.signature_metadata`, the
  one source: 1, 100 and 1,000 signatures, as a signature page, a page of results and the largest
  answer ask), against the baseline measured in the same run: the same rows read from the index's
  own metadata (metadata.h5 in memory, `SignatureTable.rows`), which pages read before.
Run: python -m benchmarks.db [--signatures 1000000]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

BENCH_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/portal_bench"
)


def write_table(path: Path, n: int, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    cells = np.array([f"CELL{i:02d}" for i in range(30)])
    header = (
        "sig_id\tbatch\tpert_type\tpert_id\tpert_iname\tpert_dose\tpert_dose_unit\t"
        "pert_time\tpert_time_unit\tcell_id\tn_cases\tn_controls\n"
    )
    with path.open("w") as out:
        out.write(header)
        for start in range(0, n, 100_000):
            count = min(100_000, n - start)
            compound = rng.integers(0, 20_000, count)
            cell = cells[rng.integers(0, 30, count)]
            dose = rng.choice([0.04, 0.12, 0.37, 1.11, 3.33, 10.0], count)
            time_h = rng.choice([6, 24], count)
            lines = [
                f"B{(start + i) // 1000}:BRD-{c:05d}:{d}:{i + start}\tB{(start + i) // 1000}\t"
                f"{'trt_cp' if c % 5 else 'trt_xpr'}\tBRD-{c:05d}\tcmpd-{c}\t{d}\tµM\t{t}\th\t"
                f"{cl}\t3\t300\n"
                for i, (c, cl, d, t) in enumerate(zip(compound, cell, dose, time_h, strict=True))
            ]
            out.write("".join(lines))
    return path


def percentiles(run, requests: int) -> tuple[float, float]:
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        run()
        times.append((time.perf_counter() - started) * 1000)
    return float(np.percentile(times, 50)), float(np.percentile(times, 99))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--signatures", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    _ensure_database(BENCH_URL)
    os.environ.update(DATABASE_URL=BENCH_URL, DJANGO_SETTINGS_MODULE="portal.settings", DEBUG="1")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from benchmarks.common import machine, markdown
    from search.engine.metadata import SignatureTable, write_metadata
    from search.models import Signature, SignatureSet, StoredSearch
    from search.selectors.signatures import signature_metadata
    from search.services.signature_sets import _insert, _rows, read_sig_table, signature_set_load

    call_command("migrate", verbosity=0)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        table_path = write_table(Path(folder) / "sig_info.txt", args.signatures)
        SignatureSet.objects.filter(version__startswith="bench").delete()
        started = time.perf_counter()
        signature_set_load(sig_info=table_path, version="bench")
        copy_s = time.perf_counter() - started
        signature_set = SignatureSet.objects.get(version="bench")
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE search_signature")
        tenth = max(args.signatures // 10, 1)
        table = read_sig_table(table_path).iloc[:tenth]
        baseline_set = SignatureSet.objects.create(
            version="bench-orm", source="", source_checksum="", n_signatures=tenth
        )
        started = time.perf_counter()
        _insert(_rows(table, baseline_set.pk))
        orm_s = (time.perf_counter() - started) * args.signatures / tenth
        baseline_set.delete()
        full = read_sig_table(table_path)
        write_metadata(Path(folder) / "metadata.h5", full)
        in_memory = SignatureTable.read(Path(folder) / "metadata.h5")
    rows.append(
        {
            "step": f"load {args.signatures:,} signatures (COPY)",
            "p50 ms": copy_s * 1000,
            "p99 ms": "",
            "baseline": f"bulk_create {orm_s:,.1f} s (scaled from {tenth:,})",
            "ratio": f"{orm_s / copy_s:.1f}x faster",
        }
    )
    rng = np.random.default_rng(1)
    ids = list(
        Signature.objects.filter(signature_set=signature_set).values_list("sig_id", flat=True)[
            :200_000
        ]
    )
    search = StoredSearch.objects.create(
        id=uuid.uuid4(), index_version="bench", query={}, report={}, results=[], n_searched=0
    )
    queries = {
        "signature page (by sig_id)": lambda: list(
            Signature.objects.filter(
                signature_set=signature_set, sig_id=ids[rng.integers(len(ids))]
            )
        ),
        "results join (100 sig_ids)": lambda: list(
            Signature.objects.filter(
                signature_set=signature_set,
                sig_id__in=[ids[i] for i in rng.integers(0, len(ids), 100)],
            )
        ),
        "perturbagen listing (50)": lambda: list(
            Signature.objects.filter(
                signature_set=signature_set, pert_iname=f"cmpd-{rng.integers(20_000)}"
            ).order_by("position")[:50]
        ),
        "cell-line listing (50)": lambda: list(
            Signature.objects.filter(
                signature_set=signature_set, cell_id=f"CELL{rng.integers(30):02d}"
            ).order_by("position")[:50]
        ),
        "stored search (by id)": lambda: StoredSearch.objects.get(id=search.id),
    }
    for name, run in queries.items():
        p50, p99 = percentiles(run, args.requests)
        rows.append({"step": name, "p50 ms": p50, "p99 ms": p99, "baseline": "", "ratio": ""})
    for size in (1, 100, 1000):

        def drawn(size: int = size) -> list[str]:
            return [ids[i] for i in rng.integers(0, len(ids), size)]

        p50, p99 = percentiles(
            lambda: signature_metadata(version="bench", sig_ids=drawn()), args.requests
        )
        base50, _ = percentiles(
            lambda: in_memory.rows(np.array([in_memory.position(s) for s in drawn()])),
            args.requests,
        )
        rows.append(
            {
                "step": f"page metadata, {size:,} signatures (signature_metadata)",
                "p50 ms": p50,
                "p99 ms": p99,
                "baseline": f"index metadata.h5 in memory {base50:.3f} ms",
                "ratio": f"{p50 / base50:.1f}x",
            }
        )
    search.delete()
    SignatureSet.objects.filter(version="bench").delete()
    print(f"PostgreSQL {connection.pg_version / 10000:.0f} at {BENCH_URL}; {machine()}\n")
    print(markdown(rows))


def _ensure_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            admin.execute(f'CREATE DATABASE "{name}"')


if __name__ == "__main__":
    main()
