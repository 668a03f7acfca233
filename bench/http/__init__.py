"""The HTTP benchmark: `uv run python bench/http/run.py` (see bench/README.md)."""
