from django.contrib import admin
from django.urls import path, re_path

from playground import views
from playground.library import views as library_views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("compatibility", views.compatibility, name="compatibility"),
    path("s/<slug:name>", views.open_scenario, name="scenario"),
    path("s/<slug:slug>/export", views.export, name="scenario-export"),
    path("import", library_views.import_document, name="import"),
    # Rooms: random ids (10 hex digits), or a named room such as the Kafka listener's "live".
    re_path(r"^r/(?P<room_id>[0-9a-f]{10}|[a-z][a-z0-9-]{1,31})$", views.room_page, name="room"),
    path("admin/", admin.site.urls),
]
