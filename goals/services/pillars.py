"""Strategy pillars: the company's, and each team's area strategy."""

from typing import Any

from django.db import transaction

from alignment_service.access import Access
from alignment_service.db import check_parent_acyclic, delete_or_conflict
from alignment_service.errors import PermissionDenied
from goals.models import StrategyPillar
from goals.services.common import is_team_lead, owe_rescore, record_activity
from teams.models import Team


def _require_pillar_editor(access: Access, team: Team | None) -> None:
    if access.is_admin or is_team_lead(access, team):
        return
    if team is None:
        raise PermissionDenied("Only admins can write company pillars.")
    raise PermissionDenied("Only the team's lead or an admin can write its area strategy.")


@transaction.atomic
def pillar_create(*, access: Access, **fields: Any) -> StrategyPillar:
    _require_pillar_editor(access, fields.get("team"))
    fields.setdefault("owner", access.user)
    pillar = StrategyPillar.objects.create(organization=access.org, **fields)
    record_activity(access, "strategy.created", "strategy", pillar.pk, f"created strategy pillar '{pillar.title}'")
    return pillar


@transaction.atomic
def pillar_update(*, access: Access, pillar: StrategyPillar, **fields: Any) -> StrategyPillar:
    _require_pillar_editor(access, pillar.team)
    if "team" in fields:
        _require_pillar_editor(access, fields["team"])
    if "parent" in fields:
        check_parent_acyclic(pillar, fields["parent"])
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
