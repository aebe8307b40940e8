"""Clearway: a self-hosted MLOps server for a shared GPU cluster that speaks the ClearML API."""

__version__ = "0.1.0"
