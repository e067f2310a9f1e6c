"""The inbox, `/api/v1/notifications/`: the signed-in person's notifications across every
organization they belong to, newest first, cursor paginated; `?unread=true`; `POST …/read/`
is idempotent; nobody sees or marks anyone else's; API keys have no inbox; anonymous is 401.
"""

import datetime
import uuid
from urllib.parse import urlsplit

import pytest
from django.utils import timezone

from alignment_service.access import Role, Scope
from alignment_service.notifications.models import Notification
from alignment_service.notifications.services import notify
from feedback.models import Feedback
from tests.factories import MembershipFactory, TeamFactory

INBOX = "/api/v1/notifications/"
UTC = datetime.UTC
T0 = datetime.datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
FIELDS = {"id", "org", "kind", "title", "body", "subject_type", "subject_id", "created_at", "read_at"}


def send(org, user, n, *, kind="feedback.created", read=False):
    """One notification for `user`, stamped `n` minutes after T0."""
    notify(
        org=org, recipient_ids=[user.pk], kind=kind, title=f"Title {n}", body=f"Body {n}", subject_type="feedback",
        subject_id=f"subject-{n}", dedupe_key=f"test:{n}",
    )  # fmt: skip
    notification = Notification.objects.get(recipient=user, dedupe_key=f"test:{n}")
    Notification.objects.filter(pk=notification.pk).update(
        created_at=T0 + datetime.timedelta(minutes=n), read_at=T0 if read else None
    )
    return str(notification.pk)


def ids(response):
    assert response.status_code == 200, response.content
    return [item["id"] for item in response.json()["results"]]


@pytest.fixture
def me(org, other_org, member_of):
    """A member of two organizations."""
    user = member_of(org, Role.MEMBER, username="me")
    MembershipFactory(organization=other_org, user=user, role=Role.VIEWER)
    return user


@pytest.fixture
def inbox(org, other_org, me, member_of):
    """Mine: 0, 2, 3 in org and 1 in other_org (1 and 2 read); someone else's: 4."""
    someone = member_of(org, Role.MEMBER, username="someone")
    return {
        "mine": [send(org, me, 0), send(other_org, me, 1, read=True), send(org, me, 2, read=True), send(org, me, 3)],
        "theirs": send(org, someone, 4),
        "someone": someone,
    }


def test_my_notifications_across_orgs_newest_first(org, other_org, me, inbox, client_for):
    response = client_for(me).get(INBOX)

    assert ids(response) == inbox["mine"][::-1]
    results = response.json()["results"]
    assert set(results[0]) == FIELDS
    assert [item["org"] for item in results] == [org.slug, org.slug, other_org.slug, org.slug]
    first = results[-1]
    assert (first["kind"], first["title"], first["body"]) == ("feedback.created", "Title 0", "Body 0")
    assert (first["subject_type"], first["subject_id"]) == ("feedback", "subject-0")
    assert datetime.datetime.fromisoformat(first["created_at"]) == T0
    assert first["read_at"] is None


def test_someone_elses_never_show(me, inbox, client_for):
    assert inbox["theirs"] not in ids(client_for(me).get(INBOX))
    assert ids(client_for(inbox["someone"]).get(INBOX)) == [inbox["theirs"]]


def test_an_empty_inbox(outsider, client_for):
    response = client_for(outsider).get(INBOX)

    assert response.json()["results"] == []


@pytest.mark.parametrize("value", ["true", "1"])
def test_unread_only(me, inbox, client_for, value):
    mine = inbox["mine"]

    assert ids(client_for(me).get(INBOX, {"unread": value})) == [mine[3], mine[0]]


@pytest.mark.parametrize("value", ["false", "0"])
def test_unread_false_shows_everything(me, inbox, client_for, value):
    assert len(ids(client_for(me).get(INBOX, {"unread": value}))) == 4


def test_cursor_pagination(me, inbox, client_for):
    client = client_for(me)
    seen, url, pages = [], f"{INBOX}?limit=3", 0
    while url:
        body = client.get(url).json()
        assert "count" not in body
        assert set(body) == {"next", "previous", "results"}
        seen += [item["id"] for item in body["results"]]
        url = body["next"]
        if url:
            assert url.startswith("http://testserver/")
            url = urlsplit(url)._replace(scheme="", netloc="").geturl()
        pages += 1

    assert pages == 2
    assert seen == inbox["mine"][::-1]


