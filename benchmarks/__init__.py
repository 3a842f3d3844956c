"""Benchmarks of the Section 55 service against the local sandbox (``make bench``)."""
