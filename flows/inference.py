"""Entrypoint for `prefect deploy`: the batch inference flow (logic in mlops_guard.pipelines)."""

from mlops_guard.pipelines import inference_flow

__all__ = ["inference_flow"]

if __name__ == "__main__":
    import sys

    print(inference_flow(sys.argv[1]))
