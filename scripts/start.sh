#!/bin/sh
# `npm start`: builds dist/upkeep, then becomes `upkeep serve` on loopback (README § Quickstart), and
# prints the dashboard's URL and the command for the operator's shell.
#
#   UPKEEP_LISTEN     address to listen on (default 127.0.0.1:8080)
#   UPKEEP_DATA_DIR   the server's data dir (default .upkeep, in the repository)
#   npm start -- ARGS passes ARGS on to `upkeep serve` (e.g. --server-version 1.2.3)
#
# The server replaces this shell (exec): npm's SIGTERM or Ctrl-C reaches it, it drains and exits, and the
# port is free when `npm start` has returned. (Before, a shell stood between them: npm killed the shell
# and left the server running on the port.)
#
# Admin token: on the first start of a data dir, this script makes a random token, keeps it in
# DATA_DIR/admin-token (0600: a developer's server, like a kubeconfig) and hands it to the server as
# UPKEEP_ADMIN_TOKEN. `upkeep serve` itself only ever prints its token and keeps the hash.
#
# Client tools: like Teleport, a server tells client tools to update only when its autoupdate_config says
# `spec.tools.mode: enabled`. On the first start of a data dir this script applies that config (below, once
# the server answers), so that a developer's tools follow the server as in the quickstart.
set -eu
cd "$(dirname "$0")/.."

listen="${UPKEEP_LISTEN:-127.0.0.1:8080}"
data="${UPKEEP_DATA_DIR:-.upkeep}"

# npm puts node_modules/.bin on PATH; so does this, for `sh scripts/start.sh` run by hand.
PATH="$PWD/node_modules/.bin:$PATH" bun scripts/build.ts

first_start=no
[ -e "$data/upkeep.db" ] || first_start=yes

if [ -z "${UPKEEP_ADMIN_TOKEN:-}" ] && [ "$first_start" = yes ]; then
  mkdir -p "$data"
  (
    umask 077
    od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$data/admin-token.tmp"
  )
  mv -f "$data/admin-token.tmp" "$data/admin-token"
  UPKEEP_ADMIN_TOKEN="$(cat "$data/admin-token")"
  export UPKEEP_ADMIN_TOKEN
fi

case "$listen" in
  0.0.0.0:* | '[::]:'*) url="http://127.0.0.1:${listen##*:}" ;;
  *) url="http://$listen" ;;
esac
if [ -n "${UPKEEP_ADMIN_TOKEN:-}" ] && [ ! -e "$data/admin-token" ]; then
  token="UPKEEP_TOKEN=<your UPKEEP_ADMIN_TOKEN>"
elif [ -e "$data/admin-token" ]; then
  token="UPKEEP_TOKEN=\$(cat $data/admin-token)"
else
  token="UPKEEP_TOKEN=<the admin token printed at the first start of $data>"
fi
if [ -e "$data/admin-token" ]; then
  login="log in with the admin token in $data/admin-token"
else
  login="log in with the admin token"
fi
tools_note=""
if [ "$first_start" = yes ] && [ -n "${UPKEEP_ADMIN_TOKEN:-}" ]; then
  tools_note="
Client tools updates: on (a new data dir: autoupdate_config spec.tools.mode enabled is applied)"
fi
cat <<EOF
upkeep serve: $url, data in $data
Dashboard: $url/dashboard ($login)${tools_note}
Next (README.md § Quickstart), in another terminal, in this folder:
  export UPKEEP_SERVER=$url $token PATH=\$PWD/dist:\$PATH
Stop the server with Ctrl-C.
EOF

# The server's first start: turn client tools updates on once it answers (tries for up to 30 s). In the
# background, its output nowhere: the server replaces this shell below.
if [ "$first_start" = yes ] && [ -n "${UPKEEP_ADMIN_TOKEN:-}" ]; then
  (
    n=0
    while [ "$n" -lt 150 ]; do
      if printf 'kind: autoupdate_config\nspec:\n  tools: { mode: enabled }\n' |
        UPKEEP_SERVER="$url" UPKEEP_TOKEN="$UPKEEP_ADMIN_TOKEN" ./dist/upkeep admin apply -f - >/dev/null 2>&1; then
        exit 0
      fi
      n=$((n + 1))
      sleep 0.2
    done
  ) </dev/null >/dev/null 2>&1 &
fi

exec ./dist/upkeep serve --listen "$listen" --data-dir "$data" "$@"
