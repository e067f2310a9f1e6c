"""The feedback API: check-ins, assessments, feedback and replies.

Status, shape and error body of each endpoint; who may write what (assessments and feedback
status as tables); what a refused write leaves behind (nothing); the rescore owed by every
write; and the query count of every list, pinned at two sizes. Anonymity lives in
`test_anonymity.py`, the quadrant table in `test_matrix.py`.
"""

import datetime
import uuid

import pytest

from alignment_service.access import Access, Role, Scope
from alignment_service.activity.models import Activity
from alignment_service.activity.services import activity_record
from alignment_service.notifications.models import Notification
from alignment_service.notifications.services import notify
from alignment_service.outbox.models import OutboxMessage
from feedback.models import Assessment, CheckIn, Feedback, FeedbackReply
from tests.factories import GoalFactory, PillarFactory, TeamFactory

RESCORE_TASK = "feedback.rescore_org"
UTC = datetime.UTC
T0 = datetime.datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def api(org, path=""):
    return f"/api/v1/orgs/{org.slug}/{path}"


def attrs(response):
    return {error["attr"] for error in response.json()["errors"]}


def assert_invalid(response, *fields):
    """A 400 in the validation shape that names exactly `fields`."""
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["type"] == "validation_error", body
    assert attrs(response) == set(fields), body


def assert_status(response, status_code, code=None):
    assert response.status_code == status_code, response.content
    if code is not None:
        assert code in {error["code"] for error in response.json()["errors"]}, response.json()


def ids(response):
    return [item["id"] for item in response.json()["results"]]


def pending_rescores(org):
    return OutboxMessage.objects.filter(
        organization=org, task_name=RESCORE_TASK, kwargs__org_id=str(org.pk), dispatched_at__isnull=True
    )


def at(model, obj, when):
    """Pin an object's `created_at`, to make orderings and `since` deterministic."""
    model.objects.filter(pk=obj.pk).update(created_at=when)


@pytest.fixture
def people(org, member_of):
    """Leads of a small team tree, and a goal owner who leads nothing."""
    return {
        name: member_of(org, Role.MEMBER, username=name)
        for name in ("parent_lead", "lead", "sibling_lead", "child_lead", "goal_owner", "pillar_owner")
    }


@pytest.fixture
def tree(org, people):
    """parent ─┬─ team ── child
    └─ sibling"""
    parent = TeamFactory(organization=org, name="Parent", lead=people["parent_lead"])
    team = TeamFactory(organization=org, name="Team", parent=parent, lead=people["lead"])
    sibling = TeamFactory(organization=org, name="Sibling", parent=parent, lead=people["sibling_lead"])
    child = TeamFactory(organization=org, name="Child", parent=team, lead=people["child_lead"])
    return {"parent": parent, "team": team, "sibling": sibling, "child": child}


@pytest.fixture
def goal(org, tree, people):
    return GoalFactory(organization=org, team=tree["team"], owner=people["goal_owner"], title="Grow")


@pytest.fixture
def pillar(org, tree, people):
    return PillarFactory(organization=org, team=tree["team"], owner=people["pillar_owner"], title="Play more")


# --- Check-ins --------------------------------------------------------------------------------

CHECKIN_FIELDS = {"id", "goal", "author", "summary", "confidence", "blockers", "created_at"}


