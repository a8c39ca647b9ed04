"""YAML experiment configs: read safely, validated into typed objects, turned into runs."""
