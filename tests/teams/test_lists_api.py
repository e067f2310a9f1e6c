"""Contract tests for the teams app's lists: team filters and ordering, pagination, and the
query count of every list at two sizes (no N+1)."""

from typing import Any

import pytest

from alignment_service.access import Scope
from teams.models import Organization, Team, TeamKind, TeamMember, User
from tests.factories import MembershipFactory, TeamFactory
from tests.teams.support import ClientFor, MemberOf, assert_error, attrs, ids, new_key, url

pytestmark = pytest.mark.django_db


# --- Team filters and ordering --------------------------------------------------------------


def test_team_filters(org: Organization, admin: User, member: User, client_for: ClientFor) -> None:
    root = TeamFactory(organization=org, name="Root")
    child = TeamFactory(organization=org, name="Child", parent=root, lead=member)
    group = TeamFactory(organization=org, name="Group", kind=TeamKind.STEERING_GROUP, parent=root)
    loose = TeamFactory(organization=org, name="Loose", lead=admin)
    client = client_for(member)

    def listed(query: str) -> set[str]:
        response = client.get(url(org, f"teams/?{query}"))
        assert response.status_code == 200, response.content
        assert response.json()["count"] == len(response.json()["results"])
        return set(ids(response))

    assert listed(f"parent={root.pk}") == {str(child.pk), str(group.pk)}
    assert listed(f"parent={child.pk}") == set()
    assert listed("kind=steering_group") == {str(group.pk)}
    assert listed("kind=team") == {str(root.pk), str(child.pk), str(loose.pk)}
    assert listed(f"lead={member.pk}") == {str(child.pk)}
    assert listed(f"lead={admin.pk}") == {str(loose.pk)}
    assert listed(f"parent={root.pk}&kind=team") == {str(child.pk)}
    assert listed("") == {str(t.pk) for t in (root, child, group, loose)}


@pytest.mark.parametrize(("query", "attr"), [("parent=nope", "parent"), ("kind=squad", "kind"), ("lead=abc", "lead")])
def test_team_filters_refuse_bad_values(
    org: Organization, member: User, client_for: ClientFor, query: str, attr: str
) -> None:
    response = client_for(member).get(url(org, f"teams/?{query}"))

    assert_error(response, 400)
    assert attrs(response) == {attr}


@pytest.mark.parametrize(
    ("ordering", "expected"), [("name", ["Alpha", "Bravo", "Charlie"]), ("-name", ["Charlie", "Bravo", "Alpha"])]
)
def test_team_ordering(
    org: Organization, member: User, client_for: ClientFor, ordering: str, expected: list[str]
) -> None:
    for name, slug in (("Bravo", "a"), ("Charlie", "b"), ("Alpha", "c")):
        TeamFactory(organization=org, name=name, slug=slug)

    response = client_for(member).get(url(org, f"teams/?ordering={ordering}"))

    assert response.status_code == 200
    assert [item["name"] for item in response.json()["results"]] == expected


def test_team_default_order_is_by_name(org: Organization, member: User, client_for: ClientFor) -> None:
    for name, slug in (("Bravo", "a"), ("Charlie", "b"), ("Alpha", "c")):
        TeamFactory(organization=org, name=name, slug=slug)

    response = client_for(member).get(url(org, "teams/?ordering=slug"))
    default = client_for(member).get(url(org, "teams/"))

    assert [item["slug"] for item in response.json()["results"]] == ["a", "b", "c"]
    assert [item["name"] for item in default.json()["results"]] == ["Alpha", "Bravo", "Charlie"]


# --- Pagination -------------------------------------------------------------------------------


def make_teams(org: Organization, count: int) -> None:
    Team.objects.bulk_create(Team(organization=org, name=f"Team {n:04}", slug=f"team-{n:04}") for n in range(count))


def test_limit_is_capped_at_200_and_links_are_absolute(org: Organization, member: User, client_for: ClientFor) -> None:
    make_teams(org, 205)
    client = client_for(member)

    response = client.get(url(org, "teams/?limit=500"))

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 205
    assert len(body["results"]) == 200
    assert body["previous"] is None
    assert body["next"].startswith(f"http://testserver/api/v1/orgs/{org.slug}/teams/?")
    rest = client.get(body["next"]).json()
    assert len(rest["results"]) == 5
    assert rest["next"] is None
    assert rest["previous"].startswith("http://testserver/")
    assert len(set(ids(response)) | set(ids(client.get(body["next"])))) == 205


# --- Query counts -----------------------------------------------------------------------------
# Per request: the bearer token (with its user), the membership (with its org), COUNT, the page,
# plus one prefetch of team members for teams. The same at both sizes: no N+1.

MEMBERS_LIST_QUERIES = 3
TEAMS_LIST_QUERIES = 4
API_KEYS_LIST_QUERIES = 3
ORGS_LIST_QUERIES = 3


@pytest.mark.parametrize("size", [3, 30])
def test_member_list_query_count(
    org: Organization,
    owner: User,
    client_for: ClientFor,
    django_assert_num_queries: Any,
    size: int,
) -> None:
    MembershipFactory.create_batch(size - 1, organization=org)
    client = client_for(owner)

    with django_assert_num_queries(MEMBERS_LIST_QUERIES):
        response = client.get(url(org, "members/"))

    assert len(response.json()["results"]) == size


@pytest.mark.parametrize("size", [3, 30])
def test_team_list_query_count(
    org: Organization,
    owner: User,
    member_of: MemberOf,
    client_for: ClientFor,
    django_assert_num_queries: Any,
    size: int,
) -> None:
    people = [member_of(org) for _ in range(3)]
    parent = TeamFactory(organization=org)
    for n in range(size - 1):
        team = TeamFactory(organization=org, parent=parent, lead=people[n % 3])
        TeamMember.objects.bulk_create(TeamMember(organization=org, team=team, user=user) for user in people)
    client = client_for(owner)

    with django_assert_num_queries(TEAMS_LIST_QUERIES):
        response = client.get(url(org, "teams/"))

    results = response.json()["results"]
    assert len(results) == size
    assert sum(len(item["members"]) for item in results) == 3 * (size - 1)


@pytest.mark.parametrize("size", [3, 30])
def test_api_key_list_query_count(
    org: Organization,
    admin: User,
    client_for: ClientFor,
    django_assert_num_queries: Any,
    size: int,
) -> None:
    for _ in range(size):
        new_key(org, [Scope.READ])
    client = client_for(admin)

    with django_assert_num_queries(API_KEYS_LIST_QUERIES):
        response = client.get(url(org, "api-keys/"))

    assert len(response.json()["results"]) == size


@pytest.mark.parametrize("size", [3, 30])
def test_org_list_query_count(member: User, client_for: ClientFor, django_assert_num_queries: Any, size: int) -> None:
    for _ in range(size - 1):
        MembershipFactory(user=member)
    client = client_for(member)

    with django_assert_num_queries(ORGS_LIST_QUERIES):
        response = client.get("/api/v1/orgs/")

    assert len(response.json()["results"]) == size
