"""The activity feed: who (a person or an API key) did what to which subject, and when.

Each write through the API leaves exactly the entry named in the table below, with the actor,
subject and data it should carry; the feed is newest first, cursor paginated (no `count`) and
filterable; a refused write leaves nothing; another organization's activity never shows.
"""

import datetime
from urllib.parse import urlsplit

import pytest
from django.utils import timezone

from alignment_service.access import Access, Role, Scope
from alignment_service.activity.models import Activity
from alignment_service.activity.services import activity_record
from feedback.models import Feedback
from goals.models import Reading
from teams import services as team_services
from teams.models import Invitation, Membership
from tests.factories import GoalFactory, MetricFactory, TeamFactory, UserFactory
from tests.routes import populate

UTC = datetime.UTC
T0 = datetime.datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def api(org, path=""):
    return f"/api/v1/orgs/{org.slug}/{path}"


def user_actor(user):
    return {"type": "user", "id": str(user.pk), "name": user.username}


def key_actor(key):
    return {"type": "api_key", "id": str(key.pk), "name": key.name}


@pytest.fixture
def world(org, owner, admin, member, viewer, member_of):
    lead = member_of(org, Role.MEMBER, username="lead")
    team = TeamFactory(organization=org, name="Platform", lead=lead)
    goal = GoalFactory(organization=org, team=team, owner=member, title="Ship it")
    metric = MetricFactory(goal=goal, key="activation", name="Activation", baseline=0.0, target=100.0)
    key, secret = team_services.api_key_create(
        org=org, created_by=admin, name="warehouse", scopes=[Scope.READ, Scope.READINGS_WRITE]
    )
    return {
        "owner": owner, "admin": admin, "member": member, "viewer": viewer, "lead": lead, "team": team,
        "goal": goal, "metric": metric, "key": key, "secret": secret,
    }  # fmt: skip


@pytest.fixture
def as_(client_for, world):
    from tests.conftest import bearer_client

    def client(who):
        if who == "key":
            return bearer_client(world["secret"])
        return client_for(world[who])

    return client


# --- Who did what -----------------------------------------------------------------------------
# Each case does one write and returns (response, who, verb, subject_type, subject_id, data subset).


def member_added(org, world, as_):
    newcomer = world["newcomer"] = UserFactory(username="newcomer")
    invitation = Invitation.objects.create(
        organization=org, username="newcomer", invitee=newcomer, role="viewer", invited_by=world["admin"],
        expires_at=timezone.now() + datetime.timedelta(days=1),
    )  # fmt: skip
    response = as_("newcomer").post(f"/api/v1/invitations/{invitation.pk}/accept/")
    membership = Membership.objects.get(organization=org, user=newcomer)
    data = {"user": newcomer.pk, "role": "viewer", "invitation": str(invitation.pk)}
    return response, "newcomer", "member.added", "member", membership.pk, data


def invitation_created(org, world, as_):
    response = as_("admin").post(api(org, "invitations/"), {"email": "someone@example.com", "role": "viewer"})
    return response, "admin", "invitation.created", "invitation", response.json()["id"], {"role": "viewer"}


def invitation_revoked(org, world, as_):
    invitation = Invitation.objects.create(
        organization=org, email="someone@example.com", role="member", invited_by=world["admin"],
        expires_at=timezone.now() + datetime.timedelta(days=1),
    )  # fmt: skip
    response = as_("admin").delete(api(org, f"invitations/{invitation.pk}/"))
    return response, "admin", "invitation.revoked", "invitation", invitation.pk, {"role": "member"}


def member_role_changed(org, world, as_):
    membership = Membership.objects.get(organization=org, user=world["viewer"])
    response = as_("admin").patch(api(org, f"members/{membership.pk}/"), {"role": "member"})
    data = {"user": world["viewer"].pk, "old": "viewer", "new": "member"}
    return response, "admin", "member.role_changed", "member", membership.pk, data


def member_removed(org, world, as_):
    membership = Membership.objects.get(organization=org, user=world["viewer"])
    response = as_("admin").delete(api(org, f"members/{membership.pk}/"))
    return response, "admin", "member.removed", "member", membership.pk, {"user": world["viewer"].pk}


def team_created(org, world, as_):
    response = as_("admin").post(api(org, "teams/"), {"name": "Growth"})
    return response, "admin", "team.created", "team", response.json()["id"], {}


