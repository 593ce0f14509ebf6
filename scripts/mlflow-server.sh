#!/usr/bin/env bash
# A local MLflow tracking server for trying the app's "push to MLflow" by hand, on
# http://127.0.0.1:${MLFLOW_PORT:-5000} with its data in target/mlflow-dev (kept between
# runs). Pages served from http://localhost:* or http://127.0.0.1:* may call it as it is;
# a page served from anywhere else needs its origin allowed, e.g.
#   scripts/mlflow-server.sh --cors-allowed-origins https://lab.example.org
# and, if the server is reached under a name that is not localhost or a private IP,
#   --host 0.0.0.0 --allowed-hosts mlflow.example.org:5000
# Extra arguments go to `mlflow server`. Needs `./lab install` (target/mlflow-venv).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
MLFLOW="$ROOT/target/mlflow-venv/bin/mlflow"
if [ ! -x "$MLFLOW" ]; then
    echo "no $MLFLOW: run ./lab install first" >&2
    exit 1
fi
DATA="$ROOT/target/mlflow-dev"
mkdir -p "$DATA"
cd "$DATA"
# Background jobs serve features the app does not use and cost ~1 GB of memory.
export MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false
exec "$MLFLOW" server --host 127.0.0.1 --port "${MLFLOW_PORT:-5000}" --workers 1 \
    --backend-store-uri "sqlite:///$DATA/mlflow.db" --artifacts-destination "$DATA/artifacts" "$@"
