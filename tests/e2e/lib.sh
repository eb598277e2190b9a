# lib.sh: shared helpers of the end-to-end tests, sourced by every
# tests/e2e/test_<name>.sh. A test runs the real binary ($SNAPSHOOTER) on
# small trees inside one private temp dir, prints one line per check and
# ends with "N passed, M failed". Exit codes: 0 pass, 1 fail, 77 skip.
#
# Environment: SNAPSHOOTER (the binary, required), SNAP_SOURCE_DIR (the
# repo), SNAP_E2E_IO (io modes to run, default "sync uring"),
# SNAP_E2E_KEEP=1 keeps the temp dir for a post-mortem.
#
# No jq: only bash, coreutils, findutils, sed, grep (test_python_heap
# also runs python3, for its gzip module).

set -u
export LC_ALL=C
umask 022

if [ -z "${SNAPSHOOTER:-}" ] || [ ! -x "${SNAPSHOOTER:-}" ]; then
	echo "SKIP: \$SNAPSHOOTER is not an executable (${SNAPSHOOTER:-unset})"
	exit 77
fi
# The roots are always passed explicitly; a stray variable from the
# caller's shell must not redirect a test to real data, nor change the
# formats a test expects the automatic choice to pick.
unset FILE_ROOT HEAP_ROOT SNAP_ROOT FILE_STORAGE_OPTIONS \
	HEAP_STORAGE_OPTIONS SNAP_STORAGE_OPTIONS HEAP_CACHE_FILE \
	HEAP_FORMAT SNAPSHOT_FORMAT

E2E_NAME=$(basename "$0" .sh)
T=$(mktemp -d "${TMPDIR:-/tmp}/snap-e2e-$E2E_NAME.XXXXXX") || {
	echo "FAIL cannot create a temp dir"
	exit 1
}
E2E_PASS=0
E2E_FAIL=0
E2E_SKIP=0
RC=0
LAST_CMD=
OUT=$T/.out
ERR=$T/.err
SUMMARY=$T/.summary.json

e2e_cleanup() {
	if [ "${SNAP_E2E_KEEP:-0}" = 1 ]; then
		echo "kept $T"
		return
	fi
	# heap objects are read-only and tests make 000 files/dirs
	chmod -R u+rwx "$T" 2>/dev/null
	rm -rf "$T"
}
# servers started with use_server (at the end of this file) stop first
trap 'e2e_stop_servers; e2e_cleanup' EXIT
trap 'echo "interrupted"; exit 130' INT TERM

# ---- reporting -------------------------------------------------------

say() {
	printf '%s\n' "$*"
}

pass() {
	E2E_PASS=$((E2E_PASS + 1))
	printf 'ok   %s\n' "$*"
}

# fail MSG: record a failed check and go on (the summary line and the
# exit code report it).
fail() {
	E2E_FAIL=$((E2E_FAIL + 1))
	printf 'FAIL %s\n' "$*"
}

skip() {
	E2E_SKIP=$((E2E_SKIP + 1))
	printf 'skip %s\n' "$*"
}

# as_nobody CMD...: CMD as uid/gid 65534 (util-linux setpriv) when root,
# whom no mode keeps out; as this user otherwise, whom a mode 000 does.
as_nobody() {
	if [ "$(id -u)" -eq 0 ]; then
		setpriv --reuid=65534 --regid=65534 --clear-groups "$@"
	else
		"$@"
	fi
}

# nobody_kept_out FILE WHAT: can as_nobody run the binary but not read
# FILE (mode 000)? Else a skip naming WHAT, and 1.
nobody_kept_out() {
	if ! as_nobody test -x "$SNAPSHOOTER"; then
		skip "$2: the binary is not executable by uid 65534"
		return 1
	fi
	if as_nobody cat "$1" >/dev/null 2>&1; then
		skip "$2: $1 is readable anyway here"
		return 1
	fi
}

# die MSG: a setup step failed, the rest of the script makes no sense.
die() {
	fail "$*"
	finish
}

# finish: the summary line; exit 1 on any failure, 77 when nothing ran.
finish() {
	echo "$E2E_PASS passed, $E2E_FAIL failed"
	if [ "$E2E_FAIL" -ne 0 ]; then
		exit 1
	fi
	if [ "$E2E_PASS" -eq 0 ]; then
		exit 77
	fi
	exit 0
}

