#!/usr/bin/env bash
# test_net_failures.sh: object-store failures say what they are, on real
# servers started here on 127.0.0.1 (Swift's S3 API for s3://, Azurite for
# az://) and a listener of our own that accepts connections and never
# answers. Checks: a missing bucket/container is an error naming it and is
# not created (an independent client looks) unless --create-bucket or the
# storage option create_bucket, and one the store refuses to create (2
# characters; s3rver too) fails with the store's answer, not "does not
# exist"; a missing snapshot folder in a bucket that
# exists lists nothing; a store that never answers fails the run within
# its timeouts with "timed out after N s" naming the request, and stops it
# before anything is hashed; a store stopped (SIGSTOP) or whose credentials
# expire in the middle of a make-snapshot fails it, and --json's
# heap_objects_written counts only objects the bucket really holds.
. "$(dirname "$0")/lib.sh"
# its servers are stopped, paused (SIGSTOP) and refuse access on purpose:
# never the shared ones other tests are using
E2E_OWN_SERVERS=1

LPID=
trap '[ -n "$LPID" ] && kill "$LPID" 2>/dev/null; e2e_stop_servers; e2e_cleanup' EXIT

PY=
for p in python3 /usr/bin/python3; do
	if "$p" -c 'import boto3, azure.storage.blob' 2>/dev/null; then
		PY=$p
		break
	fi
done
if [ -z "$PY" ]; then
	if [ "${SNAP_REQUIRE_SERVERS:-0}" = 1 ]; then
		fail "python3 with boto3 and azure-storage-blob is missing"
	else
		skip "python3 with boto3 and azure-storage-blob is missing"
	fi
	finish
fi

# store.py URL exists | count | sas PERMS SECONDS: does the bucket exist
# (yes/no), how many objects are below URL's prefix, a container SAS
# token; boto3 with the AWS_* variables, azure-storage-blob with
# AZURE_STORAGE_CONNECTION_STRING: clients independent of the tool
cat >"$T/store.py" <<'EOF'
import datetime, os, sys
url, cmd, args = sys.argv[1], sys.argv[2], sys.argv[3:]
scheme, rest = url.split("://", 1)
bucket, _, base = rest.partition("/")
base = base.strip("/") + "/" if base.strip("/") else ""
if scheme == "s3":
    import boto3, botocore.config, botocore.exceptions
    s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"],
        region_name="us-east-1",
        config=botocore.config.Config(s3={"addressing_style": "path"}))
    def exists():
        try:
            s3.head_bucket(Bucket=bucket)
            return True
        except botocore.exceptions.ClientError:
            return False
    def count():
        pages = s3.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=base)
        return sum(len(p.get("Contents", [])) for p in pages)
else:
    from azure.storage.blob import (BlobServiceClient,
        ContainerSasPermissions, generate_container_sas)
    svc = BlobServiceClient.from_connection_string(
        os.environ["AZURE_STORAGE_CONNECTION_STRING"])
    cc = svc.get_container_client(bucket)
    def exists(): return cc.exists()
    def count(): return sum(1 for _ in cc.list_blobs(name_starts_with=base))
if cmd == "exists":
    print("yes" if exists() else "no")
elif cmd == "count":
    print(count())
elif cmd == "sas":
    cred = svc.credential
    print(generate_container_sas(cred.account_name, bucket,
        account_key=cred.account_key,
        permission=ContainerSasPermissions.from_string(args[0]),
        expiry=datetime.datetime.now(datetime.timezone.utc) +
            datetime.timedelta(seconds=int(args[1]))))
elif cmd == "policy-sas":
    # a new container with a stored access policy, and a SAS that only
    # names the policy: deleting the policy revokes the SAS at once
    from azure.storage.blob import AccessPolicy
    cc.create_container()
    cc.set_container_access_policy(signed_identifiers={"nf": AccessPolicy(
        permission=ContainerSasPermissions.from_string("racwdl"),
        expiry=datetime.datetime.now(datetime.timezone.utc) +
            datetime.timedelta(hours=1))})
    cred = svc.credential
    print(generate_container_sas(cred.account_name, bucket,
        account_key=cred.account_key, policy_id="nf"))
