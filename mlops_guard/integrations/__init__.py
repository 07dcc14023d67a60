"""mlops-guard integrations (see the module docs)."""
