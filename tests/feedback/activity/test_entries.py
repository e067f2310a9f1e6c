"""The activity feed: who (a person or an API key) did what to which subject.

Each write through the API leaves exactly the entry named in the table below, with the actor,
subject and data it should carry."""

import datetime

import pytest
from django.utils import timezone

from alignment_service.access import Access, Role
from alignment_service.activity.models import Activity
from feedback.models import Feedback
from goals.models import Reading
from teams import services as team_services
from teams.models import Invitation, Membership
from tests.factories import TeamFactory, UserFactory
from tests.feedback.activity.support import api, key_actor, user_actor

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
