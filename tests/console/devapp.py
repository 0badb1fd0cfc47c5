"""The console on a bare FastAPI app (until `ordinance serve` mounts it): tokens from a file."""

from __future__ import annotations

import json
import os
from pathlib import Path

from fastapi import FastAPI

from ordinance.server.console import Principal, console_router
from ordinance.workspace import Workspace


def create_app() -> FastAPI:
    home = Path(os.environ["ORDINANCE_HOME"])
    tokens = json.loads(Path(os.environ["CONSOLE_TOKENS"]).read_text())
    ws = Workspace.open(home)
    app = FastAPI()
    app.include_router(console_router(ws, lambda t: Principal(tokens[t]) if t in tokens else None))
    return app
