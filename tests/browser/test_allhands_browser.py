"""In a real browser: the demo owner signs in, sees every team on the all-hands page with a chart
for each, opens a goal and sees its metric charts; an outsider gets 404; axe-core finds no
serious or critical accessibility problem on either page; printing gives a page per section.
Screenshots land in var/screenshots/.

Playwright drives Debian's Chromium (`executable_path`, no browser download). Everything the
test needs from the database is read before the browser starts: Playwright's sync API runs an
event loop in this thread, where Django refuses database calls.
"""

import re
from typing import Any

import pytest
from django.core.management import call_command

from feedback import engine
from feedback.dashboard import dashboard
from goals.models import Goal
from teams.demo import DEMO_ORG_SLUG, DEMO_PASSWORD, DEMO_USERNAME
from teams.models import Organization
from tests.browser.conftest import AXE, SCREENSHOTS
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory

OUTSIDER_PASSWORD = "an-outsider-password-9"
BLOCKING_IMPACTS = {"serious", "critical"}


@pytest.fixture
def demo(transactional_db: None, settings: Any) -> dict[str, Any]:
    # The live server speaks plain http on 127.0.0.1: cookies must not demand https there.
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    call_command("load_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    org = Organization.objects.get(slug=DEMO_ORG_SLUG)
    engine.rescore_org(org=org)
    goal = Goal.objects.get(organization=org, team__name="Matchmaking", status="active")
    outsider = UserFactory(password=OUTSIDER_PASSWORD)
    MembershipFactory(organization=OrganizationFactory(), user=outsider, role="owner")
    return {
        "teams": [team["name"] for team in dashboard(org=org)["teams"]],
        "goal_path": f"/orgs/{org.slug}/goals/{goal.pk}/",
        "goal_title": goal.title,
        "metric_keys": list(goal.metrics.values_list("key", flat=True)),
        "outsider": outsider.username,
    }


def sign_in(page: Any, base: str, username: str, password: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("form button[type=submit]")
    page.wait_for_load_state("networkidle")


def serious_violations(page: Any) -> list[str]:
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in result["violations"]
        if v["impact"] in BLOCKING_IMPACTS
    ]


def page_count(pdf: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page\b", pdf))


def test_the_all_hands_in_a_real_browser(browser_ready: str, live_server: Any, demo: dict[str, Any]) -> None:
    from playwright.sync_api import sync_playwright

    base = live_server.url
    assert base.startswith("http://127.0.0.1:")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    offline: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=browser_ready, args=["--no-sandbox"])
        try:
            context = browser.new_context(viewport={"width": 1440, "height": 900})
            page = context.new_page()
            page.on("request", lambda r: offline.append(r.url) if not r.url.startswith(base) else None)

            sign_in(page, base, DEMO_USERNAME, DEMO_PASSWORD)
            assert page.url == f"{base}/orgs/{DEMO_ORG_SLUG}/"
            assert page.locator("svg[data-subject='org']").is_visible()
            for name in demo["teams"]:
                card = page.locator(f"li.team[data-team='{name}']")
                assert card.locator("h3").inner_text() == name
                assert card.locator("svg.sparkline").count() == 1, name
            assert page.locator("svg .matrix-team").count() >= 15
            page.screenshot(path=str(SCREENSHOTS / "allhands.png"), full_page=True)
            assert serious_violations(page) == []

            page.emulate_media(media="print")
            assert page_count(page.pdf(format="A4", landscape=True)) >= 5, "a page per section at least"
            page.emulate_media(media="screen")

            page.set_viewport_size({"width": 1920, "height": 1080})
            for screen, name in enumerate(("score", "teams", "matrix", "risks", "signals"), start=1):
                page.goto(f"{base}/orgs/{DEMO_ORG_SLUG}/?tv=1&screen={screen}")
                refresh = page.locator("meta[http-equiv='refresh']").get_attribute("content")
                assert refresh == f"60;url=?tv=1&screen={screen % 5 + 1}"
                page.screenshot(path=str(SCREENSHOTS / f"allhands-tv-{screen}-{name}.png"))

            page.goto(base + demo["goal_path"])
            assert page.locator("h1").inner_text() == demo["goal_title"]
            for key in demo["metric_keys"]:
                chart = page.locator(f"article[data-metric='{key}'] svg[data-metric='{key}']")
                assert chart.is_visible()
                assert chart.locator("path.series-main").count() == 1
                assert chart.locator("path.series-pace").count() == 1
                assert chart.locator("path.series-forecast").count() == 1
            page.set_viewport_size({"width": 1440, "height": 900})
            page.screenshot(path=str(SCREENSHOTS / "goal.png"), full_page=True)
            assert serious_violations(page) == []

            page.click("button:has-text('Sign out')")
            page.wait_for_url(f"{base}/accounts/login/")

            outsider = browser.new_context().new_page()
            sign_in(outsider, base, demo["outsider"], OUTSIDER_PASSWORD)
            for path in (f"/orgs/{DEMO_ORG_SLUG}/", demo["goal_path"]):
                response = outsider.goto(base + path)
                assert response is not None
                assert response.status == 404, path
                assert "Lumen Games" not in outsider.content()
            outsider.screenshot(path=str(SCREENSHOTS / "outsider-404.png"))
        finally:
            browser.close()
    assert offline == [], "the pages load nothing from the network"
