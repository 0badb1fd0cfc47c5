"""Generate the credit-risk example: two versions of a synthetic credit-scoring model.

    python examples/credit-risk/generate.py OUT_DIR [--rows N] [--seed S]

writes OUT_DIR/v1.0.0 (uses a postcode proxy for ethnicity; fails the fairness rule)
and OUT_DIR/v1.1.0 (proxy removed; passes), each with a manifest.yaml to register:

    ordinance register OUT_DIR/v1.0.0/manifest.yaml
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ordinance.examples.credit_risk import write_version


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("out", type=Path)
    ap.add_argument("--rows", type=int, default=4000)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    v1 = write_version(
        args.out / "v1.0.0", version="1.0.0", variant="proxy", rows=args.rows, seed=args.seed
    )
    v2 = write_version(
        args.out / "v1.1.0",
        version="1.1.0",
        variant="fair",
        rows=args.rows,
        seed=args.seed,
        parent="1.0.0",
    )
    for v in (v1, v2):
        print(f"{v.manifest}  metrics={v.metrics}")


if __name__ == "__main__":
    main()
