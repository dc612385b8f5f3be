"""The signature metadata of an index: stored column by column in HDF5, filtered before ranking.

metadata.h5 holds /sig_id and one group per column under /columns: text columns as categorical
codes (int32, /codes) and their categories (/categories), number columns as float64 (/values;
NaN = missing). Row i describes column i of the index's matrices.

Filters: {field: [values]} keeps the signatures whose field is one of the values (numbers compared
as numbers, so "10" matches a dose of 10.0; text regardless of case where that names one value, so
"mcf7" matches MCF7); a number field also takes {"min": a, "max": b} (either bound may be left
out). Fields combine with AND. `filter_report` says, per field, which value each given one was
read as and which matched no signature, so that a search can name them. The selection comes back
as the sorted positions and the smallest column span holding them, so the scoring kernels can read
a span when the selection is dense in it (signatures are stored sorted by perturbation type and
cell line).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pandas as pd
from numpy.typing import NDArray

from search.engine.errors import InvalidQueryError, UnknownSignatureError
from search.engine.query import FILTER_FIELDS

SPAN_DENSITY = 0.25  # read a span (then keep the selection) when it is at least this dense


@dataclass(frozen=True)
class Selection:
    """Signatures to score: sorted positions, and the span [start, stop) that holds them."""

    positions: NDArray[np.int64]  # (n,) int64, sorted
    start: int
    stop: int

    @classmethod
    def every(cls, n: int) -> Selection:
        return cls(_every(n), 0, n)

    @property
    def size(self) -> int:
        return int(self.positions.size)

    @property
    def is_span(self) -> bool:
        """The positions are the whole span."""
        return self.size == self.stop - self.start

    @property
    def read_span(self) -> bool:
        """Cheaper to read the span and keep the positions than to gather them one by one."""
        return self.size >= SPAN_DENSITY * (self.stop - self.start)


@functools.lru_cache(maxsize=8)
def _every(n: int) -> NDArray[np.int64]:
    """0..n-1, read-only and made once: an unfiltered search at 1,000,000 signatures would
    otherwise write 8 MB before scoring (0.3 ms)."""
    positions = np.arange(n, dtype=np.int64)
    positions.flags.writeable = False
    return positions


def write_metadata(path: Path, table: pd.DataFrame) -> None:
    """table: one row per signature, a sig_id column and the metadata columns."""
    with h5py.File(path, "w") as out:
        text = h5py.string_dtype()
        out.create_dataset("sig_id", data=table["sig_id"].astype(str).to_numpy(object), dtype=text)
        out.attrs["columns"] = [str(name) for name in table.columns.drop("sig_id")]
        out.create_group("columns")  # there even when the signatures carry nothing but ids
        for name in table.columns.drop("sig_id"):
            group = out.create_group(f"columns/{name}")
            column = table[name]
            if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
                values = group.create_dataset("values", data=column.to_numpy(np.float64))
                values.attrs["integer"] = bool(pd.api.types.is_integer_dtype(column))
                continue
            labels = column.astype(object).where(column.notna(), "").astype(str)
            codes, categories = pd.factorize(labels, sort=True)
            group.create_dataset("codes", data=codes.astype(np.int32))
            group.create_dataset("categories", data=categories.to_numpy(object), dtype=text)


class SignatureTable:
    """The metadata in memory: text columns as pandas Categoricals, numbers as float64."""

    def __init__(self, sig_ids: pd.Index, columns: dict[str, pd.Categorical | np.ndarray]) -> None:
        self.sig_ids = sig_ids
        self.columns = columns
        self._labels = {
            name: np.asarray(column.categories, dtype=object)
            for name, column in columns.items()
            if isinstance(column, pd.Categorical)
        }
        self._folded: dict[str, dict[str, list[str]]] = {}  # field -> casefolded -> categories
        self._numbers: dict[str, np.ndarray] = {}  # number field -> its distinct values

    @classmethod
    def read(cls, path: Path) -> SignatureTable:
        with h5py.File(path, "r") as file:
            sig_ids = pd.Index(file["sig_id"].asstr()[()], name="sig_id")
            columns: dict[str, pd.Categorical | np.ndarray] = {}
            stored = file.attrs["columns"] if "columns" in file.attrs else list(file["columns"])
            names = [str(name) for name in stored]
            for name in names:
                group = file["columns"][name]
                if "values" in group:
                    values = group["values"]
                    integer = bool(values.attrs.get("integer", False))
                    columns[name] = values[()].astype(np.int64) if integer else values[()]
                else:
                    categories = pd.Index(group["categories"].asstr()[()])
                    columns[name] = pd.Categorical.from_codes(group["codes"][()], categories)
        return cls(sig_ids, columns)

    def __len__(self) -> int:
        return len(self.sig_ids)

    def position(self, sig_id: str) -> int:
        at = self.sig_ids.get_indexer([sig_id])[0]
        if at < 0:
            raise UnknownSignatureError(f"no signature {sig_id!r} in the index", sig_id=sig_id)
        return int(at)

    def positions(self, sig_ids: Sequence[str]) -> NDArray[np.int64]:
        """The positions of many signatures in one lookup (a per-id `position` costs about 40 us
        each); UnknownSignatureError naming the ids the index lacks."""
        found = self.sig_ids.get_indexer(pd.Index([str(s) for s in sig_ids]))
        if (found < 0).any():
            missing = [str(s) for s, at in zip(sig_ids, found, strict=True) if at < 0]
            raise UnknownSignatureError(
                f"{len(missing)} signatures not in the index: {', '.join(missing[:10])}",
                sig_ids=missing,
            )
        positions: NDArray[np.int64] = np.asarray(found, dtype=np.int64)
        return positions

    def rows(self, positions: np.ndarray) -> pd.DataFrame:
        """The metadata of the signatures at positions, in that order."""
        return pd.DataFrame(self.columns_at(positions))

    def columns_at(self, positions: np.ndarray) -> dict[str, np.ndarray]:
        """sig_id and every metadata column at positions, as arrays."""
        frame = {"sig_id": self.sig_ids[positions].to_numpy()}
        for name, column in self.columns.items():
            if isinstance(column, pd.Categorical):
                frame[name] = self._labels[name][column.codes[positions]]
            else:
                frame[name] = column[positions]
        return frame

    def column(self, name: str) -> np.ndarray:
        column = self.columns[name]
        return np.asarray(column, dtype=object) if isinstance(column, pd.Categorical) else column

    def select(self, filters: Mapping[str, object] | None) -> Selection:
        """The signatures passing every filter (all of them without filters)."""
        n = len(self)
        if not filters:
            return Selection.every(n)
        keep = np.ones(n, dtype=bool)
        for name, wanted in filters.items():
            keep &= self._passing(name, wanted)
        positions = np.flatnonzero(keep).astype(np.int64)
        if positions.size == 0:
            return Selection(positions, 0, 0)
        return Selection(positions, int(positions[0]), int(positions[-1]) + 1)

    def _passing(self, name: str, wanted: object) -> np.ndarray:
        if name not in self.columns:
            known = ", ".join(sorted(set(FILTER_FIELDS) & set(self.columns)))
            raise InvalidQueryError(f"no filter field {name!r}; filter on {known}", field=name)
        column = self.columns[name]
        if isinstance(column, pd.Categorical):
            if isinstance(wanted, Mapping):
                raise InvalidQueryError(f"{name} is text: give a list of values", field=name)
            labels = [self._label(name, v) for v in _listed(wanted)]
            codes = np.flatnonzero(column.categories.isin([v for v in labels if v is not None]))
            return np.isin(column.codes, codes)
        if isinstance(wanted, Mapping):
            low, high = (
                _number(wanted.get("min", -np.inf), name),
                _number(wanted.get("max", np.inf), name),
            )
            return (column >= low) & (column <= high)
        return np.isin(column, np.array([_number(v, name) for v in _listed(wanted)]))

    def label(self, name: str, value: str) -> str | None:
        """The category of text field `name` that `value` names (regardless of case), or None."""
        return self._label(name, value) if name in self.columns else None

    def refuse_unmatched(self, filters: Mapping[str, object] | None) -> None:
        """InvalidQueryError naming a filter field none of whose given values (or whose range)
        any signature has, with some that they have, or filters that keep no signature together:
        such filters would search nothing, and an empty answer would hide a misspelt cell line or
        a dose in the wrong unit. A value among others that matches nothing is reported by
        `filter_report` instead."""
        for name, wanted in (filters or {}).items():
            if name not in self.columns:
                continue
            unmatched = self._field_report(name, wanted)[1]
            if len(unmatched) == (1 if isinstance(wanted, Mapping) else len(_listed(wanted))):
                raise InvalidQueryError(
                    f"no signature has {name} {' or '.join(unmatched)}; "
                    f"the index has {self._some_values(name)}",
                    field=name,
                )
        # one field that passed keeps some signature (every category and distinct number
        # names one); only several together can keep none, and only then is a pass needed
        if filters and len(filters) > 1 and self.select(filters).positions.size == 0:
            fields = ", ".join(filters)
            raise InvalidQueryError(
                f"no signature passes these filters together ({fields}; each alone keeps some)",
                field=next(iter(filters)),
            )

    def _some_values(self, name: str, n: int = 10) -> str:
        column = self.columns[name]
        if isinstance(column, pd.Categorical):
            present = [str(label) for label in self._labels[name]]
        else:
            present = [f"{value:g}" for value in self._distinct(name)]
        shown = ", ".join(present[:n])
        return f"{shown} and {len(present) - n} more" if len(present) > n else shown

    def _label(self, name: str, value: object) -> str | None:
        """The category of text field `name` that `value` names: itself, else the one category
        equal to it regardless of case; None when it names none (or several)."""
        text = str(value)
        column = self.columns[name]
        assert isinstance(column, pd.Categorical), "a text field"
        if text in column.categories:
            return text
        if name not in self._folded:
            folded: dict[str, list[str]] = {}
            for category in self._labels[name]:
                folded.setdefault(str(category).casefold(), []).append(str(category))
            self._folded[name] = folded
        found = self._folded[name].get(text.casefold(), [])
        return found[0] if len(found) == 1 else None

    def filter_report(self, filters: Mapping[str, object] | None) -> dict[str, dict[str, Any]]:
        """Per filter field: {"read_as": {given: category}} for text matched regardless of case,
        and "unmatched": the values (or bounds) that keep no signature. Empty without filters.
        Answered from the categories and the distinct numbers, without a pass over the signatures
        (`select` has validated the filters)."""
        report: dict[str, dict[str, Any]] = {}
        for name, wanted in (filters or {}).items():
            if name not in self.columns:
                continue
            read_as, unmatched = self._field_report(name, wanted)
            if read_as or unmatched:
                report[name] = {"read_as": read_as, "unmatched": unmatched}
        return report

    def _field_report(self, name: str, wanted: object) -> tuple[dict[str, str], list[str]]:
        if not isinstance(self.columns[name], pd.Categorical):
            present = self._distinct(name)
            if isinstance(wanted, Mapping):
                low = _number(wanted.get("min", -np.inf), name)
                high = _number(wanted.get("max", np.inf), name)
                kept = np.any((present >= low) & (present <= high))
                return {}, [] if kept else [f"{wanted.get('min', '')}..{wanted.get('max', '')}"]
            return {}, [str(v) for v in _listed(wanted) if _number(v, name) not in present]
        read_as, unmatched = {}, []
        for value in _listed(wanted):
            label = self._label(name, value)  # every category names at least one signature
            if label is None:
                unmatched.append(str(value))
            elif label != str(value):
                read_as[str(value)] = label
        return read_as, unmatched

    def _distinct(self, name: str) -> np.ndarray:
        """The distinct values of a number column (NaN left out), found once."""
        if name not in self._numbers:
            values = np.asarray(self.columns[name], dtype=np.float64)
            self._numbers[name] = np.unique(values[~np.isnan(values)])
        return self._numbers[name]


def _listed(wanted: object) -> list[object]:
    if isinstance(wanted, str | int | float):
        return [wanted]
    if isinstance(wanted, list | tuple | set | frozenset):
        return list(wanted)
    raise InvalidQueryError(f"a filter takes a list of values, not {type(wanted).__name__}")


def _number(value: object, name: str) -> float:
    """A filter's number: finite, or an open bound of a range (-inf, inf: min or max left out)."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        number = np.nan
    if np.isnan(number) or (np.isinf(number) and not isinstance(value, float)):
        raise InvalidQueryError(f"{name} filters take numbers, not {value!r}", field=name)
    return number
