"""Benchmarks: plan and policy scaling, import footprint. Run with ``python -m benchmarks``."""
