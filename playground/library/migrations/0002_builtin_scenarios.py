"""Load the built-in scenarios, so every database (the test database too) has them."""

from django.db import migrations


def load(apps, schema_editor):
    from playground.library.builtins import load_builtins

    load_builtins(models=apps)


class Migration(migrations.Migration):
    dependencies = [("library", "0001_initial")]

    # Reversing leaves the rows: they are data, and 0001's reversal drops the tables anyway.
    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
