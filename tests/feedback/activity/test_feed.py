"""Reading the activity feed: newest first, cursor paginated (no `count`) and filterable;
everyone in the org reads it; a refused write leaves nothing; another organization's activity
never shows."""

import datetime
from urllib.parse import urlsplit

import pytest

from alignment_service.access import Access, Scope
from alignment_service.activity.models import Activity
from alignment_service.activity.services import activity_record
from feedback.models import Feedback
from tests.feedback.activity.support import T0, api
from tests.routes import populate

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
