"""The production settings, with the hand-written reference views routed beside the API."""

from alignment_service.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
