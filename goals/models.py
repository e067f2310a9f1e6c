"""The shared direction and the cascade beneath it: pillars, cycles, goals, metrics, readings."""

from __future__ import annotations

import sys
import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower
from django.utils.timezone import now

from teams.models import Organization, Team


class DirectionVersion(models.Model):
    """One version of the organization's vision, mission and values; the newest is current."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="direction_versions")
    version = models.PositiveIntegerField()
    vision = models.TextField(blank=True, default="")
    mission = models.TextField(blank=True, default="")
    values = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-version"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "version"], name="direction_version_unique"),
            models.CheckConstraint(condition=Q(version__gte=1), name="direction_version_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.organization} direction v{self.version}"


class StrategyPillar(models.Model):
    """A company-wide pillar (team is null) or a team's area strategy that refines one."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="pillars")
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    team = models.ForeignKey(Team, on_delete=models.RESTRICT, null=True, blank=True, related_name="pillars")
    parent = models.ForeignKey("self", on_delete=models.RESTRICT, null=True, blank=True, related_name="children")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="owned_pillars"
    )
    created_at = models.DateTimeField(default=now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["title", "id"]
        constraints = [models.CheckConstraint(condition=~Q(parent=F("id")), name="pillar_not_own_parent")]

    def __str__(self) -> str:
        return self.title


class Cycle(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="cycles")
    name = models.CharField(max_length=100)
    starts_on = models.DateField()
    ends_on = models.DateField()
    created_at = models.DateTimeField(default=now, editable=False)

    class Meta:
        ordering = ["-starts_on", "name"]
        constraints = [
            models.CheckConstraint(condition=Q(ends_on__gte=F("starts_on")), name="cycle_dates_ordered"),
            models.UniqueConstraint(fields=["organization", "name"], name="cycle_name_unique_per_org"),
        ]

    def __str__(self) -> str:
        return self.name


class GoalStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    ACTIVE = "active", "Active"
    ACHIEVED = "achieved", "Achieved"
    MISSED = "missed", "Missed"
    CANCELLED = "cancelled", "Cancelled"


class Goal(models.Model):
    """A company goal (team is null) or a team goal, linked up the cascade by `parent`.

    `progress` is stored and refreshed in the same transaction as every write that changes it;
    `window_start_ts`/`window_end_ts` (epoch seconds in the organization's time zone) let the
    database compute expected progress and health at read time.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="goals")
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    team = models.ForeignKey(Team, on_delete=models.RESTRICT, null=True, blank=True, related_name="goals")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="owned_goals"
    )
    parent = models.ForeignKey("self", on_delete=models.RESTRICT, null=True, blank=True, related_name="children")
    strategies: models.ManyToManyField[StrategyPillar, GoalStrategy] = models.ManyToManyField(
        StrategyPillar, through="GoalStrategy", related_name="goals", blank=True
    )
    cycle = models.ForeignKey(Cycle, on_delete=models.RESTRICT, null=True, blank=True, related_name="goals")
    starts_on = models.DateField()
    due_on = models.DateField()
    weight = models.FloatField(default=1.0)
    hypothesis = models.TextField(blank=True, default="")
    status = models.CharField(max_length=16, choices=GoalStatus.choices, default=GoalStatus.DRAFT)
    progress = models.FloatField(null=True, blank=True, editable=False)
    p_hit = models.FloatField(
        null=True, blank=True, editable=False, help_text="Probability of reaching the target by due_on (roll-up)."
    )
    window_start_ts = models.FloatField(editable=False)
    window_end_ts = models.FloatField(editable=False)
    version = models.PositiveIntegerField(default=1, editable=False)
    created_at = models.DateTimeField(default=now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["due_on", "title", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(due_on__gte=F("starts_on")), name="goal_dates_ordered"),
            models.CheckConstraint(condition=Q(weight__gt=0) & Q(weight__lte=1000), name="goal_weight_range"),
            models.CheckConstraint(
                condition=Q(progress__isnull=True) | (Q(progress__gte=0) & Q(progress__lte=1)),
                name="goal_progress_range",
            ),
            models.CheckConstraint(
                condition=Q(p_hit__isnull=True) | (Q(p_hit__gte=0) & Q(p_hit__lte=1)), name="goal_p_hit_range"
            ),
            models.CheckConstraint(condition=Q(status__in=GoalStatus.values), name="goal_status_valid"),
            models.CheckConstraint(condition=~Q(parent=F("id")), name="goal_not_own_parent"),
        ]
        indexes = [
            models.Index(fields=["organization", "team"]),
            models.Index(fields=["organization", "parent"]),
            models.Index(fields=["organization", "status"]),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def alignment_score(self) -> float | None:
        """The engine's latest score of this goal."""
        if "current_score_value" in self.__dict__:  # annotated by `goals.selectors.goal_list`
            return self.__dict__["current_score_value"]  # type: ignore[no-any-return]
        try:
            return self.current_score.score
        except GoalScore.DoesNotExist:
            return None


class GoalScore(models.Model):
    """A goal's latest alignment score, written by the engine alone.

    It lives off the goal's row so that a rescore never locks goals, which API writes lock
    (progress roll-ups) in their own order.
    """

    goal = models.OneToOneField(Goal, on_delete=models.CASCADE, primary_key=True, related_name="current_score")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    score = models.FloatField()

    def __str__(self) -> str:
        return f"{self.goal_id}: {self.score}"


class GoalStrategy(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    goal = models.ForeignKey(Goal, on_delete=models.CASCADE, related_name="strategy_links")
    pillar = models.ForeignKey(StrategyPillar, on_delete=models.CASCADE, related_name="goal_links")

    class Meta:
        verbose_name_plural = "goal strategies"
        constraints = [models.UniqueConstraint(fields=["goal", "pillar"], name="goal_strategy_unique")]

    def __str__(self) -> str:
        return f"{self.goal_id} → {self.pillar_id}"


class MetricDirection(models.TextChoices):
    INCREASE = "increase", "Increase"
    DECREASE = "decrease", "Decrease"


class MetricRole(models.TextChoices):
    KEY_RESULT = "key_result", "Key result"
    GUARDRAIL = "guardrail", "Guardrail"


def finite(field: str) -> Q:
    """A CHECK that keeps NaN and ±Infinity out of a float column (PostgreSQL orders NaN
    above every number; SQLite stores NaN as NULL, which NOT NULL refuses)."""
    return Q(**{f"{field}__gte": -sys.float_info.max}) & Q(**{f"{field}__lte": sys.float_info.max})


class Metric(models.Model):
    """A key result of a goal. `current`, `last_reading_at`, `forecast` and its odds
    (`forecast_low`, `forecast_high`, `p_hit`) are stored and refreshed with every reading
    write; progress, health and staleness derive from them."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="metrics")
    goal = models.ForeignKey(Goal, on_delete=models.CASCADE, related_name="metrics")
    name = models.CharField(max_length=200)
    key = models.SlugField(max_length=100)
    unit = models.CharField(max_length=40, blank=True, default="")
    direction = models.CharField(max_length=10, choices=MetricDirection.choices, default=MetricDirection.INCREASE)
    baseline = models.FloatField()
    target = models.FloatField()
    weight = models.FloatField(default=1.0)
    starts_on = models.DateField(null=True, blank=True)
    due_on = models.DateField(null=True, blank=True)
    stale_after_days = models.PositiveIntegerField(null=True, blank=True)
    # A guardrail (a counter-metric) never counts towards progress: it is safe on its
    # direction's side of `threshold` (at or above for `increase`, at or below for `decrease`).
    role = models.CharField(max_length=12, choices=MetricRole.choices, default=MetricRole.KEY_RESULT)
    threshold = models.FloatField(null=True, blank=True)
    current = models.FloatField(null=True, blank=True, editable=False)
    last_reading_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_reading_ts = models.FloatField(null=True, blank=True, editable=False)
    forecast = models.FloatField(null=True, blank=True, editable=False)
    forecast_low = models.FloatField(null=True, blank=True, editable=False)
    forecast_high = models.FloatField(null=True, blank=True, editable=False)
    p_hit = models.FloatField(null=True, blank=True, editable=False)
    progress = models.FloatField(null=True, blank=True, editable=False)
    window_start_ts = models.FloatField(editable=False)
    window_end_ts = models.FloatField(editable=False)
    # Refreshed with the values above so that a rescore reads no reading: how many there are,
    # and the least-squares line of those of the `STALL_WINDOW_DAYS` up to the latest one
    # (`RECENT_LINE_FIELDS`, a `goals.formulas.LineFit`; null with fewer than 3 of them or all
    # at one instant).
    reading_count = models.PositiveIntegerField(default=0, editable=False)
    recent_n = models.PositiveIntegerField(null=True, blank=True, editable=False)
    recent_mean_ts = models.FloatField(null=True, blank=True, editable=False)
    recent_mean_value = models.FloatField(null=True, blank=True, editable=False)
    recent_slope = models.FloatField(null=True, blank=True, editable=False)
    recent_sxx = models.FloatField(null=True, blank=True, editable=False)
    recent_residual_sd = models.FloatField(null=True, blank=True, editable=False)
    version = models.PositiveIntegerField(default=1, editable=False)
    created_at = models.DateTimeField(default=now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(
                F("organization"),
                Lower("key"),
                name="metric_key_unique_ci_per_org",
                violation_error_message="A metric with this key already exists.",
            ),
            models.CheckConstraint(condition=~Q(baseline=F("target")), name="metric_baseline_not_target"),
            models.CheckConstraint(condition=Q(weight__gt=0) & Q(weight__lte=1000), name="metric_weight_range"),
            models.CheckConstraint(condition=finite("baseline") & finite("target"), name="metric_finite_bounds"),
            models.CheckConstraint(condition=Q(current__isnull=True) | finite("current"), name="metric_finite_current"),
            models.CheckConstraint(
                condition=Q(forecast__isnull=True) | finite("forecast"), name="metric_finite_forecast"
            ),
            models.CheckConstraint(
                condition=(Q(forecast_low__isnull=True) | finite("forecast_low"))
                & (Q(forecast_high__isnull=True) | finite("forecast_high")),
                name="metric_finite_band",
            ),
            models.CheckConstraint(
                condition=Q(p_hit__isnull=True) | (Q(p_hit__gte=0) & Q(p_hit__lte=1)), name="metric_p_hit_range"
            ),
            models.CheckConstraint(
                condition=Q(due_on__isnull=True) | Q(starts_on__isnull=True) | Q(due_on__gte=F("starts_on")),
                name="metric_dates_ordered",
            ),
            models.CheckConstraint(
                condition=(Q(direction=MetricDirection.INCREASE) & Q(target__gt=F("baseline")))
                | (Q(direction=MetricDirection.DECREASE) & Q(target__lt=F("baseline"))),
                name="metric_direction_matches_bounds",
            ),
            models.CheckConstraint(
                condition=Q(role=MetricRole.KEY_RESULT, threshold__isnull=True)
                | (Q(role=MetricRole.GUARDRAIL) & finite("threshold")),
                name="metric_guardrail_has_threshold",
            ),
        ]
        indexes = [models.Index(fields=["organization", "goal"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.key})"

    @property
    def breached(self) -> bool | None:
        """For a guardrail with a reading: whether it is on the wrong side of its threshold."""
        if self.role != MetricRole.GUARDRAIL or self.current is None or self.threshold is None:
            return None
        return guardrail_breached(self.direction, self.threshold, self.current)


RECENT_LINE_FIELDS = (
    "recent_n", "recent_mean_ts", "recent_mean_value", "recent_slope", "recent_sxx", "recent_residual_sd",
)  # fmt: skip


def guardrail_breached(direction: str, threshold: float, current: float) -> bool:
    return current < threshold if direction == MetricDirection.INCREASE else current > threshold


class Divergence(models.Model):
    """A team's permission to diverge, on record: what it does differently and why, how its
    success is judged (a metric and the value it must reach), who approved it, and when it is
    reviewed. Recorded while the team's latest assessment is `divergence_permitted`."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        CLOSED = "closed", "Closed"

    class Outcome(models.TextChoices):
        MET = "met", "Criteria met"
        MISSED = "missed", "Criteria missed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="divergences")
    approach = models.TextField(help_text="What the team does differently.")
    rationale = models.TextField(help_text="Why.")
    success_metric = models.ForeignKey(Metric, on_delete=models.PROTECT, related_name="divergences")
    success_value = models.FloatField()
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    review_on = models.DateField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.ACTIVE)
    outcome = models.CharField(max_length=8, choices=Outcome.choices, blank=True, default="")
    outcome_value = models.FloatField(null=True, blank=True)
    closing_note = models.TextField(blank=True, default="")
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=now, editable=False)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["team"], condition=Q(status="active"), name="one_active_divergence_per_team"
            ),
            models.CheckConstraint(condition=finite("success_value"), name="divergence_finite_success_value"),
        ]

    def __str__(self) -> str:
        return f"{self.team_id}: {self.approach[:40]}"

    def criteria_met(self) -> bool:
        """Whether the success metric's latest value reaches `success_value` (its direction's way)."""
        current = self.success_metric.current
        if current is None:
            return False
        if self.success_metric.direction == MetricDirection.INCREASE:
            return current >= self.success_value
        return current <= self.success_value


