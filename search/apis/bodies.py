"""Request fields: a key an operation does not take is refused by name, never ignored.

A misspelt key (`dn` for `down`, `filter` for `filters`, `cell` for `cell_id`) would otherwise
run another request than the one meant, a search of one side or of every signature, and answer it
as if asked. The same rule holds for JSON bodies and for query parameters.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

MAX_FILTER_VALUES = 200
RANGE_SCHEMA = {
    "type": "object",
    "properties": {"min": {"type": "number"}, "max": {"type": "number"}},
    "additionalProperties": False,
}


class StrictSerializer(serializers.Serializer):
    """A request's fields (a JSON body, or the query parameters of a GET): the declared ones,
    and an error for each other key."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            unknown = sorted(str(key) for key in data if key not in self.fields)
            if unknown:
                takes = ", ".join(self.fields)
                raise serializers.ValidationError(
                    {key: [f"not a field of this request; it takes {takes}"] for key in unknown}
                )
        return super().to_internal_value(data)


@extend_schema_field({"oneOf": [{"type": "array", "items": {"type": "string"}}, RANGE_SCHEMA]})
class FilterValuesField(serializers.Field):
    """A filter's values: a list of them, or a range {"min": a, "max": b} of a number field
    (either bound may be left out)."""

    default_error_messages = {
        "kind": 'give a list of values or a range {{"min": a, "max": b}}; got {kind}',
        "range": "a range takes min and max only; got {keys}",
        "bound": "{bound} must be a number; got {value!r}",
    }

    def to_internal_value(self, data: Any) -> list[str] | dict[str, float]:
        if isinstance(data, dict):
            return self._range(data)
        if isinstance(data, list):
            values = serializers.ListField(
                child=serializers.CharField(max_length=255), max_length=MAX_FILTER_VALUES
            )
            return values.run_validation(data)
        self.fail("kind", kind=type(data).__name__)
        raise AssertionError("fail raises")

    def _range(self, data: dict[str, Any]) -> dict[str, float]:
        if not data or set(data) - {"min", "max"}:
            self.fail("range", keys=", ".join(map(str, data)) or "nothing")
        bounds = {}
        for key, value in data.items():
            if isinstance(value, bool) or not isinstance(value, int | float):
                self.fail("bound", bound=key, value=value)
            bounds[key] = float(value)
        return bounds

    def to_representation(self, value: Any) -> Any:
        return value


FILTERS_HELP = (
    'per field, a list of values, or for a number field a range {"min": a, "max": b}; a '
    "signature passes when every field matches"
)


def filters_field(help_text: str = FILTERS_HELP) -> serializers.DictField:
    return serializers.DictField(
        child=FilterValuesField(), required=False, default=dict, help_text=help_text
    )
