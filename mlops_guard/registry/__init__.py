"""mlops-guard registry (see the module docs)."""
