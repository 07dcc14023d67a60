"""Sub-commands that run pipelines: demo, train, score, data make."""

from __future__ import annotations

import argparse
from typing import Any


def register(commands: argparse._SubParsersAction[Any]) -> None:
    """Add the pipeline sub-commands. Nothing heavy is imported here."""
