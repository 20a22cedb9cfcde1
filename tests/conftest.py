"""Test-wide settings.

Hypothesis explores new random examples on every developer run, which is how it keeps finding
bugs; under CI (``CI`` set, as the CI runner does) it is derandomized so a landing is never
decided by the luck of a seed. Failures found locally are pinned as plain tests.
"""

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
settings.register_profile("dev", print_blob=True)
settings.load_profile("ci" if os.environ.get("CI") else "dev")
