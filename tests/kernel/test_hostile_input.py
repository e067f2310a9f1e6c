"""Hostile input through the real API, on PostgreSQL (which refuses NUL in text, overflows
where SQLite forgives): each answer is a 4xx naming the field, nothing is written, and the
service keeps working afterwards. The inputs and answers are listed in docs/security.md."""

import json
import time
from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from alignment_service.access import Role
from goals import services as goal_services
from goals.models import Goal, Metric, Reading
from teams.models import Organization, Team, User
from tests.api_helpers import api
from tests.factories import CycleFactory, GoalFactory, MetricFactory, PillarFactory, UserFactory

pytestmark = pytest.mark.postgres

NUL = "a\x00b"
DATES = {"starts_on": "2026-01-01", "due_on": "2026-12-31"}
LONE_SURROGATE = "a\ud800b"


def error_attrs(response):
    return {error["attr"] for error in response.json()["errors"]}


def assert_refused(response, *attrs, status=400):
    assert response.status_code == status, response.content[:500]
    assert set(attrs) <= error_attrs(response), response.json()


@pytest.fixture
def writer(org, admin, client_for):
    return client_for(admin)


@pytest.fixture
def goal(org):
    return GoalFactory(organization=org)


@pytest.fixture
def metric(goal):
    return MetricFactory(goal=goal, key="dau", baseline=0, target=100)


def send(client, method, url, body):
    """JSON with every non-ASCII character escaped, so lone surrogates travel as `\\ud800`."""
    return getattr(client, method)(url, json.dumps(body), content_type="application/json")


def reading(value=10.0, observed_at="2026-02-01T09:00:00Z", **extra):
    return {"value": value, "observed_at": observed_at, **extra}


def assert_metric_takes_a_sane_reading(client, org, metric, observed_at="2026-03-01T09:00:00Z"):
    response = client.post(api(org, f"metrics/{metric.pk}/readings/"), reading(50, observed_at), format="json")
    assert response.status_code == 201, response.content
    metric.refresh_from_db()
    assert metric.current == 50


# --- Deeply nested JSON -----------------------------------------------------------------------


def nested(depth):
    return b"[" * depth + b"]" * depth


def test_json_nested_100000_deep_is_a_quick_400_even_unauthenticated(api_client, count_rows):
    api_client.post("/api/v1/auth/token/", b"[]", content_type="application/json")  # warm up the URLconf
    before = count_rows()
    started = time.perf_counter()
    response = api_client.post("/api/v1/auth/token/", nested(100_000), content_type="application/json")
    elapsed = time.perf_counter() - started
    assert response.status_code == 400, response.content[:300]
    assert response.json()["errors"][0]["code"] == "too_deep"
    assert elapsed < 1.0
    assert count_rows() == before


def test_deep_json_inside_an_object_is_a_400_on_writes(org, writer, count_rows):
    before = count_rows()
    body = b'{"title": "x", "description": ' + b'{"a": ' * 5000 + b"1" + b"}" * 5000 + b"}"
    response = writer.post(api(org, "goals/"), body, content_type="application/json")
    assert response.status_code == 400
    assert count_rows() == before


def test_brackets_inside_strings_do_not_count_as_depth(org, writer):
    response = writer.post(api(org, "goals/"), {"title": "[" * 150, "description": "{" * 5000, **DATES}, format="json")
    assert response.status_code == 201, response.content


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_an_unsafe_method_on_an_unknown_url_answers_the_json_404(org, writer, method):
    """Found by the fuzz test: ids the router cannot match (`0.5`) used to meet CSRF's HTML 403."""
    from django.test import Client

    for client in (writer, Client(enforce_csrf_checks=True)):
        response = getattr(client, method)(api(org, "teams/0.5/"), {}, content_type="application/json")
        assert response.status_code == 404, response.content[:200]
        assert response.json()["errors"][0]["code"] == "not_found"


