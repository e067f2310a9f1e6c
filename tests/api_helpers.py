"""What API tests share: the organization's base URL and the checks of the error body."""


def api(org, path=""):
    return f"/api/v1/orgs/{org.slug}/{path}"


def assert_status(response, status_code, code=None):
    """`status_code`, and when `code` is given, an error of that code among the body's errors."""
    assert response.status_code == status_code, response.content
    if code is not None:
        assert code in {error["code"] for error in response.json()["errors"]}, response.json()


def assert_invalid(response, *fields):
    """A 400 in the validation shape that names exactly `fields`."""
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["type"] == "validation_error", body
    assert {error["attr"] for error in body["errors"]} == set(fields), body
