from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from aios.api import api
from aios.health import healthz
from aios.logins import ThrottledAdminLoginForm, ThrottledLoginForm
from aios.metrics import metrics

# The admin's sign-in is throttled like the desk's (aios/logins.py).
admin.site.login_form = ThrottledAdminLoginForm

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics, name="metrics"),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("login/", auth_views.LoginView.as_view(authentication_form=ThrottledLoginForm), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("tokens/", include("governance.token_urls")),
    path("", include("governance.urls")),
    path("", include("aios.demo_cms.urls")),
    path("", include("agents.urls")),
    path("", include("editorial.batches.urls")),
    path("", include("editorial.campaigns.urls")),
    path("", include("editorial.insights.urls")),
    path("", include("editorial.urls")),
]