# --- NUL bytes and lone surrogates ------------------------------------------------------------


@pytest.mark.parametrize("bad", [NUL, LONE_SURROGATE], ids=["nul", "surrogate"])
def test_a_bad_character_in_any_string_is_a_400_naming_the_field(org, writer, bad, count_rows):
    before = count_rows()
    response = send(writer, "post", api(org, "goals/"), {"title": "fine", "description": bad})
    assert_refused(response, "description")
    assert count_rows() == before


@pytest.mark.parametrize("bad", [NUL, LONE_SURROGATE], ids=["nul", "surrogate"])
def test_bad_characters_in_nested_values_and_keys_are_named_with_a_dotted_path(org, writer, bad):
    body = {"vision": "v", "mission": "m", "values": [{"name": "ok"}, {"name": bad}]}
    assert_refused(send(writer, "put", api(org, "direction/"), body), "values.1.name")
    response = send(writer, "patch", api(org, ""), {"settings": {bad: 1}})
    assert response.status_code == 400, response.content


@pytest.mark.parametrize("field", ["metric", "source"])
@pytest.mark.parametrize("bad", [NUL, LONE_SURROGATE], ids=["nul", "surrogate"])
def test_batch_fields_with_bad_characters_are_named(org, writer, metric, field, bad, count_rows):
    before = count_rows()
    item = {"metric": "dau", "value": 1, "observed_at": "2026-02-01T09:00:00Z", "source": "ok", field: bad}
    response = send(writer, "post", api(org, "readings/batch/"), {"readings": [item]})
    assert_refused(response, f"readings.0.{field}")
    assert count_rows() == before


@pytest.mark.parametrize("bad", [NUL, LONE_SURROGATE], ids=["nul", "surrogate"])
def test_reading_note_with_bad_characters_is_named(org, writer, metric, bad, count_rows):
    before = count_rows()
    response = send(writer, "post", api(org, f"metrics/{metric.pk}/readings/"), reading(note=bad))
    assert_refused(response, "note")
    assert count_rows() == before
    assert_metric_takes_a_sane_reading(writer, org, metric)


def test_nul_in_the_idempotency_key_header_is_a_400_naming_it(org, writer, metric, count_rows):
    before = count_rows()
    body = {"readings": [{"metric": "dau", "value": 1, "observed_at": "2026-02-01T09:00:00Z"}]}
    response = writer.post(api(org, "readings/batch/"), body, format="json", HTTP_IDEMPOTENCY_KEY=NUL)
    assert_refused(response, "Idempotency-Key")
    assert count_rows() == before


def test_nul_in_a_query_parameter_is_a_400_naming_it(org, writer, goal):
    response = writer.get(api(org, "goals/"), {"search": NUL})
    assert_refused(response, "search")


# --- Dates at the edge of the calendar --------------------------------------------------------


def test_far_dates_on_cycles_goals_and_metrics_are_refused_and_later_writes_work(org, writer, goal, count_rows):
    before = count_rows()
    cycle = writer.post(
        api(org, "cycles/"), {"name": "Forever", "starts_on": "2026-01-01", "ends_on": "9999-12-31"}, format="json"
    )
    assert_refused(cycle, "ends_on")
    goal_response = writer.post(
        api(org, "goals/"), {"title": "Far", "starts_on": "0001-01-01", "due_on": "9999-12-31"}, format="json"
    )
    assert_refused(goal_response, "starts_on", "due_on")
    metric_body = {"goal": str(goal.pk), "name": "m", "key": "m", "baseline": 0, "target": 1, "due_on": "9999-12-31"}
    assert_refused(writer.post(api(org, "metrics/"), metric_body, format="json"), "due_on")
    assert count_rows() == before

    sane = {"name": "FY", "starts_on": "2026-01-01", "ends_on": "2999-12-31"}
    cycle = writer.post(api(org, "cycles/"), sane, format="json")
    assert cycle.status_code == 201, cycle.content
    created = writer.post(api(org, "goals/"), {"title": "In cycle", "cycle": cycle.json()["id"]}, format="json")
    assert created.status_code == 201, created.content


