"""Suite-wide test configuration: hypothesis profiles (``--hypothesis-profile=thorough`` for a long run)."""

from hypothesis import HealthCheck, settings

settings.register_profile("default", max_examples=200, deadline=None)
settings.register_profile(
    "thorough", max_examples=5000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("default")
