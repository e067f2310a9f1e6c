"""The leadership matrix, exhaustively: every (alignment, confidence) pair of 1..5 maps to the
quadrant and recommended mode of the contract's table (4 and 5 count as high), both in
`feedback.matrix.classify` and through `POST /assessments/`; ratings outside 1..5 are refused.
"""

import pytest

from feedback import matrix
from feedback.models import Assessment
from tests.factories import TeamFactory

FS, DP, NG, CR = "full_support", "divergence_permitted", "needs_guidance", "critical"
MODE = {FS: "scalable", DP: "supported_divergence", NG: "selective_micromanagement", CR: "critical"}

# Written out cell by cell rather than derived, so a wrong threshold in the code cannot hide in
# the same wrong threshold here. Rows: alignment 1..5; columns: confidence 1..5.
QUADRANTS = {
    1: [CR, CR, CR, DP, DP],
    2: [CR, CR, CR, DP, DP],
    3: [CR, CR, CR, DP, DP],
    4: [NG, NG, NG, FS, FS],
    5: [NG, NG, NG, FS, FS],
}
CELLS = [
    pytest.param(alignment, confidence, row[confidence - 1], id=f"a{alignment}-c{confidence}")
    for alignment, row in QUADRANTS.items()
    for confidence in range(1, 6)
]

BAD_RATINGS = [0, 6, -1, "x", None, 2.5]


def test_the_table_has_all_25_cells():
    assert len(CELLS) == 25


@pytest.mark.parametrize(("alignment", "confidence", "quadrant"), CELLS)
def test_classify(alignment, confidence, quadrant):
    got_quadrant, got_mode = matrix.classify(alignment=alignment, confidence=confidence)

    assert got_quadrant == quadrant
    assert got_mode == MODE[quadrant]


@pytest.mark.parametrize(("alignment", "confidence"), [(0, 3), (6, 3), (3, 0), (3, 6), (0, 0)])
def test_classify_refuses_ratings_outside_1_to_5(alignment, confidence):
    with pytest.raises(ValueError, match="1 to 5"):
        matrix.classify(alignment=alignment, confidence=confidence)


@pytest.fixture
def post_assessment(org, owner, client_for):
    team = TeamFactory(organization=org, lead=owner)
    client = client_for(owner)

    def post(**ratings):
        return client.post(f"/api/v1/orgs/{org.slug}/assessments/", {"team": str(team.pk), **ratings}, format="json")

    return post


@pytest.mark.parametrize(("alignment", "confidence", "quadrant"), CELLS)
def test_the_api_answers_the_quadrant_and_mode(post_assessment, alignment, confidence, quadrant):
    response = post_assessment(alignment=alignment, confidence=confidence)

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["alignment"], body["confidence"]) == (alignment, confidence)
    assert body["quadrant"] == quadrant
    assert body["recommended_mode"] == MODE[quadrant]
    stored = Assessment.objects.get(pk=body["id"])
    assert (stored.quadrant, stored.recommended_mode) == (quadrant, MODE[quadrant])


@pytest.mark.parametrize("field", ["alignment", "confidence"])
@pytest.mark.parametrize("value", BAD_RATINGS, ids=repr)
def test_the_api_refuses_a_rating_outside_1_to_5(post_assessment, field, value):
    ratings = {"alignment": 3, "confidence": 3, field: value}

    response = post_assessment(**ratings)

    assert response.status_code == 400, response.content
    body = response.json()
    assert body["type"] == "validation_error"
    assert [error["attr"] for error in body["errors"]] == [field]
    assert not Assessment.objects.exists()


def test_the_api_names_both_ratings_when_both_are_bad(post_assessment):
    response = post_assessment(alignment=0, confidence=6)

    assert response.status_code == 400
    assert {error["attr"] for error in response.json()["errors"]} == {"alignment", "confidence"}


@pytest.mark.parametrize("missing", ["alignment", "confidence"])
def test_the_api_requires_both_ratings(post_assessment, missing):
    ratings = {"alignment": 3, "confidence": 3}
    del ratings[missing]

    response = post_assessment(**ratings)

    assert response.status_code == 400
    assert {(e["attr"], e["code"]) for e in response.json()["errors"]} == {(missing, "required")}
