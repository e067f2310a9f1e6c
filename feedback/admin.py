from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from feedback.models import (
    Assessment,
    CheckIn,
    CourseCorrection,
    Feedback,
    FeedbackReply,
    GoalpostProposal,
    ScoreJob,
    ScoreSnapshot,
    SteeringDecision,
)


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


@admin.register(CourseCorrection)
class CourseCorrectionAdmin(admin.ModelAdmin):
    """Corrections are opened and closed by the engine and through the API; read them here."""

    list_display = ["created_at", "trigger", "severity", "status", "subject_type", "team", "review_by", "organization"]
    list_filter = ["organization", "status", "trigger", "severity", "subject_type"]
    search_fields = ["detail", "resolution", "subject_id", "team__name"]
    list_select_related = ["organization", "team"]
    date_hierarchy = "created_at"
    readonly_fields = [field.name for field in CourseCorrection._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(ScoreSnapshot)
class ScoreSnapshotAdmin(admin.ModelAdmin):
    list_display = ["computed_at", "subject_type", "subject_id", "score", "organization"]
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


@admin.register(ScoreJob)
class ScoreJobAdmin(admin.ModelAdmin):
    list_display = ["created_at", "organization", "status", "requested_by", "finished_at"]
    list_filter = ["status", "organization"]
    list_select_related = ["organization", "requested_by"]
    readonly_fields = [field.name for field in ScoreJob._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


class _ReadOnlyRecord(admin.ModelAdmin):
    """Steering records are made through the API (which applies their rules); the admin reads them."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(GoalpostProposal)
class GoalpostProposalAdmin(_ReadOnlyRecord):
    list_display = ["created_at", "metric", "status", "proposed_by", "decided_by", "organization"]
    list_filter = ["organization", "status"]
    search_fields = ["reason", "metric__name", "metric__key"]
    list_select_related = ["metric", "proposed_by", "decided_by", "organization"]
    date_hierarchy = "created_at"


@admin.register(SteeringDecision)
class SteeringDecisionAdmin(_ReadOnlyRecord):
    list_display = ["created_at", "item_kind", "team", "outcome", "follow_up_owner", "follow_up_on", "organization"]
    list_filter = ["organization", "item_kind"]
    search_fields = ["outcome", "item_id"]
    list_select_related = ["team", "follow_up_owner", "organization"]
    date_hierarchy = "created_at"
