"""Benchmarks for the gateway (`make bench`); never run as tests."""
