"""mlops-guard validation (see the module docs)."""