elif cmd == "revoke-after":
    # wait (bounded) until N objects are below the prefix, then revoke;
    # args[1], when given, is a file created once the SDK is loaded and
    # the first listing made (the caller starts the tool only then)
    import time
    n = count()
    if len(args) > 1:
        open(args[1], "w").close()
    end = time.time() + 120
    while n < int(args[0]) and time.time() < end:
        time.sleep(0.1)
        n = count()
    cc.set_container_access_policy(signed_identifiers={})
    print(count())
EOF
store() { "$PY" "$T/store.py" "$@"; }

FR=$T/tree
mkdir -p "$FR/d"
printf 'alpha\n' >"$FR/a.txt"
printf 'beta\n' >"$FR/d/b.txt"

# snapshooter with the roots HR, SR (and FR) and the summary in $SUMMARY
nf() { # global args... -- command args...
	run "$SNAPSHOOTER" --no-progress --file-root "$FR" --heap-root "$HR" \
		--snap-root "$SR" --json-file "$SUMMARY" "$@"
}

# ---- a missing bucket / container --------------------------------------
# --create-bucket of a name the store refuses (2 characters): the store's
# answer, never "does not exist" (Swift and Azurite refuse the listing
# already, s3rver lists "NoSuchBucket" and refuses the create)
bad_name() { # label scheme
	run "$SNAPSHOOTER" --no-progress sync --create-bucket "$FR" \
		"$2://nf/mirror"
	assert_rc "$1: --create-bucket of a 2-character name fails" 1
	assert_err_has "$1: ... with the store's refusal" "HTTP 400"
	assert_err_has "$1: ... naming it" "'$2://nf/mirror"
	check "$1: ... not as a missing one" \
		bash -c "! grep -q 'does not exist' '$ERR'"
}

missing_bucket() { # label scheme kind
	local label=$1 scheme=$2 kind=$3 b url
	b=nf-missing-$$-$scheme
	url=$scheme://$b
	HR=$url/heap
	SR=$url/snaps
	say "== $label: missing $kind $url"
	nf make-snapshot
	assert_rc "$label: make-snapshot into a missing $kind fails" 1
	assert_err_has "$label: the error names the $kind" \
		"$kind '$b' does not exist at http://127.0.0.1:"
	assert_err_has "$label: the error says how to create it" \
		"create it, or pass --create-bucket"
	assert_eq "$label: --json heap_objects_written" 0 \
		"$(json_get "$SUMMARY" heap_objects_written)"
	assert_eq "$label: the $kind was not created" no "$(store "$url" exists)"
	nf list-snapshots
	assert_rc "$label: list-snapshots of a missing $kind fails" 1
	assert_err_has "$label: list-snapshots names the $kind" \
		"$kind '$b' does not exist"
	run "$SNAPSHOOTER" --no-progress sync "$FR" "$url/mirror"
	assert_rc "$label: sync into a missing $kind fails" 1
	assert_err_has "$label: sync names the $kind" "$kind '$b' does not exist"
	# a dry run previews what the real run would do: without
	# --create-bucket its error, with it a copy of everything
	run "$SNAPSHOOTER" --no-progress sync --dry-run "$FR" "$url/mirror"
	assert_rc "$label: sync --dry-run into a missing $kind fails" 1
	assert_err_has "$label: ... saying how to create it" \
		"create it, or pass --create-bucket"
	run "$SNAPSHOOTER" --no-progress sync --dry-run --create-bucket "$FR" \
		"$url/mirror"
	assert_rc "$label: sync --dry-run --create-bucket previews" 0
	assert_eq "$label: ... a copy of every file" \
		"$(cd "$FR" && find . -type f | wc -l)" \
		"$(grep -c '^copy ' "$OUT")"
	assert_err_has "$label: ... saying the $kind would be created" \
		"a real run would create it"
	assert_eq "$label: still not created" no "$(store "$url" exists)"

	bad_name "$label" "$scheme"

	nf make-snapshot --create-bucket
	assert_rc "$label: make-snapshot --create-bucket" 0
	assert_eq "$label: now the $kind exists" yes "$(store "$url" exists)"
	nf list-snapshots
	assert_rc "$label: list-snapshots" 0
	check "$label: lists the snapshot" grep -q "^$url/snaps/" "$OUT"
	# a snapshot folder that does not exist in a bucket that does
	SR=$url/no-such-folder
	nf list-snapshots
	assert_rc "$label: list-snapshots of a missing folder: no error" 0
	check "$label: ... and lists nothing" test ! -s "$OUT"

	# the storage option instead of --create-bucket
	b=nf-option-$$-$scheme
	url=$scheme://$b
	HR=$url/heap
	SR=$url/snaps
	nf --heap-storage-options '{"create_bucket": true}' \
		--snap-storage-options '{"create_bucket": true}' make-snapshot
	assert_rc "$label: storage option {\"create_bucket\": true}" 0
	assert_eq "$label: it created the $kind" yes "$(store "$url" exists)"
	nf --snap-storage-options '{"create_bucket": "maybe"}' list-snapshots
	assert_rc "$label: a bad create_bucket value is a usage error" 2
}

