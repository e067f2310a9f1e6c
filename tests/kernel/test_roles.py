"""The role matrix of the contract, kept as a table: who may do what inside an organization.

Columns: viewer, member, admin, owner, an API key with `read`, an API key with
`readings:write`. A cell is the expected status code. Below it, a walk over every GET route:
a `read` key reads exactly what a viewer may read.
"""

import json

import pytest

from alignment_service.access import ROLE_RANK, Access, Role, Scope
from alignment_service.notifications.models import WebhookEndpoint
from alignment_service.notifications.webhook_endpoints import webhook_ping, webhook_secret_new
from teams import services
from teams.models import ApiKey, Membership, Team
from tests.factories import TeamFactory, UserFactory
from tests.routes import fill, org_routes, populate

PRINCIPALS = ("viewer", "member", "admin", "owner", "key:read", "key:readings")

# method, path (under /api/v1/orgs/{org}), body, expected status per principal
MATRIX = [
    ("GET", "/", None, (200, 200, 200, 200, 200, 403)),
    ("PATCH", "/", {"name": "Renamed"}, (403, 403, 200, 200, 403, 403)),
    ("DELETE", "/", None, (403, 403, 403, 204, 403, 403)),
    ("GET", "/members/", None, (200, 200, 200, 200, 200, 403)),
    ("POST", "/members/", {"user": "{newcomer}", "role": "member"}, (405, 405, 405, 405, 405, 405)),
    ("PATCH", "/members/{someone}/", {"role": "viewer"}, (403, 403, 200, 200, 403, 403)),
    ("DELETE", "/members/{someone}/", None, (403, 403, 204, 204, 403, 403)),
    ("GET", "/teams/", None, (200, 200, 200, 200, 200, 403)),
    ("GET", "/teams/{team}/", None, (200, 200, 200, 200, 200, 403)),
    ("POST", "/teams/", {"name": "New team"}, (403, 403, 201, 201, 403, 403)),
    ("PATCH", "/teams/{team}/", {"description": "Changed"}, (403, 403, 200, 200, 403, 403)),
    ("PUT", "/teams/{team}/", {"name": "Replaced"}, (403, 403, 200, 200, 403, 403)),
    ("DELETE", "/teams/{team}/", None, (403, 403, 204, 204, 403, 403)),
    ("GET", "/api-keys/", None, (403, 403, 200, 200, 403, 403)),
    ("GET", "/api-keys/{key}/", None, (403, 403, 200, 200, 403, 403)),
    ("POST", "/api-keys/", {"name": "CI", "scopes": ["read"]}, (403, 403, 201, 201, 403, 403)),
    ("DELETE", "/api-keys/{key}/", None, (403, 403, 204, 204, 403, 403)),
    ("GET", "/invitations/", None, (403, 403, 200, 200, 403, 403)),
    ("GET", "/invitations/{invitation}/", None, (403, 403, 200, 200, 403, 403)),
    ("POST", "/invitations/", {"user": "{newcomer}", "role": "member"}, (403, 403, 201, 201, 403, 403)),
    ("POST", "/invitations/", {"email": "new@example.com", "role": "admin"}, (403, 403, 201, 201, 403, 403)),
    ("POST", "/invitations/", {"user": "{newcomer}", "role": "owner"}, (403, 403, 403, 201, 403, 403)),
    ("DELETE", "/invitations/{invitation}/", None, (403, 403, 204, 204, 403, 403)),
    ("GET", "/webhooks/", None, (403, 403, 200, 200, 403, 403)),
    ("GET", "/webhooks/{webhook}/", None, (403, 403, 200, 200, 403, 403)),
    ("GET", "/webhooks/{webhook}/deliveries/", None, (403, 403, 200, 200, 403, 403)),
    ("GET", "/webhooks/{webhook}/deliveries/{delivery}/", None, (403, 403, 200, 200, 403, 403)),
]

CASES = [
    pytest.param(method, path, body, principal, expected[i], id=f"{method} {path} as {principal}")
    for method, path, body, expected in MATRIX
    for i, principal in enumerate(PRINCIPALS)
]


