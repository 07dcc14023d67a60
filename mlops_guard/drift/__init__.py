"""mlops-guard drift (see the module docs)."""
