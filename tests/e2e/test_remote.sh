#!/usr/bin/env bash
# test_remote.sh: HEAP_ROOT and SNAP_ROOT on object storage, on real
# servers started here on 127.0.0.1: OpenStack Swift's S3 API (s3://,
# checks SigV4 and Content-MD5), Azurite (az://, Shared Key, Content-MD5)
# and s3rver (s3://, no signature checks: used to tamper with an object and
# to be killed in the middle of an upload). Only the usual environment
# variables carry the credentials. Checks: make-snapshot -> restore into
# an empty dir is identical; an incremental run uploads nothing; list-
# snapshots prints URLs; a tampered object fails the restore naming it;
# wrong credentials fail with the URL and HTTP status and no secret; a
# server killed during an upload leaves no snapshot referencing a missing
# object, and a re-run after the restart completes.
. "$(dirname "$0")/lib.sh"
# every bucket here is new: the tool creates it (--create-bucket; that a
# missing bucket is refused without it is test_net_failures' part)
export SNAPSHOOTER_CREATE_BUCKET=1

servers=$SNAP_SOURCE_DIR/tests/servers
started=()
stop_servers() {
	local s
	for s in "${started[@]}"; do
		is_shared_state "$s" && continue
		bash "$servers/stop.sh" "$s" >/dev/null 2>&1
	done
}
trap 'stop_servers; e2e_cleanup' EXIT

