"""cfha remediator: alert-driven, interlocked self-healing for a CFEngine HA pair."""

__version__ = "0.1.0"