def test_a_goal_in_a_stored_far_cycle_still_works(org, writer):
    """Rows written before the range existed (or by other paths) must not break later requests."""
    cycle = CycleFactory(organization=org, starts_on="9999-01-01", ends_on="9999-12-31")
    created = writer.post(api(org, "goals/"), {"title": "In cycle", "cycle": str(cycle.pk)}, format="json")
    assert_refused(created, "starts_on")
    assert writer.get(api(org, "goals/")).status_code == 200
    assert writer.get(api(org, "alignment-tree/")).status_code == 200


# --- Huge and non-numeric numbers -------------------------------------------------------------


def test_a_huge_reading_is_refused_and_the_metric_keeps_working(org, writer, metric, count_rows):
    before = count_rows()
    url = api(org, f"metrics/{metric.pk}/readings/")
    assert_refused(writer.post(url, reading(1.7e308), format="json"), "value")
    batch = {"readings": [{"metric": "dau", "value": -1.7e308, "observed_at": "2026-02-01T09:00:00Z"}]}
    assert_refused(writer.post(api(org, "readings/batch/"), batch, format="json"), "readings.0.value")
    assert count_rows() == before
    assert_metric_takes_a_sane_reading(writer, org, metric)


def test_huge_stored_readings_do_not_poison_the_metric(org, writer, metric):
    """Readings stored before the range existed: the forecast is dropped, not overflowed."""
    for day, value in ((1, 1.7e308), (2, 1.7e308), (3, -1.7e308)):
        Reading.objects.create(organization=org, metric=metric, value=value, observed_at=f"2026-01-0{day}T00:00:00Z")
    assert_metric_takes_a_sane_reading(writer, org, metric)
    assert_metric_takes_a_sane_reading(writer, org, metric, observed_at="2026-03-02T09:00:00Z")
    assert writer.get(api(org, f"metrics/{metric.pk}/")).status_code == 200


def test_huge_baseline_and_target_are_refused(org, writer, goal):
    body = {"goal": str(goal.pk), "name": "m", "key": "m", "baseline": -1.7e308, "target": 1.7e308}
    assert_refused(writer.post(api(org, "metrics/"), body, format="json"), "baseline", "target")


@pytest.mark.parametrize(
    ("path", "body", "attr"),
    [
        ("goals/", {"title": "t", "weight": True}, "weight"),
        ("metrics/", {"name": "m", "key": "m", "baseline": True, "target": 5}, "baseline"),
        (
            "metrics/",
            {"name": "m", "key": "m", "baseline": 0, "target": 5, "stale_after_days": True},
            "stale_after_days",
        ),
        ("check-ins/", {"summary": "s", "confidence": True}, "confidence"),
    ],
)
def test_true_is_not_a_number(org, writer, goal, path, body, attr, count_rows):
    before = count_rows()
    body = {**body, "goal": str(goal.pk)}
    assert_refused(writer.post(api(org, path), body, format="json"), attr)
    assert count_rows() == before


def test_true_is_not_a_reading_value(org, writer, metric):
    assert_refused(writer.post(api(org, f"metrics/{metric.pk}/readings/"), reading(True), format="json"), "value")
    batch = {"readings": [{"metric": "dau", "value": True, "observed_at": "2026-02-01T09:00:00Z"}]}
    assert_refused(writer.post(api(org, "readings/batch/"), batch, format="json"), "readings.0.value")


# --- Lists of related ids ---------------------------------------------------------------------


