"""A database that cannot be reached (down, restarting, out of connections) is a clean 503 in
the error shape, with Retry-After: not a 500, which means a bug."""

import pytest
from django.db import InterfaceError, OperationalError

from alignment_service.db import is_database_unavailable
from teams import authentication


class Unreachable(Exception):
    sqlstate = None


class AdminShutdown(Exception):
    sqlstate = "57P01"


class Deadlock(Exception):
    sqlstate = "40P01"


def _caused_by(error_class, cause):
    error = error_class("database error")
    error.__cause__ = cause
    return error


@pytest.mark.parametrize(
    ("error", "unavailable"),
    [
        (_caused_by(OperationalError, Unreachable("connection refused")), True),
        (_caused_by(OperationalError, AdminShutdown("terminating connection")), True),
        (InterfaceError("connection already closed"), True),
        (_caused_by(OperationalError, Deadlock("deadlock detected")), False),
        (ValueError("not a database error"), False),
    ],
)
def test_which_errors_mean_the_database_is_unavailable(error, unavailable):
    assert is_database_unavailable(error) is unavailable


def test_an_unreachable_database_answers_503_json_with_retry_after(org, owner, client_for, monkeypatch):
    def unreachable(self, request):
        raise _caused_by(OperationalError, Unreachable("connection refused"))

    client = client_for(owner)
    monkeypatch.setattr(authentication.BearerAuthentication, "authenticate", unreachable)
    response = client.post(f"/api/v1/orgs/{org.slug}/teams/", {"name": "x"}, format="json")
    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    assert int(response["Retry-After"]) > 0
    body = response.json()
    assert body["type"] == "server_error"
    assert body["errors"][0]["code"] == "database_unavailable"
