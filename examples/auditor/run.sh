#!/usr/bin/env bash
# The auditor's path: the model team exports its signed audit log as a bundle; an auditor
# verifies it offline, in a fresh process with no database and no workspace, holding only the
# log's verifier key (obtained out of band) and a checkpoint kept from an earlier visit.
# The same verification then catches a rewritten entry and a log cut back to an older state.
#
#   bash examples/auditor/run.sh [WORKDIR]      (default: ./auditor-run)
set -euo pipefail

EXAMPLES="$(cd "$(dirname "$0")/.." && pwd)"
WORK="${1:-auditor-run}"
mkdir -p "$WORK" && cd "$WORK"
WORK="$PWD"
rm -rf "$WORK/auditor" "$WORK/bundle" "$WORK/early" "$WORK/tampered"

echo "== 1. the model team: a workspace with some history"
export ORDINANCE_HOME="$WORK/team/.ordinance"
export ORDINANCE_ACTOR="model-team"
python "$EXAMPLES/credit-risk/generate.py" "$WORK/team/data" --rows 2000
ordinance init
ordinance register "$WORK/team/data/v1.0.0/manifest.yaml"
ordinance log export --out "$WORK/early"            # the log as it was then (used in step 6)
ordinance register "$WORK/team/data/v1.1.0/manifest.yaml"
ordinance check credit-risk@1.0.0 --stage staging || true    # failed checks are logged too
ordinance promote credit-risk@1.1.0 --to staging

echo "== 2. the auditor's first visit: the verifier key (out of band) and today's checkpoint"
mkdir -p "$WORK/auditor"
cp "$ORDINANCE_HOME/keys/log.vkey" "$WORK/auditor/trusted.vkey"
ordinance log checkpoint > "$WORK/auditor/checkpoint-first-visit.txt"

echo "== 3. later: more history, then the team exports the whole log for the audit"
ordinance archive credit-risk@1.0.0
ordinance log export --out "$WORK/bundle"
unset ORDINANCE_HOME

echo "== 4. the auditor, offline: no database, no workspace, only the bundle and the key"
cd "$WORK/auditor"
offline() { env -u ORDINANCE_HOME -u ORDINANCE_DB ordinance "$@"; }
offline log verify --bundle "$WORK/bundle" --vkey trusted.vkey \
  --trusted-checkpoint checkpoint-first-visit.txt --deep
offline log verify --bundle "$WORK/bundle" --vkey trusted.vkey --deep --format json > verified.json
test ! -e .ordinance   # verifying created no workspace

echo "== 4b. no trusted key, no verification: the key inside the bundle is never trusted by default"
set +e
offline log verify --bundle "$WORK/bundle" --deep
status=$?
set -e
if [ "$status" -ne 2 ]; then
  echo "expected verification without a trusted key to be refused with exit 2, got $status" >&2
  exit 1
fi
echo "-- refused without a trusted key (exit 2), as it should be"

expect_rejected() {  # $1: what; the rest: a command that must exit 1
  local what="$1"; shift
  set +e
  "$@"
  local status=$?
  set -e
  if [ "$status" -ne 1 ]; then
    echo "expected $what to be rejected with exit 1, got $status" >&2
    exit 1
  fi
  echo "-- rejected, as it should be: $what"
}

echo "== 5. a rewritten entry does not verify"
cp -r "$WORK/bundle" "$WORK/tampered"
python - "$WORK/tampered/entries.jsonl" <<'PY'
import base64, json, sys
path = sys.argv[1]
lines = open(path).read().splitlines()
entry = json.loads(lines[0])
statement = json.loads(base64.b64decode(entry["payload"]))
statement["predicate"]["author"] = "someone-else@bank.example"   # rewrite history
entry["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
lines[0] = json.dumps(entry)
open(path, "w").write("\n".join(lines) + "\n")
PY
expect_rejected "a rewritten entry" \
  offline log verify --bundle "$WORK/tampered" --vkey trusted.vkey

echo "== 6. an older, shorter log does not extend the checkpoint the auditor kept"
offline log verify --bundle "$WORK/early" --vkey trusted.vkey   # fine on its own...
expect_rejected "a log cut back to an older state" \
  offline log verify --bundle "$WORK/early" --vkey trusted.vkey \
  --trusted-checkpoint checkpoint-first-visit.txt

echo "== done: the bundle verified offline; rewriting and truncation were caught"
