"""cfha remediator: alert-driven, interlocked self-healing for a CFEngine HA pair."""
