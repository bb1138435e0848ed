#!/usr/bin/env bash
# Builds forkcast's wheel (pyproject.toml: maturin, `bindings = "bin"`) into target/wheels/ and
# prints its path. maturin comes from PyPI into a build venv of its own (target/maturin-venv),
# installed once per pinned version. The wheel is tagged for this machine's glibc (maturin's
# manylinux check); one for PyPI is built the same way on the oldest glibc it should support.
#
#   scripts/build-wheel.sh            # then: pip install target/wheels/forkcast-*.whl
#   scripts/build-wheel.sh --dev      # a dev-profile build (scripts/check-install.sh --dev)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

maturin_version="1.16.0"
venv="$root/target/maturin-venv"
if [[ "$("$venv/bin/maturin" --version 2>/dev/null)" != "maturin $maturin_version" ]]; then
    echo "build-wheel: installing maturin $maturin_version into $venv" >&2
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "maturin==$maturin_version"
fi

profile=(--release)
[[ "${1:-}" == --dev ]] && profile=(--profile dev)
out="$root/target/wheels"
rm -f "$out"/forkcast-*.whl
"$venv/bin/maturin" build "${profile[@]}" --locked --out "$out" >&2
ls "$out"/forkcast-*.whl
