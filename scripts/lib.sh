# Shell helpers shared by the project's scripts. Source it; it defines functions only.
# shellcheck shell=bash

log() { printf '\033[1m[%s]\033[0m %s\n' "${LOG_TAG:-tenancy}" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Seconds since the epoch with milliseconds, for timing steps.
now_ms() { date +%s%3N; }
elapsed() { local ms=$(( $(now_ms) - $1 )); printf '%d.%03ds' $((ms / 1000)) $((ms % 1000)); }

# A free TCP port on 127.0.0.1, as the kernel hands it out.
free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

# Installs Debian packages whose command is missing: pairs of "command:package".
ensure_commands() {
  local missing=() pair
  for pair in "$@"; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  command -v apt-get >/dev/null 2>&1 || die "missing ${missing[*]} and no apt-get to install them: install them by hand"
  [ "$(id -u)" -eq 0 ] || die "missing ${missing[*]}: run as root so they can be installed, or install them by hand"
  log "installing ${missing[*]} with apt"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# True when the Docker engine at DOCKER_HOST (or the default socket) answers.
docker_answers() { timeout 10 docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

# Waits up to $2 seconds for command $1 to succeed.
wait_for() {
  local deadline=$(( $(date +%s) + $2 ))
  until eval "$1" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$deadline" ] || return 1
    sleep 0.2
  done
}

# `npm ci` with its arguments, bounded in time and tried up to three times. npm can wait forever
# on a registry download that stalls mid-body (its fetch-timeout only covers the response's
# start): seen once in CI, 85 minutes on one tarball. A later try prefers the tarballs the
# earlier one already put in npm's cache. NPM_CI_TIMEOUT: seconds per try (default 600).
npm_ci() {
  local attempt limit="${NPM_CI_TIMEOUT:-600}"
  for attempt in 1 2 3; do
    if [ "$attempt" -eq 1 ]; then
      timeout --kill-after=10 "$limit" npm ci "$@" && return 0
    else
      timeout --kill-after=10 "$limit" npm ci --prefer-offline "$@" && return 0
    fi
    log "npm ci try $attempt did not finish (exit $?, limit ${limit}s)$([ "$attempt" -lt 3 ] && echo ': trying again')"
  done
  die "npm ci failed three times: is the npm registry reachable?"
}

# Node dependencies, when the lockfile is newer than the install (a fresh clone has none), and
# tap's plugin list. tap compiles its plugin list (.taprc) into node_modules; a fresh install
# still holds the default list, whose TypeScript plugin does not work with TypeScript 7. The
# stamp records that this install was built with this .taprc.
ensure_node_deps() {
  local step stamp=node_modules/.tenancy-tap-build
  if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    step=$(now_ms)
    log "installing node dependencies (npm ci)"
    npm_ci --no-audit --no-fund --loglevel=error
    log "npm ci done in $(elapsed "$step")"
  fi
  if [ ! -f "$stamp" ] || [ .taprc -nt "$stamp" ] || [ node_modules/.package-lock.json -nt "$stamp" ]; then
    npx tap build >/dev/null
    touch "$stamp"
  fi
}

# ---- the env file (.env): the caller sets env_file ----
# Reads KEY's value from the env file (empty when absent or commented out).
# (No file yet is no value: under pipefail a failing sed would end the script, silently.)
env_get() { [ -f "${env_file:?}" ] || return 0; sed -n "s/^$1=//p" "$env_file" | tail -n 1; }
# Sets KEY=VALUE in the env file: replaces the KEY line (or its commented-out form) in place,
# else appends. Values never reach the terminal or a command line.
env_set() {
  local tmp
  tmp="$(mktemp "${env_file:?}.XXXXXX")"
  KEY="$1" VALUE="$2" awk '
    BEGIN { key = ENVIRON["KEY"]; line = key "=" ENVIRON["VALUE"] }
    !done && ($0 ~ "^" key "=" || $0 ~ "^# " key "=") { print line; done = 1; next }
    { print }
    END { if (!done) print line }' "$env_file" >"$tmp"
  chmod 600 "$tmp"
  mv "$tmp" "$env_file"
}
# 32 random bytes as hex: strong, and safe in URLs, YAML and shell.
secret() { od -An -N32 -tx1 /dev/urandom | tr -d ' \n'; }
