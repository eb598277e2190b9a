#!/usr/bin/env bash
# test_md5: --md5 (env SNAPSHOOTER_MD5). make-snapshot with every MD5
# implementation this CPU has names each heap object by md5sum's digest of
# its content, at MD5 padding boundaries (55, 56, 63, 64, 65 bytes, ...),
# for many small files hashed side by side, for many large ones streamed
# side by side (also handed between workers when fewer CPUs than workers
# may run lanes) and for lone streamed ones; the
# implementations give the same heap; the --json summary and --version
# name the choice; an unknown value or a kernel the CPU lacks is a usage
# error (exit 2). restore-snapshot checks what it copies with each kernel
# and finds damaged objects.
. "$(dirname "$0")/lib.sh"
# this test sets the variable itself (tests/run.sh forces it for a suite)
unset SNAPSHOOTER_MD5

src=$T/src
mkdir -p "$src/b" "$src/c"
# every size around the MD5 block and padding boundaries
for n in 0 1 2 3 54 55 56 57 63 64 65 111 112 119 120 121 127 128 129 \
	191 192 193 255 256 257 1000 4095 4096 4097 65535 65536 65537; do
	head -c "$n" /dev/urandom >"$src/b/size-$n"
done
# enough small files of unequal sizes to fill every lane of a batch
for i in $(seq 1 150); do
	head -c $((i * 37 % 9000)) /dev/urandom >"$src/c/small-$i"
done
# identical contents (one object) and streamed files (> 256 KiB)
for i in 1 2 3; do
	echo "same content" >"$src/c/same-$i"
done
head -c 262145 /dev/urandom >"$src/streamed-1"
head -c 3000000 /dev/urandom >"$src/streamed-2"
# many large files of unequal lengths (block and chunk boundaries among
# them): several at once in a worker's lanes
mkdir -p "$src/large"
for i in $(seq 1 24); do
	head -c $((262144 + i * 87381 + (i % 4) * 55)) /dev/urandom \
		>"$src/large/l-$i"
done
head -c $((1024 * 1024)) /dev/urandom >"$src/large/chunks-4"
want=$(cd "$src" && find . -type f -print0 | xargs -0 md5sum | cut -c1-32 |
	sort -u)

run "$SNAPSHOOTER" --version
assert_rc "--version" 0
auto=$(sed -n 's/^md5: \([a-z0-9]*\) .*/\1/p' "$OUT")
avail=$(sed -n 's/.*available:\(.*\))$/\1/p' "$OUT")
say "info: --md5 auto is '$auto' here; available:$avail"
check "--version names auto's choice" test -n "$auto"
case " $avail " in
*" openssl "*) pass "openssl is always available" ;;
*) fail "openssl not listed as available: '$avail'" ;;
esac

# snap_md5 IMPL ARGS...: snap with --md5 IMPL (a global option)
snap_md5() {
	local impl=$1
	shift
	run "$SNAPSHOOTER" --no-progress --md5 "$impl" --file-root "$FR" \
		--heap-root "$HR" --snap-root "$SR" --json-file "$SUMMARY" "$@"
}

heap_names() {
	heap_objects "$1" | sed 's,.*/,,' | sort
}

