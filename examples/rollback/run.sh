#!/usr/bin/env bash
# A bad release, rolled back. Version 2.0.0 is in production; 2.1.0 passes every policy and
# replaces it, then monitoring finds a problem the policies did not cover. `ordinance rollback`
# returns 2.0.0 to production (re-checked against today's policies and approvals, and logged),
# and `ordinance history --at` answers "which version was in production when?".
#
#   bash examples/rollback/run.sh [WORKDIR]      (default: ./rollback-run)
set -euo pipefail

WORK="${1:-rollback-run}"
mkdir -p "$WORK" && cd "$WORK"
export ORDINANCE_HOME="$PWD/.ordinance"
export ORDINANCE_ACTOR="release-bot"

echo "== 1. two fair versions of the credit-risk model (different training samples)"
python - <<'PY'
from pathlib import Path
from ordinance.examples.credit_risk import write_version

write_version(Path("data/v2.0.0"), version="2.0.0", variant="fair", rows=2000, seed=7)
write_version(Path("data/v2.1.0"), version="2.1.0", variant="fair", rows=2000, seed=7,
              parent="2.0.0")
PY
ordinance init
ordinance register data/v2.0.0/manifest.yaml
ordinance register data/v2.1.0/manifest.yaml

echo "== 2. an independent validator, in the roster, with her own key"
VERA_VKEY="$(ordinance keys generate --name vera@bank.example --out keys/vera.key)"
cat > roster.yaml <<ROSTER
apiVersion: ordinance/v1
kind: Roster
members:
  - id: vera@bank.example
    roles: [model-validator]
    keys: ["$VERA_VKEY"]
ROSTER
ordinance roster apply roster.yaml --actor admin

echo "== 3. 2.0.0 goes to production"
ordinance promote credit-risk@2.0.0 --to staging
ordinance approve credit-risk@2.0.0 --stage production --key keys/vera.key --comment "validated"
ordinance promote credit-risk@2.0.0 --to production
BEFORE_RELEASE="$(date -u +%Y-%m-%dT%H:%M:%S.%NZ)"
sleep 1

echo "== 4. the release: 2.1.0 replaces it (2.0.0 is demoted to staging, in one transaction)"
ordinance promote credit-risk@2.1.0 --to staging
ordinance approve credit-risk@2.1.0 --stage production --key keys/vera.key --comment "validated"
ordinance promote credit-risk@2.1.0 --to production --demote-to staging
ordinance models

echo "== 5. monitoring flags 2.1.0: roll back to the version that was in production before"
ordinance rollback credit-risk --to 2.0.0 --actor on-call@bank.example
ordinance models

echo "== 6. the record: every move, who made it, and what was in production before the release"
ordinance history credit-risk
ordinance history credit-risk --at "$BEFORE_RELEASE" --format json > history-before-release.json
python - <<'PY'
import json

before = json.load(open("history-before-release.json"))["stages_at"]
assert before["production"] == ["2.0.0"], before
print("in production just before the release:", ", ".join(before["production"]))
PY
ordinance log verify