def test_a_member_checks_in_on_any_goal(org, member, goal, client_for):
    response = client_for(member).post(
        api(org, "check-ins/"),
        {"goal": str(goal.pk), "summary": "Shipped the beta", "confidence": 7, "blockers": "QA capacity"},
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == CHECKIN_FIELDS
    assert body["goal"] == str(goal.pk)
    assert body["author"] == member.pk
    assert (body["summary"], body["confidence"], body["blockers"]) == ("Shipped the beta", 7, "QA capacity")
    assert datetime.datetime.fromisoformat(body["created_at"]).tzinfo is not None
    check_in = CheckIn.objects.get(pk=body["id"])
    assert (check_in.organization_id, check_in.author_id) == (org.pk, member.pk)


def test_blockers_are_optional(org, member, goal, client_for):
    response = client_for(member).post(api(org, "check-ins/"), {"goal": str(goal.pk), "summary": "Ok", "confidence": 5})

    assert response.status_code == 201, response.content
    assert response.json()["blockers"] == ""


def test_a_viewer_cannot_check_in(org, viewer, goal, client_for, count_rows):
    client = client_for(viewer)
    before = count_rows()

    response = client.post(api(org, "check-ins/"), {"goal": str(goal.pk), "summary": "x", "confidence": 5})

    assert_status(response, 403)
    assert count_rows() == before


def test_an_api_key_cannot_check_in(org, goal, key_client_for):
    client = key_client_for(org, (Scope.READ, Scope.READINGS_WRITE))

    response = client.post(api(org, "check-ins/"), {"goal": str(goal.pk), "summary": "x", "confidence": 5})

    assert_status(response, 403)
    assert not CheckIn.objects.exists()


@pytest.mark.parametrize("confidence", [0, 10])
def test_confidence_bounds_are_accepted(org, member, goal, client_for, confidence):
    response = client_for(member).post(
        api(org, "check-ins/"), {"goal": str(goal.pk), "summary": "x", "confidence": confidence}
    )

    assert response.status_code == 201, response.content
    assert response.json()["confidence"] == confidence


@pytest.mark.parametrize("confidence", [-1, 11, "high", None, 5.5])
def test_confidence_outside_0_to_10_is_refused(org, member, goal, client_for, confidence):
    response = client_for(member).post(
        api(org, "check-ins/"), {"goal": str(goal.pk), "summary": "x", "confidence": confidence}, format="json"
    )

    assert_invalid(response, "confidence")
    assert not CheckIn.objects.exists()


@pytest.mark.parametrize("goal_id", ["other_org", "missing", "garbage"])
def test_a_goal_outside_the_org_is_refused(org, other_org, member, client_for, goal_id):
    value = {
        "other_org": lambda: str(GoalFactory(organization=other_org).pk),
        "missing": lambda: str(uuid.uuid4()),
        "garbage": lambda: "not-a-uuid",
    }[goal_id]()

    response = client_for(member).post(api(org, "check-ins/"), {"goal": value, "summary": "x", "confidence": 5})

    assert_invalid(response, "goal")
    assert not CheckIn.objects.exists()


def test_bad_check_in_names_every_field_and_writes_nothing(org, other_org, member, client_for, count_rows):
    foreign_goal = GoalFactory(organization=other_org)
    client = client_for(member)
    before = count_rows()

    response = client.post(
        api(org, "check-ins/"),
        {"goal": str(foreign_goal.pk), "summary": "", "confidence": 11, "blockers": "x" * 10_001},
    )

    assert_invalid(response, "goal", "summary", "confidence", "blockers")
    assert count_rows() == before


def test_an_empty_check_in_names_every_required_field(org, member, client_for):
    response = client_for(member).post(api(org, "check-ins/"), {})

    assert_invalid(response, "goal", "summary", "confidence")


@pytest.fixture
def check_ins(org, tree, people, goal):
    """Four check-ins, a day apart, on two goals of two teams by two authors."""
    other_goal = GoalFactory(organization=org, team=tree["sibling"])
    made = []
    for n, (on, author) in enumerate(
        [
            (goal, people["lead"]),
            (other_goal, people["lead"]),
            (goal, people["goal_owner"]),
            (other_goal, people["sibling_lead"]),
        ]
    ):
        check_in = CheckIn.objects.create(organization=org, goal=on, author=author, summary=f"#{n}", confidence=5)
        at(CheckIn, check_in, T0 + datetime.timedelta(days=n))
        made.append(str(check_in.pk))
    return {"ids": made, "other_goal": other_goal}


def test_check_ins_list_newest_first(org, viewer, client_for, check_ins):
    response = client_for(viewer).get(api(org, "check-ins/"))

    assert response.status_code == 200
    assert ids(response) == check_ins["ids"][::-1]
    assert response.json()["count"] == 4


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("goal", [2, 0]),
        ("team", [3, 1]),
        ("author", [1, 0]),
        ("since", [3, 2]),
    ],
)
def test_check_in_filters(org, viewer, client_for, check_ins, goal, tree, people, name, expected):
    value = {
        "goal": str(goal.pk),
        "team": str(tree["sibling"].pk),
        "author": people["lead"].pk,
        "since": (T0 + datetime.timedelta(days=2)).isoformat(),
    }[name]

    response = client_for(viewer).get(api(org, "check-ins/"), {name: value})

    assert response.status_code == 200, response.content
    assert ids(response) == [check_ins["ids"][n] for n in expected]


def test_a_naive_since_is_refused(org, viewer, client_for):
    response = client_for(viewer).get(api(org, "check-ins/"), {"since": "2026-03-01T09:00:00"})

    assert_invalid(response, "since")


def test_check_ins_of_another_org_never_show(org, other_org, viewer, client_for, check_ins):
    foreign = CheckIn.objects.create(
        organization=other_org, goal=GoalFactory(organization=other_org), summary="theirs", confidence=1
    )

    listed = client_for(viewer).get(api(org, "check-ins/"))
    detail = client_for(viewer).get(api(org, f"check-ins/{foreign.pk}/"))

    assert str(foreign.pk) not in ids(listed)
    assert_status(detail, 404)


# --- Assessments ------------------------------------------------------------------------------

