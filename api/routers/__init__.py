"""One router module per resource; each exposes ``router`` (a FastAPI ``APIRouter``) and is found at start-up."""
