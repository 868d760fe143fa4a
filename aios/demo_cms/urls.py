from django.urls import path

from aios.demo_cms import views

app_name = "demo_cms"
urlpatterns = [
    path("demo/receiver/", views.demo_receiver_page, name="receiver"),
    path("demo/receiver/<int:connector_id>/", views.demo_receiver_inbound, name="receiver-inbound"),
]
