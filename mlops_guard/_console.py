"""Output helpers shared by the CLI commands: JSON on stdout, rich text, progress bars.

rich is imported on first use so that ``mlops-guard --help`` stays fast.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress

__all__ = [
    "console",
    "error_line",
    "json_written",
    "print_json",
    "printable",
    "reset_json_written",
    "progress",
    "safe",
    "to_jsonable",
]

_console: Console | None = None


def console() -> Console:
    """A rich console on stdout (created once)."""
    global _console
    if _console is None:
        from rich.console import Console

        _console = Console(highlight=False)
    return _console


def to_jsonable(value: Any) -> Any:  # noqa: PLR0911 - one branch per kind reads clearest
    """Make dataclasses, pydantic models, paths, datetimes and numpy scalars JSON-ready.

    Float NaN and infinities (numpy's included) become ``None``, written as ``null``: JSON has
    no such numbers, and a mean of no rows or a statistic that overflowed is "no value", not a
    reason for the command to fail after its work is done.
    """
    import dataclasses
    import math

    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {k: to_jsonable(v) for k, v in dataclasses.asdict(value).items()}
    if hasattr(value, "model_dump"):
        return to_jsonable(value.model_dump(mode="json"))
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if getattr(value, "ndim", 0) and callable(getattr(value, "tolist", None)):  # numpy array
        return to_jsonable(value.tolist())
    if hasattr(value, "item") and callable(value.item):  # numpy scalar
        return to_jsonable(value.item())
    return value


_json_written = False


def print_json(value: Any) -> None:
    """Write one JSON document to stdout (nothing else goes to stdout with ``--json``)."""
    global _json_written
    sys.stdout.write(json.dumps(to_jsonable(value), indent=2, allow_nan=False) + "\n")
    sys.stdout.flush()
    _json_written = True


def json_written() -> bool:
    """Whether this command has written its JSON document (a check that failed after
    reporting, exit 1, needs no second one)."""
    return _json_written


def reset_json_written() -> None:
    global _json_written
    _json_written = False


def printable(text: object) -> str:
    """``text`` with every control and format character escaped (``\\x1b``, ``\\u202e``).

    Values that reach the terminal come from users and alerts: an escape sequence could
    rewrite the screen, a right-to-left override reorder what an operator reads.
    """
    import unicodedata

    out = []
    for char in str(text):
        if unicodedata.category(char) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"):
            code = ord(char)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(char)
    return "".join(out)


def safe(value: object) -> str:
    """A user-supplied value for a rich markup string: control characters escaped, and rich
    markup (``[bold]``, ``[/]``) shown as typed instead of styling or breaking the line."""
    from rich.markup import escape

    return escape(printable(value))


def error_line(message: str) -> None:
    """One line on stderr, the CLI's only way of reporting a user error."""
    sys.stderr.write(f"mlops-guard: error: {printable(' '.join(message.split()))}\n")
    sys.stderr.flush()


@contextmanager
def progress(enabled: bool = True) -> Iterator[Progress | None]:
    """A rich progress bar on stderr for long CLI work; None when disabled (``--json``, no TTY)."""
    if not enabled or not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        yield bar
