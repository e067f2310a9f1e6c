"""Shared by the activity feed tests: URLs, the pinned start of the feed, and the actor as
an entry names it."""

import datetime

from tests.api_helpers import api as api

UTC = datetime.UTC
T0 = datetime.datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def user_actor(user):
    return {"type": "user", "id": str(user.pk), "name": user.username}


def key_actor(key):
    return {"type": "api_key", "id": str(key.pk), "name": key.name}
