"""Teams and steering groups: a tree inside one organization, with members."""

from typing import Any

from django.db import transaction
from django.utils.text import slugify

from alignment_service.access import Access
from alignment_service.activity.services import activity_record
from alignment_service.db import (
    check_parent_acyclic,
    delete_or_conflict,
    matching_identifier,
)
from alignment_service.errors import Conflict, ValidationFailed
from alignment_service.unset import UNSET, NotGiven, given
from teams.models import (
    Organization,
    Team,
    TeamKind,
    TeamMember,
    User,
)


def _unique_team_slug(org: Organization, name: str, exclude: Any = None) -> str:
    base = slugify(name)[:50] or "team"
    similar = Team.objects.filter(organization=org, slug__istartswith=base).exclude(pk=exclude)
    taken = {slug.lower() for slug in similar.values_list("slug", flat=True)}
    slug, n = base, 2
    while slug in taken:
        slug, n = f"{base}-{n}", n + 1
    return slug


@transaction.atomic
def team_create(
    *,
    access: Access,
    name: str,
    slug: str = "",
    kind: str = TeamKind.TEAM,
    parent: Team | None = None,
    lead: User | None = None,
    description: str = "",
    members: list[User] | None = None,
) -> Team:
    if not slug:
        slug = _unique_team_slug(access.org, name)
    elif matching_identifier(Team.objects.filter(organization=access.org), "slug", slug).exists():
        raise ValidationFailed("A team with this slug already exists.", code="unique", attr="slug")
    team = Team.objects.create(
        organization=access.org, name=name, slug=slug, kind=kind, parent=parent, lead=lead, description=description
    )
    _set_team_members(team, members or [])
    activity_record(
        access=access,
        verb="team.created",
        subject_type="team",
        subject_id=team.pk,
        summary=f"created {team.kind} {team.name}",
    )
    return team


@transaction.atomic
def team_update(
    *,
    access: Access,
    team: Team,
    name: str | NotGiven = UNSET,
    slug: str | NotGiven = UNSET,
    kind: str | NotGiven = UNSET,
    parent: Team | NotGiven | None = UNSET,
    lead: User | NotGiven | None = UNSET,
    description: str | NotGiven = UNSET,
    members: list[User] | None = None,
) -> Team:
    """Change the fields passed (a field left `UNSET` keeps its value); `members`, when given,
    replaces the team's members."""
    fields = given(name=name, slug=slug, kind=kind, parent=parent, lead=lead, description=description)
    team = Team.objects.select_for_update(no_key=True).get(pk=team.pk, organization=access.org)
    if parent is not UNSET:
        check_parent_acyclic(team, parent, message="A team cannot be its own ancestor.")
    if (
        slug is not UNSET
        and matching_identifier(Team.objects.filter(organization=access.org), "slug", slug).exclude(pk=team.pk).exists()
    ):
        raise ValidationFailed("A team with this slug already exists.", code="unique", attr="slug")
    for field_name, value in fields.items():
        setattr(team, field_name, value)
    team.save()
    if members is not None:
        _set_team_members(team, members)
    activity_record(
        access=access, verb="team.updated", subject_type="team", subject_id=team.pk, summary=f"updated {team.name}",
        data={"fields": sorted({*fields, *(["members"] if members is not None else [])})},
    )  # fmt: skip
    return team


def _set_team_members(team: Team, users: list[User]) -> None:
    wanted = {user.pk for user in users}
    TeamMember.objects.filter(team=team).exclude(user_id__in=wanted).delete()
    existing = set(TeamMember.objects.filter(team=team).values_list("user_id", flat=True))
    TeamMember.objects.bulk_create(
        [TeamMember(organization_id=team.organization_id, team=team, user_id=pk) for pk in wanted - existing]
    )


@transaction.atomic
def team_delete(*, access: Access, team: Team) -> None:
    if Team.objects.filter(parent=team).exists():
        raise Conflict("Move or delete this team's child teams first.", code="team_has_children")
    team_id, name = team.pk, team.name
    delete_or_conflict(team, "Move this team's goals and strategies to another team first.", code="team_in_use")
    activity_record(
        access=access, verb="team.deleted", subject_type="team", subject_id=team_id, summary=f"deleted {name}"
    )
