"""The app factory uvicorn's worker processes import (``ordinance serve --workers N``).

Each worker opens the workspace named by ``ORDINANCE_SERVE_HOME`` (and ``ORDINANCE_SERVE_DB``
when ``--db`` was given), loads the log key itself and spools uploads in a directory of its
own, so that no worker ever cleans up another's upload in flight.
"""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import FastAPI


def app() -> FastAPI:
    from ordinance.server import create_app
    from ordinance.workspace import Workspace

    home = Path(os.environ["ORDINANCE_SERVE_HOME"])
    ws = Workspace.open(home, db_url=os.environ.get("ORDINANCE_SERVE_DB") or None)
    ws.log_signer = ws.audit_log().signer
    return create_app(ws, spool=home / "spool" / f"w{os.getpid()}")
