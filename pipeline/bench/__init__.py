"""Benchmarks runnable as ``python -m pipeline.bench.<name>``."""
