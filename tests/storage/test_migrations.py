"""The Alembic migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from storage import make_engine, upgrade_to_head
from storage.migrate import current_revision
from storage.models import Base


def test_empty_database_upgrades_to_head_and_matches_models(database_url: str) -> None:
    engine = make_engine(database_url)
    assert current_revision(engine) is None
    upgrade_to_head(engine)
    assert current_revision(engine) == "0003"
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    assert diff == []
    upgrade_to_head(engine)  # running it again is harmless
    engine.dispose()
