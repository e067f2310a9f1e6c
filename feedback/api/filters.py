import django_filters
from django.db.models import OuterRef, QuerySet, Subquery

from alignment_service.api.filters import AwareDateTimeFilter, UserIdFilter
from feedback import selectors
from feedback.models import (
    CORRECTION_SUBJECTS,
    FEEDBACK_TARGETS,
    SCORE_SUBJECTS,
    Assessment,
    CheckIn,
    CorrectionStatus,
    CourseCorrection,
    Feedback,
    FeedbackKind,
    FeedbackStatus,
    Quadrant,
    ScoreSnapshot,
    Severity,
    Trigger,
)


class CheckInFilter(django_filters.FilterSet):
    goal = django_filters.UUIDFilter(field_name="goal_id")
    team = django_filters.UUIDFilter(field_name="goal__team_id")
    author = UserIdFilter(field_name="author_id")
    since = AwareDateTimeFilter(field_name="created_at", lookup_expr="gte")

    class Meta:
        model = CheckIn
        fields = ["goal", "team", "author", "since"]


class AssessmentFilter(django_filters.FilterSet):
    team = django_filters.UUIDFilter(field_name="team_id")
    assessor = UserIdFilter(field_name="assessor_id")
    quadrant = django_filters.ChoiceFilter(choices=Quadrant.choices)
    latest = django_filters.BooleanFilter(method="only_latest", help_text="Only each team's latest assessment.")

    class Meta:
        model = Assessment
        fields = ["team", "assessor", "quadrant", "latest"]

    def only_latest(self, queryset: QuerySet[Assessment], name: str, value: bool) -> QuerySet[Assessment]:
        if not value:
            return queryset
        newest = selectors.assessments_latest_first(team=OuterRef("team")).values("id")[:1]
        return queryset.filter(id=Subquery(newest))


class FeedbackFilter(django_filters.FilterSet):
    target_type = django_filters.ChoiceFilter(choices=FEEDBACK_TARGETS)
    target_id = django_filters.CharFilter()
    kind = django_filters.ChoiceFilter(choices=FeedbackKind.choices)
    status = django_filters.ChoiceFilter(choices=FeedbackStatus.choices)
    author = UserIdFilter(method="by_author", help_text="A user id. Anonymous feedback never matches.")

    class Meta:
        model = Feedback
        fields = ["target_type", "target_id", "kind", "status", "author"]

    def by_author(self, queryset: QuerySet[Feedback], name: str, value: int) -> QuerySet[Feedback]:
        return queryset.filter(author_id=value, anonymous=False)


class ScoreFilter(django_filters.FilterSet):
    subject_type = django_filters.ChoiceFilter(choices=SCORE_SUBJECTS)
    subject_id = django_filters.CharFilter()
    since = AwareDateTimeFilter(field_name="computed_at", lookup_expr="gte")

    class Meta:
        model = ScoreSnapshot
        fields = ["subject_type", "subject_id", "since"]


class CourseCorrectionFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=CorrectionStatus.choices)
    trigger = django_filters.MultipleChoiceFilter(choices=Trigger.choices)
    severity = django_filters.MultipleChoiceFilter(choices=Severity.choices)
    subject_type = django_filters.ChoiceFilter(choices=CORRECTION_SUBJECTS)
    subject_id = django_filters.CharFilter()
    team = django_filters.UUIDFilter(field_name="team_id")
    assignee = UserIdFilter(field_name="assignee_id")
    root = django_filters.BooleanFilter(
        field_name="caused_by", lookup_expr="isnull", help_text="true: causes only; false: symptoms only."
    )
    caused_by = django_filters.UUIDFilter(field_name="caused_by_id")

    class Meta:
        model = CourseCorrection
        fields = [
            "status",
            "trigger",
            "severity",
            "subject_type",
            "subject_id",
            "team",
            "assignee",
            "root",
            "caused_by",
        ]
