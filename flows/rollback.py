"""Prefect entrypoint ``flows/rollback.py:rollback_flow`` (the logic lives in mlops_guard)."""

from mlops_guard.integrations.prefect import rollback_flow

__all__ = ["rollback_flow"]

if __name__ == "__main__":
    import sys

    rollback_flow(model=sys.argv[1], reason=" ".join(sys.argv[2:]) or "manual rollback")
