#!/usr/bin/env bash
# The credit-risk story end to end: generate two versions, register them, let the policy gate
# block the unfair one, promote the fair one to staging, then to production with a signed,
# independent approval. Every step is a documented `docket` command.
#
#   bash examples/credit-risk/run.sh [WORKDIR]      (default: ./credit-risk-run)
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
WORK="${1:-credit-risk-run}"
mkdir -p "$WORK" && cd "$WORK"
export DOCKET_HOME="$PWD/.docket"     # every command below uses this workspace
export DOCKET_ACTOR="release-bot"

echo "== 1. generate two versions of a synthetic credit-scoring model"
python "$HERE/generate.py" data --rows 2000

echo "== 2. create the workspace (SQLite, evidence store, log key) and register both versions"
docket init
docket register data/v1.0.0/manifest.yaml
docket register data/v1.1.0/manifest.yaml
docket models

echo "== 3. the gate: v1.0.0 uses a postcode proxy for ethnicity and must be blocked (exit 1)"
set +e
docket check credit-risk@1.0.0 --stage staging
status=$?
set -e
if [ "$status" -ne 1 ]; then
  echo "expected docket check to exit 1 for credit-risk@1.0.0, got $status" >&2
  exit 1
fi

echo "== 4. v1.1.0 passes: keep the SARIF report, then promote it to staging"
docket check credit-risk@1.1.0 --stage staging --format sarif --output check-1.1.0.sarif
docket promote credit-risk@1.1.0 --to staging

echo "== 5. production needs an approval by someone other than the author"
VERA_VKEY="$(docket keys generate --name vera@bank.example --out keys/vera.key)"
cat > roster.yaml <<ROSTER
apiVersion: docket/v1
kind: Roster
members:
  - id: vera@bank.example
    name: Vera Validator
    roles: [model-validator]
    keys: ["$VERA_VKEY"]
ROSTER
docket roster apply roster.yaml --actor admin
docket approve credit-risk@1.1.0 --stage production --key keys/vera.key \
  --comment "independent validation passed"
docket promote credit-risk@1.1.0 --to production

echo "== 6. the record: who moved what where, and a log that verifies"
docket models
docket history credit-risk
docket log verify
