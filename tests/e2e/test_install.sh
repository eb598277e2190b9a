#!/usr/bin/env bash
# test_install: snapshooter installs like a tool. `cmake --install` of the
# test's own build dir (found from $SNAPSHOOTER) puts the binary in bin/,
# the man page in share/man/man1 (covering every option of every command)
# and the bash completion in share/bash-completion/completions (checked by
# calling the completion function with COMP_WORDS/COMP_CWORD);
# `cpack -G DEB` builds a .deb that declares its runtime dependencies and
# whose binary runs from a fresh root (dpkg -x).
. "$(dirname "$0")/lib.sh"

# the build dir: the nearest parent of the binary with a CMakeCache.txt
build=$(dirname "$SNAPSHOOTER")
while [ "$build" != / ] && [ ! -f "$build/CMakeCache.txt" ]; do
	build=$(dirname "$build")
done
[ -f "$build/CMakeCache.txt" ] || die "no CMake build dir above $SNAPSHOOTER"
strict=0
if [ "${CI:-}" = true ] || [ "${SNAP_REQUIRE_SERVERS:-0}" = 1 ]; then
	strict=1
fi

prefix=$T/prefix
run cmake --install "$build" --prefix "$prefix"
assert_rc "cmake --install into a temp prefix" 0
bin=$prefix/bin/snapshooter
man1=$prefix/share/man/man1/snapshooter.1
comp=$prefix/share/bash-completion/completions/snapshooter
check "the binary is installed in bin/" test -x "$bin"
check "the man page is installed in share/man/man1" test -s "$man1"
check "the bash completion is installed" test -s "$comp"

run env -u LD_LIBRARY_PATH "$bin" --version
assert_rc "the installed binary runs" 0
mkdir -p "$T/src"
echo data >"$T/src/f"
run "$bin" --no-progress --loglevel NONE --file-root "$T/src" \
	--heap-root "$T/heap" --snap-root "$T/snap" make-snapshot
assert_rc "the installed binary makes a snapshot" 0

# the man page renders and names every option of every command
render() {
	if command -v man >/dev/null 2>&1; then
		MANWIDTH=100 man -l "$1" 2>"$T/.man.err"
	else
		groff -man -Tutf8 "$1" 2>"$T/.man.err"
	fi | sed 's/\x08.//g; s/\xe2\x80\x90/-/g; s/\xe2\x88\x92/-/g'
}
render "$man1" >"$T/man.txt"
if [ -s "$T/man.txt" ] && [ ! -s "$T/.man.err" ]; then
	pass "the man page renders without warnings"
else
	fail "the man page does not render cleanly"
	cat "$T/.man.err"
fi
commands=$("$bin" --help | awk '/^Commands:/ { on = 1; next }
	on && /^$/ { exit } on && /^  [a-z]/ && $1 != "help" { print $1 }')
assert_ge "the help lists the commands" 5 "$(echo "$commands" | wc -l)"
missing=
for c in "" $commands; do
	# shellcheck disable=SC2086 # $c is empty for the global help
	for o in $("$bin" $c --help | grep -oE '^  (-[a-z], )?--[a-z0-9-]+' |
		grep -oE -- '--[a-z0-9-]+'); do
		grep -qF -- "$o" "$T/man.txt" || missing="$missing ${c:-global}:$o"
	done
	if [ -n "$c" ] && ! grep -qF "COMMAND: $c" "$T/man.txt"; then
		missing="$missing section:$c"
	fi
done
assert_eq "the man page covers every command and option" "" "$missing"

# bash completion: call the function as bash would
complete_words() {
	# complete_words WORD...: COMPREPLY for the last word, one per line
	bash -c '
		. "$1"; shift
		COMP_WORDS=("$@")
		COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
		_snapshooter
		printf "%s\n" "${COMPREPLY[@]}"' _ "$comp" "$@" 2>&1 | sort
}
assert_eq "commands" "make-snapshot" "$(complete_words snapshooter ma)"
assert_eq "all commands" "$(printf '%s\n' $commands help | sort)" \
	"$(complete_words snapshooter '')"
assert_eq "global options" "--loglevel" "$(complete_words snapshooter --logl)"
assert_eq "choices of --loglevel" "DEBUG INFO" \
	"$(complete_words snapshooter --loglevel '' | grep -E '^(INFO|DEBUG)$' |
		tr '\n' ' ' | sed 's/ $//')"
assert_eq "a value of a global option is skipped" "sync" \
	"$(complete_words snapshooter --file-root /tmp sy)"
assert_eq "per-command options" "--order" \
	"$(complete_words snapshooter --snap-root /s list-snapshots --or)"
assert_eq "choices of a command option" "asc desc" \
	"$(complete_words snapshooter list-snapshots --order '' |
		tr '\n' ' ' | sed 's/ $//')"
assert_eq "--no- forms" "--no-save-snapshot" \
	"$(complete_words snapshooter make-snapshot --no-save)"
assert_eq "sync options" "--checksum" "$(complete_words snapshooter sync --chec)"
assert_eq "a global option is not offered after the command" "" \
	"$(complete_words snapshooter sync --file-ro)"
assert_eq "help COMMAND" "restore-snapshot" \
	"$(complete_words snapshooter help rest)"
mkdir -p "$T/compdir/sub_dir"
assert_eq "file names for a PATH value" "$T/compdir/sub_dir" \
	"$(complete_words snapshooter --file-root "$T/compdir/su")"

# the .deb
if ! command -v cpack >/dev/null 2>&1 ||
	! command -v dpkg-shlibdeps >/dev/null 2>&1; then
	if [ "$strict" = 1 ]; then
		fail "cpack or dpkg-shlibdeps (dpkg-dev) missing"
	else
		skip "cpack or dpkg-shlibdeps (dpkg-dev) missing"
	fi
	finish
fi
run sh -c "cd '$build' && cpack -G DEB -B '$T/pkg'"
assert_rc "cpack -G DEB" 0
deb=$(find "$T/pkg" -maxdepth 1 -name 'snapshooter_*.deb' | head -n 1)
check "a .deb is built" test -f "$deb"
[ -f "$deb" ] || finish
dpkg-deb -I "$deb" >"$T/control"
for field in Package Version Architecture Maintainer Description Section; do
	if grep -q "^ $field: ." "$T/control"; then
		pass "the .deb declares $field"
	else
		fail "the .deb lacks $field"
	fi
done
depends=$(sed -n 's/^ Depends: //p' "$T/control")
for lib in liburing libcurl 'libssl|libcrypto' msgpack expat; do
	if echo "$depends" | grep -qE "$lib"; then
		pass "Depends lists $lib"
	else
		fail "Depends lacks $lib: '$depends'"
	fi
done
dpkg-deb -x "$deb" "$T/root"
check "the .deb holds the man page" test -s "$T/root/usr/share/man/man1/snapshooter.1"
check "the .deb holds the completion" \
	test -s "$T/root/usr/share/bash-completion/completions/snapshooter"
run env -u LD_LIBRARY_PATH "$T/root/usr/bin/snapshooter" --version
assert_rc "the binary of the .deb runs from a fresh root" 0
assert_eq "it prints its version" "snapshooter $(sed -n 's/^ Version: //p' "$T/control")" \
	"$(head -n 1 "$OUT")"

finish
