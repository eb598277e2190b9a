#!/usr/bin/env bash
# test_sync_remote.sh: sync between a local tree and object storage on real
# servers started here on 127.0.0.1: OpenStack Swift's S3 API (verifies
# SigV4 and Content-MD5), Azurite (Shared Key, Content-MD5) and s3rver.
# local -> store -> local round trip is byte-identical; a no-change run
# copies nothing; changes, additions and deletions propagate; --checksum
# uses the MD5 the store knows; store -> store (in one bucket or another
# bucket of the same service: copied by the store, no byte through
# here); nesting refused; wrong
# credentials fail with the URL and HTTP status and no secret.
. "$(dirname "$0")/lib.sh"
# every bucket here is new: the tool creates it (--create-bucket; that a
# missing bucket is refused without it is test_net_failures' part)
export SNAPSHOOTER_CREATE_BUCKET=1

sync_() { run "$SNAPSHOOTER" --no-progress --json-file "$SUMMARY" sync "$@"; }

make_tree() { # dir
	mkdir -p "$1/d/e" "$1/f g"
	printf 'alpha\n' >"$1/a.txt"
	printf 'beta\n' >"$1/d/b.txt"
	head -c 200000 /dev/urandom >"$1/d/e/big.bin"
	printf '' >"$1/empty"
	printf 'space\n' >"$1/f g/h i.txt"
	printf 'utf8\n' >"$1/d/caf$(printf '\xc3\xa9').txt"
	find "$1" -exec touch -h -d '2020-02-02 02:02:02' {} +
}

# one store: URL base
round_trip() { # label url
	local label=$1 url=$2 src=$T/$1.src back=$T/$1.back
	say "== $label: $url"
	make_tree "$src"
	sync_ "$src" "$url"
	assert_rc "$label: local -> store" 0
	assert_eq "$label: files uploaded" 6 "$(json_get "$SUMMARY" files_copied)"
	# a side in a store: the copiers wait on requests, as many as
	# transfers
	run "$SNAPSHOOTER" --no-progress --loglevel DEBUG --jobs 2 \
		--transfers 6 --json-file "$SUMMARY" sync "$src" "$url"
	assert_rc "$label: second run" 0
	assert_err_has "$label: 6 copiers (--transfers), not 2" \
		"sync: 6 copiers"
	assert_eq "$label: no-change run uploads nothing" 0 \
		"$(json_get "$SUMMARY" files_copied)"
	# objects uploaded less than 2 s ago are racy (Last-Modified has whole
	# seconds: one replaced within the same second looks unchanged), and
	# a download of a racy object is fetched again by the next run
	sleep 3  # Swift rounds Last-Modified up to the next second
	sync_ "$url" "$back"
	assert_rc "$label: store -> local" 0
	assert_md5_equal "$src" "$back" "$label: round trip byte-identical"
	sync_ "$url" "$back"
	assert_eq "$label: no-change download copies nothing" 0 \
		"$(json_get "$SUMMARY" files_copied)"

	# change one (same size, newer), add one, delete one
	printf 'ALPHA\n' >"$src/a.txt"
	touch -d '2030-01-01' "$src/a.txt"
	printf 'new\n' >"$src/d/new.txt"
	rm "$src/d/b.txt"
	sync_ "$src" "$url"
	assert_rc "$label: changes up" 0
	assert_eq "$label: 2 uploaded" 2 "$(json_get "$SUMMARY" files_copied)"
	assert_eq "$label: 1 deleted" 1 "$(json_get "$SUMMARY" files_deleted)"
	sync_ "$url" "$back"
	assert_rc "$label: changes down" 0
	assert_md5_equal "$src" "$back" "$label: changes propagated"
	check "$label: deleted file gone locally" test ! -e "$back/d/b.txt"

	# --checksum: same size and date, other bytes: only MD5 sees it
	printf 'BLPHA\n' >"$back/a.txt"
	touch -r "$src/a.txt" "$back/a.txt"
	sync_ --checksum "$url" "$back"
	assert_rc "$label: --checksum down" 0
	assert_eq "$label: --checksum found the changed bytes" 1 \
		"$(json_get "$SUMMARY" files_copied)"
	assert_md5_equal "$src" "$back" "$label: --checksum repaired it"

	# store -> store and nesting
	sync_ "$url" "$url-copy"
	assert_rc "$label: store -> store" 0
	assert_eq "$label: store -> store copies all" 6 \
		"$(json_get "$SUMMARY" files_copied)"
	# one bucket: the store copies, no byte passes through here
	assert_eq "$label: store -> store in one bucket reads no byte" 0 \
		"$(json_get "$SUMMARY" bytes_read)"
	sync_ "$url-copy" "$T/$label.copyback"
	assert_rc "$label: the copies read back" 0
	assert_md5_equal "$src" "$T/$label.copyback" \
		"$label: the copies are the objects"
	# a copy keeps the object's metadata (S3's directive COPY, Azure's
	# Copy Blob): its mtime comes back
	assert_eq "$label: a copy keeps the source's mtime metadata" \
		"$(stat -c %Y "$src/a.txt")" \
		"$(stat -c %Y "$T/$label.copyback/a.txt")"
	# another bucket of the same service: copied by the store too
	sync_ "$url" "${url/$B/$B-other}"
	assert_rc "$label: store -> another bucket" 0
	assert_json "$label: another bucket: all copied" files_copied 6
	assert_json "$label: another bucket: no byte through here" \
		bytes_read 0
	sync_ "${url/$B/$B-other}" "$T/$label.otherback"
	assert_rc "$label: the other bucket read back" 0
	assert_md5_equal "$src" "$T/$label.otherback" \
		"$label: the other bucket holds the objects"
	sync_ "$url" "$url/inside"
	assert_rc "$label: nested destination refused" 1
	assert_err_has "$label: says why" "one is inside the other"

	# dry run changes nothing
	rm "$src/empty"
	sync_ --dry-run "$src" "$url"
	assert_rc "$label: dry run" 0
	check "$label: dry run plans the delete" grep -q '^delete empty' "$OUT"
	sync_ "$url" "$T/$label.check"
	check "$label: dry run deleted nothing" test -e "$T/$label.check/empty"
}