# check DESC CMD...: pass if CMD succeeds.
check() {
	local desc=$1
	shift
	if "$@"; then
		pass "$desc"
	else
		fail "$desc"
	fi
}

# assert_eq DESC EXPECTED ACTUAL
assert_eq() {
	if [ "$2" = "$3" ]; then
		pass "$1"
	else
		fail "$1: expected '$2', got '$3'"
	fi
}

# assert_ge DESC MIN ACTUAL: ACTUAL is a number >= MIN.
assert_ge() {
	case "$3" in
	'' | *[!0-9]*)
		fail "$1: expected a number >= $2, got '$3'"
		return
		;;
	esac
	if [ "$3" -ge "$2" ]; then
		pass "$1 ($3 >= $2)"
	else
		fail "$1: expected >= $2, got $3"
	fi
}

# assert_ne DESC UNEXPECTED ACTUAL
assert_ne() {
	if [ "$2" != "$3" ]; then
		pass "$1"
	else
		fail "$1: got '$3'"
	fi
}

# clip: shorten long lines (deep paths) to their start and end.
clip() {
	awk '{ if (length($0) > 240)
		print substr($0, 1, 110) " ... " substr($0, length($0) - 110)
	else
		print }'
}

# show_last: the last command, its exit code and output (after a failure).
show_last() {
	say "    command: $LAST_CMD"
	say "    exit code: $RC"
	if [ -s "$OUT" ]; then
		say "    stdout:"
		head -n 20 "$OUT" | clip | sed 's/^/      /'
	fi
	if [ -s "$ERR" ]; then
		say "    stderr:"
		head -n 20 "$ERR" | clip | sed 's/^/      /'
	fi
}

# assert_rc DESC EXPECTED: the exit code of the last run().
assert_rc() {
	if [ "$RC" -eq "$2" ]; then
		pass "$1 (exit $RC)"
	else
		fail "$1: expected exit $2, got $RC"
		show_last
	fi
}

# assert_err_has DESC FIXED_STRING: stderr of the last run() contains it.
assert_err_has() {
	if grep -qF -- "$2" "$ERR"; then
		pass "$1"
	else
		fail "$1: stderr lacks '$2'"
		show_last
	fi
}

# ---- running the binary ----------------------------------------------

# run CMD...: run a command, stdout in $OUT, stderr in $ERR, code in $RC.
run() {
	LAST_CMD="$*"
	rm -f "$SUMMARY"
	"$@" >"$OUT" 2>"$ERR"
	RC=$?
	# a crash or a sanitizer report fails the test whatever the check
	# expected (ASan/UBSan exit with 1, which looks like a clean refusal)
	case "$RC" in
	132 | 134 | 135 | 136 | 139)
		fail "crashed (exit $RC, signal $((RC - 128)))"
		show_last
		;;
	esac
	if grep -qE 'Sanitizer|runtime error:' "$ERR"; then
		fail "sanitizer report"
		show_last
	fi
}

# snap ARGS...: the binary with the current roots ($FR, $HR, $SR), the
# current io mode ($IO) and a JSON summary in $SUMMARY; ARGS is the
# command and its options.
IO=auto
FR=
HR=
SR=
snap() {
	run "$SNAPSHOOTER" --no-progress --io "$IO" --file-root "$FR" \
		--heap-root "$HR" --snap-root "$SR" --json-file "$SUMMARY" "$@"
}

# make_snapshot: snap make-snapshot, must succeed; the path in $SNAP.
SNAP=
make_snapshot() {
	SNAP=
	snap make-snapshot "$@"
	if [ "$RC" -ne 0 ]; then
		fail "make-snapshot of $FR"
		show_last
		return 1
	fi
	SNAP=$(head -n 1 "$OUT")
	if [ ! -f "$SNAP" ]; then
		fail "make-snapshot printed '$SNAP', not a file"
		show_last
		return 1
	fi
	return 0
}

# json_get FILE KEY: a number from the one-object JSON summary ("" if the
# key is absent). No jq: the summary is flat, keys are unique.
json_get() {
	[ -f "$1" ] || return 0
	sed -n 's/.*"'"$2"'"[[:space:]]*:[[:space:]]*\(-\{0,1\}[0-9][0-9.eE+-]*\).*/\1/p' \
		"$1" | head -n 1
}

