"""Benchmarks: the project's performance targets, measured, never asserted in the test suite.

Each module is runnable (`python -m bench.<name>`), starts or reuses the
services through scripts/services.py, works in a scratch database and index
prefix of its own, and prints its figures as JSON lines on stdout, next to a
reference figure for the raw engine measured in the same run, so a slow
machine shows up as slow everywhere rather than as a regression.  See
docs/benchmarks.md.
"""
