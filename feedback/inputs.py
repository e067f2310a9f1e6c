"""The inputs of scoring and of the course-correction rules: plain values loaded once per
rescore (`feedback.world`), so that `feedback.scoring` and `feedback.rules` stay pure functions."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from goals import formulas


@dataclass(frozen=True)
class MetricInputs:
    id: Any
    name: str
    baseline: float
    target: float
    weight: float
    forecast: float | None
    stale_after_days: int | None
    last_reading_ts: float | None
    forecast_low: float | None = None
    forecast_high: float | None = None
    p_hit: float | None = None
    enough_readings: bool = False
    stall: formulas.Stall | None = None  # the recent readings' outlook when they fall short of the pace needed


@dataclass(frozen=True)
class GuardrailInputs:
    id: Any
    name: str
    direction: str
    threshold: float
    current: float | None
    unit: str = ""


@dataclass(frozen=True)
class AssessmentInputs:
    alignment: int
    confidence: int
    recommended_mode: str
    created_ts: float


@dataclass(frozen=True)
class GoalInputs:
    id: Any
    title: str
    team_id: Any
    parent_id: Any
    owner_id: Any
    weight: float
    progress: float | None
    window_start_ts: float
    window_end_ts: float
    hypothesis: str
    strategy_count: int
    latest_confidence: int | None
    last_checkin_ts: float | None
    open_concerns: int = 0
    open_challenges: int = 0
    metrics: tuple[MetricInputs, ...] = field(default_factory=tuple)
    guardrails: tuple[GuardrailInputs, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class TeamInputs:
    id: Any
    name: str
    lead_id: Any
    parent_lead_id: Any
    latest_assessment: AssessmentInputs | None
    last_lead_checkin_ts: float | None


@dataclass(frozen=True)
class ActiveCorrection:
    subject_type: str
    subject_id: str
    trigger: str
    review_by: date | None
    extension_count: int


@dataclass(frozen=True)
class DueDivergence:
    team_id: Any
    approach: str
    review_on: date


@dataclass(frozen=True)
class DueFollowUp:
    decision_id: Any
    subject_type: str
    subject_id: str
    team_id: Any
    outcome: str
    follow_up_on: date


@dataclass
class World:
    """Everything the rules read, loaded once per organization."""

    settings: Mapping[str, Any]
    now_ts: float
    today: date
    goals: list[GoalInputs]
    teams: dict[Any, TeamInputs]
    scores: dict[tuple[str, str], float]
    previous_scores: dict[tuple[str, str], float]
    active: list[ActiveCorrection] = field(default_factory=list)
    divergences_due: list[DueDivergence] = field(default_factory=list)
    follow_ups_due: list[DueFollowUp] = field(default_factory=list)
