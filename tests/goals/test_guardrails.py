"""Guardrail metrics: counter-metrics with a threshold and a safe side. They never count
towards progress; crossing one opens `guardrail_breached` (critical) with the numbers, which
the dashboard's risks show, and the metric says it is `breached`."""

import datetime

import pytest

from alignment_service.access import Role
from feedback import engine
from feedback.dashboard import dashboard
from feedback.models import CourseCorrection, Trigger
from goals.models import Goal, Reading
from goals.services import goals_refresh_progress, metrics_refresh
from tests.api_helpers import api
from tests.factories import GoalFactory, MetricFactory

UTC = datetime.UTC
T = datetime.datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def record(org, metric, value, days_before=1):
    Reading.objects.create(
        organization=org, metric=metric, observed_at=T - datetime.timedelta(days=days_before), value=value
    )
    metrics_refresh(org=org, metric_ids=[metric.pk])
    goals_refresh_progress(org=org)


@pytest.fixture
def growth(org):
    """A growth goal measured by sign-ups, guarded by churn that must stay at or below 5 %."""
    goal = GoalFactory(organization=org, title="Grow sign-ups")
    signups = MetricFactory(goal=goal, name="Sign-ups", key="signups", baseline=0, target=100)
    churn = MetricFactory(
        goal=goal, name="Churn", key="churn", unit="%", direction="decrease", baseline=4, target=3,
        role="guardrail", threshold=5,
    )  # fmt: skip
    return goal, signups, churn


def test_a_guardrail_needs_a_threshold_and_only_a_guardrail_has_one(org, client_for, member_of):
    goal = GoalFactory(organization=org)
    client = client_for(member_of(org, Role.ADMIN))
    base = {"goal": str(goal.pk), "name": "Churn", "baseline": 4, "target": 3, "direction": "decrease"}

    missing = client.post(api(org, "metrics/"), {**base, "key": "a", "role": "guardrail"}, format="json")
    assert missing.status_code == 400
    assert [e["attr"] for e in missing.json()["errors"]] == ["threshold"]
    stray = client.post(api(org, "metrics/"), {**base, "key": "b", "threshold": 5}, format="json")
    assert stray.status_code == 400
    assert [e["attr"] for e in stray.json()["errors"]] == ["threshold"]

    made = client.post(api(org, "metrics/"), {**base, "key": "c", "role": "guardrail", "threshold": 5}, format="json")
    assert made.status_code == 201, made.content
    assert (made.json()["role"], made.json()["threshold"], made.json()["breached"]) == ("guardrail", 5.0, None)


def test_a_guardrail_never_counts_towards_progress(org, growth):
    goal, signups, churn = growth
    record(org, signups, 50)
    record(org, churn, 3)
    assert Goal.objects.get(pk=goal.pk).progress == pytest.approx(0.5)


def test_a_goal_guarded_only_is_measured_by_its_children(org):
    parent = GoalFactory(organization=org)
    MetricFactory(goal=parent, key="guard", direction="decrease", baseline=4, target=3, role="guardrail", threshold=5)
    child = GoalFactory(organization=org, parent=parent)
    record(org, MetricFactory(goal=child, key="kr"), 40)
    assert Goal.objects.get(pk=parent.pk).progress == pytest.approx(0.4)


def test_crossing_a_guardrail_opens_a_critical_correction_with_the_numbers(org, growth, client_for, member_of):
    goal, signups, churn = growth
    record(org, signups, 90)
    record(org, churn, 7.5)

    engine.rescore_org(org=org, now=T)

    correction = CourseCorrection.objects.get(organization=org, trigger=Trigger.GUARDRAIL_BREACHED)
    assert (correction.subject_id, correction.severity) == (str(goal.pk), "critical")
    assert "Churn is 7.5 %, above its guardrail of 5" in correction.detail
    assert correction in dashboard(org=org)["risks"]
    body = client_for(member_of(org, Role.VIEWER)).get(api(org, f"metrics/{churn.pk}/")).json()
    assert body["breached"] is True


def test_back_on_the_safe_side_resolves_it(org, growth):
    _, _, churn = growth
    record(org, churn, 9)
    engine.rescore_org(org=org, now=T)
    record(org, churn, 5, days_before=0)
    engine.rescore_org(org=org, now=T)

    correction = CourseCorrection.objects.get(organization=org, trigger=Trigger.GUARDRAIL_BREACHED)
    assert correction.status == "resolved"


def test_an_increasing_guardrail_is_safe_at_or_above_its_threshold(org):
    goal = GoalFactory(organization=org)
    quality = MetricFactory(goal=goal, key="nps", baseline=30, target=50, role="guardrail", threshold=20)
    record(org, quality, 20)
    engine.rescore_org(org=org, now=T)
    assert not CourseCorrection.objects.filter(trigger=Trigger.GUARDRAIL_BREACHED).exists()
    record(org, quality, 19.5, days_before=0)
    engine.rescore_org(org=org, now=T)
    assert "below its guardrail of 20" in CourseCorrection.objects.get(trigger=Trigger.GUARDRAIL_BREACHED).detail