if start_server swift; then
	(
		export AWS_ENDPOINT_URL=$SNAP_SWIFT_ENDPOINT \
			AWS_ACCESS_KEY_ID=$SNAP_SWIFT_KEY \
			AWS_SECRET_ACCESS_KEY=$SNAP_SWIFT_SECRET AWS_REGION=us-east-1
		missing_bucket swift s3 bucket
		echo "$E2E_PASS $E2E_FAIL $E2E_SKIP" >"$T/.counts"
	)
	read -r p f s <"$T/.counts"
	E2E_PASS=$p E2E_FAIL=$f E2E_SKIP=$s
fi
if start_server azurite; then
	(
		export AZURE_STORAGE_CONNECTION_STRING=$SNAP_AZURITE_CONNECTION_STRING
		missing_bucket azurite az container
		echo "$E2E_PASS $E2E_FAIL $E2E_SKIP" >"$T/.counts"
	)
	read -r p f s <"$T/.counts"
	E2E_PASS=$p E2E_FAIL=$f E2E_SKIP=$s
fi
if start_server s3rver; then
	(
		export AWS_ENDPOINT_URL=$SNAP_S3RVER_ENDPOINT \
			AWS_ACCESS_KEY_ID=$SNAP_S3RVER_KEY \
			AWS_SECRET_ACCESS_KEY=$SNAP_S3RVER_SECRET AWS_REGION=us-east-1
		bad_name s3rver s3
		echo "$E2E_PASS $E2E_FAIL $E2E_SKIP" >"$T/.counts"
	)
	read -r p f s <"$T/.counts"
	E2E_PASS=$p E2E_FAIL=$f E2E_SKIP=$s
fi

# ---- a listener that accepts and never answers -------------------------
# It accepts every connection, reads what comes and never writes: the
# kernel completes the TCP handshake, so only the I/O timeout can end a
# request. It exits by itself after 5 minutes (bounded).
cat >"$T/mute.py" <<'EOF'
import select, socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(128)
print(s.getsockname()[1], flush=True)
conns, end = [s], time.time() + 300
while time.time() < end:
    r, _, _ = select.select(conns, [], [], 1)
    for c in r:
        if c is s:
            conns.append(s.accept()[0])
        elif not c.recv(65536):
            conns.remove(c)
            c.close()
EOF
"$PY" "$T/mute.py" >"$T/.mute.port" &
LPID=$!
for i in $(seq 1 100); do
	[ -s "$T/.mute.port" ] && break
	sleep 0.1
done
port=$(cat "$T/.mute.port")
mute_env=(env AWS_ENDPOINT_URL=http://127.0.0.1:$port AWS_ACCESS_KEY_ID=k
	AWS_SECRET_ACCESS_KEY=s AWS_REGION=us-east-1)
say "== a store at 127.0.0.1:$port that accepts and never answers"
HR=s3://mute/heap
SR=$T/snaps.local
t0=$(date +%s)
run "${mute_env[@]}" "$SNAPSHOOTER" --no-progress --io-timeout 2 \
	--file-root "$FR" --heap-root "$HR" --snap-root "$SR" \
	--json-file "$SUMMARY" make-snapshot