first_heap=
first_impl=
for impl in $avail; do
	new_roots "$impl"
	FR=$src
	snap_md5 "$impl" make-snapshot
	assert_rc "--md5 $impl: make-snapshot" 0
	assert_eq "--md5 $impl: the summary names it" "$impl" \
		"$(json_get_str "$SUMMARY" md5)"
	assert_eq "--md5 $impl: one object per distinct md5sum digest" \
		"$want" "$(heap_names "$HR")"
	check "--md5 $impl: every object's content hashes to its name" \
		heap_verify "$HR"
	if [ -z "$first_heap" ]; then
		first_heap=$HR
		first_impl=$impl
	else
		check "--md5 $impl: the same heap as --md5 $first_impl" \
			diff -r "$first_heap" "$HR"
	fi
	mkdir -p "$T/$impl.dst"
	run "$SNAPSHOOTER" --no-progress --md5 "$impl" --file-root "$T/$impl.dst" \
		--heap-root "$HR" --snap-root "$SR" restore-snapshot \
		--no-save-snapshot-before --no-save-snapshot-after
	assert_rc "--md5 $impl: restore-snapshot" 0
	assert_trees_equal "$src" "$T/$impl.dst" "--md5 $impl: round trip"

	# restore checks every byte it copies with the same kernel (many
	# files side by side): a byte flipped in the middle of a streamed
	# object and a short small one are found, named, and not restored;
	# every other file is
	bad=$T/$impl.badheap
	cp -a "$HR" "$bad"
	big=$(heap_objects "$bad" | grep "$(md5sum <"$src/streamed-2" | cut -c1-32)")
	small=$(heap_objects "$bad" | grep "$(md5sum <"$src/b/size-1000" | cut -c1-32)")
	# a byte other than the one there (the content is random)
	old=$(dd if="$big" bs=1 skip=1500000 count=1 2>/dev/null)
	if [ "$old" = X ]; then new=Y; else new=X; fi
	printf '%s' "$new" | dd of="$big" bs=1 seek=1500000 conv=notrunc \
		2>/dev/null
	truncate -s 999 "$small"
	check "--md5 $impl: the objects are damaged" \
		test "$(md5sum <"$big" | cut -c1-32)" != "$(basename "$big")" \
		-a "$(stat -c %s "$small")" = 999
	run "$SNAPSHOOTER" --no-progress --md5 "$impl" --file-root "$T/$impl.bad" \
		--heap-root "$bad" --snap-root "$SR" restore-snapshot --keep-going \
		--no-save-snapshot-before --no-save-snapshot-after
	assert_rc "--md5 $impl: damaged objects fail the restore" 1
	assert_err_has "--md5 $impl: the flipped object is named" \
		"$(basename "$big")"
	assert_err_has "--md5 $impl: the short object is named" \
		"$(basename "$small")"
	check "--md5 $impl: the damaged files are not restored" \
		test ! -e "$T/$impl.bad/streamed-2" -a ! -e "$T/$impl.bad/b/size-1000"
	rm -rf "$T/$impl.good"
	cp -a "$src" "$T/$impl.good"
	rm "$T/$impl.good/streamed-2" "$T/$impl.good/b/size-1000"
	assert_trees_equal "$T/$impl.good" "$T/$impl.bad" \
		"--md5 $impl: every other file restored, no temp left"
done

# the lane pool: at most one worker per usable CPU runs lanes, the others
# hand their large files over. One CPU and 6 workers: one runner hashes
# the 24 large files the others pass it, and the heap is the same; the
# restore queues them all for one worker (the others take them when idle).
if command -v taskset >/dev/null; then
	new_roots pool
	FR=$src
	run taskset -c 0 "$SNAPSHOOTER" --no-progress --jobs 6 \
		--file-root "$FR" --heap-root "$HR" --snap-root "$SR" \
		--json-file "$SUMMARY" make-snapshot
	assert_rc "one CPU, 6 workers: make-snapshot" 0
	assert_eq "one CPU, 6 workers: one object per distinct digest" \
		"$want" "$(heap_names "$HR")"
	check "one CPU, 6 workers: every object hashes to its name" \
		heap_verify "$HR"
	assert_json "one CPU, 6 workers: every file hashed once" \
		files_hashed "$(find "$src" -type f | wc -l)"
	# restore: the large files all go to the one lane worker's queue
	mkdir -p "$T/pool.dst"
	run taskset -c 0 "$SNAPSHOOTER" --no-progress --jobs 6 \
		--file-root "$T/pool.dst" --heap-root "$HR" --snap-root "$SR" \
		restore-snapshot --no-save-snapshot-before \
		--no-save-snapshot-after
	assert_rc "one CPU, 6 workers: restore-snapshot" 0
	assert_trees_equal "$src" "$T/pool.dst" "one CPU, 6 workers: round trip"
else
	say "skip: no taskset (util-linux) for the one-CPU lane pool case"
fi

# auto and the environment variable
new_roots auto
FR=$src
make_snapshot
assert_eq "no --md5: auto's choice is used" "$auto" \
	"$(json_get_str "$SUMMARY" md5)"
check "the choice is logged at INFO" grep -q "MD5 implementation '$auto'" "$ERR"
new_roots env
SNAPSHOOTER_MD5=openssl make_snapshot
assert_eq "SNAPSHOOTER_MD5=openssl is the default of --md5" openssl \
	"$(json_get_str "$SUMMARY" md5)"
assert_eq "SNAPSHOOTER_MD5=openssl: the same heap" "$want" "$(heap_names "$HR")"

# usage errors
SNAPSHOOTER_MD5=sse snap make-snapshot
assert_rc "SNAPSHOOTER_MD5=sse is a usage error" 2
snap_md5 md4 make-snapshot
assert_rc "--md5 md4 is a usage error" 2
for impl in avx512 avx2; do
	case " $avail " in
	*" $impl "*) ;;
	*)
		snap_md5 "$impl" make-snapshot
		assert_rc "--md5 $impl on a CPU without it is a usage error" 2
		assert_err_has "the error says why" "$impl"
		;;
	esac
done

finish
