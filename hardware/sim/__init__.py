"""Receiver simulators speaking each dongle's protocol over a real pseudo-terminal (for tests and demos)."""

from hardware.sim.base import PtySimulator

__all__ = ["PtySimulator"]
