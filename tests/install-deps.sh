#!/usr/bin/env bash
# install-deps.sh: install what snapshooter needs to build and test on
# Debian 12 (apt-get). Idempotent and quiet when everything is present.
# Object-storage test servers (Swift, Azurite, s3rver) are installed by
# tests/servers/install.sh, called from tests/run.sh.
set -euo pipefail

packages=(build-essential cmake pkg-config liburing-dev libmsgpack-dev
	libssl-dev libcurl4-openssl-dev libexpat1-dev libisal-dev
	zlib1g-dev libdeflate-dev python3 rsync util-linux
	coreutils findutils dpkg-dev man-db groff-base
	# test_xattrs_sparse.sh: setfattr/getfattr, setfacl, setcap, and a
	# vfat image (a filesystem without xattrs)
	attr acl libcap2-bin dosfstools
	# clients nobody here wrote, for test_python_switch.sh to fill and
	# read the stores as the Python tool would (python3-azure-storage
	# pulls python3-azure, ~540 MB installed)
	python3-boto3 python3-azure-storage
	# test_rclone_interop.sh: the object metadata rclone reads and writes
	rclone
	# test_remote.sh, test_sync_remote.sh: raw requests to s3rver (tamper
	# with an object, look for one); not in a minimal Debian image
	curl)

missing=()
for p in "${packages[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
		missing+=("$p")
	fi
done
if ((${#missing[@]})); then
	echo "install-deps: installing ${missing[*]}" >&2
	SUDO=""
	if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; fi
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
