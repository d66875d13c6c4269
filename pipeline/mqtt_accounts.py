"""Mosquitto accounts of an odczyt deployment: the password file and the ACL file, read and rewritten in place.

Three kinds of account, each a ``user`` block of the ACL file preceded by a ``# odczyt:KIND NAME`` marker:

- ``gateway`` (one per gateway id): publishes only ``{prefix}/frames/{id}`` and ``{prefix}/status/{id}`` and
  reads ``{prefix}/receipts/{id}``;
- ``ingest`` (one per worker): reads every gateway's frames (the ``$share/ingest/…`` subscription) and status;
- ``ops`` (dashboards, alert notifications): reads status, reads and writes ``{prefix}/alerts``.

Nobody else reads frames. The broker binds each session to its account (``use_username_as_clientid``), so one
account is one connection: a worker's durable session is keyed by its user name.

Password hashes use Mosquitto 2's ``$7$`` format (PBKDF2-SHA512, 12-byte salt, 64-byte hash, base64), made
here rather than by ``mosquitto_passwd -b``, which would put the password on a command line other local users
can read in ``ps``. Files are replaced atomically, keeping the previous file's owner, group and mode.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path

KINDS = ("gateway", "ingest", "ops")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
PBKDF2_ITERATIONS = 101  # mosquitto_passwd's default; the broker reads the count from each hash
_MARKER = "# odczyt:"


class AccountError(ValueError):
    """A name, kind or file that cannot be used (the message says which and why)."""


@dataclass(frozen=True)
class Account:
    """One broker account: its kind, its name (user name and client id) and its ACL lines."""

    kind: str
    name: str
    acl: tuple[str, ...]


def check_name(name: str) -> str:
    """``name`` if it can be a user name, a client id and one topic level; AccountError otherwise."""
    if not NAME_RE.fullmatch(name):
        raise AccountError(f"{name!r} is not a valid account name: use 1–64 letters, digits, '.', '_' or '-', "
                           "starting with a letter or digit")
    return name


def acl_lines(kind: str, name: str, prefix: str = "odczyt/v1") -> tuple[str, ...]:
    """The ACL ``topic`` lines of an account of ``kind``."""
    check_name(name)
    if kind == "gateway":
        return (f"topic write {prefix}/frames/{name}", f"topic write {prefix}/status/{name}",
                f"topic read {prefix}/receipts/{name}")
    if kind == "ingest":
        return (f"topic read {prefix}/frames/+", f"topic read {prefix}/status/+",
                f"topic write {prefix}/receipts/+")  # storage receipts to the gateways (issue 13)
    if kind == "ops":
        return (f"topic read {prefix}/status/+", f"topic readwrite {prefix}/alerts",
                f"topic readwrite {prefix}/alerts/#")
    raise AccountError(f"unknown account kind {kind!r} (one of {', '.join(KINDS)})")


def generate_password() -> str:
    """A fresh random password (32 URL-safe characters, 192 bits)."""
    return secrets.token_urlsafe(24)


def hash_password(password: str, *, salt: bytes | None = None, iterations: int = PBKDF2_ITERATIONS) -> str:
    """Mosquitto's ``$7$iterations$salt$hash`` form of ``password``."""
    salt = salt if salt is not None else os.urandom(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations, dklen=64)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def verify_password(password: str, encoded: str) -> bool:
    """True if ``encoded`` (a ``$7$`` hash) is the hash of ``password``."""
    parts = encoded.split("$")
    if len(parts) != 5 or parts[1] != "7":
        return False
    salt, want = base64.b64decode(parts[3]), base64.b64decode(parts[4])
    got = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, int(parts[2]), dklen=len(want))
    return hmac.compare_digest(got, want)


# --- password file ----------------------------------------------------------------------------------------

def read_passwords(path: Path) -> dict[str, str]:
    """``user → hash`` of a Mosquitto password file (empty when the file does not exist)."""
    if not path.exists():
        return {}
    entries: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        user, sep, encoded = line.partition(":")
        if not sep:
            raise AccountError(f"{path}:{number}: not a 'user:hash' line")
        entries[user] = encoded
    return entries


