from django.urls import path

from editorial.insights import views

app_name = "insights"
urlpatterns = [
    path("insights/", views.insights_page, name="page"),
    path("insights/compare/", views.insights_compare, name="compare"),
]
