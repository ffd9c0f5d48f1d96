"""What both services (the exporter and the remediator) share that is not about the cluster:
configuration plumbing, metric declarations, logging, and the release they belong to."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("cfha")
except PackageNotFoundError:  # run from a checkout that was never installed
    __version__ = "0+unknown"
