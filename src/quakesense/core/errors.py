"""One error type for bad user input, so the CLI can report it plainly and exit non-zero."""

from __future__ import annotations

from pathlib import Path


class InputError(ValueError):
    """User input is unusable; the message names the file, row or field and what was expected.

    Args:
        message: What is wrong and what was expected.
        source: File (or other source) the input came from.
        field: Column, key or argument at fault.
        row: Zero-based row (or record) index at fault.
    """

    def __init__(
        self,
        message: str,
        *,
        source: str | Path | None = None,
        field: str | None = None,
        row: int | None = None,
    ) -> None:
        self.source = None if source is None else str(source)
        self.field = field
        self.row = row
        where = []
        if self.source is not None:
            where.append(self.source)
        if row is not None:
            where.append(f"row {row}")
        if field is not None:
            where.append(f"field '{field}'")
        prefix = ", ".join(where)
        super().__init__(f"{prefix}: {message}" if prefix else message)