ASSESSMENT_FIELDS = {
    "id", "team", "assessor", "alignment", "confidence", "note", "quadrant", "recommended_mode", "created_at",
}  # fmt: skip

# who, expected status when assessing `team` (whose parent is `parent`, with a sibling and a child)
WHO_MAY_ASSESS = [
    ("lead", 201),
    ("parent_lead", 201),
    ("admin", 201),
    ("owner", 201),
    ("member", 403),
    ("sibling_lead", 403),
    ("child_lead", 403),
    ("goal_owner", 403),
    ("viewer", 403),
    ("api_key", 403),
]


def principal_client(who, org, people, client_for, key_client_for, member_of):
    if who == "api_key":
        return key_client_for(org, (Scope.READ, Scope.READINGS_WRITE))
    if who in people:
        return client_for(people[who])
    return client_for(member_of(org, Role(who)))


@pytest.mark.parametrize(("who", "expected"), WHO_MAY_ASSESS)
def test_who_may_assess_a_team(org, tree, people, client_for, key_client_for, member_of, count_rows, who, expected):
    client = principal_client(who, org, people, client_for, key_client_for, member_of)
    before = count_rows()

    response = client.post(
        api(org, "assessments/"), {"team": str(tree["team"].pk), "alignment": 4, "confidence": 2, "note": "Tighten"}
    )

    assert_status(response, expected)
    if expected == 201:
        body = response.json()
        assert set(body) == ASSESSMENT_FIELDS
        assert body["team"] == str(tree["team"].pk)
        assert (body["alignment"], body["confidence"], body["note"]) == (4, 2, "Tighten")
        assert (body["quadrant"], body["recommended_mode"]) == ("needs_guidance", "selective_micromanagement")
        assessment = Assessment.objects.get(pk=body["id"])
        assert body["assessor"] == assessment.assessor_id
        assert assessment.assessor is not None
    else:
        assert count_rows() == before


def test_the_assessor_is_the_requester(org, tree, people, client_for):
    response = client_for(people["parent_lead"]).post(
        api(org, "assessments/"), {"team": str(tree["team"].pk), "alignment": 5, "confidence": 5}
    )

    assert response.json()["assessor"] == people["parent_lead"].pk


def test_a_grandparent_lead_may_not_assess(org, tree, people, client_for):
    """Only the direct parent team's lead: the child's grandparent lead is refused."""
    response = client_for(people["parent_lead"]).post(
        api(org, "assessments/"), {"team": str(tree["child"].pk), "alignment": 5, "confidence": 5}
    )

    assert_status(response, 403)


def test_a_team_of_another_org_is_refused(org, other_org, owner, client_for):
    response = client_for(owner).post(
        api(org, "assessments/"),
        {"team": str(TeamFactory(organization=other_org).pk), "alignment": 3, "confidence": 3},
    )

    assert_invalid(response, "team")
    assert not Assessment.objects.exists()


def test_bad_assessment_names_every_field_and_writes_nothing(org, owner, client_for, count_rows):
    client = client_for(owner)
    before = count_rows()

    response = client.post(
        api(org, "assessments/"), {"team": str(uuid.uuid4()), "alignment": 0, "confidence": "x", "note": "n" * 10_001}
    )

    assert_invalid(response, "team", "alignment", "confidence", "note")
    assert count_rows() == before


@pytest.fixture
def history(org, tree, owner):
    """Three assessments of `team` and two of `sibling`, an hour apart, interleaved."""
    made = {"team": [], "sibling": []}
    for n, (name, alignment) in enumerate([("team", 1), ("sibling", 2), ("team", 3), ("team", 5), ("sibling", 4)]):
        assessment = Assessment.objects.create(
            organization=org, team=tree[name], assessor=owner, alignment=alignment, confidence=3,
            quadrant="critical", recommended_mode="critical",
        )  # fmt: skip
        at(Assessment, assessment, T0 + datetime.timedelta(hours=n))
        made[name].append(str(assessment.pk))
    return made


def test_a_teams_history_is_newest_first(org, viewer, tree, client_for, history):
    response = client_for(viewer).get(api(org, "assessments/"), {"team": str(tree["team"].pk)})

    assert response.status_code == 200
    assert ids(response) == history["team"][::-1]


def test_latest_returns_only_each_teams_latest(org, viewer, client_for, history):
    response = client_for(viewer).get(api(org, "assessments/"), {"latest": "true"})

    assert response.status_code == 200
    assert ids(response) == [history["sibling"][-1], history["team"][-1]]


def test_latest_false_returns_everything(org, viewer, client_for, history):
    response = client_for(viewer).get(api(org, "assessments/"), {"latest": "false"})

    assert len(ids(response)) == 5