el=$(($(date +%s) - t0))
assert_rc "mute: make-snapshot fails" 1
assert_err_has "mute: the error says it timed out" "timed out after 2 s"
assert_err_has "mute: ... naming the host and the request" \
	"GET http://127.0.0.1:$port/mute"
assert_err_has "mute: ... after 2 attempts (a timeout is retried once)" \
	"2 attempts"
assert_eq "mute: the heap listing failed: nothing hashed" 0 \
	"$(json_get "$SUMMARY" files_hashed)"
# an upper bound, not a speed requirement: 2 attempts x 2 s plus the
# backoff are ~5 s; 60 s proves the run fails instead of hanging
check "mute: failed in $el s (< 60 s)" test "$el" -lt 60

# SNAP_ROOT there: the lock and the snapshot listing are the first
# requests; they stop the run before any hashing
HR=$T/heap.local
SR=s3://mute/snaps
run "${mute_env[@]}" "$SNAPSHOOTER" --no-progress --io-timeout 2 \
	--file-root "$FR" --heap-root "$HR" --snap-root "$SR" \
	--json-file "$SUMMARY" make-snapshot
assert_rc "mute: SNAP_ROOT that never answers fails make-snapshot" 1
assert_err_has "mute: ... timed out" "timed out after 2 s"
assert_eq "mute: ... nothing hashed" 0 "$(json_get "$SUMMARY" files_hashed)"
run "${mute_env[@]}" "$SNAPSHOOTER" --no-progress --io-timeout 2 \
	--snap-root "$SR" list-snapshots
assert_rc "mute: list-snapshots fails" 1
assert_err_has "mute: ... timed out" "timed out after 2 s"

# the defaults (10 s connect, 20 s I/O, a timeout retried once): the
# whole run must end well under a minute. 60 s is the bound that proves
# it fails instead of hanging (it took 366 s before).
HR=s3://mute/heap
SR=$T/snaps.local
t0=$(date +%s)
run "${mute_env[@]}" "$SNAPSHOOTER" --no-progress \
	--file-root "$FR" --heap-root "$HR" --snap-root "$SR" make-snapshot
el=$(($(date +%s) - t0))
assert_rc "mute, default timeouts: make-snapshot fails" 1
assert_err_has "mute, default timeouts: timed out after 20 s" \
	"timed out after 20 s"
check "mute, default timeouts: failed in $el s (< 60 s)" test "$el" -lt 60
kill "$LPID" 2>/dev/null
wait "$LPID" 2>/dev/null
LPID=

# ---- a store that stops in the middle of a make-snapshot ----------------
many_files() { # dir n
	local i
	mkdir -p "$1"
	for i in $(seq 1 "$2"); do
		printf 'content %s %s\n' "$1" "$i"
	done | split -l 1 -a 4 - "$1/f"
}

