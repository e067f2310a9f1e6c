"""An anonymous author is known to admins alone, everywhere.

Members, viewers and the target's stewards see `author: null` in the feedback list and detail,
`actor: null` in the activity feed, and no trace of the author in the notifications they get;
admins and owners see the author. Filtering by author or actor never matches anonymous
entries, for anyone (a filter would otherwise be an oracle). In the Django admin, only
superusers see who wrote anonymous feedback.
"""

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from alignment_service.access import Role
from alignment_service.notifications.models import Notification
from feedback.models import CheckIn, Feedback
from tests.api_helpers import api
from tests.factories import GoalFactory, MembershipFactory, TeamFactory, UserFactory

SECRET_NAME = "whistleblower"
SECRET_ID = 987_654  # distinctive, so a leaked id cannot hide among other digits


@pytest.fixture
def secret_author(org):
    user = UserFactory(id=SECRET_ID, username=SECRET_NAME, email="wb@example.com")
    MembershipFactory(organization=org, user=user, role=Role.MEMBER)
    return user


@pytest.fixture
def cast(org, member_of):
    lead = member_of(org, Role.MEMBER, username="the-lead")
    goal_owner = member_of(org, Role.MEMBER, username="the-goal-owner")
    team = TeamFactory(organization=org, lead=lead)
    goal = GoalFactory(organization=org, team=team, owner=goal_owner, title="Double active players")
    return {
        "lead": lead,
        "goal_owner": goal_owner,
        "member": member_of(org, Role.MEMBER),
        "viewer": member_of(org, Role.VIEWER),
        "admin": member_of(org, Role.ADMIN),
        "owner": member_of(org, Role.OWNER),
        "team": team,
        "goal": goal,
    }


@pytest.fixture
def anonymous_feedback(org, cast, secret_author, client_for):
    """Anonymous challenge on the goal, posted through the API by the secret author."""
    response = client_for(secret_author).post(
        api(org, "feedback/"),
        {
            "target_type": "goal",
            "target_id": str(cast["goal"].pk),
            "kind": "challenge",
            "body": "The hypothesis looks busted to me.",
            "anonymous": True,
        },
    )
    assert response.status_code == 201, response.content
    return Feedback.objects.get(pk=response.json()["id"])


@pytest.fixture
def signed_feedback(org, cast, secret_author, client_for):
    """Signed praise by the same author: proves the filters do match the author otherwise."""
    response = client_for(secret_author).post(
        api(org, "feedback/"),
        {"target_type": "team", "target_id": str(cast["team"].pk), "kind": "praise", "body": "Nice"},
    )
    assert response.status_code == 201, response.content
    return Feedback.objects.get(pk=response.json()["id"])


HIDDEN_FROM = ["member", "viewer", "lead", "goal_owner"]
SHOWN_TO = ["admin", "owner"]
EVERYONE = [*HIDDEN_FROM, *SHOWN_TO]


def visible_author(who):
    return None if who in HIDDEN_FROM else SECRET_ID


def assert_no_trace(text):
    assert SECRET_NAME not in text
    assert str(SECRET_ID) not in text
    assert "wb@example.com" not in text


def test_the_author_gets_no_echo_of_their_name(anonymous_feedback, org, secret_author, client_for):
    """What the API shows depends on the reader's role, not on who wrote it."""
    response = client_for(secret_author).get(api(org, f"feedback/{anonymous_feedback.pk}/"))

    assert response.json()["author"] is None
    assert anonymous_feedback.author_id == SECRET_ID  # the database knows, for admins


@pytest.mark.parametrize("who", EVERYONE)
def test_feedback_list_and_detail(org, cast, anonymous_feedback, client_for, who):
    client = client_for(cast[who])

    listed = client.get(api(org, "feedback/")).json()["results"]
    detail = client.get(api(org, f"feedback/{anonymous_feedback.pk}/")).json()

    [item] = [item for item in listed if item["id"] == str(anonymous_feedback.pk)]
    assert item["anonymous"] is True
    assert item["author"] == visible_author(who)
    assert detail["author"] == visible_author(who)
    if who in HIDDEN_FROM:
        assert_no_trace(str(item))
        assert_no_trace(str(detail))


