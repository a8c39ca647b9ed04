"""labrun's benchmarks: ``python -m bench`` (``--quick`` for CI)."""
