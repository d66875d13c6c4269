"""Hardware test fixtures (none yet beyond the root conftest)."""