start() { # name [VAR=value...] -> exports its variables, or skips/fails
	local name=$1 env=$T/.$1.env
	shift
	if [ $# -eq 0 ] && env=$(shared_server_env "$name"); then
		. "$env"   # the ctest run's shared server (never stopped here)
		return 0
	fi
	env=$T/.$name.env
	if ! env "$@" bash "$servers/start_$name.sh" "$env" >"$T/.$name.log" 2>&1
	then
		if [ "${SNAP_REQUIRE_SERVERS:-0}" = 1 ]; then
			fail "cannot start $name: $(tail -n 3 "$T/.$name.log")"
		else
			skip "cannot start $name (SNAP_REQUIRE_SERVERS unset)"
		fi
		return 1
	fi
	. "$env"
	return 0
}

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

make_tree() { # dir
	mkdir -p "$1/d/e" "$1/f g" "$1/empty dir"
	printf 'alpha\n' >"$1/a.txt"
	printf 'beta\n' >"$1/d/b.txt"
	printf 'alpha\n' >"$1/d/same-as-a.txt"
	head -c 3000000 /dev/urandom >"$1/d/e/big.bin"
	printf '' >"$1/empty"
	printf 'space\n' >"$1/f g/h i.txt"
	printf 'utf8\n' >"$1/d/caf$(printf '\xc3\xa9').txt"
	ln -s a.txt "$1/link"
	chmod 0640 "$1/d/b.txt"
	find "$1" -exec touch -h -d '2020-02-02 02:02:02' {} +
}

# snapshooter with the current roots; no storage options: the environment
remote() { # cmd args...
	run "$SNAPSHOOTER" --no-progress --file-root "$FR" --heap-root "$HR" \
		--snap-root "$SR" --json-file "$SUMMARY" "$@"
}

same_tree() { # a b -> 0 when contents, types, modes and link targets match
	diff -r --no-dereference "$1" "$2" >/dev/null 2>&1 || return 1
	[ "$(cd "$1" && find . -printf '%p %y %m\n' | sort)" = \
	  "$(cd "$2" && find . -printf '%p %y %m\n' | sort)" ]
}

# the common checks on one store; url: s3://bucket or az://container
store_checks() { # label url
	local label=$1 url=$2 snap n
	say "== $label: $url"
	FR=$T/$label.src
	HR=$url/heap
	SR=$url/snaps
	make_tree "$FR"
	remote make-snapshot
	assert_rc "$label: make-snapshot" 0
	snap=$(head -n 1 "$OUT")
	case $snap in
	"$SR"/20[0-9][0-9]/[01][0-9]/*.msgpack)
		pass "$label: the snapshot is a URL under SNAP_ROOT ($snap)" ;;
	*) fail "$label: snapshot path '$snap'"; show_last ;;
	esac
	# 7 files, 6 distinct contents (a.txt = d/same-as-a.txt)
	assert_json "$label: new objects uploaded" heap_objects_written 6
	assert_json "$label: the duplicate is not uploaded twice" \
		heap_objects_present 1

	remote list-snapshots
	assert_rc "$label: list-snapshots" 0
	assert_eq "$label: list-snapshots prints the URL" "$snap" \
		"$(head -n 1 "$OUT")"

	FR=$T/$label.back
	remote restore-snapshot
	assert_rc "$label: restore into an empty dir" 0
	check "$label: the restored tree is identical" \
		same_tree "$T/$label.src" "$FR"
	# from a heap in a store the writers wait on downloads: as many of
	# them as transfers, not jobs
	FR=$T/$label.back2
	remote --loglevel DEBUG --jobs 2 --transfers 5 restore-snapshot \
		--no-save-snapshot-before --no-save-snapshot-after
	assert_rc "$label: restore with --transfers 5" 0
	assert_err_has "$label: restore runs 5 writers, not 2" \
		"restore: 5 writers"
	check "$label: ... and restores the same tree" \
		same_tree "$T/$label.src" "$FR"

	FR=$T/$label.src
	remote make-snapshot
	assert_rc "$label: incremental make-snapshot" 0
	assert_json "$label: an unchanged tree uploads nothing" \
		heap_objects_written 0
	printf 'changed\n' >"$FR/d/b.txt"
	remote make-snapshot
	assert_rc "$label: make-snapshot after a change" 0
	assert_json "$label: one changed file, one upload" \
		heap_objects_written 1
	remote list-snapshots --order asc
	n=$(wc -l <"$OUT")
	assert_eq "$label: list-snapshots counts 3 snapshots (plus restore's)" \
		yes "$([ "$n" -ge 3 ] && echo yes || echo no)"
	remote compare-snapshots
	assert_rc "$label: compare-snapshots of the last two" 0
	check "$label: compare shows the changed file" grep -q 'd/b.txt' "$OUT"

	# restore the first snapshot by its URL
	FR=$T/$label.back2
	remote restore-snapshot --path "$snap"
	assert_rc "$label: restore-snapshot --path URL" 0
	printf 'beta\n' >"$T/$label.src/d/b.txt"
	touch -d '2020-02-02 02:02:02' "$T/$label.src/d/b.txt" "$T/$label.src/d"
	check "$label: the first snapshot is restored" \
		same_tree "$T/$label.src" "$FR"
}

# a content over the multipart threshold (64 MiB): uploaded in parts,
# restored from the store's heap in parallel ranges written in place
# (objstore_get_file); the restore's MD5 check of every byte applies
big_checks() { # label url
	local label=$1 url=$2
	FR=$T/$label.bigsrc HR=$url/bigheap SR=$url/bigsnaps
	mkdir -p "$FR"
	head -c $((70 << 20)) /dev/urandom >"$FR/big.bin"
	remote make-snapshot
	assert_rc "$label: make-snapshot of a 70 MiB file" 0
	FR=$T/$label.bigback
	remote restore-snapshot --no-save-snapshot-before \
		--no-save-snapshot-after
	assert_rc "$label: restore of a 70 MiB heap object" 0
	check "$label: the large file comes back whole" \
		same_tree "$T/$label.bigsrc" "$FR"
	rm -rf "$T/$label.bigsrc" "$FR"
	HR=$url/heap SR=$url/snaps   # as store_checks left them
}

# --- Swift (s3://, SigV4) ---------------------------------------------
if start swift; then
	started+=("$SNAP_SWIFT_STATE")
	no_creds
	export AWS_ENDPOINT_URL=$SNAP_SWIFT_ENDPOINT \
		AWS_ACCESS_KEY_ID=$SNAP_SWIFT_KEY \
		AWS_SECRET_ACCESS_KEY=$SNAP_SWIFT_SECRET AWS_REGION=us-east-1
	store_checks swift "s3://snapremote-$$"
	big_checks swift "s3://snapremote-$$"
	FR=$T/swift.src
	AWS_SECRET_ACCESS_KEY=wrong-secret-value remote make-snapshot
	assert_rc "swift: wrong credentials fail" 1
	# the shared lock in SNAP_ROOT/locks/ is the first request (before
	# the heap is listed)
	assert_err_has "swift: the message names the URL" "s3://snapremote-$$/snaps/locks/"
	assert_err_has "swift: the message has the HTTP status" "403"
	check "swift: no secret in the message" \
		bash -c "! grep -q wrong-secret-value '$ERR'"
fi

# --- Azurite (az://) --------------------------------------------------
if start azurite; then
	started+=("$SNAP_AZURITE_STATE")
	no_creds
	export AZURE_STORAGE_CONNECTION_STRING=$SNAP_AZURITE_CONNECTION_STRING
	store_checks azurite "az://snapremote-$$"
	big_checks azurite "az://snapremote-$$"
	FR=$T/azurite.src
	bad="DefaultEndpointsProtocol=http;AccountName=$SNAP_AZURITE_ACCOUNT;AccountKey=d3JvbmdzZWNyZXR3cm9uZ3NlY3JldA==;BlobEndpoint=$SNAP_AZURITE_ENDPOINT;"
	AZURE_STORAGE_CONNECTION_STRING=$bad remote list-snapshots
	assert_rc "azurite: wrong credentials fail (list-snapshots)" 1
	assert_err_has "azurite: the message names the URL" "az://snapremote-$$/snaps"
	assert_err_has "azurite: the message has the HTTP status" "403"
	check "azurite: no secret in the message" \
		bash -c "! grep -q d3JvbmdzZWNyZXR3cm9uZ3NlY3JldA '$ERR'"
fi

# --- s3rver: tampering, a killed server, upload rate --------------------
s3data=$T/s3rver-data
mkdir -p "$s3data"
if start s3rver SNAP_S3RVER_DATA="$s3data"; then
	started+=("$SNAP_S3RVER_STATE")
	no_creds
	export AWS_ENDPOINT_URL=$SNAP_S3RVER_ENDPOINT \
		AWS_ACCESS_KEY_ID=$SNAP_S3RVER_KEY \
		AWS_SECRET_ACCESS_KEY=$SNAP_S3RVER_SECRET AWS_REGION=us-east-1
	port=${SNAP_S3RVER_ENDPOINT##*:}
	say "== s3rver: $SNAP_S3RVER_ENDPOINT"
	bucket=snapremote-$$
	FR=$T/s3.src
	HR=s3://$bucket/heap
	SR=s3://$bucket/snaps
	make_tree "$FR"
	remote make-snapshot
	assert_rc "s3rver: make-snapshot" 0

	# tamper: replace the object of a.txt by other bytes (s3rver does not
	# check signatures, so a plain PUT works)
	h=$(md5sum <"$FR/a.txt" | cut -c1-32)
	command -v curl >/dev/null || die "curl is needed to tamper with s3rver"
	curl -sf -X PUT --data-binary 'evil bytes' \
		"$SNAP_S3RVER_ENDPOINT/$bucket/heap/${h:0:2}/$h" >/dev/null
	check "s3rver: the object was overwritten" \
		bash -c "curl -sf '$SNAP_S3RVER_ENDPOINT/$bucket/heap/${h:0:2}/$h' | grep -q evil"
	FR=$T/s3.back
	remote restore-snapshot
	assert_rc "s3rver: a tampered object fails the restore" 1
	assert_err_has "s3rver: the message names the object" "$h"

	# a killed server: a tree of 3000 small files, killed mid-upload
	FR=$T/s3.many
	mkdir -p "$FR"
	for i in $(seq 1 30); do
		mkdir -p "$FR/d$i"
		for j in $(seq 1 100); do
			printf 'file %s %s\n' "$i" "$j" >"$FR/d$i/f$j"
		done
	done
	HR=s3://$bucket/heap2
	SR=s3://$bucket/snaps2
	"$SNAPSHOOTER" --no-progress --retries 1 --file-root "$FR" \
		--heap-root "$HR" --snap-root "$SR" make-snapshot \
		>"$T/.kill.out" 2>"$T/.kill.err" &
	pid=$!
	# wait for the first objects to land, then kill the server
	for i in $(seq 1 200); do
		[ "$(find "$s3data" -type f 2>/dev/null | wc -l)" -ge 200 ] &&
			break
		sleep 0.05
	done
	bash "$servers/stop.sh" "$SNAP_S3RVER_STATE" >/dev/null 2>&1
	started=("${started[@]/$SNAP_S3RVER_STATE}")
	wait "$pid"
	krc=$?
	say "info: make-snapshot during the kill exited $krc: $(tail -n 1 "$T/.kill.err")"
	if [ "$krc" = 0 ]; then
		skip "s3rver: the upload finished before the kill"
	else
		assert_eq "s3rver: killed server: a clean failure (exit 1)" 1 "$krc"
		check "s3rver: the message names the store" \
			grep -q "s3://$bucket/heap2" "$T/.kill.err"
	fi
	# s3rver writes an object as three files, not atomically: a kill can
	# leave torn ones, which its listing then fails on (HTTP 500), or an
	# object whose bytes are short of its .md5 and metadata (s3rver
	# writes those once the body is read, before its write stream is
	# flushed: a restore after the re-run then found a heap object
	# "corrupt", rightly). A real store never shows a partial object, so
	# drop the torn files before the restart.
	find "$s3data" -name '*._S3rver_object' | while read -r o; do
		m=${o%._S3rver_object}._S3rver_metadata.json
		if [ ! -s "$m" ] || [ ! -s "$o.md5" ] ||
			[ "$(tail -c 2 "$m" | tr -d '\n')" != "}" ] ||
			[ "$(md5sum <"$o" | cut -c1-32)" != \
			  "$(tr -d '"\n ' <"$o.md5")" ]; then
			rm -f "$o" "$m" "$o.md5"
		fi
	done
	# restart with the same data on the same port
	if start s3rver SNAP_S3RVER_DATA="$s3data" SNAP_PORT="$port"; then
		started+=("$SNAP_S3RVER_STATE")
		FR=$T/s3.many
		remote list-snapshots --limit 1000
		assert_rc "s3rver: list-snapshots after the restart" 0
		if [ "$krc" != 0 ]; then
			assert_eq "s3rver: the failed run saved no snapshot" 0 \
				"$(wc -l <"$OUT")"
		fi
		remote make-snapshot
		assert_rc "s3rver: the re-run completes" 0
		FR=$T/s3.many.back
		remote restore-snapshot
		assert_rc "s3rver: restore after the re-run" 0
		check "s3rver: the restored tree is identical" \
			same_tree "$T/s3.many" "$FR"

		# upload rate: 2000 small files into an empty heap
		FR=$T/s3.rate
		mkdir -p "$FR"
		for i in $(seq 1 20); do
			mkdir -p "$FR/d$i"
			for j in $(seq 1 100); do
				printf 'rate %s %s %s\n' "$i" "$j" "$$" >"$FR/d$i/f$j"
			done
		done
		HR=s3://$bucket/heap3
		SR=s3://$bucket/snaps3
		t0=$(date +%s.%N)
		remote make-snapshot
		t1=$(date +%s.%N)
		assert_rc "s3rver: make-snapshot of 2000 small files" 0
		assert_json "s3rver: 2000 objects uploaded" heap_objects_written 2000
		say "info: 2000 small files to s3rver in $(awk "BEGIN { print $t1 - $t0 }") s"

		# --heap-cache-file: written after a successful run, then used
		# instead of listing the heap
		remote --heap-cache-file "$T/heap.cache" --loglevel info \
			make-snapshot
		assert_rc "s3rver: make-snapshot writing a heap cache" 0
		check "s3rver: the heap cache file exists" test -s "$T/heap.cache"
		printf 'one more\n' >"$FR/d1/new"
		remote --heap-cache-file "$T/heap.cache" --loglevel info \
			make-snapshot
		assert_rc "s3rver: make-snapshot with the heap cache" 0
		assert_err_has "s3rver: the heap came from the cache" \
			"2000 objects from the cache"
		assert_json "s3rver: only the new file is uploaded" \
			heap_objects_written 1
		printf 'garbage' >"$T/heap.cache"
		remote --heap-cache-file "$T/heap.cache" make-snapshot
		assert_rc "s3rver: a corrupt heap cache is not fatal" 0
		assert_err_has "s3rver: ... it is named in a warning" \
			"heap cache '$T/heap.cache' is corrupt"
		assert_json "s3rver: ... and the listing finds everything" \
			heap_objects_written 0

		# a heap of a few pages is listed flat: its first page reached
		# far past prefix "02/" (2,001 MD5s spread over all 256)
		remote --parallel-heap-listing 3 --loglevel debug make-snapshot
		assert_rc "s3rver: a heap of 2,001 objects, 3 listing threads" 0
		assert_err_has "s3rver: ... is listed flat" \
			"listed flat (2001 keys)"

		# --parallel-heap-listing: the threads listing the heap by
		# prefix (capped at 16), as the Python tool's option. A heap
		# whose first page holds only "00/" keys is listed that way:
		# 1,001 files whose MD5s start with 00
		FR=$T/s3.dense HR=s3://$bucket/heap4 SR=s3://$bucket/snaps4
		python3 - "$FR" <<-'EOF'
		import hashlib, os, sys
		os.makedirs(sys.argv[1])
		i = n = 0
		while n < 1001:
		    b = b"dense %d\n" % i
		    i += 1
		    if hashlib.md5(b).digest()[0] == 0:
		        with open(os.path.join(sys.argv[1], "f%04d" % n), "wb") as f:
		            f.write(b)
		        n += 1
		EOF
		remote make-snapshot
		assert_rc "s3rver: make-snapshot of 1,001 files under heap prefix 00/" 0
		remote --parallel-heap-listing 3 --loglevel debug make-snapshot
		assert_rc "s3rver: --parallel-heap-listing 3" 0
		assert_err_has "s3rver: ... the heap is listed by 3 threads" \
			"with 3 threads"
		PARALLEL_HEAP_LISTING=100 remote --loglevel debug make-snapshot
		assert_rc "s3rver: PARALLEL_HEAP_LISTING=100" 0
		assert_err_has "s3rver: ... capped at 16 threads" \
			"with 16 threads"
	fi
fi

finish
