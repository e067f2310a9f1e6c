"""Discover every route under `/api/v1/orgs/{org}/` from the URL configuration.

Routes added by later apps are walked automatically: a route's `{pk}` is filled with a real
object of the view's model in the target organization when one exists, so a 404 proves
scoping rather than absence.
"""

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.urls import URLPattern, URLResolver, get_resolver

_GROUP = re.compile(r"\(\?P<(?P<name>\w+)>[^)]*\)|<(?:\w+:)?(?P<name2>\w+)>")


@dataclass(frozen=True)
class Route:
    template: str  # e.g. "/api/v1/orgs/{org}/teams/{pk}/"
    methods: tuple[str, ...]
    view_class: Any
    actions: dict[str, str]

    @property
    def params(self) -> list[str]:
        return re.findall(r"{(\w+)}", self.template)

    def model(self) -> Any:
        return getattr(self.view_class, "model", None)


def _walk(patterns: list[Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), pattern.callback


def _template(regex: str) -> str:
    path = regex.replace("^", "").replace("$", "").replace("\\Z", "").replace("\\.", ".")
    path = _GROUP.sub(lambda m: "{" + (m.group("name") or m.group("name2")) + "}", path)
    return "/" + path


def _methods(callback: Any) -> tuple[tuple[str, ...], dict[str, str]]:
    actions = getattr(callback, "actions", None)
    if actions:
        return tuple(m.upper() for m in actions if m not in ("head", "options")), dict(actions)
    view_class = callback.view_class
    names = [m for m in ("get", "post", "put", "patch", "delete") if hasattr(view_class, m)]
    return tuple(m.upper() for m in names), {}


def org_routes() -> list[Route]:
    routes = []
    for regex, callback in _walk(get_resolver().url_patterns):
        template = _template(regex)
        if not template.startswith("/api/v1/orgs/{org}/") or "{format}" in template:
            continue
        methods, actions = _methods(callback)
        view_class = getattr(callback, "cls", None) or callback.view_class
        routes.append(Route(template=template, methods=methods, view_class=view_class, actions=actions))
    return routes


def populate(org: Any, owner: Any) -> None:
    """One of everything an organization owns, so that a route's ids name real objects."""
    from alignment_service.access import Access, Role, Scope
    from alignment_service.notifications.models import WebhookEndpoint
    from alignment_service.notifications.webhook_endpoints import webhook_ping, webhook_secret_new
    from feedback import services as feedback_services
    from feedback.models import ScoreSnapshot
    from goals import services as goals_services
    from goals.models import Reading
    from teams import services
    from tests.factories import CycleFactory, GoalFactory, MetricFactory, PillarFactory, TeamFactory, UserFactory

    access = Access(org=org, user=owner, role=Role.OWNER)
    team = TeamFactory(organization=org, lead=owner)
    services.api_key_create(org=org, created_by=owner, name="integration", scopes=[Scope.READ])
    member = UserFactory()
    services.member_add(access=access, user=member, role=Role.MEMBER)
    services.invitation_create(access=access, role=Role.MEMBER, email="invitee@example.com")
    CycleFactory(organization=org)
    PillarFactory(organization=org, team=team)
    metric = MetricFactory(goal=GoalFactory(organization=org, team=team, owner=owner))
    Reading.objects.create(organization=org, metric=metric, observed_at="2026-03-01T00:00:00Z", value=1.0)
    goals_services.direction_update(access=access, vision="Vision", mission="Mission", values=[])
    feedback_services.checkin_create(access=access, goal=metric.goal, summary="Going well", confidence=7)
    feedback_services.assessment_create(access=access, team=team, alignment=4, confidence=2)
    feedback = feedback_services.feedback_create(
        access=Access(org=org, user=member, role=Role.MEMBER),
        target_type="goal",
        target_id=str(metric.goal.pk),
        kind="challenge",
        body="Is the hypothesis right?",
    )
    feedback_services.feedback_reply(access=access, feedback=feedback, body="Let's look at the data.")
    feedback_services.score_job_request(access=access)
    ScoreSnapshot.objects.create(organization=org, subject_type="org", subject_id=str(org.pk), score=50, components={})
    feedback_services.allhands_snapshot_create(access=access, title="All-hands")
    feedback_services.correction_open_manual(
        access=access, subject_type="team", subject=team, detail="Pair with the platform team.", severity="warning"
    )
    # Made directly rather than through webhook_endpoint_create, whose URL check would resolve DNS.
    endpoint = WebhookEndpoint.objects.create(
        organization=org, url="https://hooks.example.com/alignment", secret=webhook_secret_new(), created_by=owner
    )
    webhook_ping(access=access, endpoint=endpoint)
    _populate_steering(org, owner, team, metric, feedback)


def _populate_steering(org: Any, owner: Any, team: Any, metric: Any, feedback: Any) -> None:
    import datetime

    from feedback.models import GoalpostProposal, SteeringDecision
    from goals.models import Divergence

    GoalpostProposal.objects.create(
        organization=org, metric=metric, changes={"target": 80.0}, reason="The market moved", proposed_by=owner
    )
    Divergence.objects.create(
        organization=org, team=team, approach="Own path", rationale="Different users", success_metric=metric,
        success_value=50, approved_by=owner, review_on=datetime.date(2026, 12, 1),
    )  # fmt: skip
    SteeringDecision.objects.create(
        organization=org, item_kind="feedback", item_id=str(feedback.pk), team=team, outcome="Test it", decided_by=owner
    )


def fill(route: Route, org: Any) -> str:
    values = {"org": org.slug}
    parents = getattr(route.view_class, "parent_models", {})
    for name in route.params:
        if name == "org":
            continue
        model = route.model() if name == "pk" else parents.get(name)
        obj = None
        if model is not None and hasattr(model, "organization"):
            obj = model._default_manager.filter(organization=org).first()
        values[name] = str(obj.pk) if obj is not None else str(uuid.uuid4())
    return route.template.format(**values)
