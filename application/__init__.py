"""Use cases of the catalog, written against ports; no HTTP, no SQL."""
