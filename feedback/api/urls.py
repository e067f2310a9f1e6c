from rest_framework.routers import SimpleRouter

from alignment_service.api.routing import ORG, org_path
from feedback.api import steering_views, views

router = SimpleRouter()
router.register(rf"{ORG}/check-ins", views.CheckInViewSet, basename="check-in")
router.register(rf"{ORG}/assessments", views.AssessmentViewSet, basename="assessment")
router.register(rf"{ORG}/feedback", views.FeedbackViewSet, basename="feedback")
router.register(
    rf"{ORG}/feedback/(?P<feedback_pk>[^/.]+)/replies", views.FeedbackReplyViewSet, basename="feedback-reply"
)
router.register(rf"{ORG}/scores", views.ScoreViewSet, basename="score")
router.register(rf"{ORG}/course-corrections", views.CourseCorrectionViewSet, basename="course-correction")
router.register(rf"{ORG}/goalpost-proposals", steering_views.GoalpostProposalViewSet, basename="goalpost-proposal")
router.register(rf"{ORG}/divergences", steering_views.DivergenceViewSet, basename="divergence")
router.register(rf"{ORG}/steering/decisions", steering_views.SteeringDecisionViewSet, basename="steering-decision")

urlpatterns = [
    org_path("dashboard/", views.DashboardViewSet.as_view({"get": "retrieve"}), name="dashboard"),
    org_path("calibration/", views.CalibrationViewSet.as_view({"get": "retrieve"}), name="calibration"),
    org_path(
        "steering/agenda/",
        steering_views.SteeringAgendaViewSet.as_view({"get": "retrieve"}),
        name="steering-agenda",
    ),
    *router.urls,
]
