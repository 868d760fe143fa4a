from django.urls import path

from agents.views import knowledge, shadows

app_name = "agents"
urlpatterns = [
    path("drafts/<int:pk>/shadow/", shadows.shadow_list, name="shadow-list"),
    path("drafts/<int:pk>/shadow/<int:run_id>/", shadows.shadow_compare, name="shadow-compare"),
    path("knowledge/", knowledge.knowledge_brands, name="knowledge-brands"),
    path("knowledge/<slug:slug>/", knowledge.knowledge, name="knowledge"),
    path("knowledge/<slug:slug>/<int:pk>/", knowledge.knowledge_document, name="knowledge-document"),
    path("knowledge/<slug:slug>/<int:pk>/edit/", knowledge.knowledge_edit, name="knowledge-edit"),
    path("knowledge/<slug:slug>/<int:pk>/expire/", knowledge.knowledge_expire, name="knowledge-expire"),
    path("knowledge/<slug:slug>/<int:pk>/delete/", knowledge.knowledge_delete, name="knowledge-delete"),
]