@pytest.mark.parametrize("who", ["lead", "goal_owner", *SHOWN_TO])
def test_the_status_change_response(org, cast, anonymous_feedback, client_for, who):
    """The steward who acknowledges it gets the feedback back, still without the author."""
    response = client_for(cast[who]).patch(api(org, f"feedback/{anonymous_feedback.pk}/"), {"status": "acknowledged"})

    assert response.status_code == 200, response.content
    assert response.json()["author"] == visible_author(who)


@pytest.mark.parametrize("who", EVERYONE)
def test_activity_feed(org, cast, anonymous_feedback, client_for, who):
    response = client_for(cast[who]).get(api(org, "activity/"), {"verb": "feedback.created"})

    [entry] = response.json()["results"]
    assert entry["anonymous"] is True
    if who in HIDDEN_FROM:
        assert entry["actor"] is None
        assert_no_trace(str(entry))
    else:
        assert entry["actor"] == {"type": "user", "id": str(SECRET_ID), "name": SECRET_NAME}


@pytest.mark.parametrize("who", EVERYONE)
def test_the_author_filter_never_matches_anonymous_feedback(
    org, cast, anonymous_feedback, signed_feedback, client_for, who
):
    response = client_for(cast[who]).get(api(org, "feedback/"), {"author": SECRET_ID})

    assert response.status_code == 200
    assert [item["id"] for item in response.json()["results"]] == [str(signed_feedback.pk)]


@pytest.mark.parametrize("who", EVERYONE)
def test_the_actor_filter_never_matches_anonymous_entries(
    org, cast, anonymous_feedback, signed_feedback, client_for, who
):
    response = client_for(cast[who]).get(api(org, "activity/"), {"actor": SECRET_ID})

    assert response.status_code == 200
    results = response.json()["results"]
    assert [entry["verb"] for entry in results] == ["feedback.created"]
    assert [entry["anonymous"] for entry in results] == [False]
    assert results[0]["subject_type"] == "team"


@pytest.mark.parametrize("steward", ["lead", "goal_owner"])
def test_notifications_to_the_stewards_carry_no_trace(org, cast, anonymous_feedback, client_for, steward):
    stored = Notification.objects.get(recipient=cast[steward])
    assert_no_trace(f"{stored.title} {stored.body} {stored.subject_id} {stored.dedupe_key}")

    [item] = client_for(cast[steward]).get("/api/v1/notifications/").json()["results"]

    assert item["kind"] == "feedback.created"
    assert (item["subject_type"], item["subject_id"]) == ("feedback", str(anonymous_feedback.pk))
    assert_no_trace(str(item))


def test_only_the_stewards_are_notified(org, cast, anonymous_feedback):
    recipients = set(Notification.objects.values_list("recipient_id", flat=True))

    assert recipients == {cast["lead"].pk, cast["goal_owner"].pk}


def test_anonymous_feedback_on_the_direction_notifies_admins_without_a_trace(org, cast, secret_author, client_for):
    response = client_for(secret_author).post(
        api(org, "feedback/"), {"target_type": "direction", "kind": "concern", "body": "Vague", "anonymous": True}
    )
    assert response.status_code == 201

    notifications = Notification.objects.all()

    assert {n.recipient_id for n in notifications} == {cast["admin"].pk, cast["owner"].pk}
    for notification in notifications:
        assert_no_trace(f"{notification.title} {notification.body}")


def test_a_reply_to_anonymous_feedback_reaches_its_author_without_naming_them(
    org, cast, anonymous_feedback, secret_author, client_for
):
    client_for(cast["lead"]).post(api(org, f"feedback/{anonymous_feedback.pk}/replies/"), {"body": "Which metric?"})

    [item] = client_for(secret_author).get("/api/v1/notifications/").json()["results"]
    assert item["kind"] == "feedback.replied"
    lead_inbox = Notification.objects.filter(recipient=cast["lead"], kind="feedback.replied")
    assert not lead_inbox.exists()


@pytest.mark.parametrize("who", ["member", "lead"])
def test_the_authors_reply_to_their_own_anonymous_feedback_stays_anonymous(
    org, cast, anonymous_feedback, secret_author, client_for, who
):
    client_for(cast["lead"]).post(api(org, f"feedback/{anonymous_feedback.pk}/replies/"), {"body": "Which metric?"})
    client_for(secret_author).post(api(org, f"feedback/{anonymous_feedback.pk}/replies/"), {"body": "Retention."})
    client = client_for(cast[who])

    replies = client.get(api(org, f"feedback/{anonymous_feedback.pk}/replies/")).json()["results"]
    feed = client.get(api(org, "activity/"), {"verb": "feedback.replied"}).json()["results"]

    assert_no_trace(str(replies))
    assert_no_trace(str(feed))


