from typing import Any

from rest_framework.metadata import SimpleMetadata
from rest_framework.request import Request


class SchemaPointerMetadata(SimpleMetadata):
    """`OPTIONS` names the view and its media types and points at the OpenAPI schema, the one
    source of truth for fields (DRF's per-action forms do not fit views without a standard
    lookup, such as the direction or the batch ingest)."""

    def determine_metadata(self, request: Request, view: Any) -> dict[str, Any]:
        metadata = super().determine_metadata(request, view)
        metadata["schema"] = request.build_absolute_uri("/api/schema/")
        return metadata

    def determine_actions(self, request: Request, view: Any) -> dict[str, Any]:
        return {}
