from django.core.management.base import BaseCommand

from playground.library.builtins import load_builtins


class Command(BaseCommand):
    help = ("Create or update the built-in scenarios from broker_core/scenarios/*.json "
            "(idempotent: unchanged files change nothing).")

    def handle(self, *args, **options):
        result = load_builtins()
        for key in ("created", "updated", "unchanged"):
            if result[key]:
                self.stdout.write(f"{key}: {', '.join(result[key])}")
        for slug in result["conflicts"]:
            self.stderr.write(f"not loaded: /s/{slug} is a scenario someone made (not the "
                              "built-in); rename it in the admin and run this again")
