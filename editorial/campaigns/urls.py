from django.urls import path

from editorial.campaigns import experiment_views, views

app_name = "campaigns"
urlpatterns = [
    path("campaigns/", views.campaign_list, name="list"),
    path("campaigns/new/", views.campaign_new, name="new"),
    path("campaigns/<int:pk>/", views.campaign_detail, name="detail"),
    path("campaigns/<int:pk>/start/", views.campaign_start, name="start"),
    path("campaigns/<int:pk>/bulk/", views.campaign_bulk, name="bulk"),
    path("campaigns/variants/<int:pk>/", views.variant_diff, name="variant"),
    path("campaigns/variants/<int:pk>/gates/<int:gate_id>/", views.variant_sign, name="variant-sign"),
    path("campaigns/segments/", views.segment_list, name="segments"),
    path("campaigns/segments/new/", views.segment_edit, name="segment-new"),
    path("campaigns/segments/<int:pk>/", views.segment_edit, name="segment-edit"),
    path("campaigns/<int:pk>/experiments/new/", experiment_views.experiment_new, name="experiment-new"),
    path("campaigns/experiments/<int:pk>/", experiment_views.experiment_detail, name="experiment"),
    path("campaigns/experiments/<int:pk>/promote/", experiment_views.experiment_promote_view,
         name="experiment-promote"),
    path("campaigns/outcomes/<int:connector_id>/", experiment_views.outcome_callback, name="outcome-callback"),
]
