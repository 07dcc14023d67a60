"""Checks on the paths commands write to, made before any work starts.

A command that reads a gigabyte and then cannot write its result wastes the work and, with
the write-to-temporary-then-rename pattern, leaves a stray temporary file next to the target.
Checking the target first turns those late failures into one line and exit 2.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from mlops_guard.errors import UsageError

__all__ = ["check_output_path"]


def check_output_path(path: str | Path, option: str, *, inputs: Iterable[str | Path] = ()) -> Path:
    """``path`` as a :class:`~pathlib.Path` if a file can be written there; raises
    :class:`~mlops_guard.errors.UsageError` naming ``option`` (``--out``, ``OUT``) otherwise.

    Refused: an empty path, a path ending in a separator or naming an existing directory, a
    path under an existing regular file, a directory that cannot be written to, and a path that
    is one of ``inputs`` (writing there would replace the data being read). Missing parent
    directories are fine: the writers create them.
    """
    text = os.fspath(path)
    shown = f"{option} {text!r}"
    if not text.strip():
        raise UsageError(f"{option} is empty", hint=f"pass a file path to {option}")
    if text.endswith((os.sep, "/")) or (os.altsep is not None and text.endswith(os.altsep)):
        raise UsageError(
            f"{shown} names a directory, not a file", hint="pass a file path, without the '/'"
        )
    target = Path(text)
    if target.is_dir():
        raise UsageError(
            f"{shown} is an existing directory, not a file",
            hint=f"pass a file path inside it, e.g. {str(target / 'out')!r}",
        )
    if target.exists() and not target.is_file():
        raise UsageError(
            f"{shown} exists and is not a regular file", hint="pass a new or regular file path"
        )
    # The nearest existing ancestor decides: the writers create the missing directories below.
    ancestor = target.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise UsageError(
            f"{shown} lies under {str(ancestor)!r}, which is a file, not a directory",
            hint="pass a path in a directory",
        )
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise UsageError(
            f"{shown}: directory {str(ancestor)!r} is not writable",
            hint="pass a path in a directory you can write to",
        )
    resolved = target.resolve()
    for source in inputs:
        if Path(source).resolve() == resolved:
            raise UsageError(
                f"{shown} is also an input of the command; writing it would replace the data "
                "being read",
                hint=f"pass another path to {option}",
            )
    return target
