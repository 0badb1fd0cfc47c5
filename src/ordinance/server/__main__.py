"""``python -m ordinance.server`` prints the OpenAPI document (``docs/openapi.json``)."""

import json

from ordinance.server.app import openapi_document

print(json.dumps(openapi_document(), indent=2, sort_keys=True))
