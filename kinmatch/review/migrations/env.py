"""Alembic environment for the kinmatch case store.

:meth:`kinmatch.review.store.Store.upgrade` runs this with an open connection in
``config.attributes["connection"]``; the ``alembic`` command line (``alembic -x url=...``) works too.
"""

from alembic import context
from sqlalchemy import create_engine

from kinmatch.review.schema import metadata

try:
    config = context.config
except AttributeError:  # imported outside an Alembic run (e.g. by a doctest collector): nothing to do
    config = None


def run_migrations() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")
    engine = create_engine(url)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if config is not None:
    run_migrations()
