"""Benchmarks and the accuracy evaluation (run with python -m bench)."""
