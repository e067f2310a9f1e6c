"""The leadership matrix: alignment x confidence → quadrant → recommended leadership mode.

| alignment | confidence | quadrant             | recommended mode          |
| high      | high       | full_support         | scalable                  |
| low       | high       | divergence_permitted | supported_divergence      |
| high      | low        | needs_guidance       | selective_micromanagement |
| low       | low        | critical             | critical                  |

Ratings run 1..5; 4 and 5 count as high.
"""

from feedback.models import LeadershipMode, Quadrant

HIGH_FROM = 4

_TABLE = {
    (True, True): (Quadrant.FULL_SUPPORT, LeadershipMode.SCALABLE),
    (False, True): (Quadrant.DIVERGENCE_PERMITTED, LeadershipMode.SUPPORTED_DIVERGENCE),
    (True, False): (Quadrant.NEEDS_GUIDANCE, LeadershipMode.SELECTIVE_MICROMANAGEMENT),
    (False, False): (Quadrant.CRITICAL, LeadershipMode.CRITICAL),
}

INTERVENTION_MODES = frozenset({LeadershipMode.SELECTIVE_MICROMANAGEMENT, LeadershipMode.CRITICAL})


def classify(*, alignment: int, confidence: int) -> tuple[Quadrant, LeadershipMode]:
    """The quadrant and recommended mode for ratings of 1..5."""
    if not (1 <= alignment <= 5 and 1 <= confidence <= 5):
        raise ValueError("Ratings run from 1 to 5.")
    return _TABLE[(alignment >= HIGH_FROM, confidence >= HIGH_FROM)]