# Swift's proxy stopped (SIGSTOP) after some objects arrived: requests in
# flight get no answer, the run fails with the timeout, and --json counts
# only the objects it saw stored. Up to 2 x --transfers objects may be
# stored without the tool knowing (the heap has as many puts queued in the
# network stage behind those in flight, which it sends while the first
# wait out their timeout; the proxy took them, then stopped before it
# answered, or finished them after SIGCONT from its socket buffers), never
# the other way round: written <= present <= written + 2 x transfers.
if [ -n "${SNAP_SWIFT_STATE:-}" ]; then
	FR=$T/many.swift
	many_files "$FR" 3000
	b=nf-stop-$$
	HR=s3://$b/heap
	SR=s3://$b/snaps
	proxy=$(cat "$SNAP_SWIFT_STATE/proxy.pid")
	say "== swift: proxy (pid $proxy) stopped in the middle of a make-snapshot"
	(
		export AWS_ENDPOINT_URL=$SNAP_SWIFT_ENDPOINT \
			AWS_ACCESS_KEY_ID=$SNAP_SWIFT_KEY \
			AWS_SECRET_ACCESS_KEY=$SNAP_SWIFT_SECRET AWS_REGION=us-east-1
		before=$(find "$SNAP_SWIFT_STATE" -name '*.data' | wc -l)
		"$SNAPSHOOTER" --no-progress --io-timeout 2 --retries 1 \
			--transfers 4 --file-root "$FR" --heap-root "$HR" \
			--snap-root "$SR" --json-file "$SUMMARY" make-snapshot \
			--create-bucket >"$OUT" 2>"$ERR" &
		pid=$!
		for i in $(seq 1 600); do
			n=$(find "$SNAP_SWIFT_STATE" -name '*.data' | wc -l)
			[ $((n - before)) -ge 300 ] && break
			sleep 0.05
		done
		kill -STOP -- "-$proxy"
		t0=$(date +%s)
		wait "$pid"
		RC=$?
		el=$(($(date +%s) - t0))
		kill -CONT -- "-$proxy"
		sleep 2    # let the proxy finish what it had taken
		present=$(store "$HR" count)
		written=$(json_get "$SUMMARY" heap_objects_written)
		say "info: exit $RC $el s after the stop; heap objects present $present, --json heap_objects_written $written"
		assert_rc "swift stopped: make-snapshot fails" 1
		assert_err_has "swift stopped: timed out after 2 s" \
			"timed out after 2 s"
		assert_err_has "swift stopped: names the request" \
			"PUT http://127.0.0.1:"
		check "swift stopped: written ($written) <= present ($present)" \
			test "${written:-x}" -le "$present"
		check "swift stopped: present ($present) <= written ($written) + 8" \
			test "$present" -le $((${written:-0} + 8))
		check "swift stopped: not everything ($present < 3002)" \
			test "$present" -lt 3002
		# bound, not a speed requirement (see the mute listener)
		check "swift stopped: failed $el s after the stop (< 60 s)" \
			test "$el" -lt 60
		echo "$E2E_PASS $E2E_FAIL $E2E_SKIP" >"$T/.counts"
	)
	read -r p f s <"$T/.counts"
	E2E_PASS=$p E2E_FAIL=$f E2E_SKIP=$s
fi

# start_revoker URL: store.py's revoke-after 300 on URL's container in
# the background (rpid), ready (its SDK loaded, a first listing made)
# before the tool starts: else 4,000 small PUTs could all be done before
# it looks. Its count at the revocation goes to $T/revoke.out.
start_revoker() {
	rm -f "$T/revoke.ready"
	store "$1" revoke-after 300 "$T/revoke.ready" \
		>"$T/revoke.out" 2>"$T/revoke.err" &
	rpid=$!
	for ((i = 0; i < 600; i++)); do
		[ -e "$T/revoke.ready" ] && break
		sleep 0.1
	done
	[ -e "$T/revoke.ready" ] ||
		fail "azurite SAS revoked: the revoker did not start:" \
			"$(tail -n 3 "$T/revoke.err")"
}

