#!/usr/bin/env bash
# Install what bdml needs on this machine, and nothing that is already there:
#   1. system packages (Debian/Ubuntu): mariadb-server, postgresql, default-jdk-headless
#   2. .venv (Python 3.11) with the project (editable, extras spark+dev) and sagemaker_pyspark's S3A jars,
#      reinstalled only when pyproject.toml changed (stamp file .venv/.installed-<sha of pyproject.toml>).
#   3. dclint (npm, pinned) into .bdml/tools for the compose file's lint, when npm is there.
# Idempotent and quiet; under 5 s when everything is present.
# Environment: PYTHON=<interpreter> to pick Python 3.11; BDML_SKIP_SYSTEM=1 to skip step 1 (compose users).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { printf 'bootstrap: %s\n' "$*" >&2; }
die() { printf 'bootstrap: %s\n' "$*" >&2; exit 1; }

# --- 1. system packages --------------------------------------------------------------------------------
missing=()
if [[ "${BDML_SKIP_SYSTEM:-0}" != 1 ]]; then
    [[ -x /usr/sbin/mariadbd || -x /usr/sbin/mysqld ]] || missing+=(mariadb-server)
    if ! command -v pg_ctlcluster >/dev/null || ! compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null; then
        missing+=(postgresql)
    fi
    command -v java >/dev/null || missing+=(default-jdk-headless)
    command -v chromium >/dev/null || missing+=(chromium)   # browser tests drive Debian's build (no downloads)
    command -v npm >/dev/null || missing+=(npm)             # `bdml ml dataset` packs emoji image sets
fi

if ((${#missing[@]})); then
    if [[ $(id -u) -eq 0 ]]; then
        sudo=()
    elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
        sudo=(sudo -n)
    else
        sudo=(none)
    fi
    manual="sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y ${missing[*]}"
    if ! command -v apt-get >/dev/null; then
        die "missing: ${missing[*]}. This is not a Debian/Ubuntu machine: install MariaDB (or MySQL),
PostgreSQL and a JDK (17+) with your package manager, or use the compose profile (docker compose up -d),
then run this again (BDML_SKIP_SYSTEM=1 skips this check)."
    fi
    if [[ ${sudo[*]-} == none ]]; then
        die "missing: ${missing[*]}, and installing needs root (not root here, and sudo -n is not usable). Run:
  $manual
then run this again."
    fi
    mkdir -p .bdml/logs
    log=.bdml/logs/apt-install.log
    say "installing ${missing[*]} with apt-get (log: $log)"
    if ! { "${sudo[@]}" apt-get update -qq &&
        "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"; } >"$log" 2>&1; then
        tail -n 20 "$log" >&2
        die "apt-get failed (full log: $log). To do it by hand: $manual"
    fi
fi

# --- 2. Python virtualenv ------------------------------------------------------------------------------
is_py311() { "$1" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; }

if [[ ! -x .venv/bin/python ]]; then
    python=${PYTHON:-}
    if [[ -z $python ]]; then
        for candidate in python3.11 python3; do
            if command -v "$candidate" >/dev/null && is_py311 "$candidate"; then python=$candidate; break; fi
        done
    fi
    if [[ -z $python ]] || ! is_py311 "$python"; then
        die "Python 3.11 not found: install it (Debian/Ubuntu: sudo apt-get install -y python3.11 python3.11-venv;
or pyenv install 3.11) or point PYTHON=/path/to/python3.11, then run this again."
    fi
    say "creating .venv with $python"
    "$python" -m venv .venv || die "could not create .venv (Debian/Ubuntu: sudo apt-get install -y python3.11-venv)"
fi
is_py311 .venv/bin/python || die ".venv is not Python 3.11: remove it (rm -rf .venv) and run this again."

sha=$(sha256sum pyproject.toml | cut -c1-16)
stamp=.venv/.installed-$sha
if [[ ! -f $stamp ]]; then
    log=.venv/pip-install.log
    say "installing Python packages (pyproject.toml changed or first run; log: $log)"
    if ! {
        # CPU torch first, by exact version: a plain `torch` requirement would pull multi-GB CUDA builds.
        .venv/bin/python -m pip install --disable-pip-version-check 'torch==2.13.0' \
            ${BDML_TORCH_INDEX:+--extra-index-url "$BDML_TORCH_INDEX"} &&
        .venv/bin/python -m pip install --disable-pip-version-check -e '.[spark,ml,web,dev]' &&
            .venv/bin/python -m pip install --disable-pip-version-check --no-deps sagemaker_pyspark==1.4.5
    } >"$log" 2>&1; then
        tail -n 30 "$log" >&2
        die "pip install failed (full log: $log)"
    fi
    rm -f .venv/.installed-*
    touch "$stamp"
    say "Python packages installed"
fi

# --- 3. dclint (the Compose Specification linter the compose tests run), in a project-local folder ----------
dclint_version=3.1.0
if command -v npm >/dev/null && [[ $(.bdml/tools/node_modules/.bin/dclint --version 2>/dev/null) != "$dclint_version" ]]; then
    mkdir -p .bdml/tools .bdml/logs
    log=.bdml/logs/npm-dclint.log
    say "installing dclint $dclint_version into .bdml/tools (log: $log)"
    if ! npm install --prefix .bdml/tools --no-audit --no-fund --silent "dclint@$dclint_version" >"$log" 2>&1; then
        tail -n 20 "$log" >&2
        die "npm install dclint failed (full log: $log)"
    fi
fi