def team_updated(org, world, as_):
    response = as_("owner").patch(api(org, f"teams/{world['team'].pk}/"), {"description": "Runs the platform"})
    return response, "owner", "team.updated", "team", world["team"].pk, {"fields": ["description"]}


def team_deleted(org, world, as_):
    empty = TeamFactory(organization=org, name="Empty")
    response = as_("admin").delete(api(org, f"teams/{empty.pk}/"))
    return response, "admin", "team.deleted", "team", empty.pk, {}


def api_key_created(org, world, as_):
    response = as_("admin").post(api(org, "api-keys/"), {"name": "CI", "scopes": ["read"]})
    return response, "admin", "api_key.created", "api_key", response.json()["id"], {}


def api_key_revoked(org, world, as_):
    response = as_("owner").delete(api(org, f"api-keys/{world['key'].pk}/"))
    return response, "owner", "api_key.revoked", "api_key", world["key"].pk, {}


def direction_updated(org, world, as_):
    response = as_("admin").put(api(org, "direction/"), {"vision": "V", "mission": "M", "values": []})
    return response, "admin", "direction.updated", "direction", 1, {}


def goal_created(org, world, as_):
    response = as_("lead").post(
        api(org, "goals/"),
        {"title": "Faster builds", "team": str(world["team"].pk), "starts_on": "2026-01-01", "due_on": "2026-06-30"},
    )
    return response, "lead", "goal.created", "goal", response.json()["id"], {}


def goal_updated(org, world, as_):
    response = as_("member").patch(api(org, f"goals/{world['goal'].pk}/"), {"title": "Ship it now"})
    return response, "member", "goal.updated", "goal", world["goal"].pk, {"fields": ["title"]}


def metric_target_changed(org, world, as_):
    response = as_("member").patch(
        api(org, f"metrics/{world['metric'].pk}/"), {"target": 150, "reason": "Beta went well"}
    )
    data = {"field": "target", "old": 100.0, "new": 150.0, "reason": "Beta went well"}
    return response, "member", "metric.target_changed", "metric", world["metric"].pk, data


def metric_baseline_changed(org, world, as_):
    response = as_("member").patch(api(org, f"metrics/{world['metric'].pk}/"), {"baseline": 10})
    data = {"field": "baseline", "old": 0.0, "new": 10.0}
    return response, "member", "metric.baseline_changed", "metric", world["metric"].pk, data


def reading_recorded(org, world, as_):
    response = as_("member").post(
        api(org, f"metrics/{world['metric'].pk}/readings/"), {"value": 42, "observed_at": "2026-03-01T00:00:00Z"}
    )
    data = {"value": 42.0, "replaced": False}
    return response, "member", "reading.recorded", "metric", world["metric"].pk, data


def reading_recorded_by_key(org, world, as_):
    response = as_("key").post(
        api(org, f"metrics/{world['metric'].pk}/readings/"), {"value": 7, "observed_at": "2026-03-02T00:00:00Z"}
    )
    return response, "key", "reading.recorded", "metric", world["metric"].pk, {"value": 7.0}


def readings_ingested_by_key(org, world, as_):
    Reading.objects.create(organization=org, metric=world["metric"], observed_at="2026-03-01T00:00:00Z", value=1)
    readings = [{"metric": "activation", "value": n, "observed_at": f"2026-03-0{n}T00:00:00Z"} for n in (1, 2, 3, 4)]
    response = as_("key").post(api(org, "readings/batch/"), {"readings": readings})
    return response, "key", "readings.ingested", "org", org.pk, {"created": 3, "updated": 1, "metrics": 1}


def checkin_created(org, world, as_):
    response = as_("member").post(
        api(org, "check-ins/"), {"goal": str(world["goal"].pk), "summary": "On it", "confidence": 6}
    )
    return response, "member", "checkin.created", "goal", world["goal"].pk, {"check_in": response.json()["id"]}


def assessment_created(org, world, as_):
    response = as_("lead").post(
        api(org, "assessments/"), {"team": str(world["team"].pk), "alignment": 2, "confidence": 5}
    )
    data = {
        "assessment": response.json()["id"], "quadrant": "divergence_permitted",
        "recommended_mode": "supported_divergence",
    }  # fmt: skip
    return response, "lead", "assessment.created", "team", world["team"].pk, data


def feedback_created(org, world, as_):
    response = as_("member").post(
        api(org, "feedback/"), {"target_type": "team", "target_id": str(world["team"].pk), "kind": "idea", "body": "b"}
    )
    return response, "member", "feedback.created", "team", world["team"].pk, {"feedback": response.json()["id"]}


