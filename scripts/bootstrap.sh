# Sourced by scripts/demo and scripts/check: a project virtualenv with the hub and its tools installed.
# Re-installs only when pyproject.toml changed since the last install.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"

pick_python() {
    for candidate in "${PYTHON:-}" python3.12 python3.11 python3.13 python3; do
        [ -n "$candidate" ] || continue
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
            echo "$candidate"
            return 0
        fi
    done
    echo "error: the hub needs Python 3.11 or newer; set PYTHON=/path/to/python3.11" >&2
    return 1
}

if [ ! -x "$VENV/bin/python" ]; then
    "$(pick_python)" -m venv "$VENV"
fi
# The compiled normalizers (setup.py) are rebuilt when their sources change too.
STAMP="$VENV/.installed-$(cat "$ROOT/pyproject.toml" "$ROOT/setup.py" "$ROOT"/hub/normalize/*.py | sha256sum | cut -c1-16)"
if [ ! -f "$STAMP" ]; then
    echo "installing the hub and its tools into .venv (compiling its normalizers) ..." >&2
    # uv (one of the dev tools) installs the same packages as pip in half the time, fetching them in
    # parallel; pip is the fallback where uv cannot reach the index pip is configured with. Both leave
    # the packages byte-compiled (pip does by default, uv when asked): where PYTHONDONTWRITEBYTECODE is
    # set, Python would otherwise compile every module again in every process it starts, which made
    # each `hub` command spend three seconds of a slow machine compiling before it did anything.
    if ! { "$VENV/bin/python" -m pip install --quiet "uv>=0.5" &&
        "$VENV/bin/uv" pip install --quiet --compile-bytecode --python "$VENV/bin/python" -e "$ROOT[dev]"; }; then
        echo "uv could not install the hub: installing it with pip instead ..." >&2
        "$VENV/bin/python" -m pip install --quiet --upgrade pip >/dev/null
        "$VENV/bin/python" -m pip install --quiet -e "$ROOT[dev]"
    fi
    rm -f "$VENV"/.installed-*
    touch "$STAMP"
fi
export PATH="$VENV/bin:$PATH"
