#!/usr/bin/env bash
# install.sh: install the loopback object-storage servers used by the net/
# tests and the e2e scripts (see shared reference object-stores.md):
#   Azurite 3.37.0 and s3rver 3.7.1 from npm into $SNAP_SERVERS_DIR
#   (default /var/tmp/snapshooter-servers, never inside the git tree), and
#   OpenStack Swift (+ s3api) and memcached from Debian packages.
# Idempotent: whatever is already there is kept. Usage:
#   install.sh [all|npm|azurite|s3rver|swift]
# Exits 0 when everything asked for is installed, 1 otherwise.
set -u
DIR=${SNAP_SERVERS_DIR:-/var/tmp/snapshooter-servers}
what=${1:-all}
rc=0

say() { printf 'install.sh: %s\n' "$*" >&2; }

npm_pkg() { # name version
	local name=$1 ver=$2 bin=$1
	[ "$name" = azurite ] && bin=azurite-blob
	if [ -x "$DIR/$name/node_modules/.bin/$bin" ] &&
	   grep -q "\"version\": \"$ver\"" \
		"$DIR/$name/node_modules/$name/package.json" 2>/dev/null; then
		return 0
	fi
	if ! command -v npm >/dev/null 2>&1; then
		if command -v apt-get >/dev/null 2>&1; then
			apt_get nodejs npm || true
		fi
	fi
	if ! command -v npm >/dev/null 2>&1; then
		say "npm not found: cannot install $name"
		return 1
	fi
	mkdir -p "$DIR/$name" || return 1
	say "npm install $name@$ver into $DIR/$name"
	# a lock dir keeps two tests starting at once from racing on npm
	local lock="$DIR/.$name.lock" i
	for i in $(seq 1 600); do
		mkdir "$lock" 2>/dev/null && break
		sleep 1
	done
	if [ -x "$DIR/$name/node_modules/.bin/$bin" ]; then
		rmdir "$lock" 2>/dev/null
		return 0
	fi
	npm install --no-audit --no-fund --loglevel=error \
		--prefix "$DIR/$name" "$name@$ver" >&2
	local r=$?
	rmdir "$lock" 2>/dev/null
	[ $r -eq 0 ] && [ -x "$DIR/$name/node_modules/.bin/$bin" ]
}

apt_updated=0
apt_get() { # packages...
	if [ "$(id -u)" != 0 ]; then
		say "not root: cannot apt-get install $*"
		return 1
	fi
	if [ $apt_updated = 0 ]; then
		apt-get update -qq >&2 || true
		apt_updated=1
	fi
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		--no-install-recommends "$@" >&2
}

swift_pkgs() {
	local missing="" p
	for p in swift swift-proxy swift-account swift-container swift-object \
		 memcached; do
		dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
	done
	[ -z "$missing" ] && return 0
	say "apt-get install$missing"
	# shellcheck disable=SC2086
	apt_get $missing
}

case $what in
all)
	npm_pkg azurite 3.37.0 || rc=1
	npm_pkg s3rver 3.7.1 || rc=1
	swift_pkgs || rc=1
	;;
npm)
	npm_pkg azurite 3.37.0 || rc=1
	npm_pkg s3rver 3.7.1 || rc=1
	;;
azurite) npm_pkg azurite 3.37.0 || rc=1 ;;
s3rver) npm_pkg s3rver 3.7.1 || rc=1 ;;
swift) swift_pkgs || rc=1 ;;
*) say "unknown target '$what'"; exit 2 ;;
esac
exit $rc
