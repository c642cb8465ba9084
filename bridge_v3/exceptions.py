"""The bridge's exceptions, grouped by what the caller should do about them.

Services translate third-party errors (MT5 ``last_error()`` codes, psycopg2, redis)
into these at the boundary, always with ``raise ... from error``.
"""


class BridgeError(Exception):
    """Base of every error the bridge raises on purpose."""


class TemporaryError(BridgeError):
    """Something outside is unavailable for now: retry later."""


class UnavailableError(TemporaryError):
    """A dependency does not answer, and its ``Dependency`` tracker has already told the
    operator: count the failure and go on, without another log line or a traceback."""


class CircuitOpenError(UnavailableError):
    """A dependency's circuit breaker is open: nothing was called, and a probe goes through
    after the cool-down. The worker counts such a run as held, not as a failure."""


class DependencyError(BridgeError):
    """This item cannot be processed (bad symbol, bad data): skip it and go on."""


class FatalError(BridgeError):
    """The bridge cannot go on without a person acting."""


class ConfigError(FatalError):
    """A setting is missing or malformed. The message names the variable."""

    def __init__(self, variable: str, problem: str, example: str = "") -> None:
        self.variable = variable
        self.problem = problem
        self.example = example
        hint = f" (example: {variable}={example})" if example else ""
        super().__init__(f"{variable}: {problem}{hint}")


class TerminalError(TemporaryError):
    """The MT5 terminal refused or failed a call; ``code`` is its ``last_error()`` code."""

    def __init__(self, message: str, code: int = 0) -> None:
        self.code = code
        super().__init__(message)


class TerminalDisconnectedError(TerminalError, UnavailableError):
    """The terminal (or the IPC pipe to it) is gone; reconnect before trying again. The MT5
    service's ``Dependency`` tells the operator once."""


class TerminalOutcomeUnknownError(TerminalError):
    """A call that changes something (``order_send``) failed on the way back with the
    terminal still there: it may have taken effect. Look it up; never send it again."""


class SymbolNotFoundError(DependencyError):
    """The broker does not offer this symbol (or it cannot be selected)."""


class StorageError(TemporaryError):
    """PostgreSQL could not be reached or refused a write."""


class DatabaseUnavailableError(StorageError, UnavailableError):
    """PostgreSQL cannot be reached or the connection broke (an outage, not a bad query)."""


class PublishError(TemporaryError):
    """Redis could not be reached or refused a command."""


class SpoolError(TemporaryError):
    """The local outbox file (SPOOL_PATH) could not be read or written."""


class MigrationError(FatalError):
    """The database schema cannot be brought up to date safely."""
