from django.urls import path
from rest_framework.routers import SimpleRouter

from feedback.api import views

ORG = r"orgs/(?P<org>[-a-zA-Z0-9_]+)"

router = SimpleRouter()
router.register(rf"{ORG}/check-ins", views.CheckInViewSet, basename="check-in")
router.register(rf"{ORG}/assessments", views.AssessmentViewSet, basename="assessment")
router.register(rf"{ORG}/feedback", views.FeedbackViewSet, basename="feedback")
router.register(
    rf"{ORG}/feedback/(?P<feedback_pk>[^/.]+)/replies", views.FeedbackReplyViewSet, basename="feedback-reply"
)
router.register(rf"{ORG}/scores", views.ScoreViewSet, basename="score")
router.register(rf"{ORG}/course-corrections", views.CourseCorrectionViewSet, basename="course-correction")
router.register(rf"{ORG}/goalpost-proposals", views.GoalpostProposalViewSet, basename="goalpost-proposal")
router.register(rf"{ORG}/divergences", views.DivergenceViewSet, basename="divergence")
router.register(rf"{ORG}/steering/decisions", views.SteeringDecisionViewSet, basename="steering-decision")

urlpatterns = [
    path("orgs/<slug:org>/dashboard/", views.DashboardViewSet.as_view({"get": "retrieve"}), name="dashboard"),
    path("orgs/<slug:org>/calibration/", views.CalibrationViewSet.as_view({"get": "retrieve"}), name="calibration"),
    path(
        "orgs/<slug:org>/steering/agenda/",
        views.SteeringAgendaViewSet.as_view({"get": "retrieve"}),
        name="steering-agenda",
    ),
    *router.urls,
]
