from django.urls import path

from feedback.pages import views

app_name = "pages"

urlpatterns = [
    path("", views.org_picker, name="orgs"),
    path("<slug:org>/", views.allhands, name="allhands"),
    path("<slug:org>/snapshots/", views.snapshots, name="snapshots"),
    path("<slug:org>/snapshots/<str:snapshot_id>/", views.snapshot, name="snapshot"),
    path("<slug:org>/goals/<str:goal_id>/", views.goal, name="goal"),
    path("<slug:org>/teams/<str:team_id>/", views.team, name="team"),
]
