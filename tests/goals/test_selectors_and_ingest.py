"""Goals selectors, batch parsing and the idempotency kernel, against the database."""

import datetime
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from alignment_service.errors import Conflict, ValidationFailed
from alignment_service.idempotency.models import IdempotencyRecord
from alignment_service.idempotency.services import IdempotencyKeyReused, Outcome, request_fingerprint, run_idempotently
from goals import ingest, selectors
from goals.models import Goal
from tests.factories import GoalFactory, MetricFactory, TeamFactory
from tests.goals.support import UTC, at

# --- Selectors --------------------------------------------------------------------------------


def test_metrics_are_found_by_key_or_id_inside_the_org_only(org, other_org):
    metric = MetricFactory(goal=GoalFactory(organization=org), key="dau")
    foreign = MetricFactory(goal=GoalFactory(organization=other_org), key="wau")
    found = selectors.metrics_by_reference(org=org, references={"dau", str(metric.pk), "wau", str(foreign.pk), "x"})
    assert found == {"dau": metric, str(metric.pk): metric}


def test_the_tree_lists_company_goals_then_goals_whose_parent_is_hidden(org):
    team = TeamFactory(organization=org)
    company = GoalFactory(organization=org, title="Company")
    cancelled = GoalFactory(organization=org, title="Dropped", status="cancelled")
    orphan = GoalFactory(organization=org, team=team, parent=cancelled)
    child = GoalFactory(organization=org, team=team, parent=company)
    tree = selectors.alignment_tree(org=org)
    assert [node["goal"]["id"] for node in tree["goals"]] == [company.pk, orphan.pk]
    assert [node["goal"]["id"] for node in tree["goals"][0]["children"]] == [child.pk]


def test_goal_health_is_computed_by_the_database(org):
    now_ts = datetime.datetime(2026, 7, 2, tzinfo=UTC).timestamp()  # about half of 2026 elapsed
    made = {
        "on_track": GoalFactory(organization=org, progress=0.5),
        "at_risk": GoalFactory(organization=org, progress=0.4),
        "off_track": GoalFactory(organization=org, progress=0.1),
        "no_data": GoalFactory(organization=org),
    }
    health = dict(selectors.goal_list(org=org, now_ts=now_ts).values_list("id", "health"))
    assert {name: health[goal.pk] for name, goal in made.items()} == {name: name for name in made}


# --- Batch parsing ----------------------------------------------------------------------------


def test_parse_batch_names_every_bad_item_up_to_the_limit(org, settings):
    MetricFactory(goal=GoalFactory(organization=org), key="dau")
    settings.BATCH_MAX_ERRORS = 3
    items = [{"metric": "dau", "value": "x", "observed_at": "nope"} for _ in range(5)]
    with pytest.raises(ValidationError) as refused:
        ingest.parse_batch(org=org, payload={"readings": items})
    errors = refused.value.detail["readings"]
    assert sum(len(messages) for item in errors.values() for messages in item.values()) == 3
    assert set(errors["0"]) == {"value", "observed_at"}


def test_parse_batch_resolves_keys_and_ids(org):
    metric = MetricFactory(goal=GoalFactory(organization=org), key="dau")
    parsed = ingest.parse_batch(
        org=org,
        payload={
            "readings": [
                {"metric": "dau", "value": 1, "observed_at": "2026-02-01T00:00:00Z"},
                {"metric": str(metric.pk), "value": 2.5, "observed_at": "2026-02-01T01:00:00+00:00", "source": "s"},
            ]
        },
    )
    assert [(r.metric.pk, r.value, r.observed_at, r.source) for r in parsed] == [
        (metric.pk, 1.0, at(1), ""),
        (metric.pk, 2.5, at(1, 1), "s"),
    ]


# --- The idempotency kernel -------------------------------------------------------------------


def test_run_idempotently_runs_once_and_replays(org):
    calls = []

    def operation():
        calls.append(1)
        return Outcome(status=200, body={"n": len(calls)})

    first = run_idempotently(org=org, credential="user:1", key="k", body={"a": 1, "b": 2}, operation=operation)
    again = run_idempotently(org=org, credential="user:1", key="k", body={"b": 2, "a": 1}, operation=operation)
    assert (first.body, first.replayed) == ({"n": 1}, False)
    assert (again.status, again.body, again.replayed) == (200, {"n": 1}, True)
    assert calls == [1]
    with pytest.raises(IdempotencyKeyReused):
        run_idempotently(org=org, credential="user:1", key="k", body={"a": 2}, operation=operation)
    other = run_idempotently(org=org, credential="key:7", key="k", body={"a": 1, "b": 2}, operation=operation)
    assert (other.body, other.replayed) == ({"n": 2}, False)


def test_a_failed_operation_releases_its_key_and_rolls_back(org):
    def failing():
        GoalFactory(organization=org)
        raise ValidationFailed("bad")

    with pytest.raises(ValidationFailed):
        run_idempotently(org=org, credential="user:1", key="k", body={}, operation=failing)
    assert not IdempotencyRecord.objects.exists()
    assert not Goal.objects.exists()
    ok = run_idempotently(org=org, credential="user:1", key="k", body={}, operation=lambda: Outcome(200, {}))
    assert not ok.replayed


def test_a_running_claim_is_a_conflict_until_it_goes_stale(org, settings):
    IdempotencyRecord.objects.create(
        organization=org, credential="user:1", key="k", request_hash=request_fingerprint({"a": 1})
    )
    with pytest.raises(Conflict) as running:
        run_idempotently(org=org, credential="user:1", key="k", body={"a": 1}, operation=lambda: Outcome(200, {}))
    assert running.value.code == "idempotency_in_progress"

    IdempotencyRecord.objects.update(
        created_at=timezone.now() - timedelta(seconds=settings.IDEMPOTENCY_STALE_SECONDS + 1)
    )
    outcome = run_idempotently(org=org, credential="user:1", key="k", body={"a": 1}, operation=lambda: Outcome(200, {}))
    assert not outcome.replayed
    assert IdempotencyRecord.objects.get().response_status == 200
