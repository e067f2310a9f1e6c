import datetime

import factory
from factory.django import DjangoModelFactory

from alignment_service.access import Role
from teams.models import Membership, Organization, Team, User


class UserFactory(DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.com")
    password = factory.PostGenerationMethodCall("set_password", "correct-horse-battery")

    @factory.post_generation
    def persist_password(self, create: bool, extracted: object, **kwargs: object) -> None:
        if create:
            self.save()


class OrganizationFactory(DjangoModelFactory):
    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"Organization {n}")
    slug = factory.Sequence(lambda n: f"org-{n}")


class MembershipFactory(DjangoModelFactory):
    class Meta:
        model = Membership

    organization = factory.SubFactory(OrganizationFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.MEMBER


class TeamFactory(DjangoModelFactory):
    class Meta:
        model = Team

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Team {n}")
    slug = factory.Sequence(lambda n: f"team-{n}")


def _window(starts_on, due_on, org):
    from goals.formulas import window_bounds_ts

    return window_bounds_ts(starts_on, due_on, org.timezone)


class CycleFactory(DjangoModelFactory):
    class Meta:
        model = "goals.Cycle"

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Cycle {n}")
    starts_on = datetime.date(2026, 1, 1)
    ends_on = datetime.date(2026, 12, 31)


class PillarFactory(DjangoModelFactory):
    class Meta:
        model = "goals.StrategyPillar"

    organization = factory.SubFactory(OrganizationFactory)
    title = factory.Sequence(lambda n: f"Pillar {n}")


class GoalFactory(DjangoModelFactory):
    class Meta:
        model = "goals.Goal"

    organization = factory.SubFactory(OrganizationFactory)
    title = factory.Sequence(lambda n: f"Goal {n}")
    starts_on = datetime.date(2026, 1, 1)
    due_on = datetime.date(2026, 12, 31)
    status = "active"
    window_start_ts = factory.LazyAttribute(lambda g: _window(g.starts_on, g.due_on, g.organization)[0])
    window_end_ts = factory.LazyAttribute(lambda g: _window(g.starts_on, g.due_on, g.organization)[1])


class MetricFactory(DjangoModelFactory):
    class Meta:
        model = "goals.Metric"

    goal = factory.SubFactory(GoalFactory)
    organization = factory.SelfAttribute("goal.organization")
    name = factory.Sequence(lambda n: f"Metric {n}")
    key = factory.Sequence(lambda n: f"metric-{n}")
    baseline = 0.0
    target = 100.0
    window_start_ts = factory.SelfAttribute("goal.window_start_ts")
    window_end_ts = factory.SelfAttribute("goal.window_end_ts")
