from django.apps import AppConfig


class RoomsConfig(AppConfig):
    name = "playground.rooms"
    label = "rooms"
    verbose_name = "Rooms and recordings"
    default_auto_field = "django.db.models.BigAutoField"
