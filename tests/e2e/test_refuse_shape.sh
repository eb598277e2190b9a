#!/usr/bin/env bash
# test_refuse_shape: a snapshot that cannot exist as one tree (a name
# listed with two types, a path under a file or symlink) is refused
# before anything is written: exit 1, both entries named, the restore
# root unchanged byte for byte and mtime for mtime, no snapshot saved.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/craft.sh"

# root_state DIR: every entry with type, mode, size, mtime, link target
# and content md5 (directories' mtimes included)
root_state() {
	(cd "$1" && find . -printf '%y %m %s %T@ %p -> %l\n' | sort &&
		find . -type f -print0 | sort -z | xargs -0 -r md5sum)
}

# refused_shape DESC FILE WORDS...: restore FILE into a non-empty root
refused_shape() {
	local desc=$1 file=$2 w
	shift 2
	FR=$T/$IO.root
	rm -rf "$FR" && mkdir -p "$FR/sub"
	echo "old zero" >"$FR/0first"
	echo "keep me" >"$FR/keep"
	echo "inner" >"$FR/sub/inner"
	ln -s keep "$FR/link"
	touch -d '@1500000000' "$FR/0first" "$FR/keep" "$FR/sub/inner" \
		"$FR/sub" "$FR"
	root_state "$FR" >"$T/.root.before"
	snapshot_files "$SR" >"$T/.snaps.before"
	snap restore-snapshot --path "$file"
	assert_rc "$desc: refused" 1
	assert_err_has "$desc: the message names the snapshot" \
		"$(basename "$file")"
	for w in "$@"; do
		assert_err_has "$desc: the message names '$w'" "'$w'"
	done
	root_state "$FR" >"$T/.root.after"
	if cmp -s "$T/.root.before" "$T/.root.after"; then
		pass "$desc: root unchanged (bytes, modes, mtimes)"
	else
		fail "$desc: root changed"
		diff "$T/.root.before" "$T/.root.after" | head | sed 's/^/    /'
	fi
	snapshot_files "$SR" >"$T/.snaps.after"
	check "$desc: no snapshot saved" cmp -s "$T/.snaps.before" \
		"$T/.snaps.after"
}

shape() {
	local src=$T/$IO.src c=$T/$IO.crafted m1 m2 s1 s2
	new_roots "$IO"
	rm -rf "$src" "$c" && mkdir -p "$src" "$c"
	echo "payload one" >"$src/one"
	echo "payload number two" >"$src/two"
	FR=$src
	make_snapshot || return
	m1=$(md5sum <"$src/one" | cut -c1-32)
	m2=$(md5sum <"$src/two" | cut -c1-32)
	s1=$(stat -c %s "$src/one")
	s2=$(stat -c %s "$src/two")

	# every case first lists "0first" (a change a half-way restore
	# would already have written) and a sound "b" after the clash

	craft_begin "$c/file-and-dir.msgpack"
	craft_file "0first" "$m1" "$s1"
	craft_file "a" "$m1" "$s1"
	craft_file "a.txt" "$m2" "$s2"
	craft_dir "a"
	craft_file "b" "$m2" "$s2"
	craft_end
	refused_shape "file and directory 'a'" "$c/file-and-dir.msgpack" a

	craft_begin "$c/file-under-symlink.msgpack"
	craft_file "0first" "$m1" "$s1"
	craft_symlink "a" "keep"
	craft_file "a/x" "$m2" "$s2"
	craft_file "b" "$m2" "$s2"
	craft_end
	refused_shape "file under a symlink" "$c/file-under-symlink.msgpack" \
		a a/x

	craft_begin "$c/file-under-file.msgpack"
	craft_file "0first" "$m1" "$s1"
	craft_file "x" "$m1" "$s1"
	craft_file "x-y" "$m1" "$s1"
	craft_file "x/y" "$m2" "$s2"
	craft_end
	refused_shape "file under a file" "$c/file-under-file.msgpack" x x/y

	craft_begin "$c/file-and-symlink.msgpack"
	craft_file "0first" "$m1" "$s1"
	craft_file "keep" "$m1" "$s1"
	craft_symlink "keep" "sub"
	craft_end
	refused_shape "file and symlink 'keep'" "$c/file-and-symlink.msgpack" \
		keep

	# control: the same root restores a sound crafted snapshot
	craft_begin "$c/sound.msgpack"
	craft_file "0first" "$m1" "$s1"
	craft_file "a" "$m1" "$s1"
	craft_file "a.txt" "$m2" "$s2"
	craft_symlink "l" "a"
	craft_file "sub/x" "$m2" "$s2"
	craft_end
	snap restore-snapshot --path "$c/sound.msgpack" \
		--no-save-snapshot-before --no-save-snapshot-after
	assert_rc "sound crafted snapshot restores" 0
	assert_eq "sound: 0first restored" "payload one" \
		"$(cat "$FR/0first" 2>/dev/null)"
}

for_each_io shape
finish
