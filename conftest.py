"""Test-suite wiring: shared fixtures live in plugin modules under tests/."""

pytest_plugins = ["tests.conftest_xvfb", "tests.conftest_tiny"]
