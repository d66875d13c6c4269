"""Byte transports a receiver loop reads: a serial port (pyserial URL or device) or a pipe/stdin/command.

``port`` forms: ``/dev/ttyUSB0`` or any pyserial URL (``loop://``, ``socket://``) → serial;
``-`` → this process' stdin; ``exec:<shell command>`` → the command's stdout (e.g. ``rtl_sdr … | rtl_wmbus``);
a FIFO or regular file path → read as a pipe. Reads return ``b""`` after ``timeout_s`` of silence.

Serial ports are opened exclusively (pyserial ``exclusive=True``: an ``flock`` on the device), so a second
process opening a receiver's port gets :class:`~hardware.errors.PortInUseError` naming the holder's PID instead
of silently taking a share of the frames. :func:`check_port_free` finds such a holder without opening the port
(opening resets some receivers), from the kernel's lock table.
"""

from __future__ import annotations

import os
import select
import stat
import subprocess
import sys
from typing import Protocol

import serial

from hardware.errors import PortInUseError

# what a reading loop retries; a port taken by another process too (it may be released), with a warning
IO_ERRORS: tuple[type[BaseException], ...] = (OSError, serial.SerialException, PortInUseError)


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
        try:
            self._ser = serial.serial_for_url(port, baudrate=baudrate, timeout=0.1, exclusive=True)
        except serial.SerialException as exc:
            if "exclusively lock" in str(exc):
                raise PortInUseError(in_use_message(port)) from exc
            raise

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


def lock_holder(port: str) -> int | None:
    """PID of the process holding an ``flock`` on device ``port`` (Linux ``/proc/locks``), or None."""
    try:
        st = os.stat(port)
        with open("/proc/locks", encoding="ascii") as fh:
            table = fh.read().splitlines()
    except OSError:
        return None
    where = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    for line in table:
        fields = line.split()
        if "FLOCK" in fields and where in fields:
            return int(fields[fields.index(where) - 1])
    return None


def _openers(port: str) -> list[int]:
    """PIDs with ``port`` open (``/proc/*/fd`` links), other than this process."""
    target = os.path.realpath(port)
    found: list[int] = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if any(os.readlink(fd.path) == target for fd in os.scandir(f"{entry.path}/fd")):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def _command_of(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().replace(b"\0", b" ").decode(errors="replace").strip()[:120] or "?"
    except OSError:
        return "?"


def in_use_message(port: str) -> str:
    """``port /dev/ttyX is in use by PID n (command)``: who holds the port, as well as can be told."""
    holder = lock_holder(port)
    pids = [holder] if holder else _openers(port)
    if not pids:
        return f"port {port} is in use by another process (locked); stop it or choose another port"
    who = ", ".join(f"PID {pid} ({_command_of(pid)})" for pid in pids[:3])
    return f"port {port} is in use by {who}; stop it or choose another port"


def check_port_free(port: str) -> None:
    """PortInUseError if another process holds serial device ``port`` exclusively (checked without opening)."""
    if port.startswith("/dev/") and lock_holder(port) is not None:
        raise PortInUseError(in_use_message(port))


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
