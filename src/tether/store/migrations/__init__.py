"""Alembic migrations of the store's schema (script_location ``tether.store:migrations``)."""
