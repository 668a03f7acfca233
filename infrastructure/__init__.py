"""Adapters: PostgreSQL through SQLModel/SQLAlchemy, settings, migrations, the composition root."""
