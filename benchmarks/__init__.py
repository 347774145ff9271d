"""Benchmarks of asyncflow against its baselines; run them with ``python -m benchmarks``.

Modules here import neither asyncflow nor Metaflow at the top, so the same payload
and probe code runs in asyncflow's environment and in the Metaflow one.
"""
