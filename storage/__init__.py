"""Persistence for LeanFlow: SQLAlchemy 2 models, repositories and Alembic migrations.

storage/ may import SQLAlchemy and Alembic only: never SpiffWorkflow, engine/, webui/ or Flask.
The workflow state is opaque JSON text here; the engine owns its meaning.
"""

from storage.database import make_engine, make_session_factory
from storage.migrate import upgrade_to_head

__all__ = ["make_engine", "make_session_factory", "upgrade_to_head"]
