"""Errors of the application layer that are not rules of the Item."""


class ApplicationError(Exception):
    """Base of the application's own errors."""


class InvalidCursor(ApplicationError):
    """A cursor this service did not issue, or issued for another sort."""


class InvalidQuery(ApplicationError):
    """List parameters outside their allowed ranges (field, message)."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


class DataStoreUnavailable(ApplicationError):
    """The database could not answer in time: the caller may retry later."""

    def __init__(self, reason: str = "the database is unavailable") -> None:
        self.reason = reason
        super().__init__(reason)


class CommitOutcomeUnknown(DataStoreUnavailable):
    """The connection was lost after COMMIT was sent: the write may or may not have happened.
    Retrying with the same idempotency key is safe (it is recorded in the same transaction)."""

    def __init__(self) -> None:
        super().__init__(
            "the outcome of the write is unknown: the database connection was lost after "
            "COMMIT was sent"
        )
