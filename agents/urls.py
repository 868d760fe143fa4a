from django.urls import path

from agents import views, views_knowledge

app_name = "agents"
urlpatterns = [
    path("drafts/<int:pk>/shadow/", views.shadow_list, name="shadow-list"),
    path("drafts/<int:pk>/shadow/<int:run_id>/", views.shadow_compare, name="shadow-compare"),
    path("knowledge/", views_knowledge.knowledge_brands, name="knowledge-brands"),
    path("knowledge/<slug:slug>/", views_knowledge.knowledge, name="knowledge"),
    path("knowledge/<slug:slug>/<int:pk>/", views_knowledge.knowledge_document, name="knowledge-document"),
    path("knowledge/<slug:slug>/<int:pk>/expire/", views_knowledge.knowledge_expire, name="knowledge-expire"),
    path("knowledge/<slug:slug>/<int:pk>/delete/", views_knowledge.knowledge_delete, name="knowledge-delete"),
]