def feedback_acknowledged(org, world, as_):
    feedback = Feedback.objects.create(
        organization=org, target_type="goal", target_id=str(world["goal"].pk), kind="concern", body="b"
    )
    response = as_("lead").patch(api(org, f"feedback/{feedback.pk}/"), {"status": "acknowledged"})
    return response, "lead", "feedback.acknowledged", "goal", world["goal"].pk, {"feedback": str(feedback.pk)}


def feedback_replied(org, world, as_):
    feedback = Feedback.objects.create(organization=org, target_type="direction", kind="idea", body="b")
    response = as_("member").post(api(org, f"feedback/{feedback.pk}/replies/"), {"body": "+1"})
    data = {"feedback": str(feedback.pk), "reply": response.json()["id"]}
    return response, "member", "feedback.replied", "direction", "", data


CASES = [
    member_added, invitation_created, invitation_revoked, member_role_changed, member_removed, team_created,
    team_updated, team_deleted, api_key_created,
    api_key_revoked, direction_updated, goal_created, goal_updated, metric_target_changed, metric_baseline_changed,
    reading_recorded, reading_recorded_by_key, readings_ingested_by_key, checkin_created, assessment_created,
    feedback_created, feedback_acknowledged, feedback_replied,
]  # fmt: skip

ENTRY_FIELDS = {"id", "verb", "subject_type", "subject_id", "summary", "data", "actor", "anonymous", "created_at"}


def do(case, org, world, as_):
    """Run one case; return its expectations and the one entry it added, as the feed shows it."""
    before = set(Activity.objects.values_list("id", flat=True))
    response, who, verb, subject_type, subject_id, data = case(org, world, as_)
    assert response.status_code in (200, 201, 204), response.content
    new = Activity.objects.exclude(id__in=before)
    assert list(new.values_list("verb", flat=True)) == [verb]
    [entry] = as_("lead").get(api(org, "activity/"), {"limit": 1}).json()["results"]
    assert entry["id"] == new.get().pk
    return entry, who, verb, subject_type, subject_id, data


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.__name__)
def test_the_feed_records_who_did_what(org, world, as_, case):
    entry, who, verb, subject_type, subject_id, _ = do(case, org, world, as_)

    assert set(entry) == ENTRY_FIELDS
    assert entry["verb"] == verb
    assert (entry["subject_type"], entry["subject_id"]) == (subject_type, str(subject_id))
    assert entry["actor"] == (key_actor(world["key"]) if who == "key" else user_actor(world[who]))
    assert entry["anonymous"] is False
    assert entry["summary"]
    assert datetime.datetime.fromisoformat(entry["created_at"]).tzinfo is not None


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(case, id=case.__name__)
        for case in CASES
        if case not in (team_created, team_deleted, api_key_created, api_key_revoked, direction_updated, goal_created)
    ],
)
def test_the_entry_carries_its_data(org, world, as_, case):
    entry, *_, data = do(case, org, world, as_)

    assert data
    for name, value in data.items():
        assert entry["data"].get(name) == value, (name, entry["data"])


def test_a_readings_batch_is_one_entry_whatever_its_size(org, world, as_):
    before = Activity.objects.count()
    readings = [{"metric": "activation", "value": n, "observed_at": f"2026-02-{n:02d}T00:00:00Z"} for n in range(1, 29)]

    response = as_("key").post(api(org, "readings/batch/"), {"readings": readings})

    assert response.status_code == 200, response.content
    assert Activity.objects.count() == before + 1
    entry = Activity.objects.latest("id")
    assert entry.verb == "readings.ingested"
    assert (entry.actor_api_key_id, entry.actor_user_id) == (world["key"].pk, None)


def test_an_api_key_actor_outlives_its_revocation(org, world, as_):
    as_("key").post(
        api(org, f"metrics/{world['metric'].pk}/readings/"), {"value": 1, "observed_at": "2026-03-01T00:00:00Z"}
    )
    team_services.api_key_revoke(access=Access(org=org, user=world["admin"], role=Role.ADMIN), api_key=world["key"])

    entries = as_("viewer").get(api(org, "activity/"), {"verb": "reading.recorded"}).json()["results"]

    assert [entry["actor"] for entry in entries] == [key_actor(world["key"])]


# --- Order and pagination ---------------------------------------------------------------------


