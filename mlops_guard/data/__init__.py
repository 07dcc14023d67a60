"""Data I/O and the scored-batch format and layout. (The demo's synthetic churn data set lives in
:mod:`mlops_guard.demo`.)"""

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
from mlops_guard.data._scored import (
    BATCH_ID_COLUMN,
    BOOKKEEPING_COLUMNS,
    MODEL_VERSION_COLUMN,
    OUTPUT_COLUMNS,
    PREDICTION_COLUMN,
    SCORE_COLUMN,
    SCORED_AT_COLUMN,
    SCORED_COLUMNS,
    ScoredKind,
    add_scores,
    scored_batch_path,
    scored_batches,
    with_predictions,
)

__all__ = [
    "BATCH_ID_COLUMN",
    "BOOKKEEPING_COLUMNS",
    "MODEL_VERSION_COLUMN",
    "OUTPUT_COLUMNS",
    "PREDICTION_COLUMN",
    "SCORED_AT_COLUMN",
    "SCORED_COLUMNS",
    "SCORE_COLUMN",
    "DataFormat",
    "ScoredKind",
    "add_scores",
    "data_format",
    "file_sha256",
    "fingerprint",
    "iter_batches",
    "read_arrow",
    "read_table",
    "scored_batch_path",
    "scored_batches",
    "with_predictions",
    "write_table",
]
