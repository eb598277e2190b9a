# craft.sh: write snapshot files by hand, for tests that need snapshots
# the engine would never produce (hostile names, duplicates). Pure bash +
# coreutils: MessagePack bytes are emitted with printf, the trailer MD5
# with md5sum. Sourced by test scripts after lib.sh (LC_ALL=C).
#
# The layout follows engine/snapshot/snapshot_format.h (version 1):
#   magic "\x89SNP\r\n\x1a\n", then frames (u32 big-endian length + one
#   MessagePack map with small integer keys): header {0:1, 1:version,
#   2:created_ns, 3:tool}, entries {0:2, 1:name(bin), 2:type, 3:size,
#   4:mtime_ns, 5:mode, 6:md5(bin16) | 10:target(bin)}, trailer {0:3,
#   1:entry count, 2:md5(bin16) of all bytes before the trailer frame}.
#
# Usage:
#   craft_begin FILE
#   craft_file NAME MD5HEX SIZE [MODE] [MTIME_NS]
#   craft_symlink NAME TARGET
#   craft_dir NAME
#   craft_end            (appends the trailer)
# Entries must be given in the engine's order (byte order of the path,
# directories as if their name ended in '/').

CRAFT_OUT=
CRAFT_COUNT=0

# mp_be N BYTES: N as BYTES big-endian bytes.
mp_be() {
	local n=$1 i
	for ((i = $2 - 1; i >= 0; i--)); do
		printf "\\x$(printf '%02x' $(((n >> (8 * i)) & 255)))"
	done
}

# mp_uint N: the shortest MessagePack encoding of a non-negative integer.
mp_uint() {
	local n=$1
	if [ "$n" -lt 128 ]; then
		mp_be "$n" 1
	elif [ "$n" -lt 256 ]; then
		printf '\xcc'
		mp_be "$n" 1
	elif [ "$n" -lt 65536 ]; then
		printf '\xcd'
		mp_be "$n" 2
	elif [ "$n" -lt 4294967296 ]; then
		printf '\xce'
		mp_be "$n" 4
	else
		printf '\xcf'
		mp_be "$n" 8
	fi
}

# mp_bin STRING: a bin object holding the bytes of STRING.
mp_bin() {
	local len
	len=$(printf '%s' "$1" | wc -c)
	if [ "$len" -lt 256 ]; then
		printf '\xc4'
		mp_be "$len" 1
	elif [ "$len" -lt 65536 ]; then
		printf '\xc5'
		mp_be "$len" 2
	else
		printf '\xc6'
		mp_be "$len" 4
	fi
	printf '%s' "$1"
}

# mp_str STRING: a str object (short strings only).
mp_str() {
	local len
	len=$(printf '%s' "$1" | wc -c)
	if [ "$len" -lt 32 ]; then
		mp_be $((0xa0 | len)) 1
	else
		printf '\xd9'
		mp_be "$len" 1
	fi
	printf '%s' "$1"
}

# hex_bytes HEX: raw bytes of a hex string.
hex_bytes() {
	local h=$1 i
	for ((i = 0; i < ${#h}; i += 2)); do
		printf "\\x${h:i:2}"
	done
}

# mp_md5 HEX32: a bin16 object.
mp_md5() {
	printf '\xc4\x10'
	hex_bytes "$1"
}

# craft_frame: read a MessagePack body on stdin, append it as one frame.
craft_frame() {
	local body=$CRAFT_OUT.body len
	cat >"$body"
	len=$(stat -c %s "$body")
	mp_be "$len" 4 >>"$CRAFT_OUT"
	cat "$body" >>"$CRAFT_OUT"
	rm -f "$body"
}

craft_begin() {
	CRAFT_OUT=$1
	CRAFT_COUNT=0
	printf '\x89SNP\r\n\x1a\n' >"$CRAFT_OUT"
	{
		printf '\x84'
		mp_uint 0
		mp_uint 1
		mp_uint 1
		mp_uint 1
		mp_uint 2
		mp_uint 1700000000000000000
		mp_uint 3
		mp_str "craft.sh"
	} | craft_frame
}

# craft_entry_common NKEYS NAME TYPE SIZE MTIME MODE: the shared keys.
craft_entry_common() {
	mp_be $((0x80 | $1)) 1
	mp_uint 0
	mp_uint 2
	mp_uint 1
	mp_bin "$2"
	mp_uint 2
	mp_uint "$3"
	mp_uint 3
	mp_uint "$4"
	mp_uint 4
	mp_uint "$5"
	mp_uint 5
	mp_uint "$6"
}

# craft_file NAME MD5HEX SIZE [MODE] [MTIME_NS]
craft_file() {
	{
		craft_entry_common 7 "$1" 1 "$3" "${5:-1600000000000000000}" \
			"${4:-420}"
		mp_uint 6
		mp_md5 "$2"
	} | craft_frame
	CRAFT_COUNT=$((CRAFT_COUNT + 1))
}

# craft_symlink NAME TARGET
craft_symlink() {
	local len
	len=$(printf '%s' "$2" | wc -c)
	{
		craft_entry_common 7 "$1" 2 "$len" 1600000000000000000 511
		mp_uint 10
		mp_bin "$2"
	} | craft_frame
	CRAFT_COUNT=$((CRAFT_COUNT + 1))
}

# craft_dir NAME: an empty directory.
craft_dir() {
	craft_entry_common 6 "$1" 3 0 1600000000000000000 493 | craft_frame
	CRAFT_COUNT=$((CRAFT_COUNT + 1))
}

craft_end() {
	local sum
	sum=$(md5sum <"$CRAFT_OUT" | cut -c1-32)
	{
		printf '\x83'
		mp_uint 0
		mp_uint 3
		mp_uint 1
		mp_uint "$CRAFT_COUNT"
		mp_uint 2
		mp_md5 "$sum"
	} | craft_frame
}
