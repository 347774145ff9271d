"""Metaflow flows for the side-by-side runs; run only in ``benchmarks/.venv-metaflow``."""
