from django.urls import path

from agents import views

app_name = "agents"
urlpatterns = [
    path("drafts/<int:pk>/shadow/", views.shadow_list, name="shadow-list"),
    path("drafts/<int:pk>/shadow/<int:run_id>/", views.shadow_compare, name="shadow-compare"),
]
