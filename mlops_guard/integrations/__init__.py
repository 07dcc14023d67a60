"""Orchestrator integrations. Prefect today; the core (:mod:`mlops_guard._stage`) stays agnostic."""
