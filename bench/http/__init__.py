"""The HTTP benchmark: `uv run python -m bench.http.run` (see bench/README.md)."""
