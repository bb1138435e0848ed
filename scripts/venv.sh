#!/usr/bin/env bash
# Creates (idempotently) the labs' virtualenv at <repo>/.venv and installs
# fixtures/requirements.txt into it, again only when that file changed. With --engines, the
# engine labs' virtualenv at <repo>/.venv-engines from fixtures/requirements-engines.txt
# (joblib, Dask, Ray: ~400 MB, kept apart so the labs' venv stays small).
#
#   bash scripts/venv.sh          # then: .venv/bin/python fixtures/labs/01_... --workers 2
#   bash scripts/venv.sh --engines  # then: .venv-engines/bin/python fixtures/labs/07_... --workers 2
#
# The interpreter is the real one behind `python3` (resolving past shims such as pyenv's),
# else /usr/bin/python3. Override with FORKCAST_VENV_PYTHON=/path/to/python3.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"
req="$root/fixtures/requirements.txt"
case "${1:-}" in
    "") ;;
    --engines)
        venv="$root/.venv-engines"
        req="$root/fixtures/requirements-engines.txt"
        ;;
    *)
        echo "venv.sh: unknown argument '$1'; use no argument (the labs) or --engines" >&2
        exit 2
        ;;
esac
stamp="$venv/.requirements.sha256"

find_python() {
    if [[ -n "${FORKCAST_VENV_PYTHON:-}" ]]; then
        echo "$FORKCAST_VENV_PYTHON"
        return
    fi
    local exe
    if exe="$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null)" && [[ -x "$exe" ]]; then
        echo "$exe"
        return
    fi
    if [[ -x /usr/bin/python3 ]]; then
        echo /usr/bin/python3
        return
    fi
    echo "venv.sh: no python3 found; install it (Debian/Ubuntu: apt-get install python3 python3-venv)" >&2
    exit 1
}

if [[ ! -x "$venv/bin/python" ]]; then
    py="$(find_python)"
    if ! "$py" -c 'import venv, ensurepip' 2>/dev/null; then
        ver="$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
        echo "venv.sh: $py cannot create virtualenvs (venv/ensurepip missing)." >&2
        echo "  fix (Debian/Ubuntu): apt-get install python3-venv  (or python$ver-venv)" >&2
        exit 1
    fi
    echo "venv.sh: creating $venv with $py" >&2
    rm -rf "$venv"
    "$py" -m venv "$venv"
fi

want="$(sha256sum "$req" | cut -d' ' -f1)"
have="$(cat "$stamp" 2>/dev/null || true)"
if [[ "$want" != "$have" ]]; then
    echo "venv.sh: installing $req" >&2
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req"
    echo "$want" >"$stamp"
fi
echo "$venv/bin/python"
