"""Domain errors, raised deep and mapped to HTTP answers once, in portal.exceptions."""

from __future__ import annotations


class PortalError(Exception):
    """Base of the errors a user's input can cause; `payload` travels to the API answer."""

    def __init__(self, message: str, **payload: object) -> None:
        super().__init__(message)
        self.payload = payload


class UnknownGeneError(PortalError):
    """No gene of the registry matches an identifier."""


class GeneOutsideIndexError(UnknownGeneError):
    """A gene of the registry that the search index's gene space lacks (no signature holds it)."""


class AmbiguousGeneError(PortalError):
    """An identifier (an alias) names several genes; the payload holds the candidates."""


class UnknownSignatureError(PortalError):
    """No signature of the index has that id."""


class UnknownPerturbagenError(PortalError):
    """No signature of the index has that perturbagen id."""


class InvalidQueryError(PortalError):
    """A query the engine cannot score: gene-set sizes, an unknown filter, mode, score or path."""


class IndexArtifactError(Exception):
    """A search index directory that cannot serve: absent, of another format, or corrupt (a file
    missing, of another shape or size, or failing its checksum). Not the user's doing."""
