"""Sub-commands of the canary concern (registered by :mod:`mlops_guard.cli`)."""

from __future__ import annotations

import argparse
from typing import Any


def register(commands: "argparse._SubParsersAction[Any]") -> None:
    """Add this concern's sub-commands. Import nothing heavy here: --help must stay fast."""
