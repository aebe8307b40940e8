"""Benchmarks that compare Clearway with MLflow and with this machine's limits, in one run: ``python -m bench``."""
