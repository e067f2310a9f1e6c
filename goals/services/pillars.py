"""Strategy pillars: the company's, and each team's area strategy."""

from django.db import transaction

from alignment_service.access import Access
from alignment_service.db import check_parent_acyclic, delete_or_conflict
from alignment_service.errors import PermissionDenied
from alignment_service.unset import UNSET, NotGiven, given
from goals.models import StrategyPillar
from goals.services.common import is_team_lead, owe_rescore, record_activity
from teams.models import Team, User


def _require_pillar_editor(access: Access, team: Team | None) -> None:
    if access.is_admin or is_team_lead(access, team):
        return
    if team is None:
        raise PermissionDenied("Only admins can write company pillars.")
    raise PermissionDenied("Only the team's lead or an admin can write its area strategy.")


@transaction.atomic
def pillar_create(
    *,
    access: Access,
    title: str,
    description: str = "",
    team: Team | None = None,
    parent: StrategyPillar | None = None,
    owner: User | NotGiven | None = UNSET,
) -> StrategyPillar:
    """A new pillar; its owner defaults to the writer."""
    _require_pillar_editor(access, team)
    pillar = StrategyPillar.objects.create(
        organization=access.org, title=title, description=description, team=team, parent=parent,
        owner=access.user if owner is UNSET else owner,
    )  # fmt: skip
    record_activity(access, "strategy.created", "strategy", pillar.pk, f"created strategy pillar '{pillar.title}'")
    return pillar


@transaction.atomic
def pillar_update(
    *,
    access: Access,
    pillar: StrategyPillar,
    title: str | NotGiven = UNSET,
    description: str | NotGiven = UNSET,
    team: Team | NotGiven | None = UNSET,
    parent: StrategyPillar | NotGiven | None = UNSET,
    owner: User | NotGiven | None = UNSET,
) -> StrategyPillar:
    """Change the fields passed; a field left `UNSET` keeps its value."""
    fields = given(title=title, description=description, team=team, parent=parent, owner=owner)
    _require_pillar_editor(access, pillar.team)
    if team is not UNSET:
        _require_pillar_editor(access, team)
    if parent is not UNSET:
        check_parent_acyclic(pillar, parent)
    for name, value in fields.items():
        setattr(pillar, name, value)
    pillar.save()
    record_activity(
        access, "strategy.updated", "strategy", pillar.pk, f"updated strategy pillar '{pillar.title}'", fields
    )
    return pillar


@transaction.atomic
def pillar_delete(*, access: Access, pillar: StrategyPillar) -> None:
    _require_pillar_editor(access, pillar.team)
    pillar_id, title = pillar.pk, pillar.title
    delete_or_conflict(pillar, "Pillars refine this one; move them first.", code="pillar_in_use")
    record_activity(access, "strategy.deleted", "strategy", pillar_id, f"deleted strategy pillar '{title}'")
    owe_rescore(access.org)
