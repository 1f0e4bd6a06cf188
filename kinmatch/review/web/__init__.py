"""The review web site (Flask): log in, work through the queue, decide pairs by keyboard.

    kinmatch review serve --db cases.db            # http://127.0.0.1:8765
    kinmatch review adduser --db cases.db --role admin alice

Or from Python (e.g. behind a WSGI server)::

    >>> from kinmatch.review import Store, create_app
    >>> import tempfile
    >>> app = create_app(Store(tempfile.mkdtemp() + "/cases.db"))
    >>> app.test_client().get("/").status_code      # not logged in: sent to the login page
    302

One blueprint per part of the site: :mod:`~kinmatch.review.web.auth` (login, logout, throttling),
:mod:`~kinmatch.review.web.queue` (queue, search), :mod:`~kinmatch.review.web.pairs` (the
side-by-side pair view and decisions), :mod:`~kinmatch.review.web.records` (one record),
:mod:`~kinmatch.review.web.photos`, :mod:`~kinmatch.review.web.admin`; :mod:`~kinmatch.review.web.app`
builds the app and holds the checks every request passes (session, CSRF, headers).
"""

from kinmatch.review.web.app import create_app, serve
from kinmatch.review.web.auth import LoginThrottle
from kinmatch.review.web.pairs import COMPARISON_NAMES, FIELD_ROWS

__all__ = ["create_app", "serve", "LoginThrottle", "COMPARISON_NAMES", "FIELD_ROWS"]
