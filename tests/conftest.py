"""Shared pytest configuration: the hypothesis profiles.

Three profiles keep the property tests bounded where time is short and deep where it is not:

- ``ci``   : few examples per test, used when the ``CI`` environment variable is set
             (``.ci/run`` and most CI services set it); keeps the suite within minutes on 2 cores.
- ``dev``  : the default for a local ``pytest`` run; a little deeper than ``ci``.
- ``deep`` : ``HYPOTHESIS_PROFILE=deep pytest`` for a long local search before a release.

``HYPOTHESIS_PROFILE`` always wins when it is set.
"""
import os

from hypothesis import HealthCheck, settings

_COMMON = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

settings.register_profile("ci", max_examples=30, derandomize=True, print_blob=True, **_COMMON)
settings.register_profile("dev", max_examples=60, **_COMMON)
settings.register_profile("deep", max_examples=300, **_COMMON)

_default = "ci" if os.environ.get("CI") else "dev"
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", _default))
