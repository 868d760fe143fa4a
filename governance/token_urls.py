from django.urls import path

from governance import token_views

app_name = "tokens"
urlpatterns = [
    path("", token_views.token_list, name="list"),
    path("service/", token_views.service_token_create, name="service-create"),
    path("<int:pk>/revoke/", token_views.token_revoke_view, name="revoke"),
]
