"""What every reference shares: the caller's organization in one hand-written query (token,
user, membership and org joined), the view decorator built on it, and small row helpers."""

import json
from typing import Any

from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from teams import credentials
from teams.models import Organization

AUTH_SQL = """
SELECT o.id, o.name, o.slug, o.timezone, o.settings, o.created_at, m.role
FROM teams_authtoken t
JOIN teams_user u ON u.id = t.user_id
JOIN teams_membership m ON m.user_id = u.id
JOIN teams_organization o ON o.id = m.organization_id
WHERE t.key_hash = %s AND t.expires_at > now() AND u.is_active AND o.slug = %s
"""


class Unauthorized(Exception):
    pass


def _org(request: HttpRequest, slug: str) -> Organization:
    """The caller's organization in one query (token, user, membership and org joined)."""
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        raise Unauthorized
    with connection.cursor() as cursor:
        cursor.execute(AUTH_SQL, [credentials.digest(header[7:]), slug])
        row = cursor.fetchone()
    if row is None:
        raise Unauthorized
    settings = _json(row[4])
    return Organization(id=row[0], name=row[1], slug=row[2], timezone=row[3], settings=settings, created_at=row[5])


def authenticated(view: Any) -> Any:
    def run(request: HttpRequest, org: str) -> HttpResponse:
        try:
            organization = _org(request, org)
        except Unauthorized:
            return JsonResponse({"detail": "not found"}, status=404)
        return view(request, organization)

    return csrf_exempt(run)


def _rows(cursor: Any, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    cursor.execute(sql, params)
    names = [column.name for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value
