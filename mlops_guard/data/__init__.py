"""Data I/O and the synthetic data set shared by the demo, the tests and the benchmarks."""

from mlops_guard.data._io import (
    DataFormat,
    data_format,
    file_sha256,
    fingerprint,
    iter_batches,
    read_arrow,
    read_table,
    write_table,
)
from mlops_guard.data._synthetic import (
    CATEGORICAL_FEATURES,
    CATEGORIES,
    FEATURES,
    ID_COLUMN,
    LABEL,
    NUMERICAL_FEATURES,
    TIMESTAMP_COLUMN,
    Corruption,
    SyntheticSpec,
    make_dataset,
)

__all__ = [
    "CATEGORICAL_FEATURES",
    "CATEGORIES",
    "FEATURES",
    "ID_COLUMN",
    "LABEL",
    "NUMERICAL_FEATURES",
    "TIMESTAMP_COLUMN",
    "Corruption",
    "DataFormat",
    "SyntheticSpec",
    "data_format",
    "file_sha256",
    "fingerprint",
    "iter_batches",
    "make_dataset",
    "read_arrow",
    "read_table",
    "write_table",
]
