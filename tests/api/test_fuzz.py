"""Property-based fuzzing of every operation in the OpenAPI document against the real server (``odczyt serve``).

schemathesis generates valid and invalid requests (positive and negative modes, ``ODCZYT_FUZZ_EXAMPLES`` per
operation, 25 by default) and sends them with an admin
API key to one server over a seeded database; every answer must be no 5xx, a declared status, of the declared
content type and matching the declared schema (problems included).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from serving import auth_headers, create_key, run_server
from test_conventions import seed

from api.app import create_app

pytestmark = pytest.mark.slow
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          response_headers_conformance]
MAX_EXAMPLES = int(os.environ.get("ODCZYT_FUZZ_EXAMPLES", "25"))


@pytest.fixture(scope="module")
def fuzz_server(pg_server: object, migrated_template: str, tmp_path_factory: pytest.TempPathFactory
                ) -> Iterator[tuple[str, dict[str, str]]]:
    """One server over a seeded database for the whole module; yields (base URL, admin headers)."""
    admin_url = pg_server.admin_url  # type: ignore[attr-defined]
    name = f"fuzz_{os.getpid()}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{migrated_template}"')
    url = pg_server.url_for(name)  # type: ignore[attr-defined]
    work = tmp_path_factory.mktemp("fuzz")
    try:
        seed(url, Path(work))
        headers = auth_headers(create_key(url, "admin"))
        with run_server(url, Path(work), env={"ODCZYT_API__RATE_LIMIT_PER_S": "0"}) as (base, _):
            yield base, headers
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def fuzz_schema(fuzz_server: tuple[str, dict[str, str]]) -> schemathesis.BaseSchema:
    base, headers = fuzz_server
    return schemathesis.openapi.from_url(f"{base}/openapi.json", headers=headers)


def _operations() -> list[tuple[str, str]]:
    """Every (method, path) of the app's OpenAPI document (built in-process; no database needed)."""
    doc = create_app("postgresql://unused@127.0.0.1:1/unused", registry=CollectorRegistry()).openapi()
    return sorted((m.upper(), p) for p, ops in doc["paths"].items() for m in ops)


@pytest.mark.parametrize(("method", "path"), _operations())
def test_every_operation_answers_as_declared(method: str, path: str, fuzz_schema: schemathesis.BaseSchema,
                                             fuzz_server: tuple[str, dict[str, str]]) -> None:
    base, headers = fuzz_server
    operation = fuzz_schema[path][method]

    strategy = st.one_of(operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE))

    @given(case=strategy)
    @settings(max_examples=MAX_EXAMPLES, deadline=None, phases=[Phase.explicit, Phase.generate],
              suppress_health_check=list(HealthCheck), database=None)
    def fuzz(case: schemathesis.Case) -> None:
        case.call_and_validate(base_url=base, headers=headers, checks=CHECKS, timeout=30)

    fuzz()
