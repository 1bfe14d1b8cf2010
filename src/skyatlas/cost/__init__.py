"""Cost analysis: data sources, the cost store (DuckDB embedded, PostgreSQL at scale), sync
and ingest, analyze and budgets."""
