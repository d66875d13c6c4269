"""Files only their owner may read: the gateway spool and the drive-by store and reports hold meter addresses,
positions and totals.

Modes are set explicitly (``fchmod``/``chmod``), so they do not depend on the process umask: files 0600,
directories this module creates 0700 (directories that already exist, such as ``/tmp``, are left alone).
SQLite creates a database's ``-wal`` and ``-shm`` files with the database file's mode, so pre-creating the
database with :func:`private_file` makes them 0600 too.
"""

from __future__ import annotations

import os
from pathlib import Path

FILE_MODE = 0o600
DIR_MODE = 0o700


def private_dir(path: Path) -> Path:
    """Create ``path`` and its missing parents with mode 0700; return it."""
    missing: list[Path] = []
    current = path
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for directory in reversed(missing):
        try:
            directory.mkdir(mode=DIR_MODE)
        except FileExistsError:  # created meanwhile by another process: leave its mode to it
            continue
        os.chmod(directory, DIR_MODE)
    return path


def private_file(path: Path) -> Path:
    """Create ``path`` (and its missing directories) with mode 0600, or tighten an existing file to 0600."""
    private_dir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)
    return path
