"""Exceptions shared by the whole harness.

Every user-facing error derives from :class:`HarnessError`; the CLI turns it into a one-line
message and exit code 2. Each message says what was wrong and what to do.
"""


def first_line(e: BaseException, limit: int = 300) -> str:
    """The first line of an exception's message (at most ``limit`` characters; '' if it has none)."""
    return (str(e).strip().splitlines() or [""])[0][:limit]


class HarnessError(Exception):
    """Base class of the errors the harness reports to a user as one line."""


class ConfigError(HarnessError, ValueError):
    """A bad name, value or file given by the user (CLI option, protocol file, ...)."""


class DataError(HarnessError):
    """A benchmark file or cache that is missing, truncated or corrupt."""


class InvalidArchitecture(HarnessError, ValueError):
    """An architecture that is not a member of the search space it was used with."""


class BudgetExhausted(Exception):
    """Raised by the oracle on the first counted query past the budget.

    Not a :class:`HarnessError`: it is the normal end of a search; the runner catches it.
    """
