"""Hypothesis, bounded and deterministic for every property test in this folder.

`derandomize` draws the same examples on every run and `database=None` keeps no
examples between runs, so CI sees what a developer saw; each test's
`max_examples` keeps the folder well under a minute. Fixtures only: the shared
strategies live in `tests/property/strategies.py`.
"""

from hypothesis import HealthCheck, settings

settings.register_profile(
    "codeb", max_examples=100, deadline=None, derandomize=True, database=None, print_blob=False,
    # The app and tenant fixtures are built once per test and shared by its examples on purpose.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.load_profile("codeb")
