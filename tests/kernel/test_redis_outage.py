"""A Redis outage, stopped or hung, costs requests nothing they can avoid: owed work is
published from a background thread, never in the request that owed it (the throttle's circuit
breaker is tested in test_throttling.py)."""

import threading
import time

from alignment_service.outbox import services as outbox


def test_the_kick_publishes_from_a_background_thread(org, settings, monkeypatch, django_capture_on_commit_callbacks):
    """A hung broker (here: a publish that takes a second) never holds up the committing request."""
    settings.OUTBOX_KICK_IN_BACKGROUND = True
    published = threading.Event()
    threads = []

    def slow_dispatch(**kwargs):
        threads.append(threading.current_thread().name)
        time.sleep(1.0)
        published.set()
        return 1

    monkeypatch.setattr(outbox, "outbox_dispatch_pending", slow_dispatch)
    started = time.monotonic()
    with django_capture_on_commit_callbacks(execute=True):
        outbox.outbox_enqueue(org=org, task_name="teams.send_welcome_email", kwargs={})
    assert time.monotonic() - started < 0.5
    assert published.wait(5)
    assert threads == ["outbox-kick"]


def test_kicks_while_the_thread_publishes_coalesce_into_one_more_pass(settings, monkeypatch):
    settings.OUTBOX_KICK_IN_BACKGROUND = True
    passes = []
    release = threading.Event()

    def dispatch(**kwargs):
        passes.append(time.monotonic())
        release.wait(2)
        return 0

    monkeypatch.setattr(outbox, "outbox_dispatch_pending", dispatch)
    monkeypatch.setattr(outbox, "close_old_connections", lambda: None)
    kicker = outbox._Kicker()
    kicker.wake()
    deadline = time.monotonic() + 2
    while not passes and time.monotonic() < deadline:
        time.sleep(0.01)
    for _ in range(5):
        kicker.wake()
    release.set()
    time.sleep(0.3)
    assert len(passes) == 2
