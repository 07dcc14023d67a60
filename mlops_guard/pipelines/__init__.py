"""mlops-guard pipelines (see the module docs)."""