def test_ten_thousand_related_ids_are_refused_at_once(org, member, client_for, count_rows):
    """As a plain member, who may not write company goals: the list is refused before anything
    looks up 10,000 ids."""
    client = client_for(member)
    ids = [str(PillarFactory(organization=org).pk)] * 10_000
    before = count_rows()
    started = time.perf_counter()
    response = client.post(api(org, "goals/"), {"title": "t", "strategies": ids}, format="json")
    assert time.perf_counter() - started < 1.0
    assert_refused(response, "strategies")
    assert count_rows() == before


def test_team_members_are_bounded(org, writer):
    response = writer.post(api(org, "teams/"), {"name": "T", "members": list(range(1, 10_002))}, format="json")
    assert_refused(response, "members")


def test_related_ids_resolve_in_one_query_and_unknown_ones_are_named(org, writer):
    pillars = [str(PillarFactory(organization=org).pk) for _ in range(30)]
    url = api(org, "goals/")
    with CaptureQueriesContext(connection) as small:
        assert writer.post(url, {"title": "a", "strategies": pillars[:3], **DATES}, format="json").status_code == 201
    with CaptureQueriesContext(connection) as large:
        assert writer.post(url, {"title": "b", "strategies": pillars, **DATES}, format="json").status_code == 201
    pillar_lookups = [q for q in large.captured_queries if "goals_strategypillar" in q["sql"] and "SELECT" in q["sql"]]
    assert len(pillar_lookups) == 1, pillar_lookups
    assert len(large.captured_queries) <= len(small.captured_queries) + 1
    foreign = str(PillarFactory().pk)
    response = writer.post(url, {"title": "c", "strategies": [pillars[0], foreign], **DATES}, format="json")
    assert_refused(response, "strategies")
    assert foreign in str(response.json())


# --- Deep goal chains -------------------------------------------------------------------------


def test_a_goal_chain_beyond_the_depth_limit_is_refused_and_the_tree_answers(org, writer, settings):
    parent = None
    for level in range(settings.GOAL_MAX_DEPTH):
        parent = GoalFactory(organization=org, parent=parent, title=f"level {level}")
    response = writer.post(api(org, "goals/"), {"title": "too deep", "parent": str(parent.pk), **DATES}, format="json")
    assert_refused(response, "parent")
    tree = writer.get(api(org, "alignment-tree/"))
    assert tree.status_code == 200
    depth, node = 0, tree.json()["goals"][0]
    while node["children"]:
        depth, node = depth + 1, node["children"][0]
    assert depth == settings.GOAL_MAX_DEPTH - 1


def test_moving_a_subtree_under_a_deep_chain_is_refused(org, writer, settings):
    chain = None
    for _ in range(settings.GOAL_MAX_DEPTH - 1):
        chain = GoalFactory(organization=org, parent=chain)
    subtree_root = GoalFactory(organization=org)
    GoalFactory(organization=org, parent=subtree_root)
    response = writer.patch(api(org, f"goals/{subtree_root.pk}/"), {"parent": str(chain.pk)}, format="json")
    assert_refused(response, "parent")
    subtree_root.refresh_from_db()
    assert subtree_root.parent_id is None


def test_a_600_deep_stored_chain_keeps_every_walk_answering(org, writer, admin):
    """A chain stored before the limit existed: the tree, a reading's roll-up to every ancestor,
    and the acyclic-parent check all walk it without hitting Python's recursion limit."""
    goals = []
    for level in range(600):
        goals.append(GoalFactory(organization=org, parent=goals[-1] if goals else None, title=f"g{level}"))
    leaf_metric = MetricFactory(goal=goals[-1], key="leaf")
    tree = writer.get(api(org, "alignment-tree/"))
    assert tree.status_code == 200, tree.content[:300]
    assert_metric_takes_a_sane_reading(writer, org, leaf_metric)
    goals[0].refresh_from_db()
    assert goals[0].progress == pytest.approx(0.5)
    response = writer.patch(api(org, f"goals/{goals[0].pk}/"), {"parent": str(goals[-1].pk)}, format="json")
    assert_refused(response, "parent")


# --- Identifiers unique without regard to case and compatibility forms ------------------------