def test_check_ins_are_never_anonymous(org, cast, secret_author, client_for):
    """Control: anonymity is a property of feedback, not of its author."""
    CheckIn.objects.create(organization=org, goal=cast["goal"], author=secret_author, summary="s", confidence=5)

    [item] = client_for(cast["member"]).get(api(org, "check-ins/")).json()["results"]

    assert item["author"] == SECRET_ID


# --- Django admin -----------------------------------------------------------------------------


@pytest.fixture
def staff_viewer(client, db):
    """A staff user who may view feedback, not a superuser."""
    user = UserFactory(username="support-agent", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_feedback", content_type__app_label="feedback"))
    client.force_login(user)
    return client


@pytest.fixture
def superuser(client, db):
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    return client


CHANGELIST = "admin:feedback_feedback_changelist"
CHANGE = "admin:feedback_feedback_change"


def test_staff_see_anonymous_in_the_changelist(staff_viewer, anonymous_feedback):
    response = staff_viewer.get(reverse(CHANGELIST))

    assert response.status_code == 200
    html = response.content.decode()
    assert "anonymous" in html
    assert SECRET_NAME not in html


def test_staff_see_no_author_on_the_change_page(staff_viewer, anonymous_feedback):
    response = staff_viewer.get(reverse(CHANGE, args=[anonymous_feedback.pk]))

    assert response.status_code == 200
    assert "author" not in response.context["adminform"].form.fields
    assert "author" not in {field for fieldset in response.context["adminform"] for line in fieldset for field in line}
    assert SECRET_NAME not in response.content.decode()


def test_staff_cannot_search_by_the_authors_name(staff_viewer, anonymous_feedback):
    response = staff_viewer.get(reverse(CHANGELIST), {"q": SECRET_NAME})

    assert response.status_code == 200
    assert response.context["cl"].result_count == 0


@pytest.mark.parametrize("lookup", ["author__id__exact", "author"])
def test_staff_cannot_filter_by_author_in_the_url(staff_viewer, anonymous_feedback, cast, lookup):
    """The changelist filtered by the author's id must not single out their anonymous feedback."""
    found = staff_viewer.get(reverse(CHANGELIST), {lookup: SECRET_ID})
    other = staff_viewer.get(reverse(CHANGELIST), {lookup: cast["member"].pk})

    counts = [r.context["cl"].result_count if r.status_code == 200 else None for r in (found, other)]
    assert counts[0] == counts[1], counts


def test_superusers_see_the_author(superuser, anonymous_feedback):
    changelist = superuser.get(reverse(CHANGELIST)).content.decode()
    change = superuser.get(reverse(CHANGE, args=[anonymous_feedback.pk]))

    assert SECRET_NAME in changelist
    assert SECRET_NAME in change.content.decode()


def test_staff_see_the_author_of_signed_feedback(staff_viewer, signed_feedback):
    """Control: the admin hides only anonymous authors."""
    html = staff_viewer.get(reverse(CHANGELIST)).content.decode()

    assert SECRET_NAME in html


@pytest.fixture
def staff_activity_viewer(client, db):
    user = UserFactory(username="support-agent", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_activity", content_type__app_label="activity"))
    client.force_login(user)
    return client


ACTIVITY_CHANGELIST = "admin:activity_activity_changelist"


def test_staff_see_anonymous_in_the_activity_changelist(staff_activity_viewer, anonymous_feedback):
    response = staff_activity_viewer.get(reverse(ACTIVITY_CHANGELIST), {"verb": "feedback.created"})

    assert response.status_code == 200
    html = response.content.decode()
    assert "anonymous" in html
    assert SECRET_NAME not in html


def test_staff_cannot_filter_activity_by_actor_in_the_url(staff_activity_viewer, anonymous_feedback, cast):
    url = reverse(ACTIVITY_CHANGELIST)
    found = staff_activity_viewer.get(url, {"actor_user__id__exact": SECRET_ID, "anonymous__exact": 1})
    other = staff_activity_viewer.get(url, {"actor_user__id__exact": cast["member"].pk, "anonymous__exact": 1})

    counts = [r.context["cl"].result_count if r.status_code == 200 else None for r in (found, other)]
    assert counts[0] == counts[1], counts
