"""The API's JSON parser: a body nested past the decoder's depth is a 400, as any malformed JSON."""

from __future__ import annotations

from typing import Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError


class JSONParser(parsers.JSONParser):
    """DRF's parser, which turns ValueError into ParseError; Python's decoder raises
    RecursionError instead for arrays or objects nested about a thousand deep."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError as error:
            raise ParseError("JSON parse error - nested too deep to read") from error
