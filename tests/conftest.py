"""Shared pytest configuration: hypothesis profiles.

``ci`` (the default) is quick and derandomized, so a run is reproducible; ``long``
(``HYPOTHESIS_PROFILE=long``) tries 2000 examples per property with fresh randomness.
"""

import os

from hypothesis import HealthCheck, settings

_COMMON = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("ci", max_examples=50, derandomize=True, database=None, **_COMMON)
settings.register_profile("long", max_examples=2000, **_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
