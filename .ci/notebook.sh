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

# Executes the notebook and checks its outputs; exit 1: a cell failed, 3: outputs missing.
run_notebook() {
  echo "== executing examples/quickstart.ipynb"
  local start status=0
  start=$(date +%s)
  # nbconvert exits non-zero when a cell raises; cwd is the notebook's folder (imports ../mod.ts).
  jupyter nbconvert --to notebook --execute examples/quickstart.ipynb --output "$executed" \
    --ExecutePreprocessor.timeout=600 --ExecutePreprocessor.kernel_name=deno >"$tmp/nbconvert.log" 2>&1 ||
    status=$?
  grep -v '"deno jupyter" is unstable' "$tmp/nbconvert.log" || true
  [ "$status" -eq 0 ] || { echo "notebook execution failed (exit $status)"; return 1; }
  echo "notebook executed in $(($(date +%s) - start)) s"
  python3 - "$executed" <<'PY'
import json, sys
nb = json.load(open(sys.argv[1]))
mime = "application/vnd.plotly.v1+json"
errors, figures, traces, parity = [], 0, set(), 0
for cell in nb["cells"]:
    for out in cell.get("outputs", []):
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
# The structure view (scatter3d), learning curves and parity plots (scatter; the parity plot
# switches to scattergl above 5,000 points, more than the notebook's test set).
need = {"scatter3d", "scatter"}
if figures < 4 or not need <= traces or parity < 1:
    print(f"expected at least 4 Plotly outputs with {sorted(need)} traces and a parity plot "
          f"(got {figures}, {parity} parity)")
    sys.exit(3)
PY
}

# The Deno kernel occasionally loses a display output under nbconvert (its iopub messages can
# arrive after the cell's reply, most often on a cold module cache). A cell error fails at
# once; missing outputs get one more run, and fail if they are missing again.
status=0
run_notebook || status=$?
if [ "$status" -eq 3 ]; then
  echo "outputs missing: executing the notebook once more"
  status=0
  run_notebook || status=$?
fi
[ "$status" -eq 0 ] || exit 1

for script in examples/*.ts; do
  echo "== $script"
  start=$(date +%s)
  deno run --allow-read --allow-write --allow-env --allow-ffi --allow-sys "$script"
  echo "$script: $(($(date +%s) - start)) s"
done
echo "notebook and examples: ok"