# json_get_str FILE KEY: a string value (no unescaping).
json_get_str() {
	[ -f "$1" ] || return 0
	sed -n 's/.*"'"$2"'"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p' \
		"$1" | head -n 1
}

# assert_json DESC KEY EXPECTED: a key of the last run's summary.
assert_json() {
	local v
	v=$(json_get "$SUMMARY" "$2")
	if [ "$v" = "$3" ]; then
		pass "$1 ($2=$v)"
	else
		fail "$1: expected $2=$3, got '$v'"
		[ -f "$SUMMARY" ] && say "    summary: $(cat "$SUMMARY")"
	fi
}

# assert_summary_keys DESC [KEY...]: the last summary has every counter
# of the contract (and the extra KEYs).
SUMMARY_KEYS="files_scanned files_hashed md5_reused heap_objects_written
heap_objects_present bytes_read bytes_written files_copied files_updated
files_deleted dirs_created files_skipped errors seconds exit_code"
assert_summary_keys() {
	local desc=$1 k missing=
	shift
	for k in $SUMMARY_KEYS "$@"; do
		grep -q "\"$k\"[[:space:]]*:" "$SUMMARY" 2>/dev/null ||
			missing="$missing $k"
	done
	if [ -z "$missing" ]; then
		pass "$desc: the summary has every key"
	else
		fail "$desc: the summary lacks$missing"
	fi
}

# io_modes: the io modes a test runs in.
io_modes() {
	echo "${SNAP_E2E_IO:-sync uring}"
}

# io_usable MODE: can the binary run in this mode here? io_uring may be
# disabled (seccomp, sysctl kernel.io_uring_disabled): then the uring runs
# are skipped, but only when the binary says so ("cannot set up
# io_uring ..."); any other failure runs the tests, which then fail.
E2E_IO_PROBED=
io_usable() {
	local m=$1 d
	case " $E2E_IO_PROBED " in
	*" $m:yes "*) return 0 ;;
	*" $m:no "*) return 1 ;;
	esac
	d=$T/.probe-$m
	mkdir -p "$d/f" "$d/h" "$d/s" || return 1
	echo probe >"$d/f/probe"
	run "$SNAPSHOOTER" --no-progress --io "$m" --file-root "$d/f" \
		--heap-root "$d/h" --snap-root "$d/s" make-snapshot \
		--no-save-snapshot
	if [ "$RC" -eq 1 ] && grep -qiE \
		'set up io_uring|io_uring.*(unavailable|not available|not supported|disabled)' \
		"$ERR"; then
		E2E_IO_PROBED="$E2E_IO_PROBED $m:no"
		say "note: io=$m unavailable here: $(head -n 1 "$ERR")"
		return 1
	fi
	E2E_IO_PROBED="$E2E_IO_PROBED $m:yes"
	return 0
}

# for_each_io FN: run FN once per usable io mode with $IO set.
for_each_io() {
	local m
	for m in $(io_modes); do
		if io_usable "$m"; then
			IO=$m
			say "== io=$IO"
			"$1"
		else
			skip "io=$m (unavailable)"
		fi
	done
}

# new_roots NAME: fresh heap and snapshot roots $T/NAME.heap, $T/NAME.snap.
new_roots() {
	HR=$T/$1.heap
	SR=$T/$1.snap
	rm -rf "$HR" "$SR"
	mkdir -p "$HR" "$SR"
}

# flip_byte FILE OFFSET: damage FILE in place: the byte at OFFSET gets its
# bits inverted, so it always changes (writing a fixed byte leaves random
# content intact once in 256).
flip_byte() {
	local b
	b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
	[ -n "$b" ] || { echo "flip_byte: no byte $2 in $1" >&2; return 1; }
	chmod u+w "$1"
	# shellcheck disable=SC2059
	printf "\\$(printf '%03o' $((255 - b)))" |
		dd of="$1" bs=1 seek="$2" conv=notrunc 2>/dev/null
}

# ---- trees -------------------------------------------------------------

# tree_listing DIR: one NUL-terminated record per entry below DIR, sorted:
# files with mode, size and mtime (ns), symlinks with their target, empty
# and non-empty directories, anything else by type. Directory modes and
# mtimes are not compared: only empty directories are recorded by
# snapshots, and a restore changes their parents.
tree_listing() {
	(cd "$1" && find . -mindepth 1 \
		\( -type f -printf 'f\t%P\t%m\t%s\t%T@\0' \) -o \
		\( -type l -printf 'l\t%P\t%l\0' \) -o \
		\( -type d -empty -printf 'e\t%P\0' \) -o \
		\( -type d -printf 'd\t%P\0' \) -o \
		-printf '%y\t%P\0') | sort -z
}