@pytest.mark.parametrize(("name", "expected"), [("quadrant", [("sibling", 1)]), ("assessor", "all")])
def test_assessment_filters(org, viewer, owner, tree, client_for, history, name, expected):
    Assessment.objects.filter(pk=history["sibling"][1]).update(quadrant="full_support")
    value = {"quadrant": "full_support", "assessor": owner.pk}[name]

    response = client_for(viewer).get(api(org, "assessments/"), {name: value})

    if expected == "all":
        assert len(ids(response)) == 5
        assert ids(client_for(viewer).get(api(org, "assessments/"), {name: viewer.pk})) == []
    else:
        assert ids(response) == [history[team][n] for team, n in expected]


def test_a_new_assessment_becomes_the_latest(org, tree, people, client_for, history):
    created = client_for(people["lead"]).post(
        api(org, "assessments/"), {"team": str(tree["team"].pk), "alignment": 2, "confidence": 5}
    )

    response = client_for(people["lead"]).get(
        api(org, "assessments/"), {"latest": "true", "team": str(tree["team"].pk)}
    )

    assert ids(response) == [created.json()["id"]]


# --- Feedback ---------------------------------------------------------------------------------

FEEDBACK_FIELDS = {
    "id", "target_type", "target_id", "kind", "body", "anonymous", "status", "author", "created_at",
}  # fmt: skip


def target_of(target_type, goal, tree, pillar):
    return {
        "goal": str(goal.pk),
        "team": str(tree["team"].pk),
        "strategy": str(pillar.pk),
        "direction": "",
    }[target_type]


@pytest.mark.parametrize("target_type", ["goal", "team", "strategy", "direction"])
def test_feedback_on_each_kind_of_target(org, member, goal, tree, pillar, client_for, target_type):
    target_id = target_of(target_type, goal, tree, pillar)
    payload = {"target_type": target_type, "kind": "idea", "body": "What if…"}
    if target_id:
        payload["target_id"] = target_id

    response = client_for(member).post(api(org, "feedback/"), payload)

    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) >= FEEDBACK_FIELDS
    assert (body["target_type"], body["target_id"]) == (target_type, target_id)
    assert (body["kind"], body["body"], body["status"]) == ("idea", "What if…", "open")
    assert (body["anonymous"], body["author"]) == (False, member.pk)
    assert Feedback.objects.get(pk=body["id"]).organization_id == org.pk


def test_feedback_on_the_direction_ignores_a_target_id(org, member, goal, client_for):
    response = client_for(member).post(
        api(org, "feedback/"), {"target_type": "direction", "target_id": str(goal.pk), "kind": "praise", "body": "Yes"}
    )

    assert response.status_code == 201, response.content
    assert response.json()["target_id"] == ""


@pytest.mark.parametrize("kind", ["praise", "concern", "idea", "challenge"])
def test_every_kind_is_accepted(org, member, goal, client_for, kind):
    response = client_for(member).post(
        api(org, "feedback/"), {"target_type": "goal", "target_id": str(goal.pk), "kind": kind, "body": "b"}
    )

    assert response.status_code == 201, response.content
    assert response.json()["kind"] == kind


@pytest.mark.parametrize(
    ("field", "value"), [("kind", "rant"), ("target_type", "metric"), ("body", ""), ("anonymous", "maybe")]
)
def test_bad_feedback_values_are_refused(org, member, goal, client_for, field, value):
    payload = {"target_type": "goal", "target_id": str(goal.pk), "kind": "idea", "body": "b", field: value}

    response = client_for(member).post(api(org, "feedback/"), payload)

    assert_invalid(response, field)
    assert not Feedback.objects.exists()


@pytest.mark.parametrize("target_type", ["goal", "team", "strategy"])
@pytest.mark.parametrize("where", ["other_org", "missing", "garbage", "absent", "blank"])
def test_a_target_outside_the_org_is_refused(org, other_org, member, client_for, count_rows, target_type, where):
    foreign = {
        "goal": lambda: GoalFactory(organization=other_org),
        "team": lambda: TeamFactory(organization=other_org),
        "strategy": lambda: PillarFactory(organization=other_org),
    }[target_type]
    payload = {"target_type": target_type, "kind": "concern", "body": "b"}
    if where == "other_org":
        payload["target_id"] = str(foreign().pk)
    elif where == "missing":
        payload["target_id"] = str(uuid.uuid4())
    elif where == "garbage":
        payload["target_id"] = "42"
    elif where == "blank":
        payload["target_id"] = ""
    client = client_for(member)
    before = count_rows()

    response = client.post(api(org, "feedback/"), payload)

    assert_invalid(response, "target_id")
    assert count_rows() == before


def test_a_target_of_the_wrong_type_is_refused(org, member, goal, client_for):
    """A goal's id named as a team."""
    response = client_for(member).post(
        api(org, "feedback/"), {"target_type": "team", "target_id": str(goal.pk), "kind": "idea", "body": "b"}
    )

    assert_invalid(response, "target_id")