class MetricChange(models.Model):
    """A moved goalpost: every change of a metric's baseline or target, with old and new values."""

    id = models.BigAutoField(primary_key=True)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    metric = models.ForeignKey(Metric, on_delete=models.CASCADE, related_name="changes")
    field = models.CharField(max_length=20)
    old_value = models.FloatField(null=True, blank=True, help_text="Baseline and target changes.")
    new_value = models.FloatField(null=True, blank=True, help_text="Baseline and target changes.")
    old_date = models.DateField(null=True, blank=True, help_text="Due-date changes.")
    new_date = models.DateField(null=True, blank=True, help_text="Due-date changes.")
    reason = models.TextField(blank=True, default="")
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="Who approved the proposal that made this change (goalposts moved by proposal).",
    )
    changed_at = models.DateTimeField(default=now)

    class Meta:
        ordering = ["-changed_at", "-id"]

    def __str__(self) -> str:
        return f"{self.metric_id} {self.field}: {self.old_value} → {self.new_value}"


class Reading(models.Model):
    """One observation of a metric; unique per (metric, observed_at)."""

    id = models.BigAutoField(primary_key=True)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    metric = models.ForeignKey(Metric, on_delete=models.CASCADE, related_name="readings")
    observed_at = models.DateTimeField()
    value = models.FloatField()
    source = models.CharField(max_length=100, blank=True, default="")
    note = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=now, editable=False)
    updated_at = models.DateTimeField(default=now, editable=False)

    class Meta:
        ordering = ["-observed_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["metric", "observed_at"], name="reading_unique_per_instant"),
            models.CheckConstraint(condition=finite("value"), name="reading_value_finite"),
        ]
        indexes = [models.Index(fields=["organization", "metric", "-observed_at"])]

    def __str__(self) -> str:
        return f"{self.metric_id} @ {self.observed_at}: {self.value}"
