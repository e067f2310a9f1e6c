"""Who is told about a course correction, and what they are told: the people who answer for its
subject (`Audience`), their inbox and email (one notice, or a digest), and the webhook events
with the correction's payload. Used by the engine after a rescore and by the services when a
person acts on a correction."""

import hashlib
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from alignment_service.notifications.email import DIGEST_KIND
from alignment_service.notifications.services import Notice, notify_all
from alignment_service.notifications.webhooks import Event, emit_events
from feedback import selectors
from feedback.models import ACTIVE_CORRECTION, CourseCorrection, SubjectType, Trigger
from feedback.world import Correction
from goals.models import Goal
from teams.models import Organization, Team, TeamKind, TeamMember


class Audience:
    """Who answers for a correction's subject, resolved in memory from three queries: the
    goal's owner, the team's lead, and the members of every steering group that is the goal's
    team, an ancestor of it, or the team of an ancestor goal."""

    def __init__(self, org: Organization) -> None:
        self.teams = {t.id: t for t in Team.objects.filter(organization=org).only("id", "parent_id", "kind", "lead_id")}
        self.goals = {
            str(pk): (owner_id, team_id, parent_id)
            for pk, owner_id, team_id, parent_id in Goal.objects.filter(organization=org).values_list(
                "id", "owner_id", "team_id", "parent_id"
            )
        }
        self.steering_members: dict[Any, set[Any]] = defaultdict(set)
        for team_id, user_id in TeamMember.objects.filter(
            organization=org, team__kind=TeamKind.STEERING_GROUP
        ).values_list("team_id", "user_id"):
            self.steering_members[team_id].add(user_id)

    def of(self, correction: Correction) -> set[Any]:
        recipients: set[Any] = set()
        team_ids: list[Any] = [correction.team_id]
        if correction.subject_type == SubjectType.GOAL and correction.subject_id in self.goals:
            recipients.add(self.goals[correction.subject_id][0])
            goal_id: Any = correction.subject_id
            seen: set[Any] = set()
            while goal_id is not None and goal_id in self.goals and goal_id not in seen:
                seen.add(goal_id)
                _, team_id, parent_id = self.goals[goal_id]
                team_ids.append(team_id)
                goal_id = str(parent_id) if parent_id else None
        lead = self.teams.get(correction.team_id) if correction.team_id else None
        recipients.add(lead.lead_id if lead else None)
        for team_id in {t for t in team_ids if t is not None}:
            recipients |= self._steering_above(team_id)
        return recipients - {None}

    def _steering_above(self, team_id: Any) -> set[Any]:
        groups = selectors.steering_group_ids_above(self.teams, team_id)
        return set().union(*(self.steering_members[group] for group in groups))


def announce(correction: CourseCorrection, event_type: str) -> None:
    """Tell the people who answer for the subject (inbox, then email) and the webhooks what a
    person did to a cause (with its open symptoms); what happens to a symptom stays quiet."""
    if correction.caused_by_id is not None:
        return
    org = correction.organization
    symptoms = list(correction.symptoms.filter(ACTIVE_CORRECTION, organization=org))
    event = Event(event_type, correction_payload(correction, symptoms), f"{event_type}:{correction.pk}")
    emit_events(org=org, events=[event])  # first: machines are told before people's email is owed
    notify_all(org=org, notices=[_notice(event_type, correction, Audience(org).of(correction))])


def rescore_announcements(
    announcements: list[tuple[str, Correction]], touched: Iterable[Correction], audience: Audience
) -> tuple[list[Event], list[Notice]]:
    """What one rescore says of its corrections: a webhook event per cause, carrying its
    symptoms, and at most one notification per person: the cause itself, or a digest when
    several concern them."""
    symptoms: dict[Any, list[Correction]] = defaultdict(list)
    for correction in touched:
        if correction.caused_by_id is not None:
            symptoms[correction.caused_by_id].append(correction)
    per_person: dict[Any, list[tuple[str, Correction]]] = defaultdict(list)
    for event_type, correction in announcements:
        for recipient in audience.of(correction):
            per_person[recipient].append((event_type, correction))
    by_items: dict[tuple[tuple[str, Any], ...], set[Any]] = defaultdict(set)
    for recipient, items in per_person.items():
        by_items[tuple((event_type, c.pk) for event_type, c in items)].add(recipient)
    corrections = {c.pk: c for _, c in announcements}
    notices = [
        _notice(items[0][0], corrections[items[0][1]], recipients)
        if len(items) == 1
        else _digest([(event_type, corrections[pk]) for event_type, pk in items], recipients, symptoms)
        for items, recipients in by_items.items()
    ]
    events = [
        Event(event_type, correction_payload(c, symptoms.get(c.pk, [])), f"{event_type}:{c.pk}")
        for event_type, c in announcements
    ]
    events += [
        Event("guardrail.breached", correction_payload(c, symptoms.get(c.pk, [])), f"guardrail.breached:{c.pk}")
        for event_type, c in announcements
        if event_type == "course_correction.opened" and c.trigger == Trigger.GUARDRAIL_BREACHED
    ]
    return events, notices


def _notice(event_type: str, correction: Correction, recipients: Iterable[Any]) -> Notice:
    verb = event_type.rsplit(".", 1)[1]
    return Notice(
        recipient_ids=frozenset(recipients), kind=event_type,
        title=f"Course correction {verb}: {Trigger(correction.trigger).label.lower()}",
        body=correction.detail if verb != "resolved" else f"{correction.detail}\n\n{correction.resolution}",
        subject_type="course_correction", subject_id=correction.pk, dedupe_key=f"{event_type}:{correction.pk}",
    )  # fmt: skip


def _digest(
    items: list[tuple[str, Correction]], recipients: Iterable[Any], symptoms: dict[Any, list[Correction]]
) -> Notice:
    lines = []
    for event_type, correction in items:
        verb = event_type.rsplit(".", 1)[1].capitalize()
        explained = symptoms.get(correction.pk, [])
        also = f" (explains {len(explained)} more)" if explained else ""
        lines.append(f"- {verb}: {Trigger(correction.trigger).label.lower()}{also}. {correction.detail}")
    opened = sum(1 for event_type, _ in items if event_type.endswith("opened"))
    title = f"{len(items)} course corrections: {opened} opened, {len(items) - opened} resolved"
    digest_id = hashlib.sha256("|".join(f"{e}:{c.pk}" for e, c in items).encode()).hexdigest()[:32]
    return Notice(
        recipient_ids=frozenset(recipients), kind=DIGEST_KIND, title=title, body="\n".join(lines),
        subject_type="course_correction", subject_id=items[0][1].pk, dedupe_key=f"{DIGEST_KIND}:{digest_id}",
    )  # fmt: skip


def correction_payload(correction: Correction, symptoms: Iterable[Correction] = ()) -> dict[str, Any]:
    """A correction as webhooks carry it; a cause carries its symptoms."""
    return {
        **_payload(correction),
        "caused_by": str(correction.caused_by_id) if correction.caused_by_id else None,
        "symptoms": [_payload(symptom) for symptom in sorted(symptoms, key=lambda c: (c.trigger, str(c.pk)))],
    }


def _payload(correction: Correction) -> dict[str, Any]:
    return {
        "id": str(correction.pk),
        "subject_type": correction.subject_type,
        "subject_id": correction.subject_id,
        "trigger": correction.trigger,
        "severity": correction.severity,
        "detail": correction.detail,
        "recommended_mode": correction.recommended_mode or None,
        "status": correction.status,
        "review_by": correction.review_by.isoformat() if correction.review_by else None,
        "resolution": correction.resolution,
    }
