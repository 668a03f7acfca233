"""PostgreSQL persistence: table model, repository, unit of work, engine, migrations."""