def test_bad_feedback_names_every_field_and_writes_nothing(org, member, client_for, count_rows):
    client = client_for(member)
    before = count_rows()

    response = client.post(
        api(org, "feedback/"), {"target_type": "metric", "kind": "rant", "body": "", "anonymous": "perhaps"}
    )

    assert_invalid(response, "target_type", "kind", "body", "anonymous")
    assert count_rows() == before


def test_bad_feedback_names_a_missing_target_id_among_other_errors(org, member, client_for):
    response = client_for(member).post(api(org, "feedback/"), {"target_type": "goal", "kind": "rant", "body": "b"})

    assert_invalid(response, "target_id", "kind")


def test_a_viewer_cannot_leave_feedback(org, viewer, goal, client_for, count_rows):
    client = client_for(viewer)
    before = count_rows()

    response = client.post(
        api(org, "feedback/"), {"target_type": "goal", "target_id": str(goal.pk), "kind": "idea", "body": "b"}
    )

    assert_status(response, 403)
    assert count_rows() == before


@pytest.mark.parametrize("name", ["target_type", "kind", "status"])
def test_feedback_filters(org, viewer, goal, tree, client_for, name):
    on_goal = Feedback.objects.create(
        organization=org, target_type="goal", target_id=str(goal.pk), kind="praise", body="a"
    )
    on_team = Feedback.objects.create(
        organization=org, target_type="team", target_id=str(tree["team"].pk), kind="concern", body="b",
        status="acknowledged",
    )  # fmt: skip
    value, expected = {
        "target_type": ("team", on_team),
        "kind": ("praise", on_goal),
        "status": ("acknowledged", on_team),
    }[name]

    response = client_for(viewer).get(api(org, "feedback/"), {name: value})

    assert ids(response) == [str(expected.pk)]


def test_feedback_filter_by_target_id(org, viewer, goal, client_for):
    mine = Feedback.objects.create(organization=org, target_type="goal", target_id=str(goal.pk), kind="idea", body="a")
    Feedback.objects.create(organization=org, target_type="goal", target_id=str(uuid.uuid4()), kind="idea", body="b")

    response = client_for(viewer).get(api(org, "feedback/"), {"target_id": str(goal.pk)})

    assert ids(response) == [str(mine.pk)]


def test_an_api_key_cannot_write_feedback(org, goal, key_client_for, feedback_on, count_rows):
    feedback = feedback_on("goal")
    client = key_client_for(org, (Scope.READ, Scope.READINGS_WRITE))
    before = count_rows()

    created = client.post(api(org, "feedback/"), {"target_type": "direction", "kind": "idea", "body": "b"})
    patched = client.patch(api(org, f"feedback/{feedback.pk}/"), {"status": "resolved"})
    replied = client.post(api(org, f"feedback/{feedback.pk}/replies/"), {"body": "b"})

    assert [r.status_code for r in (created, patched, replied)] == [403, 403, 403]
    assert count_rows() == before
    assert client.get(api(org, "feedback/")).status_code == 200


# --- Feedback status --------------------------------------------------------------------------

# target, who, may change its status
STEWARDS = [
    ("goal", "goal_owner", True),
    ("goal", "lead", True),
    ("goal", "admin", True),
    ("goal", "owner", True),
    ("goal", "parent_lead", False),
    ("goal", "sibling_lead", False),
    ("goal", "member", False),
    ("goal", "author", False),
    ("goal", "viewer", False),
    ("team", "lead", True),
    ("team", "admin", True),
    ("team", "goal_owner", False),
    ("team", "child_lead", False),
    ("strategy", "pillar_owner", True),
    ("strategy", "lead", True),
    ("strategy", "owner", True),
    ("strategy", "goal_owner", False),
    ("direction", "admin", True),
    ("direction", "owner", True),
    ("direction", "lead", False),
    ("direction", "member", False),
]


@pytest.fixture
def author(org, member_of):
    return member_of(org, Role.MEMBER, username="author")


@pytest.fixture
def feedback_on(org, goal, tree, pillar, author):
    def make(target_type, status="open"):
        return Feedback.objects.create(
            organization=org, target_type=target_type, target_id=target_of(target_type, goal, tree, pillar),
            kind="concern", body="Is this right?", author=author, status=status,
        )  # fmt: skip

    return make


def steward_client(who, org, people, author, client_for, member_of):
    if who == "author":
        return client_for(author)
    if who in people:
        return client_for(people[who])
    return client_for(member_of(org, Role(who)))


