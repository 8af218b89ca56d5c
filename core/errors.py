"""Typed errors. Each carries what a user needs to act; the CLI prints the message and the API maps
the type to the contract's error code."""


class DupelessError(Exception):
    """Base class: an expected failure with a message fit for a user."""


class ConfigError(DupelessError):
    """The configuration is invalid; the message names every bad key and its allowed values."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("invalid configuration: " + "; ".join(problems))


class PluginError(DupelessError):
    """A plugin is missing, failed to load, or a configured provider does not exist."""


class JobAlreadyRunning(DupelessError):
    """A job of the same type is already pending or running (API: 409 JOB_ALREADY_RUNNING)."""

    def __init__(self, job_type: str, job_id: str | None = None):
        self.job_type = job_type
        self.job_id = job_id
        super().__init__(f"A job of type {job_type} is already running")


class JobNotFound(DupelessError):
    """No job with that id (API: 404 NOT_FOUND)."""


class JobFinished(DupelessError):
    """The job is already in a terminal state and cannot be cancelled (API: 409 CONFLICT)."""


class JobCancelled(DupelessError):
    """Raised inside a job when the user cancelled it; the runner records `cancelled`."""


class NotFoundError(DupelessError):
    """A group, document or plan that does not exist (API: 404 NOT_FOUND); `ids` names them."""

    def __init__(self, message: str, ids: list[str] | None = None):
        super().__init__(message)
        self.ids = ids or []


class ConflictError(DupelessError):
    """The current state forbids the change, e.g. a group is no longer pending (API: 409
    CONFLICT); `ids` names what is in the way."""

    def __init__(self, message: str, ids: list[str] | None = None):
        super().__init__(message)
        self.ids = ids or []


class InvalidValues(DupelessError):
    """Values a user sent break a rule (API: 400 VALIDATION_FAILED); `problems` are
    (field, message) pairs, field named as the user sent it."""

    def __init__(self, problems: list[tuple[str, str]]):
        self.problems = problems
        super().__init__("; ".join(f"{field}: {message}" for field, message in problems))
