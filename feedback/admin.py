from typing import Any

from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from alignment_service.admin_site import ReadOnlyAdmin, rounded
from feedback.models import (
    AllHandsSnapshot,
    Assessment,
    CheckIn,
    CourseCorrection,
    Feedback,
    FeedbackReply,
    GoalpostProposal,
    ScoreJob,
    ScoreSnapshot,
    SteeringDecision,
    SubjectType,
)
from goals.models import Goal
from teams.models import Team


@admin.register(CheckIn)
class CheckInAdmin(admin.ModelAdmin):
    list_display = ["created_at", "goal", "author", "confidence", "organization"]
    list_filter = ["organization", "confidence"]
    search_fields = ["summary", "blockers", "goal__title", "author__username"]
    list_select_related = ["goal", "author", "organization"]
    readonly_fields = ["organization", "goal", "author", "created_at"]
    date_hierarchy = "created_at"


@admin.register(Assessment)
class AssessmentAdmin(admin.ModelAdmin):
    list_display = ["created_at", "team", "assessor", "alignment", "confidence", "quadrant", "recommended_mode"]
    list_filter = ["organization", "quadrant", "recommended_mode"]
    search_fields = ["team__name", "assessor__username", "note"]
    list_select_related = ["team", "assessor"]
    readonly_fields = [
        "organization", "team", "assessor", "alignment", "confidence", "quadrant", "recommended_mode", "created_at",
    ]  # fmt: skip
    fields = [*readonly_fields, "note"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


class ReplyInline(admin.TabularInline):
    model = FeedbackReply
    extra = 0
    fields = ["author", "body", "created_at"]
    readonly_fields = ["author", "created_at"]


@admin.register(Feedback)
class FeedbackAdmin(admin.ModelAdmin):
    """An anonymous author is shown to superusers only, as the API shows it to admins only."""

    list_filter = ["organization", "kind", "status", "target_type", "anonymous"]
    search_fields = ["body"]
    list_select_related = ["organization", "author"]
    inlines = [ReplyInline]

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest | None = None) -> bool:
        """No filtering by author in the URL: it would tell who wrote anonymous feedback."""
        if lookup.startswith("author") and not (request and request.user.is_superuser):
            return False
        return super().lookup_allowed(lookup, value, request)

    def get_list_display(self, request: HttpRequest) -> Any:
        reveal = request.user.is_superuser

        @admin.display(description="author")
        def author(feedback: Feedback) -> str:
            return "anonymous" if feedback.anonymous and not reveal else str(feedback.author or "-")

        return ["created_at", "kind", "target_type", "status", author, "organization"]

    def get_fields(self, request: HttpRequest, obj: Feedback | None = None) -> Any:
        fields = ["organization", "target_type", "target_id", "kind", "body", "anonymous", "status", "created_at"]
        if obj is None or not obj.anonymous or request.user.is_superuser:
            fields.append("author")
        return fields

    def get_readonly_fields(self, request: HttpRequest, obj: Feedback | None = None) -> Any:
        return ["organization", "target_type", "target_id", "kind", "anonymous", "author", "created_at"]

    def get_search_fields(self, request: HttpRequest) -> Any:
        return ["body", "author__username"] if request.user.is_superuser else ["body"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


SUBJECT_MODELS: dict[str, tuple[type[Any], str]] = {
    SubjectType.GOAL: (Goal, "title"),
    SubjectType.TEAM: (Team, "name"),
}


def attach_subjects(corrections: list[CourseCorrection]) -> None:
    """`subject_name` on each correction: one query per kind of subject, whatever the count."""
    for subject_type, (model, name_field) in SUBJECT_MODELS.items():
        ids = {c.subject_id for c in corrections if c.subject_type == subject_type}
        names = {str(pk): name for pk, name in model.objects.filter(pk__in=ids).values_list("pk", name_field)}
        for correction in corrections:
            if correction.subject_type == subject_type:
                correction.subject_name = names.get(correction.subject_id)  # type: ignore[attr-defined]


class SubjectChangeList(ChangeList):
    def get_results(self, request: HttpRequest) -> None:
        super().get_results(request)
        attach_subjects(list(self.result_list))


@admin.register(CourseCorrection)
class CourseCorrectionAdmin(admin.ModelAdmin):
    """Corrections are opened and closed by the engine and through the API; read them here.
    A team's open corrections: filter by team and status."""

    list_display = ["created_at", "subject", "trigger", "severity", "status", "team", "review_by", "organization"]
    list_filter = ["status", "severity", "trigger", "subject_type", "team", "organization"]
    search_fields = ["detail", "resolution", "subject_id", "team__name"]
    list_select_related = ["organization", "team"]
    date_hierarchy = "created_at"
    readonly_fields = ["subject", *(field.name for field in CourseCorrection._meta.fields)]

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return SubjectChangeList

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description="subject")
    def subject(self, correction: CourseCorrection) -> SafeString | str:
        if not hasattr(correction, "subject_name"):
            attach_subjects([correction])
        model, _ = SUBJECT_MODELS[correction.subject_type]
        name = correction.subject_name or f"(deleted {correction.subject_type})"  # type: ignore[attr-defined]
        if correction.subject_name is None:  # type: ignore[attr-defined]
            return name
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_change", args=[correction.subject_id])
        return format_html('<a href="{}">{}: {}</a>', url, correction.get_subject_type_display(), name)


@admin.register(ScoreSnapshot)
class ScoreSnapshotAdmin(admin.ModelAdmin):
    list_display = ["computed_at", "subject_type", "subject_id", "score_shown", "organization"]
    list_filter = ["organization", "subject_type"]
    search_fields = ["subject_id"]
    list_select_related = ["organization"]
    date_hierarchy = "computed_at"
    readonly_fields = [field.name for field in ScoreSnapshot._meta.fields]
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="score", ordering="score")
    def score_shown(self, snapshot: ScoreSnapshot) -> str:
        return rounded(snapshot.score, 1)


@admin.register(ScoreJob)
class ScoreJobAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "organization", "status", "requested_by", "finished_at"]
    list_filter = ["status", "organization"]
    list_select_related = ["organization", "requested_by"]
    readonly_fields = [field.name for field in ScoreJob._meta.fields]


@admin.register(AllHandsSnapshot)
class AllHandsSnapshotAdmin(admin.ModelAdmin):
    """Frozen all-hands never change: they can be listed and deleted, not edited."""

    list_display = ["created_at", "title", "organization", "created_by"]
    list_filter = ["organization"]
    search_fields = ["title"]
    list_select_related = ["organization", "created_by"]
    readonly_fields = [field.name for field in AllHandsSnapshot._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(GoalpostProposal)
class GoalpostProposalAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "metric", "status", "proposed_by", "decided_by", "organization"]
    list_filter = ["organization", "status"]
    search_fields = ["reason", "metric__name", "metric__key"]
    list_select_related = ["metric", "proposed_by", "decided_by", "organization"]
    date_hierarchy = "created_at"


@admin.register(SteeringDecision)
class SteeringDecisionAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "item_kind", "team", "outcome", "follow_up_owner", "follow_up_on", "organization"]
    list_filter = ["organization", "item_kind"]
    search_fields = ["outcome", "item_id"]
    list_select_related = ["team", "follow_up_owner", "organization"]
    date_hierarchy = "created_at"