@pytest.mark.parametrize(("target_type", "who", "allowed"), STEWARDS)
def test_who_may_change_feedback_status(
    org, people, author, feedback_on, client_for, member_of, count_rows, target_type, who, allowed
):
    feedback = feedback_on(target_type)
    client = steward_client(who, org, people, author, client_for, member_of)
    url = api(org, f"feedback/{feedback.pk}/")

    if not allowed:
        before = count_rows()
        assert_status(client.patch(url, {"status": "acknowledged"}), 403)
        assert count_rows() == before
        feedback.refresh_from_db()
        assert feedback.status == "open"
        return

    acknowledged = client.patch(url, {"status": "acknowledged"})
    assert acknowledged.status_code == 200, acknowledged.content
    assert acknowledged.json()["status"] == "acknowledged"
    resolved = client.patch(url, {"status": "resolved"})
    assert resolved.status_code == 200, resolved.content
    assert resolved.json()["status"] == "resolved"
    feedback.refresh_from_db()
    assert feedback.status == "resolved"


@pytest.mark.parametrize(
    ("start", "back"), [("resolved", "open"), ("resolved", "acknowledged"), ("acknowledged", "open")]
)
def test_status_never_goes_backwards(org, admin, feedback_on, client_for, count_rows, start, back):
    feedback = feedback_on("goal", status=start)
    client = client_for(admin)
    before = count_rows()

    response = client.patch(api(org, f"feedback/{feedback.pk}/"), {"status": back})

    assert_status(response, 409, "status_backwards")
    feedback.refresh_from_db()
    assert feedback.status == start
    assert count_rows() == before


def test_open_may_jump_to_resolved(org, people, feedback_on, client_for):
    feedback = feedback_on("goal")

    response = client_for(people["goal_owner"]).patch(api(org, f"feedback/{feedback.pk}/"), {"status": "resolved"})

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "resolved"


@pytest.mark.parametrize("payload", [{"status": "closed"}, {"status": None}, {}])
def test_a_bad_status_is_refused(org, admin, feedback_on, client_for, count_rows, payload):
    feedback = feedback_on("goal")
    client = client_for(admin)
    before = count_rows()

    response = client.patch(api(org, f"feedback/{feedback.pk}/"), payload, format="json")

    assert_invalid(response, "status")
    assert count_rows() == before


UNOFFERED_METHODS = [
    ("put", "feedback/{feedback}/"),
    ("delete", "feedback/{feedback}/"),
    ("patch", "check-ins/{check_in}/"),
    ("delete", "check-ins/{check_in}/"),
    ("patch", "assessments/{assessment}/"),
    ("delete", "assessments/{assessment}/"),
    ("delete", "feedback/{feedback}/replies/"),
]


@pytest.mark.parametrize(("method", "path"), UNOFFERED_METHODS)
def test_a_method_an_endpoint_does_not_offer_is_405(
    org, admin, goal, tree, feedback_on, client_for, count_rows, method, path
):
    objects = {
        "feedback": feedback_on("goal"),
        "check_in": CheckIn.objects.create(organization=org, goal=goal, summary="x", confidence=5),
        "assessment": Assessment.objects.create(
            organization=org, team=tree["team"], alignment=3, confidence=3, quadrant="critical",
            recommended_mode="critical",
        ),
    }  # fmt: skip
    client = client_for(admin)
    client.raise_request_exception = False
    before = count_rows()

    response = getattr(client, method)(api(org, path.format(**{k: v.pk for k, v in objects.items()})), {})

    assert_status(response, 405)
    assert count_rows() == before


# --- Replies ----------------------------------------------------------------------------------

REPLY_FIELDS = {"id", "feedback", "author", "anonymous", "body", "created_at"}


def test_replies_are_listed_oldest_first(org, viewer, author, people, feedback_on, client_for):
    feedback = feedback_on("goal")
    replies = []
    for n, who in enumerate([people["goal_owner"], author, people["lead"]]):
        reply = FeedbackReply.objects.create(organization=org, feedback=feedback, author=who, body=f"#{n}")
        at(FeedbackReply, reply, T0 + datetime.timedelta(minutes=n))
        replies.append(str(reply.pk))
    FeedbackReply.objects.create(organization=org, feedback=feedback_on("team"), body="elsewhere")

    response = client_for(viewer).get(api(org, f"feedback/{feedback.pk}/replies/"))

    assert response.status_code == 200
    assert ids(response) == replies
    assert set(response.json()["results"][0]) == REPLY_FIELDS


def test_a_member_replies_and_the_author_is_notified(org, member, author, feedback_on, client_for):
    feedback = feedback_on("goal")

    response = client_for(member).post(api(org, f"feedback/{feedback.pk}/replies/"), {"body": "Good point"})

    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == REPLY_FIELDS
    assert (body["feedback"], body["author"], body["body"]) == (str(feedback.pk), member.pk, "Good point")
    notification = Notification.objects.get(recipient=author)
    assert notification.kind == "feedback.replied"
    assert (notification.subject_type, notification.subject_id) == ("feedback", str(feedback.pk))
    assert notification.organization_id == org.pk
    assert "Good point" in notification.body
    assert not Notification.objects.filter(recipient=member).exists()


