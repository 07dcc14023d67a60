"""mlops-guard integrations/prefect (see the module docs)."""
