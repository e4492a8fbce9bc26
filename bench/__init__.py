"""Benchmarks: each module prints one JSON line per figure, beside its floor or peer."""