@pytest.fixture
def world(org, member_of):
    owner = member_of(org, Role.OWNER)
    someone = member_of(org, Role.MEMBER)
    team = TeamFactory(organization=org)
    key, _ = services.api_key_create(org=org, created_by=owner, name="existing", scopes=[Scope.READ])
    newcomer = UserFactory()
    access = Access(org=org, user=owner, role=Role.OWNER)
    invitation = services.invitation_create(access=access, role=Role.MEMBER, email="invitee@example.com")
    # Made directly rather than through webhook_endpoint_create, whose URL check would resolve DNS.
    webhook = WebhookEndpoint.objects.create(
        organization=org, url="https://hooks.example.com/a", secret=webhook_secret_new(), created_by=owner
    )
    delivery = webhook_ping(access=access, endpoint=webhook)
    return {
        "owner": owner, "someone": someone, "team": team, "key": key, "newcomer": newcomer,
        "invitation": invitation, "webhook": webhook, "delivery": delivery,
    }  # fmt: skip


def _client(principal, org, world, member_of, client_for, key_client_for):
    if principal == "owner":
        return client_for(world["owner"])
    if principal.startswith("key:"):
        scope = Scope.READ if principal == "key:read" else Scope.READINGS_WRITE
        return key_client_for(org, scopes=(scope,))
    return client_for(member_of(org, Role(principal)))


def _substitute(text, world):
    membership_id = world["someone"].memberships.get().pk
    return (
        text.replace("{someone}", str(membership_id))
        .replace("{team}", str(world["team"].pk))
        .replace("{key}", str(world["key"].pk))
        .replace("{newcomer}", world["newcomer"].username)
        .replace("{invitation}", str(world["invitation"].pk))
        .replace("{webhook}", str(world["webhook"].pk))
        .replace("{delivery}", str(world["delivery"].pk))
    )


@pytest.mark.parametrize(("method", "path", "body", "principal", "expected"), CASES)
def test_role_matrix(method, path, body, principal, expected, org, world, member_of, client_for, key_client_for):
    client = _client(principal, org, world, member_of, client_for, key_client_for)
    url = f"/api/v1/orgs/{org.slug}" + _substitute(path, world)
    data = {k: _substitute(v, world) if isinstance(v, str) else v for k, v in (body or {}).items()}
    response = client.generic(method, url, data=json.dumps(data), content_type="application/json")
    assert response.status_code == expected, response.content
    if expected == 403:
        assert response.json()["errors"][0]["code"] == "permission_denied"
    if expected == 405:
        assert not Membership.objects.filter(user=world["newcomer"]).exists()


def test_refused_writes_change_nothing(org, world, member_of, client_for):
    client = client_for(member_of(org, Role.MEMBER))
    client.patch(f"/api/v1/orgs/{org.slug}/teams/{world['team'].pk}/", {"name": "Hijacked"}, format="json")
    client.delete(f"/api/v1/orgs/{org.slug}/api-keys/{world['key'].pk}/")
    assert Team.objects.get(pk=world["team"].pk).name == world["team"].name
    assert ApiKey.objects.get(pk=world["key"].pk).revoked_at is None


def test_any_member_may_leave(org, member, client_for):
    membership = member.memberships.get()
    response = client_for(member).delete(f"/api/v1/orgs/{org.slug}/members/{membership.pk}/")
    assert response.status_code == 204
    assert not org.memberships.filter(user=member).exists()


def _get_routes():
    for route in org_routes():
        action = route.actions.get("get")
        if action is not None:
            yield route, action, route.view_class.required_roles[action]


GET_ROUTES = list(_get_routes())


def test_the_walk_finds_reads_beyond_a_viewer():
    above_viewer = {route.template for route, _, role in GET_ROUTES if role != Role.VIEWER}
    assert {
        "/api/v1/orgs/{org}/api-keys/",
        "/api/v1/orgs/{org}/webhooks/",
        "/api/v1/orgs/{org}/webhooks/{webhook_pk}/deliveries/{pk}/",
        "/api/v1/orgs/{org}/invitations/",
    } <= above_viewer


@pytest.mark.parametrize(
    ("route", "role"), [(r, role) for r, _, role in GET_ROUTES], ids=[r.template for r, _, _ in GET_ROUTES]
)
def test_a_read_key_reads_what_a_viewer_reads_and_nothing_more(route, role, org, owner, key_client_for):
    populate(org, owner)
    url = fill(route, org)
    read_key = key_client_for(org, scopes=(Scope.READ,))
    every_scope = key_client_for(org, scopes=tuple(Scope.values))

    if ROLE_RANK[role] > ROLE_RANK[Role.VIEWER]:
        for client in (read_key, every_scope):
            response = client.get(url)
            assert response.status_code == 403, response.content
            assert response.json()["errors"][0]["code"] == "permission_denied"
    else:
        assert read_key.get(url).status_code == 200
