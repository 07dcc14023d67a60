"""mlops-guard monitors (see the module docs)."""