# the shared servers outlive a run: a name of this run only
B=e2esync-$$
if use_server swift; then
	round_trip swift "s3://$B/pre"
	AWS_SECRET_ACCESS_KEY=wrong-secret-value sync_ "$T/swift.src" \
		"s3://$B/x"
	assert_rc "swift: wrong secret fails" 1
	assert_err_has "swift: names the URL" "s3://$B"
	assert_err_has "swift: names the HTTP status" "403"
	check "swift: no secret in the message" \
		bash -c "! grep -q wrong-secret-value '$ERR'"
fi

if use_server azurite; then
	round_trip azurite "az://$B/pre"
fi

if start_server s3rver; then
	no_creds
	export AWS_ENDPOINT_URL=$SNAP_S3RVER_ENDPOINT \
		AWS_ACCESS_KEY_ID=$SNAP_S3RVER_KEY \
		AWS_SECRET_ACCESS_KEY=$SNAP_S3RVER_SECRET
	round_trip s3rver "s3://$B/pre"

	# a local file that changes during each upload is uploaded again,
	# three times, then the run fails naming it (the appender changes
	# it every 10 ms; an upload of 64 MiB spans many appends). Just
	# under the multipart threshold: one PUT each time. Past it (70 MB,
	# 5 parts read at different times): each upload is aborted before
	# it completes, so no torn object ever appears.
	for size in 67108000 70000000; do
		rm -rf "$T/grow.src"
		mkdir -p "$T/grow.src"
		head -c "$size" /dev/urandom >"$T/grow.src/grow"
		( while :; do printf x >>"$T/grow.src/grow"; sleep 0.01
		  done ) &
		apid=$!
		sync_ "$T/grow.src" "s3://$B/grow$size"
		kill "$apid"
		wait "$apid" 2>/dev/null
		assert_rc "s3rver $size: a file that keeps changing fails" 1
		assert_err_has "s3rver $size: ... saying so" \
			"kept changing while being copied"
		assert_err_has "s3rver $size: ... naming the file under SRC" \
			"$T/grow.src/grow"
	done
	# --bwlimit holds uploads to a store too (it held only downloads
	# and local copies): 3 MiB at 1 MiB/s take at least 3 s, a lower
	# bound that a loaded machine only makes longer
	rm -rf "$T/bw.src"
	mkdir -p "$T/bw.src"
	head -c $((2 << 20)) /dev/urandom >"$T/bw.src/big"
	for i in $(seq 1 16); do
		head -c $((64 << 10)) /dev/urandom >"$T/bw.src/small$i"
	done
	t0=$(date +%s%N)
	sync_ --bwlimit 1M "$T/bw.src" "s3://$B/bw"
	ms=$((($(date +%s%N) - t0) / 1000000))
	assert_rc "s3rver: sync --bwlimit 1M to the store" 0
	check "s3rver: --bwlimit 1M held 3 MiB of uploads to >= 2.5 s ($ms ms)" \
		test "$ms" -ge 2500
	check "s3rver: no torn multipart object was completed" \
		test "$(curl -s -o /dev/null -w '%{http_code}' -I \
			"$SNAP_S3RVER_ENDPOINT/$B/grow70000000/grow")" = 404
fi
finish
