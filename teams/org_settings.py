"""An organization's rule parameters: each has a documented default and bounds.

Stored in `Organization.settings` as overrides only; `effective_settings` fills the defaults,
so a default changed here applies to every organization that has not overridden it.
"""

from typing import Any

from rest_framework import serializers

from alignment_service.api.fields import FloatField, IntegerField

#: The components of an alignment score (`feedback.scoring`), in order, with their default
#: weights; each is the rule parameter `weight_<component>`.
SCORE_WEIGHTS: dict[str, int] = {
    "linkage": 10,
    "pace": 25,
    "forecast": 20,
    "confidence": 15,
    "assessment": 10,
    "feedback": 10,
    "freshness": 10,
}
SCORE_COMPONENTS: tuple[str, ...] = tuple(SCORE_WEIGHTS)

DEFAULTS: dict[str, Any] = {
    "checkin_interval_days": 7,
    "score_threshold": 60,
    "score_drop_alert": 15,
    "low_confidence": 3,
    "intervention_days": 21,
    "drift_days": 14,
    "health_tolerance": 0.05,
    "at_risk_gap": 0.20,
    "forecast_window_days": 28,
    "busted_after": 0.5,
    "busted_below": 0.5,
    "likely_miss_below": 0.2,
    "likely_miss_min_readings": 5,
    "likely_miss_after": 0.25,
    **{f"weight_{name}": weight for name, weight in SCORE_WEIGHTS.items()},
    "goalpost_changes": "direct",
}

#: How a metric's baseline, target or due date may change: edited directly (kept in the
#: metric's history), or proposed and approved (`feedback.steering`).
GOALPOST_DIRECT, GOALPOST_PROPOSAL = "direct", "proposal"


def effective_settings(overrides: dict[str, Any]) -> dict[str, Any]:
    return {**DEFAULTS, **{key: value for key, value in overrides.items() if key in DEFAULTS}}


def _weight() -> serializers.FloatField:
    return FloatField(min_value=0, max_value=100, help_text="Relative weight of the score component.")


class OrgSettingsSerializer(serializers.Serializer):
    checkin_interval_days = IntegerField(
        min_value=1, max_value=365, help_text="Days between expected check-ins on an active goal (default 7)."
    )
    score_threshold = IntegerField(
        min_value=0, max_value=100, help_text="A score below this opens a correction (default 60)."
    )
    score_drop_alert = IntegerField(
        min_value=1, max_value=100, help_text="A drop of this many points since the last snapshot alerts (default 15)."
    )
    low_confidence = IntegerField(
        min_value=0, max_value=10, help_text="Check-in confidence at or below this is low (default 3)."
    )
    intervention_days = IntegerField(
        min_value=1, max_value=365, help_text="Days until an intervention is reviewed (default 21)."
    )
    drift_days = IntegerField(
        min_value=1,
        max_value=365,
        help_text="Days without a leader's check-in or assessment that count as drift (default 14).",
    )
    health_tolerance = FloatField(
        min_value=0, max_value=1, help_text="Behind pace by at most this share is still on track (default 0.05)."
    )
    at_risk_gap = FloatField(
        min_value=0,
        max_value=1,
        help_text="Behind pace by at most this share is at risk; beyond, off track (default 0.20).",
    )
    forecast_window_days = IntegerField(
        min_value=1,
        max_value=3650,
        help_text="Readings of the last this many days form the forecast trend (default 28).",
    )
    busted_after = FloatField(
        min_value=0,
        max_value=1,
        help_text="Share of a goal's window elapsed before a hypothesis can bust (default 0.5).",
    )
    busted_below = FloatField(
        min_value=0, max_value=1, help_text="Forecast share of the way to target below which it busts (default 0.5)."
    )
    likely_miss_below = serializers.FloatField(
        min_value=0, max_value=1, help_text="A goal whose p_hit falls below this is a likely miss (default 0.2)."
    )
    likely_miss_min_readings = serializers.IntegerField(
        min_value=3,
        max_value=1000,
        help_text="Readings each metric needs before its odds can raise likely_miss (default 5).",
    )
    likely_miss_after = serializers.FloatField(
        min_value=0,
        max_value=1,
        help_text="Share of a goal's window elapsed before likely_miss can fire (default 0.25).",
    )
    weight_linkage = _weight()
    weight_pace = _weight()
    weight_forecast = _weight()
    weight_confidence = _weight()
    weight_assessment = _weight()
    weight_feedback = _weight()
    weight_freshness = _weight()
    goalpost_changes = serializers.ChoiceField(
        choices=[GOALPOST_DIRECT, GOALPOST_PROPOSAL],
        help_text=(
            "How a metric's baseline, target or due date change: `direct` edits (kept in the metric's history) "
            "or a `proposal` that the team's parent lead, a steering-group member above it or an admin approves "
            "(default direct)."
        ),
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        merged = {**self.context.get("current", DEFAULTS), **attrs}
        if merged["at_risk_gap"] < merged["health_tolerance"]:
            raise serializers.ValidationError({"at_risk_gap": "Must be at least health_tolerance."})
        if sum(merged[f"weight_{name}"] for name in SCORE_COMPONENTS) <= 0:
            raise serializers.ValidationError({"weight_pace": "At least one scoring weight must be positive."})
        return attrs
