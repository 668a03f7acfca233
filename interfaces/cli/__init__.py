"""The `stockroom` command line."""
