"""The lab's base error: a request that does not fit the lab's current state."""


class LabError(RuntimeError):
    """The lab is not in a state where the request makes sense (not up, no primary, ...)."""
