"""Alembic environment: always run from `skyatlas.store.migrate` with a live connection."""

from __future__ import annotations

from alembic import context

from skyatlas.store.tables import metadata

config = context.config
connection = config.attributes.get("connection")

if connection is None:  # `alembic revision --autogenerate` during development
    from sqlalchemy import create_engine

    engine = create_engine(config.get_main_option("sqlalchemy.url"))
    with engine.connect() as conn:
        context.configure(connection=conn, target_metadata=metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
else:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        transaction_per_migration=False,
    )
    with context.begin_transaction():
        context.run_migrations()
