"""The roles table of ``docs/api.md``, derived from the app's route declarations (never written by hand).

``python -m api.roles_table`` prints it; ``python -m api.roles_table --write docs/api.md`` replaces the table
between the ``<!-- roles-table -->`` markers. ``tests/api/test_auth_docs.py`` fails when the page is stale.
"""

from __future__ import annotations

import sys
from pathlib import Path

from fastapi import FastAPI

from api.auth import Role, api_routes, declared_access

BEGIN, END = "<!-- roles-table:begin -->", "<!-- roles-table:end -->"


def roles_table(app: FastAPI) -> str:
    """A markdown table: one row per operation, a column per role (``admin`` may do everything)."""
    header = "| operation | " + " | ".join(r.value for r in Role) + " |"
    lines = [header, "|---|" + "---|" * len(Role)]
    rows = []
    for route in api_routes(app):
        roles = declared_access(route)
        cells = ["public"] * len(Role) if roles == () else ["✓" if roles and r in roles else "" for r in Role]
        for method in sorted(route.methods):
            rows.append(f"| `{method} {route.path_format}` | " + " | ".join(cells) + " |")
    return "\n".join(lines + sorted(rows))


def replace_table(text: str, table: str) -> str:
    """``text`` with the part between the markers replaced by ``table``."""
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    if not rest:
        raise ValueError(f"no {BEGIN} marker")
    return f"{head}{BEGIN}\n{table}\n{END}{tail}"


def main(argv: list[str]) -> int:
    """Print the table, or ``--write FILE`` it between the markers."""
    from api.app import create_app

    table = roles_table(create_app("postgresql://unused@127.0.0.1:1/unused"))  # the pool opens only at startup
    if argv[:1] == ["--write"] and len(argv) == 2:
        path = Path(argv[1])
        path.write_text(replace_table(path.read_text(encoding="utf-8"), table), encoding="utf-8")
    else:
        print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
