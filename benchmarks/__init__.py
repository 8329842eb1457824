"""Benchmarks and the local Voxtral API server they (and tests) run against."""
