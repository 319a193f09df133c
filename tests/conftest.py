"""The suite's shared fixtures live in ``tests/fixtures/`` (real and generated data, the demo run, the model key)."""

pytest_plugins = ["tests.fixtures.data"]