def test_the_authors_own_reply_notifies_nobody(org, author, feedback_on, client_for):
    feedback = feedback_on("goal")

    response = client_for(author).post(api(org, f"feedback/{feedback.pk}/replies/"), {"body": "To add…"})

    assert response.status_code == 201
    assert not Notification.objects.exists()


def test_a_viewer_reads_but_cannot_reply(org, viewer, feedback_on, client_for, count_rows):
    feedback = feedback_on("goal")
    client = client_for(viewer)
    before = count_rows()

    assert client.get(api(org, f"feedback/{feedback.pk}/replies/")).status_code == 200
    assert_status(client.post(api(org, f"feedback/{feedback.pk}/replies/"), {"body": "hi"}), 403)
    assert count_rows() == before


@pytest.mark.parametrize("payload", [{}, {"body": ""}, {"body": "x" * 10_001}])
def test_a_bad_reply_is_refused_and_writes_nothing(org, member, feedback_on, client_for, count_rows, payload):
    feedback = feedback_on("goal")
    client = client_for(member)
    before = count_rows()

    response = client.post(api(org, f"feedback/{feedback.pk}/replies/"), payload)

    assert_invalid(response, "body")
    assert count_rows() == before


@pytest.mark.parametrize("method", ["get", "post"])
def test_replies_of_feedback_in_another_org_are_not_found(org, other_org, member, client_for, count_rows, method):
    foreign = Feedback.objects.create(organization=other_org, target_type="direction", kind="idea", body="theirs")
    client = client_for(member)
    before = count_rows()

    response = getattr(client, method)(api(org, f"feedback/{foreign.pk}/replies/"), {"body": "hi"})

    assert_status(response, 404)
    assert count_rows() == before


# --- Rescore owed by every write --------------------------------------------------------------


def write_checkin(org, goal, people, author, feedback_on, client_for):
    return client_for(author).post(api(org, "check-ins/"), {"goal": str(goal.pk), "summary": "x", "confidence": 4})


def write_assessment(org, goal, people, author, feedback_on, client_for):
    return client_for(people["lead"]).post(
        api(org, "assessments/"), {"team": str(goal.team_id), "alignment": 1, "confidence": 1}
    )


def write_feedback(org, goal, people, author, feedback_on, client_for):
    return client_for(author).post(
        api(org, "feedback/"), {"target_type": "goal", "target_id": str(goal.pk), "kind": "challenge", "body": "b"}
    )


def write_status(org, goal, people, author, feedback_on, client_for):
    feedback = feedback_on("goal")
    return client_for(people["goal_owner"]).patch(api(org, f"feedback/{feedback.pk}/"), {"status": "acknowledged"})


WRITES = [write_checkin, write_assessment, write_feedback, write_status]


@pytest.mark.parametrize("write", WRITES, ids=lambda w: w.__name__)
def test_every_write_owes_a_rescore(org, goal, people, author, feedback_on, client_for, write):
    OutboxMessage.objects.all().delete()

    response = write(org, goal, people, author, feedback_on, client_for)

    assert response.status_code in (200, 201), response.content
    assert pending_rescores(org).count() == 1


@pytest.mark.parametrize("write", WRITES, ids=lambda w: w.__name__)
def test_rescores_owed_coalesce(org, goal, people, author, feedback_on, client_for, write):
    OutboxMessage.objects.all().delete()

    write(org, goal, people, author, feedback_on, client_for)
    write(org, goal, people, author, feedback_on, client_for)

    assert pending_rescores(org).count() == 2
    assert {owed.dedupe_key for owed in pending_rescores(org)} == {f"rescore:{org.pk}"}, "they go out as one"


def test_a_refused_write_owes_no_rescore(org, goal, people, viewer, client_for):
    OutboxMessage.objects.all().delete()
    client = client_for(people["sibling_lead"])

    client.post(api(org, "check-ins/"), {"goal": str(goal.pk), "summary": "x", "confidence": 11})
    client.post(api(org, "assessments/"), {"team": str(goal.team_id), "alignment": 1, "confidence": 1})
    client_for(viewer).post(api(org, "feedback/"), {"target_type": "direction", "kind": "idea", "body": "b"})

    assert not OutboxMessage.objects.exists()


# --- Query counts -----------------------------------------------------------------------------

# Every list pinned at two sizes; the number must not grow with the rows listed.
# auth token + membership + count + page (+ the parent feedback for replies)
CHECK_INS_QUERIES = 3
ASSESSMENTS_QUERIES = 3
FEEDBACK_QUERIES = 3
REPLIES_QUERIES = 4
# auth token + membership + page (cursor: no count)
ACTIVITY_QUERIES = 2
# auth token + page (the inbox is not under an org)
NOTIFICATIONS_QUERIES = 2

