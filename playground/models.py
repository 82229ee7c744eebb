"""The playground app's own table: /healthz's proof that the database takes writes."""

from django.db import models


class HealthProbe(models.Model):
    """One row, overwritten by /healthz at most every few seconds (playground/health.py): a
    read-only database answers reads perfectly well, so only a committed write tells."""

    checked_at = models.FloatField(help_text="time.time() of the last successful write probe")

    class Meta:
        db_table = "playground_health"
