"""Alembic environment: run with the connection handed over by registers.db.Database.upgrade()."""
from alembic import context

import registers.models  # noqa: F401 - registers every table on Base.metadata
from registers.db import Base

connection = context.config.attributes.get("connection")
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
