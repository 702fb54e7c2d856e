"""Test-only LocalStack plugins for Beekeeper's full-stack suite (crates/cli/tests/localstack.rs)."""
