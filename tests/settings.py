"""Settings for the test suite: the real settings, plus a throwaway secret key.

DEBUG is off by default, and off it requires DJANGO_SECRET_KEY, so the suite supplies one of
its own (subprocesses the tests start inherit it). Everything else is playground.settings.
"""

import os

os.environ.setdefault("DJANGO_SECRET_KEY", "test-suite-only-" + "not-a-secret-" * 4)

from playground.settings import *  # noqa: E402,F403

# Django's advice for ManifestStaticFilesStorage: what renders pages in this process (the test
# client, tests/browser/offline.py) uses plain names, so no collectstatic is needed first. The
# servers the tests start run playground.settings with the hashed, compressed files collected
# once a session (tests/conftest.py, `collected_static`).
STORAGES = {**STORAGES,  # noqa: F405
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
