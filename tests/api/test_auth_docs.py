"""docs/api.md's roles table is the one derived from the routes' declarations."""

from __future__ import annotations

from pathlib import Path

from api.app import create_app
from api.roles_table import BEGIN, END, replace_table, roles_table

DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def test_docs_roles_table_matches_the_routes() -> None:
    table = roles_table(create_app("postgresql://unused@127.0.0.1:1/unused"))
    text = DOC.read_text(encoding="utf-8")
    assert BEGIN in text and END in text
    assert replace_table(text, table) == text, (
        "docs/api.md's roles table is stale: run .venv/bin/python -m api.roles_table --write docs/api.md")
    assert "| `GET /v1/audit` | ✓ |  |  |  |  |" in table  # admin only
    assert "| `GET /healthz` | public |" in table
