#!/usr/bin/env bash
# test_python_write: snapshots written in the Python snapshooter's format
# (--snapshot-format jsonl.gz) checked by python3 itself against os.stat
# and the Python tool's own snapshots (the fixture), the auto format, and
# convert-snapshots on a copy of the fixture's history.
. "$(dirname "$0")/lib.sh"

FIXTURE=${SNAP_PY_FIXTURE:-${SNAP_SOURCE_DIR:-.}/../shared/fixtures/python-backup}
if [ ! -d "$FIXTURE/snap" ]; then
	if [ "${CI:-}" = true ] || [ "${SNAP_REQUIRE_SERVERS:-0}" = 1 ]; then
		die "the Python tool's fixture is missing: $FIXTURE"
	fi
	echo "SKIP: the Python tool's fixture is missing: $FIXTURE"
	exit 77
fi
command -v python3 >/dev/null || die "python3 is required (tests/install-deps.sh)"

# check_pysnap SNAPSHOT ROOT: python3 checks every rule of the format;
# prints the problems, exits 1 on any
check_pysnap() {
	python3 - "$1" "$2" "$FIXTURE" <<'PY'
import glob, gzip, hashlib, json, os, stat, sys

snap, root, fixture = sys.argv[1], os.fsencode(sys.argv[2]), sys.argv[3]
bad = []
data = gzip.open(snap, "rb").read()
if data.endswith(b"\n"):
    bad.append("trailing newline")
text = data.decode("ascii")          # ensure_ascii: nothing else
lines = text.split("\n")
fixture_keys = set()
for f in glob.glob(fixture + "/snap/*/*/*.jsonl.gz"):
    for line in gzip.open(f, "rt").read().split("\n"):
        fixture_keys.add(tuple(sorted(json.loads(line))))
if len(fixture_keys) != 1:
    bad.append("fixture key sets: %r" % fixture_keys)
names = []
for line in lines:
    rec = json.loads(line)
    if json.dumps(rec, sort_keys=True) != line:
        bad.append("not json.dumps(sort_keys=True): " + line)
    if (tuple(sorted(rec)),) != tuple(fixture_keys)[:1]:
        bad.append("keys differ from the fixture's: " + line)
    name = rec["name"]
    names.append(name)
    path = os.path.join(root, os.fsencode(name))
    st = os.lstat(path)
    want = {
        "created": st.st_ctime, "gid": st.st_gid, "ino": st.st_ino,
        "islink": False, "mode": st.st_mode, "mtime": st.st_mtime,
        "nlink": st.st_nlink, "size": st.st_size, "type": "file",
        "uid": st.st_uid,
        "md5": hashlib.md5(open(path, "rb").read()).hexdigest(),
    }
    for k, v in want.items():
        if rec.get(k) != v or type(rec.get(k)) != type(v):
            bad.append("%r: %s is %r, os.stat says %r" % (name, k, rec.get(k), v))
if names != sorted(names):
    bad.append("not sorted by name")
files = []
for d, dirs, fs in os.walk(root):
    for f in fs:
        p = os.path.join(d, f)
        if stat.S_ISREG(os.lstat(p).st_mode):
            files.append(os.fsdecode(os.path.relpath(p, root)))
if sorted(files) != sorted(names):
    bad.append("files %r, snapshot %r" % (sorted(files), names))
for b in bad[:20]:
    print(b)
sys.exit(1 if bad else 0)
PY
}

write_format() {
	local src=$T/$IO.src out

	new_roots "$IO"
	rm -rf "$src"
	mkdir -p "$src/d/e/f" "$src/empty dir" || die "cannot build the tree"
	printf 'hello\n' >"$src/d/e/f/deep.txt"
	: >"$src/empty.txt"
	printf 'caf\n' >"$src/caf$(printf '\303\251')_$(printf '\346\227\245')_$(printf '\360\237\230\200').txt"
	printf 'bad\n' >"$src/bad$(printf '\377')name"
	printf 'q"\\\n' >"$src/q\"uote\\ and\ttab"
	printf 'hard\n' >"$src/hard1"
	ln "$src/hard1" "$src/hard2"
	ln -s d "$src/link"
	chmod 0600 "$src/empty.txt"
	touch -d '2001-02-03 04:05:06.123456789' "$src/d/e/f/deep.txt"
	FR=$src
	SNAPSHOT_FORMAT=jsonl.gz make_snapshot || return
	case "$SNAP" in
	*.jsonl.gz) pass "make-snapshot --snapshot-format jsonl.gz wrote $(basename "$SNAP")" ;;
	*) fail "--snapshot-format jsonl.gz wrote $SNAP" ;;
	esac
	out=$(check_pysnap "$SNAP" "$src")
	if [ $? -eq 0 ]; then
		pass "python3: every line is json.dumps(sort_keys=True), sorted, fields = os.stat, keys = the fixture's"
	else
		fail "python3 checks of $SNAP"
		say "$out" | clip | sed 's/^/    /'
	fi
	assert_err_has "warned about what jsonl.gz cannot hold" \
		"1 symlink(s) and 1 empty directory left out"
	[ "$(grep -c 'left out' "$ERR")" = 1 ] &&
		pass "warned once" || fail "warned $(grep -c 'left out' "$ERR") times"

	# auto: the latest snapshot is a .jsonl.gz, so is the next one
	make_snapshot || return
	case "$SNAP" in
	*.jsonl.gz) pass "auto format follows the latest snapshot (jsonl.gz)" ;;
	*) fail "auto format after a jsonl.gz wrote $SNAP" ;;
	esac
	json_get "$SUMMARY" md5_reused >"$T/.reused"
	assert_eq "second jsonl.gz snapshot reused the md5 of the one file older than the first (float times read back)" \
		1 "$(cat "$T/.reused")"
	out=$(check_pysnap "$SNAP" "$src") && pass "second snapshot checked" ||
		{ fail "python3 checks of the second snapshot"; say "$out"; }
	SNAPSHOT_FORMAT=msgpack make_snapshot || return
	case "$SNAP" in
	*.msgpack) pass "SNAPSHOT_FORMAT=msgpack wrote msgpack" ;;
	*) fail "SNAPSHOT_FORMAT=msgpack wrote $SNAP" ;;
	esac
	make_snapshot || return
	case "$SNAP" in
	*.msgpack) pass "auto format follows the latest snapshot (msgpack)" ;;
	*) fail "auto format after a msgpack wrote $SNAP" ;;
	esac
	snap --snapshot-format bogus make-snapshot
	assert_rc "--snapshot-format bogus is a usage error" 2
}

