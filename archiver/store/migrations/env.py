"""Alembic environment: runs on the connection archiver hands over (see db.migrate)."""

from alembic import context

from archiver.store.db import Base, modelled

connection = context.config.attributes.get("connection")
context.configure(
    connection=connection, target_metadata=Base.metadata, render_as_batch=True, include_object=modelled
)
with context.begin_transaction():
    context.run_migrations()
