"""mlops-guard canary (see the module docs)."""