# restore_cmp SNAPSHOT DIR: restore SNAPSHOT into the fresh DIR
restore_to() {
	rm -rf "$2"
	mkdir -p "$2"
	FR=$2
	snap restore-snapshot --path "$1" --no-save-snapshot-before \
		--no-save-snapshot-after
	assert_rc "restore of $(basename "$1")" 0
}

convert() {
	local c=$T/conv sr n old new v
	local -a olds

	rm -rf "$c"
	mkdir -p "$c"
	cp -r "$FIXTURE/snap" "$c/snap" || die "cannot copy the fixture"
	# a heap of this tool's format with every content of the history
	HR=$c/heap
	SR=$c/scratch
	for v in tree-v1 tree-v2; do
		FR=$FIXTURE/$v
		SNAPSHOT_FORMAT=msgpack make_snapshot || return
	done
	SR=$c/snap
	mapfile -t olds < <(find "$SR" -name '*.jsonl.gz' | sort)
	n=${#olds[@]}
	assert_ge "fixture holds Python snapshots" "$n" 2

	snap convert-snapshots --dry-run
	assert_rc "convert-snapshots --dry-run" 0
	assert_eq "dry run lists every snapshot" "$n" "$(grep -c '^would convert ' "$OUT")"
	assert_eq "dry run wrote nothing" 0 "$(find "$SR" -name '*.msgpack' | wc -l)"

	snap convert-snapshots --verify
	assert_rc "convert-snapshots --verify" 0
	assert_eq "converted count" "$n" "$(grep -c '^converted ' "$OUT")"
	assert_eq "one .msgpack per .jsonl.gz" "$n" "$(find "$SR" -name '*.msgpack' | wc -l)"
	assert_eq "the .jsonl.gz files stay" "$n" "$(find "$SR" -name '*.jsonl.gz' | wc -l)"
	assert_eq "no temp file left" 0 "$(find "$SR" -name '.tmp-*' | wc -l)"
	snap list-snapshots --limit 100
	assert_eq "list-snapshots shows each timestamp once, the native one" \
		"$n,$n" "$(grep -c '\.msgpack$' "$OUT"),$(wc -l <"$OUT")"

	for old in "${olds[@]}"; do
		new=${old%.jsonl.gz}.msgpack
		restore_to "$old" "$c/from-old"
		restore_to "$new" "$c/from-new"
		assert_trees_equal "$c/from-old" "$c/from-new" \
			"restore of $(basename "$new") equals restore of $(basename "$old")"
		FR=$c/from-old
		snap restore-snapshot --path "$new" --dry-run \
			--no-save-snapshot-before --no-save-snapshot-after
		# only directory metadata may differ: the original leaves
		# directory mtimes alone, the conversion records one
		assert_eq "restoring $(basename "$new") over the original's restore writes and deletes nothing" \
			"0,0" "$RC,$(grep -vc '^update ' "$OUT")"
		assert_eq "... and updates only directories" "" \
			"$(sed -n 's/^update //p' "$OUT" | while IFS= read -r d; do
				[ -d "$c/from-old/$d" ] || echo "$d"; done)"
		assert_eq "directories of the converted snapshot are not world-writable" \
			0 "$(find "$c/from-new" -type d -perm -o+w | wc -l)"
	done
	assert_md5_equal "$c/from-new" "$FIXTURE/tree-v2" \
		"latest converted snapshot restores tree-v2's contents"

	snap convert-snapshots
	assert_rc "second convert-snapshots" 0
	assert_eq "second run converts nothing" 0 "$(wc -l <"$OUT")"

	# a corrupted history: stop at the bad file, name it, write nothing
	rm -rf "$c/snap"
	cp -r "$FIXTURE/snap" "$c/snap"
	old=${olds[0]}
	head -c 100 "$FIXTURE/snap/${old#"$SR"/}" >"$old"
	snap convert-snapshots
	assert_rc "convert-snapshots of a corrupted .jsonl.gz fails" 1
	assert_err_has "the error names the file" "$(basename "$old")"
	assert_eq "nothing converted after the bad file" \
		0 "$(find "$SR" -name '*.msgpack' | wc -l)"
	assert_eq "no temp file left after the failure" \
		0 "$(find "$SR" -name '.tmp-*' | wc -l)"
}

IO=auto
write_format
convert
finish