SIZES = [3, 25]


@pytest.mark.parametrize("size", SIZES)
def test_check_ins_list_query_count(org, viewer, goal, people, client_for, django_assert_num_queries, size):
    CheckIn.objects.bulk_create(
        CheckIn(organization=org, goal=goal, author=people["lead"], summary=f"#{n}", confidence=5) for n in range(size)
    )
    client = client_for(viewer)

    with django_assert_num_queries(CHECK_INS_QUERIES):
        response = client.get(api(org, "check-ins/"))

    assert len(response.json()["results"]) == size


@pytest.mark.parametrize("size", SIZES)
def test_assessments_list_query_count(org, viewer, tree, owner, client_for, django_assert_num_queries, size):
    Assessment.objects.bulk_create(
        Assessment(
            organization=org, team=tree["team"], assessor=owner, alignment=3, confidence=3, quadrant="critical",
            recommended_mode="critical",
        )
        for _ in range(size)
    )  # fmt: skip
    client = client_for(viewer)

    with django_assert_num_queries(ASSESSMENTS_QUERIES):
        response = client.get(api(org, "assessments/"))

    assert len(response.json()["results"]) == size


@pytest.mark.parametrize("size", SIZES)
def test_latest_assessments_query_count(org, viewer, owner, client_for, django_assert_num_queries, size):
    for _ in range(size):
        team = TeamFactory(organization=org)
        Assessment.objects.bulk_create(
            Assessment(
                organization=org, team=team, assessor=owner, alignment=a, confidence=3, quadrant="critical",
                recommended_mode="critical",
            )
            for a in (1, 2)
        )  # fmt: skip
    client = client_for(viewer)

    with django_assert_num_queries(ASSESSMENTS_QUERIES):
        response = client.get(api(org, "assessments/"), {"latest": "true"})

    assert len(response.json()["results"]) == size


@pytest.mark.parametrize("size", SIZES)
def test_feedback_list_query_count(org, viewer, author, client_for, django_assert_num_queries, size):
    for n in range(size):
        feedback = Feedback.objects.create(
            organization=org, target_type="direction", kind="idea", body=f"#{n}", author=author, anonymous=n % 2 == 0
        )
        FeedbackReply.objects.create(organization=org, feedback=feedback, author=author, body="r")
    client = client_for(viewer)

    with django_assert_num_queries(FEEDBACK_QUERIES):
        response = client.get(api(org, "feedback/"))

    results = response.json()["results"]
    assert len(results) == size


@pytest.mark.parametrize("size", SIZES)
def test_replies_list_query_count(org, viewer, author, feedback_on, client_for, django_assert_num_queries, size):
    feedback = feedback_on("direction")
    FeedbackReply.objects.bulk_create(
        FeedbackReply(organization=org, feedback=feedback, author=author, body=f"#{n}") for n in range(size)
    )
    client = client_for(viewer)

    with django_assert_num_queries(REPLIES_QUERIES):
        response = client.get(api(org, f"feedback/{feedback.pk}/replies/"))

    assert len(response.json()["results"]) == size


@pytest.mark.parametrize("size", SIZES)
def test_activity_list_query_count(org, viewer, owner, client_for, django_assert_num_queries, size):
    from teams.services import api_key_create

    key, _ = api_key_create(org=org, created_by=owner, name="sync", scopes=[Scope.READINGS_WRITE])
    Activity.objects.all().delete()
    for n in range(size):
        access = Access(org=org, api_key=key) if n % 2 else Access(org=org, user=owner, role=Role.OWNER)
        activity_record(access=access, verb="x.done", subject_type="goal", subject_id=n, summary=f"#{n}")
    client = client_for(viewer)

    with django_assert_num_queries(ACTIVITY_QUERIES):
        response = client.get(api(org, "activity/"))

    results = response.json()["results"]
    assert len(results) == size
    assert {result["actor"]["type"] for result in results} == {"user", "api_key"}


@pytest.mark.parametrize("size", SIZES)
def test_notifications_list_query_count(org, other_org, member, client_for, django_assert_num_queries, size):
    for n in range(size):
        notify(
            org=org if n % 2 else other_org, recipient_ids=[member.pk], kind="k", title=f"#{n}", body="",
            subject_type="goal", subject_id=n, dedupe_key=f"k:{n}",
        )  # fmt: skip
    client = client_for(member)

    with django_assert_num_queries(NOTIFICATIONS_QUERIES):
        response = client.get("/api/v1/notifications/")

    results = response.json()["results"]
    assert len(results) == size
    assert {result["org"] for result in results} == {org.slug, other_org.slug}
