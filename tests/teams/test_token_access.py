"""A token and its membership under `/orgs/{slug}/` are read in one query, by SQL on
PostgreSQL and by the ORM elsewhere, with the same result."""

import pytest

from teams import credentials, selectors, services
from tests.factories import MembershipFactory, OrganizationFactory


def _fields(instance):
    return {field.attname: getattr(instance, field.attname) for field in instance._meta.concrete_fields}


@pytest.mark.django_db
@pytest.mark.parametrize("slug_case", [str.lower, str.upper])
def test_both_paths_read_the_same_membership(slug_case, django_assert_num_queries):
    org = OrganizationFactory(slug="Mixed-Case", settings={"score_threshold": 70})
    membership = MembershipFactory(organization=org, role="admin")
    token, secret = services.auth_token_create(user=membership.user)
    key_hash = credentials.digest(secret)

    with django_assert_num_queries(1):
        found = selectors.membership_by_token(key_hash=key_hash, org_slug=slug_case(org.slug))
    with django_assert_num_queries(1):
        fallback = selectors._membership_by_token_orm(key_hash=key_hash, org_slug=slug_case(org.slug))

    for read_membership, read_token in (found, fallback):
        assert _fields(read_membership) == _fields(membership)
        assert _fields(read_membership.organization) == _fields(org)
        assert read_membership.user.pk == read_token.user.pk == membership.user_id
        assert (read_token.pk, read_token.expires_at) == (token.pk, token.expires_at)
    assert _fields(found[0].user) == _fields(fallback[0].user)
    assert found[0].organization.settings == {"score_threshold": 70}


@pytest.mark.django_db
def test_no_membership_and_no_token_read_as_none():
    org, other = OrganizationFactory(), OrganizationFactory()
    membership = MembershipFactory(organization=other)
    _, secret = services.auth_token_create(user=membership.user)
    for read in (selectors.membership_by_token, selectors._membership_by_token_orm):
        assert read(key_hash=credentials.digest(secret), org_slug=org.slug) is None
        assert read(key_hash=credentials.digest("not-a-token"), org_slug=other.slug) is None
