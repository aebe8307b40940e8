"""Credentials and tokens -> the caller's Identity."""
