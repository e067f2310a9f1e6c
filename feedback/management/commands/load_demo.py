from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction

from feedback.demo import load_demo_history, load_demo_iteration
from feedback.demo_steering import load_demo_steering
from goals.demo import load_demo_cascade
from teams.demo import DEMO_ORG_SLUG, DEMO_PASSWORD, DEMO_USERNAME, load_demo_people


class Command(BaseCommand):
    help = "Load the demo organization (idempotent: does nothing when it already exists)."

    def handle(self, *args: Any, **options: Any) -> None:
        with transaction.atomic():
            people = load_demo_people()
            if people is not None:
                load_demo_cascade(people)
                load_demo_iteration(people)
                load_demo_steering(people)
                load_demo_history(people)
        if people is None:
            self.stdout.write(f"Demo organization '{DEMO_ORG_SLUG}' already loaded.")
        else:
            self.stdout.write(self.style.SUCCESS(f"Loaded demo organization '{DEMO_ORG_SLUG}'."))
        self.stdout.write(f"Demo login: username '{DEMO_USERNAME}', password '{DEMO_PASSWORD}'.")
