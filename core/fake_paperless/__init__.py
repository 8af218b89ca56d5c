"""A faithful fake Paperless-ngx server: the demo's library and the tests' counterpart."""

from .app import DEFAULT_TOKEN, FakePaperless
from .faults import Faults, RequestRecord
from .serve import serve
from .state import Flavour, Library

__all__ = [
    "DEFAULT_TOKEN",
    "FakePaperless",
    "Faults",
    "Flavour",
    "Library",
    "RequestRecord",
    "serve",
]
