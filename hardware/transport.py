"""Byte transports a receiver loop reads: a serial port (pyserial URL or device) or a pipe/stdin/command.

``port`` forms: ``/dev/ttyUSB0`` or any pyserial URL (``loop://``, ``socket://``) → serial;
``-`` → this process' stdin; ``exec:<shell command>`` → the command's stdout (e.g. ``rtl_sdr … | rtl_wmbus``);
a FIFO or regular file path → read as a pipe. Reads return ``b""`` after ``timeout_s`` of silence.
"""

from __future__ import annotations

import os
import select
import stat
import subprocess
import sys
from typing import Protocol

import serial

IO_ERRORS: tuple[type[BaseException], ...] = (OSError, serial.SerialException)


class Transport(Protocol):
    """A byte channel to a receiver."""

    def read(self, timeout_s: float) -> bytes:
        """Bytes available within ``timeout_s`` (``b""`` if none); raise OSError when the device is gone."""
        ...

    def write(self, data: bytes) -> None:
        """Send bytes to the device (no-op for read-only pipes)."""
        ...

    def close(self) -> None:
        """Release the device."""
        ...


class SerialTransport:
    """A pyserial port."""

    def __init__(self, port: str, baudrate: int) -> None:
        self._ser = serial.serial_for_url(port, baudrate=baudrate, timeout=0.1)

    def read(self, timeout_s: float) -> bytes:
        self._ser.timeout = timeout_s
        first: bytes = self._ser.read(1)
        if not first:
            return b""
        waiting = self._ser.in_waiting
        return first + (self._ser.read(waiting) if waiting else b"")

    def write(self, data: bytes) -> None:
        self._ser.write(data)
        self._ser.flush()

    def close(self) -> None:
        self._ser.close()


class PipeTransport:
    """A readable file descriptor (stdin, FIFO, file, or a child process' stdout)."""

    def __init__(self, fd: int, *, proc: subprocess.Popen[bytes] | None = None, owns_fd: bool = True) -> None:
        self._fd = fd
        self._proc = proc
        self._owns_fd = owns_fd
        self._eof = False

    def read(self, timeout_s: float) -> bytes:
        if self._eof:
            raise EOFError("pipe closed")
        ready, _, _ = select.select([self._fd], [], [], timeout_s)
        if not ready:
            return b""
        data = os.read(self._fd, 65536)
        if not data:
            self._eof = True
            raise EOFError("pipe closed")
        return data

    def write(self, data: bytes) -> None:
        """Pipes are receive-only."""

    def close(self) -> None:
        if self._owns_fd:
            os.close(self._fd)
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait(timeout=5)


def open_transport(port: str, baudrate: int) -> Transport:
    """Open ``port`` (see module docstring) at ``baudrate`` where that applies."""
    if port == "-":
        return PipeTransport(sys.stdin.buffer.fileno(), owns_fd=False)
    if port.startswith("exec:"):
        proc = subprocess.Popen(port[5:], shell=True, stdout=subprocess.PIPE)
        assert proc.stdout is not None
        return PipeTransport(proc.stdout.fileno(), proc=proc, owns_fd=False)
    if os.path.exists(port):
        mode = os.stat(port).st_mode
        if stat.S_ISFIFO(mode) or stat.S_ISREG(mode):
            return PipeTransport(os.open(port, os.O_RDONLY | os.O_NONBLOCK))
    return SerialTransport(port, baudrate)