def test_mark_read(me, inbox, client_for):
    client = client_for(me)
    unread = inbox["mine"][0]
    before = timezone.now()

    response = client.post(f"{INBOX}{unread}/read/")

    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == FIELDS
    assert body["id"] == unread
    read_at = datetime.datetime.fromisoformat(body["read_at"])
    assert before <= read_at <= timezone.now()
    assert Notification.objects.get(pk=unread).read_at == read_at
    assert unread not in ids(client.get(INBOX, {"unread": "true"}))


def test_mark_read_is_idempotent(me, inbox, client_for):
    client = client_for(me)
    unread = inbox["mine"][0]
    first = client.post(f"{INBOX}{unread}/read/").json()["read_at"]

    second = client.post(f"{INBOX}{unread}/read/")

    assert second.status_code == 200
    assert second.json()["read_at"] == first
    already = inbox["mine"][1]
    assert datetime.datetime.fromisoformat(client.post(f"{INBOX}{already}/read/").json()["read_at"]) == T0


def test_marking_one_leaves_the_others(me, inbox, client_for):
    client_for(me).post(f"{INBOX}{inbox['mine'][0]}/read/")

    assert Notification.objects.get(pk=inbox["mine"][3]).read_at is None
    assert Notification.objects.get(pk=inbox["theirs"]).read_at is None


@pytest.mark.parametrize("which", ["someone_elses", "missing", "garbage"])
def test_someone_elses_notification_is_not_found(me, inbox, client_for, which):
    pk = {"someone_elses": inbox["theirs"], "missing": str(uuid.uuid4()), "garbage": "not-a-uuid"}[which]

    response = client_for(me).post(f"{INBOX}{pk}/read/")

    assert response.status_code == 404, response.content
    assert response.json()["type"] == "client_error"
    assert Notification.objects.get(pk=inbox["theirs"]).read_at is None


def test_there_is_no_detail_route(me, inbox, client_for):
    """The inbox has no GET of one item (and so no way to probe ids)."""
    response = client_for(me).get(f"{INBOX}{inbox['theirs']}/")

    assert response.status_code in (404, 405)


@pytest.mark.parametrize("scopes", [(Scope.READ,), (Scope.READ, Scope.READINGS_WRITE)])
def test_api_keys_have_no_inbox(org, inbox, key_client_for, scopes):
    client = key_client_for(org, scopes)

    listed = client.get(INBOX)
    marked = client.post(f"{INBOX}{inbox['mine'][0]}/read/")

    assert listed.status_code == 403, listed.content
    assert marked.status_code == 403, marked.content
    assert Notification.objects.get(pk=inbox["mine"][0]).read_at is None


@pytest.mark.parametrize("credentials", [None, "Bearer not-a-real-token"])
def test_without_valid_credentials_it_is_401(api_client, inbox, credentials):
    if credentials:
        api_client.credentials(HTTP_AUTHORIZATION=credentials)

    listed = api_client.get(INBOX)
    marked = api_client.post(f"{INBOX}{inbox['mine'][0]}/read/")

    for response in (listed, marked):
        assert response.status_code == 401, response.content
        assert response["WWW-Authenticate"].startswith("Bearer")
    assert Notification.objects.get(pk=inbox["mine"][0]).read_at is None


def test_a_feedback_notification_lands_in_the_stewards_inbox(org, me, member_of, client_for):
    """End to end: feedback on a team notifies its lead, who sees it in the inbox."""
    lead = member_of(org, Role.MEMBER, username="lead")
    team = TeamFactory(organization=org, lead=lead, name="Platform")
    created = client_for(me).post(
        f"/api/v1/orgs/{org.slug}/feedback/",
        {"target_type": "team", "target_id": str(team.pk), "kind": "concern", "body": "Builds are slow"},
    )
    assert created.status_code == 201, created.content

    [item] = client_for(lead).get(INBOX).json()["results"]

    assert item["kind"] == "feedback.created"
    assert item["org"] == org.slug
    assert (item["subject_type"], item["subject_id"]) == ("feedback", created.json()["id"])
    assert "Platform" in item["title"]
    assert item["body"] == "Builds are slow"
    assert ids(client_for(me).get(INBOX)) == []
    assert Feedback.objects.get(pk=created.json()["id"]).author_id == me.pk
