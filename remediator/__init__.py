"""cfha remediator: alert-driven, interlocked self-healing for a CFEngine HA pair."""

from servicekit import __version__

__all__ = ["__version__"]
