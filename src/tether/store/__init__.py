"""The store: the only package that imports SQLAlchemy. Tables, migrations, and one query module per concern.

Other layers hold a ``Session`` (an open transaction from ``Store.transaction``) and pass it to the
query modules; they never build queries themselves.
"""

from sqlalchemy.ext.asyncio import AsyncSession as Session

from tether.store.engine import Store

__all__ = ["Session", "Store"]
