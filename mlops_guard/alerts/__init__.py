"""mlops-guard alerts (see the module docs)."""
