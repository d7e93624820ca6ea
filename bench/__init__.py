"""Benchmarks: `python -m bench` (CI-sized) or `python -m bench --full` (the whole Hub)."""
