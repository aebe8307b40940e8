"""Scheduling: which waiting task a worker gets from a queue (resource fit, fair share, quotas), and why the others
wait. :mod:`needs` reads what tasks need and workers have; :mod:`shares` orders owners and applies quotas;
:mod:`scheduler` takes a task; :mod:`explain` shows a queue's order; :mod:`settings` manages policies and quotas.
"""
