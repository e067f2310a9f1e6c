"""Pages for people: the all-hands view, frozen all-hands, goal and team pages.

Access is the API's: the caller's access to the organization is resolved by the same resolver
as the API's base viewset (`alignment_service.api.access.resolve_access`); anyone who is not a
member gets 404, and each page declares the least role it needs, as API actions do.
"""

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from alignment_service.access import Access, Role
from alignment_service.api.access import resolve_access
from alignment_service.errors import NotFound, PermissionDenied
from feedback import services
from feedback.allhands import allhands_payload
from feedback.models import AllHandsSnapshot
from feedback.pages import context, selectors
from teams.models import Membership

PageView = Callable[..., HttpResponse]


def not_found(request: HttpRequest) -> HttpResponse:
    return render(request, "pages/not_found.html", status=404)


def org_page(minimal: Role) -> Callable[[PageView], PageView]:
    """Sign-in required; then the API's access rules: 404 for outsiders, 403 below `minimal`."""

    def decorate(view: PageView) -> PageView:
        @login_required
        @wraps(view)
        def wrapper(request: HttpRequest, org: str, *args: Any, **kwargs: Any) -> HttpResponse:
            try:
                access = resolve_access(request, org)  # type: ignore[arg-type]
            except NotFound:
                return not_found(request)
            if not access.has_role(minimal):
                return render(request, "pages/forbidden.html", {"role": minimal.label.lower()}, status=403)
            return view(request, access, *args, **kwargs)

        return wrapper

    return decorate


def _base(access: Access, **extra: Any) -> dict[str, Any]:
    return {"org": access.org, "access": access, "is_admin": access.is_admin, **extra}


@login_required
@require_GET
def org_picker(request: HttpRequest) -> HttpResponse:
    user_id = request.user.pk
    assert user_id is not None  # signed in
    memberships = list(
        Membership.objects.filter(user_id=user_id).select_related("organization").order_by("organization__name")
    )
    if len(memberships) == 1:
        return redirect("pages:allhands", org=memberships[0].organization.slug)
    return render(request, "pages/org_picker.html", {"memberships": memberships})


TV_SCREENS = 5  # the score, the teams, the matrix, the risks, opportunities and signals


def _tv(request: HttpRequest) -> dict[str, Any]:
    """TV mode shows one section a screen, full size, and moves to the next every minute."""
    try:
        screen = min(max(int(request.GET.get("screen", "1")), 1), TV_SCREENS)
    except ValueError:
        screen = 1
    return {"tv": request.GET.get("tv") == "1", "screen": screen, "screens": TV_SCREENS,
            "next_screen": screen % TV_SCREENS + 1}  # fmt: skip


@require_GET
@org_page(Role.VIEWER)
def allhands(request: HttpRequest, access: Access) -> HttpResponse:
    page = context.allhands_context(allhands_payload(org=access.org))
    return render(request, "pages/allhands.html", _base(access, **page, **_tv(request), frozen=None))


@require_http_methods(["GET", "POST"])
@org_page(Role.VIEWER)
def snapshots(request: HttpRequest, access: Access) -> HttpResponse:
    if request.method == "POST":
        try:
            snapshot = services.allhands_snapshot_create(access=access, title=request.POST.get("title", ""))
        except PermissionDenied as error:
            return render(request, "pages/forbidden.html", {"role": "admin", "detail": error.detail}, status=403)
        return redirect("pages:snapshot", org=access.org.slug, snapshot_id=snapshot.pk)
    frozen = AllHandsSnapshot.objects.filter(organization=access.org).select_related("created_by")[:200]
    return render(request, "pages/snapshots.html", _base(access, snapshots=frozen))


@require_GET
@org_page(Role.VIEWER)
def snapshot(request: HttpRequest, access: Access, snapshot_id: str) -> HttpResponse:
    frozen = (
        AllHandsSnapshot.objects.filter(organization=access.org, pk=snapshot_id).select_related("created_by").first()
        if selectors.parse_uuid(snapshot_id)
        else None
    )
    if frozen is None:
        return not_found(request)
    page = context.allhands_context(frozen.payload)
    return render(request, "pages/allhands.html", _base(access, **page, **_tv(request), frozen=frozen))


@require_GET
@org_page(Role.VIEWER)
def goal(request: HttpRequest, access: Access, goal_id: str) -> HttpResponse:
    data = selectors.goal_page(org=access.org, goal_id=goal_id)
    if data is None:
        return not_found(request)
    metrics = [(metric, context.metric_chart(metric, readings), readings) for metric, readings in data["metrics"]]
    return render(
        request,
        "pages/goal.html",
        _base(
            access, **data, metric_charts=metrics, confidence_chart=context.confidence_chart(data["check_ins"]),
            recent_check_ins=data["check_ins"][::-1][:8],
        ),
    )  # fmt: skip


@require_GET
@org_page(Role.VIEWER)
def team(request: HttpRequest, access: Access, team_id: str) -> HttpResponse:
    data = selectors.team_page(org=access.org, team_id=team_id)
    if data is None:
        return not_found(request)
    latest = data["assessments"][-1] if data["assessments"] else None
    return render(
        request,
        "pages/team.html",
        _base(
            access, **data, latest=latest, mode=context.mode_label(latest.recommended_mode if latest else None),
            assessment_chart=context.assessment_chart(data["assessments"]),
            score_chart=context.score_chart(data["scores"], f"{data['team'].name}: score over time"),
        ),
    )  # fmt: skip