@pytest.fixture
def entries(org, world):
    """Seven entries a minute apart, alternating between the member and the key."""
    Activity.objects.all().delete()
    made = []
    for n in range(7):
        access = Access(org=org, api_key=world["key"]) if n % 2 else Access(org=org, user=world["member"])
        subject = world["goal"] if n < 4 else world["team"]
        entry = activity_record(
            access=access, verb="goal.updated" if n < 4 else "team.updated",
            subject_type="goal" if n < 4 else "team", subject_id=subject.pk, summary=f"#{n}",
        )  # fmt: skip
        Activity.objects.filter(pk=entry.pk).update(created_at=T0 + datetime.timedelta(minutes=n))
        made.append(entry.pk)
    return made


def listed(response):
    assert response.status_code == 200, response.content
    return [entry["id"] for entry in response.json()["results"]]


def test_newest_first(org, as_, entries):
    assert listed(as_("viewer").get(api(org, "activity/"))) == entries[::-1]


def test_newest_first_even_against_insertion_order(org, world, as_, entries):
    """Ordered by time, not by id: an entry stamped earlier sorts after later ones."""
    late = activity_record(
        access=Access(org=org, user=world["member"]), verb="x", subject_type="goal", subject_id=1, summary="late"
    )
    Activity.objects.filter(pk=late.pk).update(created_at=T0 - datetime.timedelta(days=1))

    assert listed(as_("viewer").get(api(org, "activity/")))[-1] == late.pk


def test_cursor_pagination(org, as_, entries):
    client = as_("viewer")
    seen, url, pages = [], api(org, "activity/?limit=3"), 0
    while url:
        response = client.get(url)
        body = response.json()
        assert "count" not in body
        assert set(body) == {"next", "previous", "results"}
        if pages:
            assert body["previous"].startswith("http://testserver/")
        else:
            assert body["previous"] is None
        seen += listed(response)
        url = body["next"]
        if url:
            assert url.startswith("http://testserver/")
            url = urlsplit(url)._replace(scheme="", netloc="").geturl()
        pages += 1

    assert pages == 3
    assert seen == entries[::-1]


def test_a_page_is_stable_under_inserts(org, world, as_, entries):
    client = as_("viewer")
    first = client.get(api(org, "activity/"), {"limit": 3}).json()
    newer = activity_record(
        access=Access(org=org, user=world["member"]), verb="x", subject_type="goal", subject_id=1, summary="new"
    )

    second = client.get(first["next"]).json()

    assert [e["id"] for e in second["results"]] == entries[::-1][3:6]
    assert newer.pk not in [e["id"] for e in second["results"]]


# --- Filters ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("subject_type", [6, 5, 4]),
        ("subject_id", [3, 2, 1, 0]),
        ("verb", [6, 5, 4]),
        ("actor", [6, 4, 2, 0]),
        ("api_key", [5, 3, 1]),
        ("since", [6, 5]),
    ],
)
def test_filters(org, world, as_, entries, name, expected):
    value = {
        "subject_type": "team",
        "subject_id": str(world["goal"].pk),
        "verb": "team.updated",
        "actor": world["member"].pk,
        "api_key": str(world["key"].pk),
        "since": (T0 + datetime.timedelta(minutes=5)).isoformat(),
    }[name]

    assert listed(as_("viewer").get(api(org, "activity/"), {name: value})) == [entries[n] for n in expected]


def test_filters_combine(org, world, as_, entries):
    response = as_("viewer").get(api(org, "activity/"), {"verb": "goal.updated", "actor": world["member"].pk})

    assert listed(response) == [entries[2], entries[0]]


@pytest.mark.parametrize(
    ("name", "value"),
    [("since", "2026-03-01T09:00:00"), ("since", "yesterday"), ("actor", "alice"), ("api_key", "not-a-uuid")],
)
def test_bad_filters_are_400(org, as_, name, value):
    response = as_("viewer").get(api(org, "activity/"), {name: value})

    assert response.status_code == 400, response.content
    assert {error["attr"] for error in response.json()["errors"]} == {name}


@pytest.mark.parametrize(("who", "expected"), [("viewer", 200), ("member", 200), ("key", 200)])
def test_everyone_in_the_org_reads_the_feed(org, as_, who, expected):
    assert as_(who).get(api(org, "activity/")).status_code == expected


def test_a_key_without_read_scope_cannot(org, key_client_for):
    client = key_client_for(org, (Scope.READINGS_WRITE,))

    assert client.get(api(org, "activity/")).status_code == 403


# --- Refused writes record nothing ------------------------------------------------------------

GOOD_ITEM = {"metric": "activation", "value": 1, "observed_at": "2026-03-01T00:00:00Z"}