def test_org_slugs_are_unique_regardless_of_case(org, owner, client_for):
    client = client_for(owner)
    response = client.post("/api/v1/orgs/", {"name": "Clone", "slug": org.slug.upper()}, format="json")
    assert_refused(response, "slug")
    assert client.get(f"/api/v1/orgs/{org.slug.upper()}/").status_code == 200


def test_team_slugs_are_unique_regardless_of_case(org, writer):
    assert writer.post(api(org, "teams/"), {"name": "Core", "slug": "core"}, format="json").status_code == 201
    assert_refused(writer.post(api(org, "teams/"), {"name": "Core 2", "slug": "CORE"}, format="json"), "slug")


def test_metric_keys_are_unique_regardless_of_case_and_resolve_by_any_case(org, writer, metric, count_rows):
    body = {"goal": str(metric.goal_id), "name": "m", "key": "DAU", "baseline": 0, "target": 1}
    before = count_rows()
    assert_refused(writer.post(api(org, "metrics/"), body, format="json"), "key")
    assert count_rows() == before
    batch = {"readings": [{"metric": "DAU", "value": 3, "observed_at": "2026-02-01T09:00:00Z"}]}
    assert writer.post(api(org, "readings/batch/"), batch, format="json").status_code == 200


FULLWIDTH_ALICE = "\uff41\uff4c\uff49\uff43\uff45"


@pytest.mark.parametrize("variant", ["ALICE", FULLWIDTH_ALICE, "\uff21lice"], ids=["upper", "fullwidth", "mixed"])
def test_usernames_are_unique_regardless_of_case_and_compatibility_forms(api_client, db, variant, count_rows):
    UserFactory(username="alice")
    before = count_rows()
    body = {"username": variant, "email": "other@example.com", "password": "a-long-enough-passphrase-1"}
    response = api_client.post("/api/v1/auth/signup/", body, format="json")
    assert_refused(response, "username")
    assert count_rows() == before


def test_a_username_is_stored_in_its_compatibility_form_and_signs_in_by_any_case(api_client, db):
    body = {"username": "\uff22ob", "email": "bob@example.com", "password": "a-long-enough-passphrase-1"}
    assert api_client.post("/api/v1/auth/signup/", body, format="json").status_code == 201
    assert User.objects.get(email="bob@example.com").username == "Bob"
    token = api_client.post("/api/v1/auth/token/", {"username": "bob", "password": body["password"]}, format="json")
    assert token.status_code == 201, token.content


def test_uniqueness_holds_in_the_database_too(org, goal, db):
    """The constraints are functional indexes: a write that skips the API check still cannot
    store a case variant."""
    from django.db import IntegrityError, transaction

    MetricFactory(goal=goal, key="seats")
    for make in (
        lambda: Organization.objects.create(name="x", slug=org.slug.upper()),
        lambda: (
            Team.objects.create(organization=org, name="a", slug="Same")
            and Team.objects.create(organization=org, name="b", slug="SAME")
        ),
        lambda: MetricFactory(goal=goal, key="SEATS"),
        lambda: UserFactory(username="carol") and UserFactory(username="CAROL"),
    ):
        with pytest.raises(IntegrityError), transaction.atomic():
            make()


def test_goal_services_refuse_depth_beyond_the_limit_too(org, admin, settings):
    from alignment_service.access import Access
    from alignment_service.errors import ValidationFailed

    parent = None
    for _ in range(settings.GOAL_MAX_DEPTH):
        parent = GoalFactory(organization=org, parent=parent)
    access = Access(org=org, user=admin, role=Role.ADMIN)
    with pytest.raises(ValidationFailed):
        goal_services.goal_create(
            access=access, title="deep", parent=parent, starts_on=date(2026, 1, 1), due_on=date(2026, 12, 31)
        )
    assert not Goal.objects.filter(title="deep").exists()
    assert Metric.objects.count() == 0
