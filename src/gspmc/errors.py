"""Error types shared by every part of gspmc.

Every error a user can cause by giving bad input is a :class:`GspmcError` whose message names
the file (when there is one) and the problem, so the CLI can print it without a traceback.
"""

from __future__ import annotations

from os import PathLike


class GspmcError(Exception):
    """Base class of all errors gspmc raises on purpose (bad input, bad config)."""


class DataError(GspmcError, ValueError):
    """A data file (or one clip in it) is unreadable, malformed or inconsistent.

    Args:
        path: the file at fault (``None`` when the data did not come from a file).
        problem: what is wrong, in words a user can act on.
    """

    def __init__(self, path: str | PathLike[str] | None, problem: str) -> None:
        self.path = None if path is None else str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}" if self.path else problem)


class ConfigError(GspmcError, ValueError):
    """A configuration value is missing, unknown or inconsistent with the data."""
