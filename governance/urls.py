from django.urls import path

from governance import views
from governance.publishing import views as publishing_views

app_name = "governance"
urlpatterns = [
    path("drafts/<int:pk>/findings/<int:finding_id>/override/", views.finding_override_view, name="finding-override"),
    path("drafts/<int:pk>/gates/<int:gate_id>/review-link/", views.review_link_create_view, name="review-link"),
    path("review/<int:draft_id>/<str:token>/", views.external_review, name="external-review"),
    path("policies/check/", views.policy_check, name="policy-check"),
    path("drafts/<int:pk>/provenance.json", views.manifest_download, name="manifest"),
    path("provenance/key.json", views.manifest_key_view, name="manifest-key"),
    path("drafts/<int:pk>/retract/", publishing_views.retract_view, name="retract"),
    path("drafts/<int:pk>/schedule/", publishing_views.schedule_view, name="schedule"),
    path("deliveries/dead/", publishing_views.dead_letters, name="dead-letters"),
    path("deliveries/<int:delivery_id>/replay/", publishing_views.replay_view, name="replay"),
    path("hooks/cms/<int:connector_id>/", publishing_views.cms_callback, name="cms-callback"),
]
