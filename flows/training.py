"""Entrypoint for `prefect deploy`: the training flow (logic in mlops_guard.pipelines)."""

from mlops_guard.pipelines import training_flow

__all__ = ["training_flow"]

if __name__ == "__main__":
    import sys

    print(training_flow(sys.argv[1]))
