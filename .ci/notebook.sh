#!/usr/bin/env bash
# Executes examples/quickstart.ipynb headless in the Deno kernel (a failing cell fails), checks
# that its outputs hold the Plotly MIME bundles, and runs the example scripts.
# Needs: deno, jupyter-nbconvert, python3-nbclient, jupyter-client (Debian packages).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v jupyter-nbconvert >/dev/null 2>&1; then
  echo "jupyter-nbconvert not found (apt-get install jupyter-nbconvert python3-nbclient jupyter-client)"
  exit 1
fi

# The @example blocks of the API documentation type-check (they import "@facgcnn/toolkit",
# which deno.json's name maps to mod.ts).
echo "== deno check --doc-only mod.ts lib/"
deno check --doc-only mod.ts lib/ >/dev/null

# Kernel spec for the current user (non-interactive; --force overwrites an older one).
deno jupyter --install --force 2>&1 | grep -v '"deno jupyter" is unstable' || true
jupyter kernelspec list 2>/dev/null | grep -qw deno || { echo "Deno kernel not installed"; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
executed="$tmp/quickstart.executed.ipynb"

# The runner is execute_notebook.py, not `jupyter nbconvert --execute`: the Deno kernel sometimes
# publishes a cell's result after the cell's idle status, which nbconvert then drops (see there).
py=/usr/bin/python3
[ -x "$py" ] || py=python3

# Executes the notebook and checks its outputs; exit 1: a cell failed, 3: outputs missing,
# 4: the kernel's transport garbled a message.
run_notebook() {
  echo "== executing examples/quickstart.ipynb"
  local start status=0
  start=$(date +%s)
  # cwd of the kernel is the notebook's folder (it imports ../mod.ts).
  "$py" .ci/execute_notebook.py examples/quickstart.ipynb "$executed" --kernel deno \
    --timeout 600 >"$tmp/run.log" 2>&1 || status=$?
  grep -v '"deno jupyter" is unstable' "$tmp/run.log" || true
  [ "$status" -eq 0 ] || { echo "notebook execution failed (exit $status)"; return "$status"; }
  echo "notebook executed in $(($(date +%s) - start)) s"
  python3 - "$executed" <<'PY'
import json, sys
nb = json.load(open(sys.argv[1]))
mime = "application/vnd.plotly.v1+json"
errors, figures, traces, parity, library = [], 0, set(), 0, False
for cell in nb["cells"]:
    for out in cell.get("outputs", []):
        # plotlyLibrary(): the whole Plotly.js bundle in one HTML output.
        library |= "plotly.js v" in "".join(out.get("data", {}).get("text/html", ""))
        if out.get("output_type") == "error":
            errors.append(f'{out.get("ename")}: {out.get("evalue")}')
        fig = out.get("data", {}).get(mime)
        if fig is not None:
            figures += 1
            traces.update(t.get("type") for t in fig.get("data", []))
            # A parity plot: square, predicted axis anchored to the true one.
            yaxis = fig.get("layout", {}).get("yaxis", {})
            if yaxis.get("scaleanchor") == "x":
                parity += 1
if errors:
    print("errors in outputs: " + "; ".join(errors))
    sys.exit(1)
print(f"{figures} Plotly outputs ({mime}), trace types: {sorted(t for t in traces if t)}")
# Two structure views (scatter3d), the learning curves and two parity plots (scatter; the
# parity plot switches to scattergl above 5,000 points, more than the notebook's test set),
# and the Plotly.js bundle.
need = {"scatter3d", "scatter"}
if figures < 5 or not need <= traces or parity < 2 or not library:
    print(f"expected 5 Plotly outputs with {sorted(need)} traces, 2 parity plots and the "
          f"Plotly.js bundle (got {figures}, {parity} parity, bundle: {library})")
    sys.exit(3)
PY
}

# A cell error fails at once. A message the kernel garbled in transit (exit 4: Deno 2.x writes
# one IOPub socket from two threads, and a multi-megabyte output can be cut by another message)
# or missing outputs (exit 3) get up to two more runs, and fail if every run has them.
status=0
for attempt in 1 2 3; do
  status=0
  run_notebook || status=$?
  [ "$status" -eq 3 ] || [ "$status" -eq 4 ] || break
  [ "$attempt" -lt 3 ] && echo "executing the notebook once more (attempt $((attempt + 1)) of 3)"
done
[ "$status" -eq 0 ] || exit 1

for script in examples/*.ts; do
  echo "== $script"
  start=$(date +%s)
  deno run --allow-read --allow-write --allow-env --allow-ffi --allow-sys "$script"
  echo "$script: $(($(date +%s) - start)) s"
done
echo "notebook and examples: ok"