# Azurite with a container SAS tied to a stored access policy, deleted
# once 300 objects have arrived: from then on every request is refused
# (403) before anything is written, so the objects the container holds are
# exactly those the tool saw stored.
if [ -n "${SNAP_AZURITE_STATE:-}" ]; then
	FR=$T/many.az
	many_files "$FR" 4000
	b=nf-revoke-$$
	HR=az://$b/heap
	SR=az://$b/snaps
	say "== azurite: the SAS is revoked in the middle of a make-snapshot"
	(
		export AZURE_STORAGE_CONNECTION_STRING=$SNAP_AZURITE_CONNECTION_STRING
		sas=$(store "$HR" policy-sas)
		before=$(store "$HR" count)
		start_revoker "$HR"
		AZURE_STORAGE_CONNECTION_STRING="DefaultEndpointsProtocol=http;AccountName=$SNAP_AZURITE_ACCOUNT;BlobEndpoint=$SNAP_AZURITE_ENDPOINT;SharedAccessSignature=$sas" \
			"$SNAPSHOOTER" --no-progress --retries 1 \
			--file-root "$FR" --heap-root "$HR" --snap-root "$SR" \
			--json-file "$SUMMARY" make-snapshot >"$OUT" 2>"$ERR" &
		pid=$!
		wait "$pid"
		RC=$?
		wait "$rpid"
		at=$(cat "$T/revoke.out")
		present=$(store "$HR" count)
		written=$(json_get "$SUMMARY" heap_objects_written)
		say "info: exit $RC; heap objects before $before, at the revocation $at, present $present, --json heap_objects_written $written"
		assert_rc "azurite SAS revoked: make-snapshot fails" 1
		assert_err_has "azurite SAS revoked: HTTP 403" "HTTP 403"
		assert_eq "azurite SAS revoked: heap_objects_written = objects stored" \
			"$((present - before))" "$written"
		check "azurite SAS revoked: revoked mid-run ($present < 4000)" \
			test "$present" -lt 4000
		echo "$E2E_PASS $E2E_FAIL $E2E_SKIP" >"$T/.counts"
	)
	read -r p f s <"$T/.counts"
	E2E_PASS=$p E2E_FAIL=$f E2E_SKIP=$s

	# the same for sync, whose small uploads go out without a copier
	# waiting on each (sync_async.c): the run fails with the store's
	# answer and --json files_copied counts exactly the blobs stored
	b=nf-revoke-sync-$$
	url=az://$b/mirror
	say "== azurite: the SAS is revoked in the middle of a sync"
	(
		export AZURE_STORAGE_CONNECTION_STRING=$SNAP_AZURITE_CONNECTION_STRING
		sas=$(store "$url" policy-sas)
		start_revoker "$url"
		AZURE_STORAGE_CONNECTION_STRING="DefaultEndpointsProtocol=http;AccountName=$SNAP_AZURITE_ACCOUNT;BlobEndpoint=$SNAP_AZURITE_ENDPOINT;SharedAccessSignature=$sas" \
			"$SNAPSHOOTER" --no-progress --retries 1 \
			--json-file "$SUMMARY" sync "$FR" "$url" >"$OUT" 2>"$ERR"
		RC=$?
		wait "$rpid"
		present=$(store "$url" count)
		copied=$(json_get "$SUMMARY" files_copied)
		say "info: exit $RC; blobs at the revocation $(cat "$T/revoke.out"), present $present, --json files_copied $copied"
		assert_rc "azurite SAS revoked: sync fails" 1
		assert_err_has "azurite SAS revoked: sync says HTTP 403" "HTTP 403"
		assert_eq "azurite SAS revoked: files_copied = blobs stored" \
			"$present" "$copied"
		check "azurite SAS revoked: sync revoked mid-run ($present < 4000)" \
			test "$present" -lt 4000
		echo "$E2E_PASS $E2E_FAIL $E2E_SKIP" >"$T/.counts"
	)
	read -r p f s <"$T/.counts"
	E2E_PASS=$p E2E_FAIL=$f E2E_SKIP=$s

	# a SAS without read: the previous snapshot cannot be fetched; the run
	# stops instead of hashing (or downloading) everything again
	FR=$T/tree
	b=nf-noread-$$
	HR=az://$b/heap
	SR=az://$b/snaps
	say "== azurite: the previous snapshot cannot be read"
	(
		export AZURE_STORAGE_CONNECTION_STRING=$SNAP_AZURITE_CONNECTION_STRING
		nf make-snapshot --create-bucket
		assert_rc "azurite: first make-snapshot" 0
		sas=$(store "$HR" sas acwdl 300)
		AZURE_STORAGE_CONNECTION_STRING="DefaultEndpointsProtocol=http;AccountName=$SNAP_AZURITE_ACCOUNT;BlobEndpoint=$SNAP_AZURITE_ENDPOINT;SharedAccessSignature=$sas" \
			nf make-snapshot
		assert_rc "azurite no read: make-snapshot stops" 1
		assert_err_has "azurite no read: names the snapshot" \
			"cannot open snapshot 'az://$b/snaps/"
		assert_eq "azurite no read: nothing hashed" 0 \
			"$(json_get "$SUMMARY" files_hashed)"
		echo "$E2E_PASS $E2E_FAIL $E2E_SKIP" >"$T/.counts"
	)
	read -r p f s <"$T/.counts"
	E2E_PASS=$p E2E_FAIL=$f E2E_SKIP=$s
fi

finish
