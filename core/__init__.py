"""dupeless core: domain model, configuration, hookspecs, pipeline host, store, jobs and the
Paperless client. Everything else in the package builds on these modules."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("dupeless")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"