def write_passwords(path: Path, entries: dict[str, str]) -> None:
    """Replace the password file with ``entries`` (one ``user:hash`` line each)."""
    _replace(path, "".join(f"{user}:{encoded}\n" for user, encoded in entries.items()))


# --- ACL file ---------------------------------------------------------------------------------------------

def read_accounts(path: Path) -> tuple[list[str], list[Account]]:
    """The ACL file's lines that belong to no odczyt account (kept as they are) and its odczyt accounts."""
    if not path.exists():
        return [], []
    other: list[str] = []
    accounts: list[Account] = []
    current: tuple[str, str] | None = None
    lines: list[str] = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if line.startswith(_MARKER):
            if current:
                accounts.append(Account(current[0], current[1], tuple(lines)))
            kind, _, name = line[len(_MARKER):].partition(" ")
            current, lines = (kind, name.strip()), []
        elif current and (line.startswith("topic ") or line.startswith("user ")):
            if line.startswith("topic "):
                lines.append(line)
        elif current and not line:
            accounts.append(Account(current[0], current[1], tuple(lines)))
            current = None
        else:
            other.append(raw)
    if current:
        accounts.append(Account(current[0], current[1], tuple(lines)))
    return other, accounts


def render_acl(other: list[str], accounts: list[Account]) -> str:
    """The ACL file's text: the foreign lines first, then one block per account."""
    head = "\n".join(other).strip()
    blocks = [f"{_MARKER}{a.kind} {a.name}\nuser {a.name}\n" + "".join(f"{t}\n" for t in a.acl)
              for a in accounts]
    return (head + "\n\n" if head else "") + "\n".join(blocks)


def write_accounts(path: Path, other: list[str], accounts: list[Account]) -> None:
    """Replace the ACL file."""
    _replace(path, render_acl(other, accounts))


# --- the two files together -------------------------------------------------------------------------------

@dataclass(frozen=True)
class AccountFiles:
    """The password file and the ACL file the broker reads (``password_file`` / ``acl_file``)."""

    passwords: Path
    acl: Path
    prefix: str = "odczyt/v1"

    def add(self, kind: str, name: str, password: str) -> bool:
        """Create (or give a new password to) account ``name``; True if it existed. An existing account of
        another kind is an AccountError: one name is one identity on the broker."""
        lines = acl_lines(kind, name, self.prefix)
        if not password:
            raise AccountError("the password is empty")
        other, accounts = read_accounts(self.acl)
        existing = next((a for a in accounts if a.name == name), None)
        if existing and existing.kind != kind:
            raise AccountError(f"{name!r} is already a {existing.kind} account; remove it first")
        entries = read_passwords(self.passwords)
        entries[name] = hash_password(password)
        accounts = [a for a in accounts if a.name != name] + [Account(kind, name, lines)]
        write_accounts(self.acl, other, accounts)
        write_passwords(self.passwords, entries)
        return existing is not None

    def remove(self, kind: str, name: str) -> None:
        """Delete account ``name`` of ``kind`` from both files; AccountError if there is none."""
        other, accounts = read_accounts(self.acl)
        entries = read_passwords(self.passwords)
        if not any(a.kind == kind and a.name == name for a in accounts):
            raise AccountError(f"no {kind} account {name!r} in {self.acl}")
        entries.pop(name, None)
        write_accounts(self.acl, other, [a for a in accounts if a.name != name])
        write_passwords(self.passwords, entries)

    def list(self) -> list[Account]:
        """Every odczyt account of the ACL file."""
        return read_accounts(self.acl)[1]


def _replace(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically; a new file is mode 0640, an existing one keeps owner and mode."""
    path = Path(path)
    try:
        st: os.stat_result | None = path.stat()
    except FileNotFoundError:
        st = None
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, (st.st_mode & 0o777) if st else 0o640)
        if st and os.geteuid() == 0:
            os.chown(tmp, st.st_uid, st.st_gid)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
