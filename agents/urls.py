from django.urls import path

from agents import views

app_name = "agents"
urlpatterns = [
    path("knowledge/", views.knowledge_brands, name="knowledge-brands"),
    path("knowledge/<slug:slug>/", views.knowledge, name="knowledge"),
    path("knowledge/<slug:slug>/<int:pk>/", views.knowledge_document, name="knowledge-document"),
    path("knowledge/<slug:slug>/<int:pk>/expire/", views.knowledge_expire, name="knowledge-expire"),
    path("knowledge/<slug:slug>/<int:pk>/delete/", views.knowledge_delete, name="knowledge-delete"),
]