REFUSED = [
    ("member", "post", "teams/", {"name": "Mine"}, 403),
    ("admin", "post", "teams/", {"name": ""}, 400),
    ("member", "post", "invitations/", {"user": "nobody", "role": "member"}, 403),
    ("admin", "post", "invitations/", {"user": "no-such-user", "role": "emperor"}, 400),
    ("admin", "post", "invitations/", {"user": "no-such-user", "role": "owner"}, 403),
    ("member", "put", "direction/", {"vision": "V", "mission": "M", "values": []}, 403),
    ("viewer", "patch", "goals/{goal}/", {"title": "Mine"}, 403),
    ("member", "patch", "goals/{goal}/", {"weight": 0}, 400),
    ("member", "patch", "metrics/{metric}/", {"target": "lots"}, 400),
    ("viewer", "post", "metrics/{metric}/readings/", {"value": 1, "observed_at": "2026-03-01T00:00:00Z"}, 403),
    ("member", "post", "metrics/{metric}/readings/", {"value": 1, "observed_at": "2026-03-01T00:00:00"}, 400),
    ("key", "post", "readings/batch/", {"readings": [GOOD_ITEM, {**GOOD_ITEM, "metric": "nope"}]}, 400),
    ("key", "post", "teams/", {"name": "Keyed"}, 403),
    ("viewer", "post", "check-ins/", {"goal": "{goal}", "summary": "x", "confidence": 5}, 403),
    ("member", "post", "check-ins/", {"goal": "{goal}", "summary": "x", "confidence": 11}, 400),
    ("member", "post", "assessments/", {"team": "{team}", "alignment": 3, "confidence": 3}, 403),
    ("lead", "post", "assessments/", {"team": "{team}", "alignment": 9, "confidence": 3}, 400),
    ("member", "post", "feedback/", {"target_type": "goal", "target_id": "{team}", "kind": "idea", "body": "b"}, 400),
    ("viewer", "post", "feedback/", {"target_type": "direction", "kind": "idea", "body": "b"}, 403),
    ("viewer", "patch", "feedback/{feedback}/", {"status": "resolved"}, 403),
    ("admin", "patch", "feedback/{feedback}/", {"status": "open"}, 409),
    ("lead", "post", "feedback/{feedback}/replies/", {"body": ""}, 400),
]  # fmt: skip


def _fill(value, names):
    if isinstance(value, str):
        return value.format(**names)
    if isinstance(value, dict):
        return {k: _fill(v, names) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, names) for v in value]
    return value


@pytest.mark.parametrize(("who", "method", "path", "body", "expected"), REFUSED, ids=lambda v: str(v)[:30])
def test_a_refused_write_records_nothing(org, world, as_, who, method, path, body, expected):
    feedback = Feedback.objects.create(
        organization=org, target_type="goal", target_id=str(world["goal"].pk), kind="idea", body="b",
        status="resolved",
    )  # fmt: skip
    names = {"goal": world["goal"].pk, "metric": world["metric"].pk, "team": world["team"].pk, "feedback": feedback.pk}
    client = as_(who)
    before = Activity.objects.count()

    response = getattr(client, method)(api(org, _fill(path, names)), _fill(body, names), format="json")

    assert response.status_code == expected, response.content
    assert Activity.objects.count() == before


# --- Tenancy ----------------------------------------------------------------------------------


def test_activity_of_another_org_never_shows(org, other_org, outsider, world, as_):
    populate(other_org, outsider)
    theirs = Activity.objects.filter(organization=other_org)
    assert theirs.exists()
    ours_subjects = set(Activity.objects.filter(organization=org).values_list("subject_id", flat=True))
    their_subjects = set(theirs.values_list("subject_id", flat=True)) - ours_subjects - {""}
    assert their_subjects

    ours = as_("admin").get(api(org, "activity/"), {"limit": 200}).json()["results"]
    by_actor = as_("admin").get(api(org, "activity/"), {"actor": outsider.pk}).json()["results"]
    by_subject = [
        as_("admin").get(api(org, "activity/"), {"subject_id": subject}).json()["results"] for subject in their_subjects
    ]

    assert {entry["id"] for entry in ours} == set(
        Activity.objects.filter(organization=org).values_list("id", flat=True)
    )
    assert not set(theirs.values_list("id", flat=True)) & {entry["id"] for entry in ours}
    assert by_actor == []
    assert by_subject == [[] for _ in their_subjects]
