"""A shard's answers and calls made to travel: numpy arrays in JSON, each as its dtype, shape and
bytes in base64 (search/runtime/shards.py sends large ones through Redis as they are)."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

import numpy as np


def encoded(answer: Mapping[str, Any]) -> dict[str, Any]:
    """A shard's answer made JSON-able: each array as its dtype, shape and bytes in base64."""
    return {
        name: _in_base64(*array_parts(value)) if isinstance(value, np.ndarray) else value
        for name, value in answer.items()
    }


def decoded(answer: Mapping[str, Any]) -> dict[str, Any]:
    """The arrays of an answer `encoded` gave (other values as they are)."""
    return {
        name: array_of(value, base64.b64decode(value["data"])) if _is_array(value) else value
        for name, value in answer.items()
    }


def array_parts(array: np.ndarray) -> tuple[dict[str, Any], bytes]:
    """An array's layout (dtype, shape) and its bytes in C order, which array_of puts together."""
    return {"dtype": str(array.dtype), "shape": list(array.shape)}, array.tobytes()


def _in_base64(layout: dict[str, Any], raw: bytes) -> dict[str, Any]:
    return {**layout, "data": base64.b64encode(raw).decode("ascii")}


def _is_array(value: Any) -> bool:
    return isinstance(value, Mapping) and "dtype" in value and "shape" in value


def array_of(layout: Mapping[str, Any], raw: bytes) -> np.ndarray:
    """The array of `raw` bytes with layout's dtype and shape (writable: a copy)."""
    return np.frombuffer(raw, dtype=np.dtype(layout["dtype"])).reshape(layout["shape"]).copy()
