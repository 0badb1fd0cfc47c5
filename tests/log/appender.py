"""A child process that appends to a log in a loop, printing each index after its commit.

usage: appender.py DB_URL KEY_PATH ORIGIN TAG COUNT
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

from ordinance.log import PREDICATE_REGISTRATION, make_statement, open_log
from ordinance.store._engine import make_engine


def main() -> None:
    url, key, origin, tag, count = sys.argv[1:6]
    engine = make_engine(url)
    log = open_log(engine, Path(key), origin)
    n = int(count)
    i = 0
    while n < 0 or i < n:
        digest = hashlib.sha256(f"{tag}-{i}".encode()).hexdigest()
        stmt = make_statement(tag, digest, PREDICATE_REGISTRATION, {"seq": i})
        (index,) = log.append_statements([stmt])
        print(f"{index} {digest}", flush=True)
        i += 1
    engine.dispose()


if __name__ == "__main__":
    main()
