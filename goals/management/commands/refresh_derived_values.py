from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from goals.services import derived_values_refresh
from teams.models import Organization


class Command(BaseCommand):
    help = "Recompute every stored derived value (progress, forecast and its odds) of each organization."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", action="append", default=[], help="Only these organization slugs.")

    def handle(self, *args: Any, **options: Any) -> None:
        orgs = Organization.objects.order_by("slug")
        if options["org"]:
            orgs = orgs.filter(slug__in=options["org"])
        for org in orgs:
            derived_values_refresh(org=org)  # one transaction per organization
            self.stdout.write(f"Refreshed {org.slug}.")
