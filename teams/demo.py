"""The demo organization's people: a games company with fifteen product teams."""

from dataclasses import dataclass

from django.db import transaction

from alignment_service.access import Role
from teams.models import Membership, Organization, Team, TeamKind, TeamMember, User

DEMO_ORG_SLUG = "lumen-games"
DEMO_USERNAME = "demo"
DEMO_PASSWORD = "demo-password-2026"

PRODUCT_TEAMS = [
    "Onboarding", "Matchmaking", "Progression", "Social", "Store", "Live Events", "Clans", "Rewards",
    "Notifications", "Anti-Cheat", "Performance", "Localization", "Accessibility", "Creator Tools", "Esports",
]  # fmt: skip


@dataclass(frozen=True)
class DemoPeople:
    org: Organization
    owner: User
    steering_group: Team
    product: Team
    product_teams: list[Team]


def _user(username: str, *, first_name: str = "", password: str | None = None) -> User:
    user, created = User.objects.get_or_create(
        username=username, defaults={"email": f"{username}@lumen-games.example", "first_name": first_name}
    )
    if created:
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save()
    return user


@transaction.atomic
def load_demo_people() -> DemoPeople | None:
    """Create the demo organization and its people; None when it already exists."""
    if Organization.objects.filter(slug=DEMO_ORG_SLUG).exists():
        return None
    org = Organization.objects.create(name="Lumen Games", slug=DEMO_ORG_SLUG, timezone="Europe/Berlin")
    owner = _user(DEMO_USERNAME, first_name="Demo", password=DEMO_PASSWORD)
    Membership.objects.create(organization=org, user=owner, role=Role.OWNER)
    cpo = _user("cpo.lumen", first_name="Priya")
    Membership.objects.create(organization=org, user=cpo, role=Role.ADMIN)
    steering = Team.objects.create(
        organization=org, name="Player Growth Steering Group", slug="player-growth-steering",
        kind=TeamKind.STEERING_GROUP, lead=owner,
        description="Owns the company goal of doubling monthly active players.",
    )  # fmt: skip
    TeamMember.objects.bulk_create([TeamMember(organization=org, team=steering, user=user) for user in (owner, cpo)])
    product = Team.objects.create(organization=org, name="Product", slug="product", lead=cpo, parent=steering)
    teams = []
    for name in PRODUCT_TEAMS:
        slug = name.lower().replace(" ", "-")
        lead = _user(f"lead.{slug}", first_name=name)
        engineer = _user(f"eng.{slug}", first_name=name)
        Membership.objects.bulk_create(
            [
                Membership(organization=org, user=lead, role=Role.MEMBER),
                Membership(organization=org, user=engineer, role=Role.MEMBER),
            ]
        )
        team = Team.objects.create(organization=org, name=name, slug=slug, parent=product, lead=lead)
        TeamMember.objects.bulk_create([TeamMember(organization=org, team=team, user=u) for u in (lead, engineer)])
        teams.append(team)
    viewer = _user("viewer.lumen", first_name="Board")
    Membership.objects.create(organization=org, user=viewer, role=Role.VIEWER)
    return DemoPeople(org=org, owner=owner, steering_group=steering, product=product, product_teams=teams)
