"""The SQLAlchemy implementation of the stores, for SQLite and PostgreSQL."""
