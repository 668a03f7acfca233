"""Driving adapters: the HTTP API and the command line."""
