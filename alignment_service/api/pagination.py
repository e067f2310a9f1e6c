from typing import Any

from rest_framework import pagination


def with_link_examples(schema: dict[str, Any], example: str) -> dict[str, Any]:
    for link in ("next", "previous"):
        schema["properties"][link]["example"] = example
    schema["required"] = sorted(schema["properties"])  # every page has every key
    return schema


class LimitOffsetPagination(pagination.LimitOffsetPagination):
    default_limit = 50
    max_limit = 200

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        example = "https://alignment.example.com/api/v1/orgs/acme/goals/?limit=50&offset=100"
        return with_link_examples(super().get_paginated_response_schema(schema), example)


class CursorPagination(pagination.CursorPagination):
    """For time-ordered, unbounded lists: stable under inserts, newest first."""

    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 200
    ordering = ("-created_at", "-id")

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        example = "https://alignment.example.com/api/v1/orgs/acme/activity/?cursor=cD0yMDI2LTAzLTAy"
        return with_link_examples(super().get_paginated_response_schema(schema), example)
