"""Frozen configs that round-trip through plain dicts (JSON manifests, checkpoints)."""

from __future__ import annotations

from dataclasses import Field, asdict, fields, is_dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Self, get_type_hints


class FrozenConfig:
    """Mixin for frozen dataclasses: `as_dict()` and `from_dict()`, nested configs included.

    Lists read back as tuples (JSON has no tuples); unknown fields are refused, missing ones take
    their defaults.
    """

    if TYPE_CHECKING:  # what @dataclass gives every subclass (dataclasses.asdict, fields)
        __dataclass_fields__: ClassVar[dict[str, Field[Any]]]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, stored: dict[str, Any]) -> Self:
        hints = get_type_hints(cls)
        known = {field.name for field in fields(cls)}
        unknown = sorted(set(stored) - known)
        if unknown:
            raise ValueError(f"{cls.__name__}: unknown fields {unknown}")
        values: dict[str, Any] = {}
        for name, value in stored.items():
            kind = hints[name]
            if is_dataclass(kind) and isinstance(kind, type) and issubclass(kind, FrozenConfig):
                value = kind.from_dict(value)
            elif isinstance(value, list):
                value = tuple(value)
            values[name] = value
        return cls(**values)