# tree_md5 DIR: md5sum of every regular file, sorted by name.
tree_md5() {
	(cd "$1" && find . -type f -print0 | sort -z |
		xargs -0 -r md5sum 2>/dev/null)
}

# tree_state DIR: listing + content, as one comparable text.
tree_state() {
	tree_listing "$1" | tr '\0' '\n'
	tree_md5 "$1"
}

# trees_equal A B: 0 if equal (names, types, file modes, sizes, mtimes to
# the ns, contents, symlink targets, empty dirs); else the first
# differences on stdout.
trees_equal() {
	local a=$T/.ta b=$T/.tb
	tree_state "$1" >"$a"
	tree_state "$2" >"$b"
	if cmp -s "$a" "$b"; then
		return 0
	fi
	diff "$a" "$b" | head -n 20 | clip | sed 's/^/    /'
	return 1
}

# assert_trees_equal A B [DESC]
assert_trees_equal() {
	local desc=${3:-"trees $1 and $2 equal"}
	local d
	d=$(trees_equal "$1" "$2")
	if [ $? -eq 0 ]; then
		pass "$desc"
	else
		fail "$desc"
		say "$d"
	fi
}

# tree_md5_equal A B: contents only (every file of A in B with the same
# md5, and no extra file), independent of metadata.
assert_md5_equal() {
	local desc=${3:-"file contents of $1 and $2 equal (md5sum)"}
	if cmp -s <(tree_md5 "$1") <(tree_md5 "$2"); then
		pass "$desc"
	else
		fail "$desc"
		diff <(tree_md5 "$1") <(tree_md5 "$2") | head -n 10 |
			clip | sed 's/^/    /'
	fi
}

# count_files DIR: regular files below DIR (names may hold newlines).
count_files() {
	find "$1" -type f -printf x | wc -c
}

# snapshot_files DIR: the snapshot files below a snapshot root, sorted.
snapshot_files() {
	find "$1" -type f -name '*.msgpack' | sort
}

# heap_objects DIR: the heap object files (<2 hex>/<32 hex>).
heap_objects() {
	find "$1" -type f -regextype posix-extended \
		-regex '.*/[0-9a-f]{2}/[0-9a-f]{32}' 2>/dev/null | sort
}

# distinct_contents DIR: number of distinct file contents in a tree.
distinct_contents() {
	(cd "$1" && find . -type f -print0 | xargs -0 -r md5sum) |
		cut -c1-32 | sort -u | wc -l
}

# heap_verify DIR: every object's md5 equals its name and sits in the
# directory of its first two hex digits; prints the bad ones.
heap_verify() {
	local bad
	if [ ! -d "$1" ]; then
		say "    heap $1 does not exist"
		return 1
	fi
	bad=$(heap_objects "$1" | xargs -r -d '\n' md5sum | awk '{
		name = $2; sub(".*/", "", name)
		dir = $2; sub("/[^/]*$", "", dir); sub(".*/", "", dir)
		if ($1 != name || substr(name, 1, 2) != dir)
			print "md5 " $1 " for " $2
	}')
	if [ -z "$bad" ]; then
		return 0
	fi
	printf '%s\n' "$bad" | head -n 5 | sed 's/^/    bad heap object: /'
	return 1
}

# set_old_mtimes DIR: move every mtime of a tree to a fixed past time,
# distinct per file (ns part), so no file is "racy" for a snapshot taken
# now. Symlinks are left alone.
set_old_mtimes() {
	local i=0 f
	while IFS= read -r -d '' f; do
		i=$((i + 1))
		touch -h -d "@1600000000.$(printf '%09d' \
			$(((i * 1234567) % 1000000000)))" "$f"
	done < <(find "$1" -mindepth 1 -type f -print0)
}

