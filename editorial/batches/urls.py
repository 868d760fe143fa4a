from django.urls import path

from editorial.batches import views

app_name = "batches"
urlpatterns = [
    path("batches/", views.batch_list, name="list"),
    path("batches/new/", views.batch_new, name="new"),
    path("batches/<int:pk>/", views.batch_detail, name="detail"),
    path("batches/<int:pk>/progress.json", views.batch_progress, name="progress"),
    path("batches/<int:pk>/rows/", views.batch_rows, name="rows"),
    path("batches/<int:pk>/policy-publish/", views.batch_policy_publish, name="policy-publish"),
    path("batches/<int:pk>/<str:action>/", views.batch_action, name="action"),
]
