#!/usr/bin/env bash
# The credit-risk story end to end: generate two versions, register them, let the policy gate
# block the unfair one, promote the fair one to staging, then to production with a signed,
# independent approval. Every step is a documented `ordinance` command.
#
#   bash examples/credit-risk/run.sh [WORKDIR]      (default: ./credit-risk-run)
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
WORK="${1:-credit-risk-run}"
mkdir -p "$WORK" && cd "$WORK"
export ORDINANCE_HOME="$PWD/.ordinance"     # every command below uses this workspace
export ORDINANCE_ACTOR="release-bot"

echo "== 1. generate two versions of a synthetic credit-scoring model"
python "$HERE/generate.py" data --rows 2000

echo "== 2. create the workspace (SQLite, evidence store, log key) and register both versions"
ordinance init
ordinance register data/v1.0.0/manifest.yaml
ordinance register data/v1.1.0/manifest.yaml
ordinance models

echo "== 3. the gate: v1.0.0 uses a postcode proxy for ethnicity and must be blocked (exit 1)"
set +e
ordinance check credit-risk@1.0.0 --stage staging
status=$?
set -e
if [ "$status" -ne 1 ]; then
  echo "expected ordinance check to exit 1 for credit-risk@1.0.0, got $status" >&2
  exit 1
fi

echo "== 4. v1.1.0 passes: keep the SARIF report, then promote it to staging"
ordinance check credit-risk@1.1.0 --stage staging --format sarif --out check-1.1.0.sarif
ordinance promote credit-risk@1.1.0 --to staging

echo "== 5. production needs an approval by someone other than the author"
VERA_VKEY="$(ordinance keys generate --name vera@bank.example --out keys/vera.key)"
cat > roster.yaml <<ROSTER
apiVersion: ordinance/v1
kind: Roster
members:
  - id: vera@bank.example
    name: Vera Validator
    roles: [model-validator]
    keys: ["$VERA_VKEY"]
ROSTER
ordinance roster apply roster.yaml --actor admin
ordinance approve credit-risk@1.1.0 --stage production --key keys/vera.key \
  --comment "independent validation passed"
ordinance promote credit-risk@1.1.0 --to production

echo "== 6. the record: who moved what where, and a log that verifies"
ordinance models
ordinance history credit-risk
ordinance log verify
