"""Metadata: the engine (SQLite in WAL mode; PostgreSQL-ready) and the SQLAlchemy models; the
migrations are ``dockyard.migrations``."""
