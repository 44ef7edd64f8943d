"""One exception hierarchy for everything a user can act on.

Every message names the offending key, column or value and says how to fix it.
"""

from __future__ import annotations


class InvsparkError(Exception):
    """Base class: an error the user can act on (bad config, bad input, failed stage)."""


class ConfigError(InvsparkError, ValueError):
    """The run configuration is missing a key, has an unknown key or a bad value."""


class InputDataError(InvsparkError, ValueError):
    """An input table cannot be used at all (unreadable, required column missing, wrong type)."""


class TableWriteError(InvsparkError):
    """A Delta write was refused (schema mismatch, rows outside the replaced run) or failed."""


class StageError(InvsparkError):
    """A pipeline stage failed; the message names the stage and the cause."""
