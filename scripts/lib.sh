# Shared set-up steps for scripts/up and scripts/test. Each step checks before it
# acts, so running it again on a prepared machine costs a few seconds.
# shellcheck shell=bash

MC_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MC_STATE=${MC_STATE:-$MC_ROOT/.state}
MC_VENV=${MC_VENV:-$MC_ROOT/.venv}
# Extra trusted CA certificates (a corporate proxy's CA, say) copied into the
# test images so that apt, pip and npm work inside the containers.
MC_EXTRA_CA_DIR=${MC_EXTRA_CA_DIR:-/usr/local/share/ca-certificates}
MC_DEBIAN_MIRROR=${MC_DEBIAN_MIRROR:-}
MC_APT_CACHE_PORT=${MC_APT_CACHE_PORT:-3142}
MC_DISTS=${MC_DISTS:-"bookworm trixie"}

mkdir -p "$MC_STATE"

log() { printf '\033[1m==> %s %s\033[0m\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  command -v apt-get >/dev/null || die "missing packages ${missing[*]} and no apt-get: install them by hand"
  log "installing ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

ensure_docker() {
  if docker info >/dev/null 2>&1; then return 0; fi
  if ! command -v dockerd >/dev/null; then
    apt_install docker.io
  fi
  if docker info >/dev/null 2>&1; then return 0; fi
  if [ -d /run/systemd/system ]; then
    as_root systemctl start docker
  else
    # No init system here (a CI container): run the engine directly, detached
    # in a subshell so that it is never one of the calling script's jobs (a
    # bare `wait` would wait for it forever, and `jobs` would count it).
    log "starting dockerd (log: /var/log/dockerd.log)"
    (as_root setsid dockerd >/var/log/dockerd.log 2>&1 </dev/null &)
  fi
  local i
  for i in $(seq 1 60); do docker info >/dev/null 2>&1 && return 0; sleep 1; done
  die "the Docker engine did not start; see /var/log/dockerd.log"
}

ensure_venv() {
  local stamp="$MC_VENV/.requirements.sha"
  local want
  want=$(cat "$MC_ROOT/requirements.txt" "$MC_ROOT/pyproject.toml" | sha256sum | cut -c1-16)
  if [ -x "$MC_VENV/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    return 0
  fi
  log "creating the Python environment in $MC_VENV"
  python3 -m venv "$MC_VENV"
  "$MC_VENV/bin/pip" install -q --upgrade pip >/dev/null
  "$MC_VENV/bin/pip" install -q -r "$MC_ROOT/requirements.txt"
  "$MC_VENV/bin/pip" install -q --no-deps -e "$MC_ROOT"
  echo "$want" >"$stamp"
}

# apt-cacher-ng on the host: every test container's apt goes through it (the
# images ask for it and fall back to direct downloads when it is not there).
# It runs with the project's own configuration: a plain caching proxy with no
# mirror remapping (the packaged remaps pick mirrors at random, and a machine
# that may reach only one mirror gets "503 Host not found").
MC_APT_CACHE_DIR=${MC_APT_CACHE_DIR:-/var/cache/mission-control-apt}
ensure_apt_cache() {
  apt_install apt-cacher-ng curl
  if curl -fsS -o /dev/null -m 5 "http://127.0.0.1:$MC_APT_CACHE_PORT/acng-report.html" 2>/dev/null &&
     curl -fsS -o /dev/null -m 5 "http://127.0.0.1:$MC_APT_CACHE_PORT/mission-control-acng/copyright" 2>/dev/null; then
    return 0
  fi
  # Not answering as ours: stop the one this function started before (by the
  # PID file it wrote) and the package's own service (by its init system),
  # never another program that happens to share the name.
  local pidfile="$MC_APT_CACHE_DIR/acng.pid" pid
  pid=$(cat "$pidfile" 2>/dev/null || true)
  if [ -n "$pid" ] && grep -qs apt-cacher-ng "/proc/$pid/cmdline"; then
    as_root kill "$pid" 2>/dev/null || true
  fi
  as_root systemctl stop apt-cacher-ng 2>/dev/null || as_root service apt-cacher-ng stop >/dev/null 2>&1 || true
  local conf="$MC_STATE/apt-cache"
  mkdir -p "$conf"
  as_root mkdir -p "$MC_APT_CACHE_DIR/cache" "$MC_APT_CACHE_DIR/log"
  as_root chown -R apt-cacher-ng: "$MC_APT_CACHE_DIR" 2>/dev/null || true
  cat >"$conf/acng.conf" <<CONF
CacheDir: $MC_APT_CACHE_DIR/cache
LogDir: $MC_APT_CACHE_DIR/log
SupportDir: /usr/lib/apt-cacher-ng
Port: $MC_APT_CACHE_PORT
ReportPage: acng-report.html
PidFile: $MC_APT_CACHE_DIR/acng.pid
LocalDirs: mission-control-acng /usr/share/doc/apt-cacher-ng
ExThreshold: 4
CONF
  chmod 0755 "$conf" && chmod 0644 "$conf/acng.conf"
  log "starting apt-cacher-ng on port $MC_APT_CACHE_PORT (cache: $MC_APT_CACHE_DIR, $(du -sh "$MC_APT_CACHE_DIR" 2>/dev/null | cut -f1))"
  if id apt-cacher-ng >/dev/null 2>&1; then
    as_root runuser -u apt-cacher-ng -- /usr/sbin/apt-cacher-ng -c "$conf" ForeGround=0 >/dev/null 2>&1 || true
  else
    as_root /usr/sbin/apt-cacher-ng -c "$conf" ForeGround=0 >/dev/null 2>&1 || true
  fi
  local i
  for i in $(seq 1 20); do
    curl -fsS -o /dev/null -m 2 "http://127.0.0.1:$MC_APT_CACHE_PORT/acng-report.html" 2>/dev/null && return 0
    sleep 0.5
  done
  log "apt-cacher-ng did not start; test containers will download directly"
}

ensure_images() {
  apt_install debootstrap
  local dist
  for dist in $MC_DISTS; do
    "$MC_ROOT/scripts/build-image" "$dist"
  done
}

ensure_all() {
  ensure_venv
  ensure_docker
  ensure_apt_cache
  ensure_images
  ensure_collections
}

# The collections come bundled with the pinned `ansible` package; Galaxy is used
# only when one of them is missing (a user who installed ansible-core alone).
ensure_collections() {
  local missing
  missing=$("$MC_VENV/bin/python" - "$MC_ROOT/requirements.yml" <<'PY'
import sys, yaml, subprocess, json
wanted = [c["name"] for c in yaml.safe_load(open(sys.argv[1]))["collections"]]
out = subprocess.run([sys.prefix + "/bin/ansible-galaxy", "collection", "list", "--format", "json"],
                     capture_output=True, text=True).stdout
have = set()
for cols in json.loads(out or "{}").values():
    have.update(cols)
print(" ".join(c for c in wanted if c not in have))
PY
)
  if [ -n "$missing" ]; then
    log "installing collections: $missing"
    "$MC_VENV/bin/ansible-galaxy" collection install -r "$MC_ROOT/requirements.yml"
  fi
}

activate() {
  # shellcheck disable=SC1091
  . "$MC_VENV/bin/activate"
  cd "$MC_ROOT"
}
