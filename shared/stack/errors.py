"""The local stack's one error type."""


class StackError(RuntimeError):
    """The local stack cannot be started or reached; the message says what to do."""


class PortRace(StackError):
    """A server found one of the ports picked for it taken meanwhile."""
