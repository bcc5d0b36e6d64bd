"""Shared fixtures: the local cluster plugin (session cluster, namespace per test) is loaded for every test."""

pytest_plugins = ["tether.testing.fixtures", "tests.browser"]
