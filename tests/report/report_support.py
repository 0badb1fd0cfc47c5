"""Constants the report tests share (a module of its own: `conftest` names collide across
test directories when several are collected into one process)."""

from __future__ import annotations

#: model text that must never execute or be evaluated as a template in any rendering
EVIL = "<script>alert('x')</script> {{ 7*7 }} {% if true %}jinja{% endif %}"
EVIL_METRIC = "<b>{{ 7*7 }}</b>"
