"""The simulator's errors."""


class SimulatorError(RuntimeError):
    """The simulator cannot run as asked (bad options, the broker refused every device, ...)."""
