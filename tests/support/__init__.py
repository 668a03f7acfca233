"""Local PostgreSQL clusters and ports for the tests and the benchmarks.

Plain library code (no pytest, no fixtures): bench/ imports it as well as the tests, so that one
implementation starts the throwaway servers both use.
"""
