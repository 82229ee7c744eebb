"""The Daphne of tests/playground/test_viewer_transport.py: the project's settings with a short
"stuck" timeout, so a viewer that never reads is closed within the test's time."""

from playground.settings import *  # noqa: F403

PLAYGROUND_VIEWER_STUCK_S = 3
