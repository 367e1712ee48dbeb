"""What a tqdm bar leaves on stderr, for the `--progress/--no-progress` tests of every verb."""

from __future__ import annotations

import re

ELAPSED = re.compile(r"\[\d\d:\d\d")
"""tqdm's elapsed-time field, e.g. `3/3 [00:01<00:00, 2.9event/s]` or `12window [00:02, ...]`."""


def has_bar(stderr: str, desc: str | None = None) -> bool:
    """Whether `stderr` holds a tqdm bar (the one labelled `desc`, when given)."""
    lines = re.split(r"[\r\n]", stderr)
    return any(ELAPSED.search(line) and (desc is None or desc in line) for line in lines)