# make_basic_tree DIR: the small tree of the Python tool's tests: text
# files, an empty file, a binary file, nested dirs, an empty dir.
make_basic_tree() {
	local d=$1
	mkdir -p "$d/subdir1/subdir1_1" "$d/subdir2" "$d/empty_dir"
	printf 'hello world\n' >"$d/text_file.txt"
	: >"$d/empty_file.txt"
	printf 'some text in subdir1\n' >"$d/subdir1/file_1.txt"
	printf 'deeper\n' >"$d/subdir1/subdir1_1/file_1_1.txt"
	printf 'second dir\n' >"$d/subdir2/file_2.txt"
	head -c 300000 /dev/urandom >"$d/subdir2/random.bin"
	seq 1 20000 >"$d/subdir2/numbers.txt"
	chmod 0640 "$d/subdir1/file_1.txt"
	chmod 0755 "$d/subdir2/numbers.txt"
}

# long_name N [CHAR]: a name of N bytes.
long_name() {
	local n=$1 c=${2:-a} s=
	while [ ${#s} -lt "$n" ]; do
		s=$s$c
	done
	printf '%s' "${s:0:$n}"
}

# make_awkward_tree DIR: names that break naive tools.
make_awkward_tree() {
	local d=$1 deep i
	mkdir -p "$d" || return 1
	echo spaces >"$d/with  spaces  "
	echo utf8 >"$d/héllo wörld ✓ 日本"
	echo notutf8 >"$d/"$'bad\xff\xfename'
	echo newline >"$d/"$'new\nline'
	echo tab >"$d/"$'tab\there'
	echo dash >"$d/-leading-dash"
	echo dash2 >"$d/--help"
	echo star >"$d/star*?[x]"
	echo bslash >"$d/back\\slash"
	echo quote >"$d/it's \"quoted\""
	: >"$d/empty"
	: >"$d/empty too"
	echo long >"$d/$(long_name 255 L)"
	mkdir -p "$d/$(long_name 255 D)"
	echo inlongdir >"$d/$(long_name 255 D)/$(long_name 255 F)"
	# a path of more than 1,000 bytes: 6 levels of 200-byte dirs
	deep=$d
	for i in 1 2 3 4 5 6; do
		deep=$deep/$(long_name 200 "$i")
	done
	mkdir -p "$deep"
	echo deep >"$deep/deep file"
	mkdir -p "$d/"$'dir\xffx/sub dir'
	echo nested >"$d/"$'dir\xffx/sub dir/f'
	mkdir -p "$d/empty dir "$'\xe9'
	# names that sort differently bytewise and per locale
	echo a >"$d/a"
	echo A >"$d/A"
	echo b >"$d/a.b"
	mkdir -p "$d/a-dir" "$d/a_dir"
	echo c >"$d/a-dir/c"
	echo c >"$d/a_dir/c"
}

# ---- object-store servers (tests/servers) ----------------------------

E2E_SERVERS=()	# state dirs of the servers started by start_server
E2E_PIDS=()	# proxies started by start_kms_proxy

e2e_stop_servers() {
	local s
	[ ${#E2E_PIDS[@]} -eq 0 ] || kill "${E2E_PIDS[@]}" 2>/dev/null
	for s in "${E2E_SERVERS[@]}"; do
		bash "$SNAP_SOURCE_DIR/tests/servers/stop.sh" "$s" >/dev/null 2>&1
	done
}

# start_kms_proxy NAME [stale KEY MD5 ...]: tests/e2e/kms_proxy.py (the
# python3 of need_sdks: it signs some requests again with botocore) in
# front of this test's Swift (SNAP_SWIFT_ENDPOINT), stopped at exit; its
# KMS_PROXY_* variables are taken from the caller's environment. Sets
# PROXY_URL to its endpoint; its request log is $T/.NAME.port.log. Dies
# when it does not start.
start_kms_proxy() {
	local name=$1 port=$T/.$1.port
	shift
	need_sdks
	"$PY" "$SNAP_SOURCE_DIR/tests/e2e/kms_proxy.py" "$port" \
		"${SNAP_SWIFT_ENDPOINT##*:}" "$@" 2>"$T/.$name.log" &
	E2E_PIDS+=($!)
	for _ in $(seq 1 100); do
		[ -s "$port" ] && break
		sleep 0.1
	done
	[ -s "$port" ] ||
		die "kms_proxy.py ($name) did not start: $(cat "$T/.$name.log")"
	PROXY_URL=http://127.0.0.1:$(cat "$port")
}

# shared_server_env NAME: print the env file of the ctest run's shared
# server NAME (tests/servers/shared.sh) and succeed, when there is one and
# the test does not keep its own (E2E_OWN_SERVERS=1).
shared_server_env() {
	[ "${E2E_OWN_SERVERS:-0}" != 1 ] && [ -n "${SNAP_SHARED_SERVERS:-}" ] &&
		[ -f "$SNAP_SHARED_SERVERS/$1.env" ] || return 1
	echo "$SNAP_SHARED_SERVERS/$1.env"
}

# is_shared_state DIR: DIR is the state directory of a shared server,
# which no test may stop.
is_shared_state() {
	[ -n "${SNAP_SHARED_SERVERS:-}" ] && [ -n "$1" ] &&
		grep -qs -F "_STATE=$1" "$SNAP_SHARED_SERVERS"/*.env
}

# start_server NAME [VAR=value...]: start tests/servers/start_NAME.sh
# (swift, azurite, s3rver; the VARs in its environment) on 127.0.0.1,
# source the SNAP_<NAME>_* variables it writes and stop it at exit.
# Without VARs the ctest run's shared server is used when there is one
# (SNAP_SHARED_SERVERS, tests/servers/shared.sh): it is not stopped here,
# and the test keeps to its own bucket names. A test that stops, pauses
# or reconfigures its server sets E2E_OWN_SERVERS=1 first.
# Returns 1 after a skip, or a failure when SNAP_REQUIRE_SERVERS=1, if it
# cannot start.
start_server() {
	local name=$1 env=$T/.$1.env state
	shift
	if [ $# -eq 0 ] && shared_server_env "$name" >/dev/null; then
		. "$SNAP_SHARED_SERVERS/$name.env"
		return 0
	fi
	if ! env "$@" bash "$SNAP_SOURCE_DIR/tests/servers/start_$name.sh" \
		"$env" >"$T/.$name.log" 2>&1; then
		if [ "${SNAP_REQUIRE_SERVERS:-0}" = 1 ]; then
			fail "cannot start $name: $(tail -n 3 "$T/.$name.log")"
		else
			skip "cannot start $name (SNAP_REQUIRE_SERVERS unset)"
		fi
		return 1
	fi
	. "$env"
	state=SNAP_${name^^}_STATE
	E2E_SERVERS+=("${!state}")
	return 0
}

# no_creds: forget every object-store credential of the caller's shell.
no_creds() {
	unset AWS_ENDPOINT_URL AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY \
		AWS_REGION AWS_DEFAULT_REGION AWS_SESSION_TOKEN \
		AZURE_STORAGE_CONNECTION_STRING AZURE_STORAGE_ACCOUNT \
		AZURE_STORAGE_KEY AZURE_STORAGE_SAS_TOKEN AWS_ENDPOINT_URL_S3 \
		AWS_PROFILE AWS_DEFAULT_PROFILE AWS_IGNORE_CONFIGURED_ENDPOINT_URLS \
		AZURE_STORAGE_ACCOUNT_NAME AZURE_STORAGE_ACCOUNT_KEY
	# nor the shared files of the user running the tests
	export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
}

# need_sdks: PY set to a python3 with boto3 and azure.storage.blob
# (Debian's python3-boto3, python3-azure-storage: clients nobody here
# wrote), else skip (exit 77), or fail where servers are required.
need_sdks() {
	local p
	PY=
	for p in /usr/bin/python3 python3; do
		if "$p" -c 'import boto3, azure.storage.blob' 2>/dev/null; then
			PY=$p
			return 0
		fi
	done
	if [ "${CI:-}" = true ] || [ "${SNAP_REQUIRE_SERVERS:-0}" = 1 ]; then
		die "python3 with boto3 and azure.storage.blob missing"
	fi
	echo "SKIP: python3 with boto3 and azure.storage.blob missing"
	exit 77
}

# use_server swift|azurite: start_server, then export only the client
# credentials of that server (s3:// URLs go to Swift's S3 API, az:// to
# Azurite). Returns 1 when it could not start.
use_server() {
	start_server "$1" || return 1
	no_creds
	case $1 in
	swift)
		export AWS_ENDPOINT_URL=$SNAP_SWIFT_ENDPOINT \
			AWS_ACCESS_KEY_ID=$SNAP_SWIFT_KEY \
			AWS_SECRET_ACCESS_KEY=$SNAP_SWIFT_SECRET \
			AWS_REGION=us-east-1 ;;
	azurite)
		export AZURE_STORAGE_CONNECTION_STRING=$SNAP_AZURITE_CONNECTION_STRING ;;
	esac
}
