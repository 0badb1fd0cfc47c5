"""``ordinance serve``: the team server (FastAPI), its own layer over the core.

The core never imports this package (nor FastAPI); this package never imports click.
:func:`create_app` is the composition root: other routers (the web console) mount on the app
it returns and reuse its :class:`~ordinance.server.auth.Authenticator`.
"""

from __future__ import annotations

from ordinance.server.app import API_VERSION, create_app
from ordinance.server.auth import Authenticator, Principal, require

__all__ = ["API_VERSION", "Authenticator", "Principal", "create_app", "require"]
