#!/usr/bin/env bash
# bench/run.sh: the peer benchmark of snapshooter. Builds a Release binary,
# generates deterministic corpora on a dedicated ext4 loop file system and
# times snapshooter beside cp, rsync, rclone, restic, md5sum and find on the
# same trees, phase by phase. Prints a Markdown table (also written to
# <outdir>/results.md). Never part of the test suite; never asserts times.
# See bench/README.md.
set -u -o pipefail

usage() {
	cat <<'EOF'
usage: bench/run.sh [options]
  --quick            1 run each, large corpus = 2 x 256 MiB (target < ~10 min)
  --cold             drop the page cache before every timed run (root)
  --corpus LIST      comma list of small,large,mixed,million
                     (default: small,large,mixed,million; --quick: small,large,mixed)
  --runs N           timed runs per (tool, corpus, phase) (default 3, --quick 1)
  --tools LIST       comma list of snapshooter,cp,rsync,rclone,restic,md5sum,
                     find,openssl,python (default: all)
  --scale S          scale file counts and sizes of every corpus (default 1)
  --root DIR         bench root outside the repo (default /var/tmp/snapshooter-bench)
  --outdir DIR       results, logs, build (default <root>/out)
  --snapshooter BIN  use this binary instead of building one
  --no-loop          use a plain directory, not a loop-mounted ext4 image
  --no-install       do not apt-get missing tools
  --timeout S        kill one timed command after S seconds (default 1800)
  --clean            remove the image and corpora cache at exit
  -h, --help         this text
EOF
}

REPO=$(cd "$(dirname "$0")/.." && pwd)
CMDLINE="bench/run.sh${*:+ $*}"
QUICK=0
COLD=0
CORPORA=""
RUNS=""
TOOLS="snapshooter,cp,rsync,rclone,restic,md5sum,find,openssl,python"
SCALE=1
ROOT=/var/tmp/snapshooter-bench
OUTDIR=""
SNAP_BIN=""
USE_LOOP=1
INSTALL=1
TIMEOUT=1800
CLEAN=0

while [ $# -gt 0 ]; do
	case "$1" in
	--quick) QUICK=1 ;;
	--cold) COLD=1 ;;
	--corpus) CORPORA=${2:?}; shift ;;
	--runs) RUNS=${2:?}; shift ;;
	--tools) TOOLS=${2:?}; shift ;;
	--scale) SCALE=${2:?}; shift ;;
	--root) ROOT=${2:?}; shift ;;
	--outdir) OUTDIR=${2:?}; shift ;;
	--snapshooter) SNAP_BIN=${2:?}; shift ;;
	--no-loop) USE_LOOP=0 ;;
	--no-install) INSTALL=0 ;;
	--timeout) TIMEOUT=${2:?}; shift ;;
	--clean) CLEAN=1 ;;
	-h|--help) usage; exit 0 ;;
	*) echo "run.sh: unknown option '$1'" >&2; usage >&2; exit 2 ;;
	esac
	shift
done

if [ -z "$CORPORA" ]; then
	if [ $QUICK = 1 ]; then
		CORPORA=small,large,mixed
	else
		CORPORA=small,large,mixed,million
	fi
fi
[ -n "$RUNS" ] || { [ $QUICK = 1 ] && RUNS=1 || RUNS=3; }
[ -n "$OUTDIR" ] || OUTDIR=$ROOT/out
case "$RUNS" in ''|*[!0-9]*|0) echo "run.sh: bad --runs '$RUNS'" >&2; exit 2 ;; esac
case "$TIMEOUT" in ''|*[!0-9]*|0) echo "run.sh: bad --timeout '$TIMEOUT'" >&2; exit 2 ;; esac
awk -v s="$SCALE" 'BEGIN { exit !(s + 0 > 0 && s + 0 <= 100) }' ||
	{ echo "run.sh: bad --scale '$SCALE'" >&2; exit 2; }
for c in ${CORPORA//,/ }; do
	case "$c" in small|large|mixed|million) ;;
	*) echo "run.sh: unknown corpus '$c'" >&2; exit 2 ;; esac
done
for t in ${TOOLS//,/ }; do
	case "$t" in snapshooter|cp|rsync|rclone|restic|md5sum|find|openssl|python) ;;
	*) echo "run.sh: unknown tool '$t'" >&2; exit 2 ;; esac
done
case "$ROOT" in "$REPO"|"$REPO"/*)
	echo "run.sh: --root must be outside the repository" >&2; exit 2 ;; esac

if [ "$(id -u)" != 0 ]; then
	echo "run.sh: not root: no apt-get, no loop mount, no cache drop" >&2
	INSTALL=0
	USE_LOOP=0
fi

has_tool() { case ",$TOOLS," in *",$1,"*) return 0 ;; esac; return 1; }
has_corpus() { case ",$CORPORA," in *",$1,"*) return 0 ;; esac; return 1; }

log() { printf '[bench %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

mkdir -p "$ROOT" "$OUTDIR" "$OUTDIR/logs" "$OUTDIR/bin" || die "cannot create '$OUTDIR'"
RAW=$OUTDIR/raw.tsv
NOTES=$OUTDIR/notes.txt
: >"$RAW"
: >"$NOTES"
rm -f "$OUTDIR"/logs/*.log "$OUTDIR"/logs/*.diff
note() { printf '%s\n' "$*" >>"$NOTES"; log "note: $*"; }

# ---- peers ---------------------------------------------------------------

install_missing() {
	local pkgs="" cmd pkg
	# command:package (Debian names)
	for pair in cc:gcc cmake:cmake make:make pkg-config:pkg-config \
		    md5sum:coreutils find:findutils timeout:coreutils \
		    mkfs.ext4:e2fsprogs losetup:mount mount:mount \
		    mountpoint:util-linux openssl:openssl \
		    rsync:rsync rclone:rclone restic:restic hyperfine:hyperfine; do
		cmd=${pair%%:*}
		pkg=${pair#*:}
		case "$cmd" in
		rsync|rclone|restic) has_tool "$cmd" || continue ;;
		esac
		command -v "$cmd" >/dev/null 2>&1 || pkgs="$pkgs $pkg"
	done
	[ -n "$pkgs" ] || return 0
	if [ $INSTALL = 0 ]; then
		log "missing packages (not installing):$pkgs"
		return 0
	fi
	log "installing:$pkgs"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >"$OUTDIR/logs/apt.txt" 2>&1
	# hyperfine is optional: install the rest even if it is unavailable
	# shellcheck disable=SC2086
	apt-get install -y -qq $pkgs >>"$OUTDIR/logs/apt.txt" 2>&1 ||
		apt-get install -y -qq ${pkgs/hyperfine/} >>"$OUTDIR/logs/apt.txt" 2>&1 ||
		log "apt-get install failed (see $OUTDIR/logs/apt.txt)"
}
install_missing
for t in rsync rclone restic; do
	if has_tool $t && ! command -v $t >/dev/null 2>&1; then
		note "$t is not installed: its rows are skipped"
		TOOLS=$(echo ",$TOOLS," | sed "s/,$t,/,/; s/^,//; s/,\$//")
	fi
done

# ---- helpers: corpus generator and timer ------------------------------------

CFLAGS_BENCH="-O2 -std=gnu11 -Wall -Wextra -I$REPO/engine/base"
GEN=$OUTDIR/bin/gen_corpus
RUNLIM=$OUTDIR/bin/runlim
for prog in gen_corpus runlim; do
	src=$REPO/bench/$prog.c
	bin=$OUTDIR/bin/$prog
	if [ ! -x "$bin" ] || [ "$src" -nt "$bin" ]; then
		# shellcheck disable=SC2086
		cc $CFLAGS_BENCH -o "$bin" "$src" -lpthread -lm ||
			die "cannot compile '$src'"
	fi
done

# ---- snapshooter Release build ------------------------------------------

SNAP_NOTE=""
if has_tool snapshooter; then
	if [ -n "$SNAP_BIN" ]; then
		[ -x "$SNAP_BIN" ] || die "no executable '$SNAP_BIN'"
		SNAP_NOTE="given binary $SNAP_BIN"
	else
		BUILD=$OUTDIR/build-release
		log "building snapshooter (Release) in $BUILD"
		if cmake -S "$REPO" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release \
			 -DSNAP_WERROR=OFF >"$OUTDIR/logs/build.txt" 2>&1 &&
		   cmake --build "$BUILD" -j2 --target snapshooter \
			 >>"$OUTDIR/logs/build.txt" 2>&1; then
			SNAP_BIN=$(find "$BUILD" -name snapshooter -type f -perm -u+x | head -n 1)
		fi
		if [ -z "$SNAP_BIN" ]; then
			note "snapshooter: Release build failed (see $OUTDIR/logs/build.txt): its rows are skipped"
			TOOLS=$(echo ",$TOOLS," | sed "s/,snapshooter,/,/; s/^,//; s/,\$//")
		else
			SNAP_NOTE="Release build of $REPO ($(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$REPO" diff --quiet HEAD 2>/dev/null || echo ', uncommitted changes'))"
		fi
	fi
fi

# ---- the bench file system -----------------------------------------------

IMG=$ROOT/fs.img
MNT=$ROOT/mnt
LOOPDEV=""
FSNOTE=""
BASE=""
SCR=""

# Size for every corpus at this scale (so the cache survives a change of
# --corpus or --quick: the quick "large" is one sixth of the full one):
# sources + 1 mutated copy + 2.5 x the biggest for the destinations, heaps
# and restores of one tool at a time.
size_image() {
	local k line
	SIZE_B=0
	SIZE_I=0
	for k in small large mixed million; do
		line=$("$GEN" params $k --scale "$SCALE") || die "gen_corpus params failed"
		echo "$line"
	done | awk '
	{ files = $4; large = $8
	  if ($2 == "small") b = files * 12288
	  else if ($2 == "large") { b = files * large; extra = b / 6 }
	  else if ($2 == "mixed") b = files * 102400
	  else b = files * 4608
	  sum += b * 1.25; nf += files * 1.1
	  if (b > maxb) maxb = b
	  if (files > maxf) maxf = files }
	END { printf "%.0f %.0f\n", sum + extra + 2.5 * maxb + 2 * 1073741824,
	      nf + 2.5 * maxf + 200000 }' >"$OUTDIR/size.txt"
	read -r SIZE_B SIZE_I <"$OUTDIR/size.txt"
}

cleanup_fs() {
	if [ -n "$BASE" ]; then
		unswap_all
		[ -n "$SCR" ] && rm -rf "$SCR"
	fi
	if [ -n "$LOOPDEV" ]; then
		umount "$MNT" 2>/dev/null || umount -l "$MNT" 2>/dev/null
		losetup -d "$LOOPDEV" 2>/dev/null
		LOOPDEV=""
	fi
	if [ $CLEAN = 1 ]; then
		rm -f "$IMG"
		rm -rf "$ROOT/dir"
	fi
}

setup_loop() {
	local have=0 err
	# a run killed with SIGKILL may have left the mount behind
	if mountpoint -q "$MNT" 2>/dev/null; then
		local dev
		dev=$(findmnt -n -o SOURCE "$MNT")
		umount "$MNT" || return 1
		case "$dev" in /dev/loop*) losetup -d "$dev" 2>/dev/null ;; esac
	fi
	size_image
	[ -f "$IMG" ] && have=$(stat -c %s "$IMG")
	if [ "$have" -lt "$SIZE_B" ] || [ ! -f "$ROOT/fs.ok" ]; then
		log "creating ext4 image $IMG ($((SIZE_B >> 30)) GiB sparse, $SIZE_I inodes)"
		rm -f "$IMG" "$ROOT/fs.ok"
		truncate -s "$SIZE_B" "$IMG" || return 1
		# lazy init + noinit_itable: no background zeroing during runs
		err=$(mkfs.ext4 -q -F -m 0 -N "$SIZE_I" -L snapbench \
			-E lazy_itable_init=1,lazy_journal_init=1 "$IMG" 2>&1) ||
			{ log "mkfs.ext4: $err"; return 1; }
		touch "$ROOT/fs.ok"
	fi
	mkdir -p "$MNT"
	LOOPDEV=$(losetup -f --show --direct-io=on "$IMG" 2>/dev/null) ||
		LOOPDEV=$(losetup -f --show "$IMG" 2>"$OUTDIR/logs/losetup.txt") ||
		{ LOOPDEV=""; log "losetup: $(cat "$OUTDIR/logs/losetup.txt")"; return 1; }
	if ! mount -o noinit_itable "$LOOPDEV" "$MNT" 2>"$OUTDIR/logs/mount.txt"; then
		log "mount: $(cat "$OUTDIR/logs/mount.txt")"
		losetup -d "$LOOPDEV"
		LOOPDEV=""
		return 1
	fi
	local dio
	dio=$(cat "/sys/block/${LOOPDEV#/dev/}/loop/dio" 2>/dev/null || echo 0)
	FSNOTE="ext4 on $LOOPDEV$([ "$dio" = 1 ] && echo ' (direct I/O)'), image $IMG ($(($(stat -c %s "$IMG") >> 30)) GiB sparse) on $(stat -f -c %T "$ROOT") $(findmnt -n -o SOURCE -T "$ROOT" 2>/dev/null)"
	BASE=$MNT
	return 0
}

trap 'cleanup_fs' EXIT
trap 'log "interrupted"; exit 130' INT TERM

if [ $USE_LOOP = 1 ] && setup_loop; then
	:
else
	BASE=$ROOT/dir
	mkdir -p "$BASE"
	FSNOTE="plain directory $BASE on $(stat -f -c %T "$ROOT") (NOT a dedicated ext4 loop file system: $([ $USE_LOOP = 1 ] && echo 'loop mounting is not permitted here' || echo '--no-loop'))"
	note "no loop file system: figures share the file system and cache with the rest of the machine"
fi
SCR=$BASE/scratch
rm -rf "$SCR"
mkdir -p "$SCR" "$BASE/corpora"
log "file system: $FSNOTE"

# ---- corpora ----------------------------------------------------------------

GEN_HASH=$(md5sum <"$REPO/bench/gen_corpus.c" | cut -c1-12)

# unswap: a run killed during a "mutated" phase left tree.mut in place
unswap_one() {
	local c=$1
	if [ -d "$c/tree.orig" ]; then
		[ -d "$c/tree" ] && mv "$c/tree" "$c/tree.mut"
		mv "$c/tree.orig" "$c/tree"
	fi
}
unswap_all() {
	local c
	for c in "$BASE"/corpora/*; do
		[ -d "$c" ] && unswap_one "$c"
	done
}
unswap_all

# corpus_prepare KIND: generate (or reuse) tree and tree.mut; sets
# T_FILES T_BYTES M_FILES M_BYTES.
corpus_prepare() {
	local k=$1 q="" dir params want have="" line other avail total
	[ $QUICK = 1 ] && [ "$k" = large ] && q=--quick
	# one directory per (kind, scale, quick): switching keeps the others
	CDIR=$BASE/corpora/$k-s$SCALE${q:+-quick}
	dir=$CDIR
	params=$("$GEN" params "$k" --scale "$SCALE" $q)
	want="$params gen $GEN_HASH"
	[ -f "$dir/stamp" ] && have=$(head -n 1 "$dir/stamp")
	if [ "$have" != "$want" ] || [ ! -d "$dir/tree" ]; then
		# image short of space: evict the corpora of other scales/modes
		read -r total avail < <(df -B1 --output=size,avail "$BASE" | tail -n 1)
		if [ -n "$LOOPDEV" ] && [ "$avail" -lt $((total * 2 / 5)) ]; then
			for other in "$BASE"/corpora/*; do
				[ -d "$other" ] || continue
				case " $KEEP_DIRS " in *" $other "*) continue ;; esac
				[ "$other" = "$dir" ] && continue
				log "evicting cached corpus $other (space)"
				rm -rf "$other"
			done
		fi
		log "generating corpus $k ($params)"
		rm -rf "$dir"
		mkdir -p "$dir"
		line=$("$GEN" gen "$k" "$dir/tree" --scale "$SCALE" $q --jobs 2) ||
			die "gen_corpus failed for $k"
		if [ "$k" != million ]; then
			# hard links: unchanged files keep inode, mtime and
			# ctime; mutate replaces what it changes (tmp+rename)
			cp -al "$dir/tree" "$dir/tree.mut" || die "cannot copy $k"
			line="$line / $("$GEN" mutate "$dir/tree.mut")" ||
				die "gen_corpus mutate failed for $k"
		fi
		sync
		printf '%s\n%s\n' "$want" "$line" >"$dir/stamp"
	else
		log "corpus $k: cached ($params)"
	fi
	line=$(sed -n 2p "$dir/stamp")
	T_FILES=$(echo "$line" | awk '{ print $2 }')
	T_BYTES=$(echo "$line" | awk '{ print $4 }')
	M_FILES=$(echo "$line" | awk -F' / ' '{ split($2, a, " "); print a[2] }')
	M_BYTES=$(echo "$line" | awk -F' / ' '{ split($2, a, " "); print a[4] }')
	[ -n "$M_FILES" ] || { M_FILES=$T_FILES; M_BYTES=$T_BYTES; }
}

# ---- measuring ----------------------------------------------------------------

CAN_DROP=0
if [ $COLD = 1 ]; then
	if sync && echo 3 >/proc/sys/vm/drop_caches 2>/dev/null; then
		CAN_DROP=1
	else
		note "--cold: dropping the page cache is not permitted here: all figures are warm-cache"
	fi
fi

export RESTIC_PASSWORD=bench
export RCLONE_CONFIG=$OUTDIR/rclone.conf # absent: rclone uses defaults
export GOGC=${GOGC:-100}

# timed LABEL TIDX FAMILY PHASE RUN FILES BYTES -- CMD...: one timed run,
# one line of raw.tsv.
timed() {
	local label=$1 tidx=$2 fam=$3 phase=$4 run=$5 files=$6 bytes=$7
	local res=$OUTDIR/last.res slug logf line wall rss user sys st
	shift 8
	slug=$(echo "$label" | tr -c 'a-zA-Z0-9\n' '_' | cut -c1-40)
	logf=$OUTDIR/logs/$CORPUS.$phase.$slug.$run.log
	# leftover writeback of the untimed set-up must not land in the run
	sync
	[ $CAN_DROP = 1 ] && echo 3 >/proc/sys/vm/drop_caches
	rm -f "$res"
	(cd / && "$RUNLIM" -o "$res" -- timeout -k 10 "$TIMEOUT" "$@") \
		>"$logf" 2>&1 </dev/null
	line=$(cat "$res" 2>/dev/null)
	set -- $line
	wall=${2:-0} rss=${4:-0} user=${6:-0} sys=${8:-0} st=${10:-127}
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
		"$CIDX" "$(phase_idx "$phase")" "$tidx" "$CORPUS" "$phase" \
		"$label" "$fam" "$files" "$bytes" "$run" "$wall" "$rss" \
		"$user" "$sys" "$st" >>"$RAW"
	if [ "$st" = 0 ]; then
		log "$CORPUS $phase: $label run $run: ${wall}s, $((rss / 1024)) MiB"
	else
		log "$CORPUS $phase: $label run $run: FAILED (status $st, log $logf)"
		tail -n 3 "$logf" | sed 's/^/    | /' >&2
	fi
	return 0
}

phase_idx() {
	case "$1" in first) echo 1 ;; nochange) echo 2 ;; mutated) echo 3 ;;
	restore) echo 4 ;; *) echo 9 ;; esac
}

# phase stats: the tree a phase reads (mutated and later: tree.mut)
pfiles() { case "$1" in first|nochange) echo "$T_FILES" ;; *) echo "$M_FILES" ;; esac; }
pbytes() { case "$1" in first|nochange) echo "$T_BYTES" ;; *) echo "$M_BYTES" ;; esac; }

swap_in() { mv "$CDIR/tree" "$CDIR/tree.orig" && mv "$CDIR/tree.mut" "$CDIR/tree"; }
swap_out() { mv "$CDIR/tree" "$CDIR/tree.mut" && mv "$CDIR/tree.orig" "$CDIR/tree"; }

# phases LABEL TIDX FAMILY RESET -- CMD...: RUNS x (reset, then each of
# $PHASES on the same destination). The same CMD serves every phase: the
# tree under $T is swapped for the mutated one before "mutated".
phases() {
	local label=$1 tidx=$2 fam=$3 reset=$4 r ph
	shift 5
	for r in $(seq 1 "$RUNS"); do
		eval "$reset"
		for ph in $PHASES; do
			[ "$ph" = mutated ] && { swap_in || die "swap failed"; }
			timed "$label" "$tidx" "$fam" "$ph" "$r" \
				"$(pfiles $ph)" "$(pbytes $ph)" -- "$@"
			[ "$ph" = mutated ] && { swap_out || die "swap failed"; }
		done
	done
}

# restores LABEL TIDX FILES BYTES TARGET -- CMD...: RUNS x into an empty TARGET
restores() {
	local label=$1 tidx=$2 files=$3 bytes=$4 target=$5 r
	shift 6
	for r in $(seq 1 "$RUNS"); do
		rm -rf "$target"
		mkdir -p "$target"
		timed "$label" "$tidx" restore restore "$r" "$files" "$bytes" -- "$@"
	done
	[ -n "$VERIFY_WANT" ] && verify "$label" restore "$VERIFY_WANT" "$target$VERIFY_SUB"
	VERIFY_WANT=""
	VERIFY_SUB=""
	rm -rf "$target"
}

# verify LABEL PHASE EXPECTED ACTUAL: untimed check that a tool's output
# has the files of the tree it copied (path, size, mode, mtime to the
# second); a mismatch is a note under the table, not a failure.
verify() {
	local label=$1 phase=$2 want=$3 got=$4 n slug
	slug=$(echo "$label" | tr -c 'a-zA-Z0-9\n' '_' | cut -c1-40)
	listing() {
		(cd "$1" && find . -type f -printf '%P %s %m %T@\n') |
			awk '{ sub(/\..*/, "", $4); print }' | LC_ALL=C sort
	}
	n=$(diff <(listing "$want") <(listing "$got") |
		tee "$OUTDIR/logs/verify.$CORPUS.$phase.$slug.diff" |
		awk '/^</ { w[$2] = $0 } /^>/ { g[$2] = $0 }
		END { for (p in w) {
			if (!(p in g)) { miss++; continue }
			split(w[p], a, " "); split(g[p], b, " ")
			if (a[3] != b[3]) size++
			if (a[4] != b[4]) mode++
			if (a[5] != b[5]) mtime++
		      }
		      for (p in g) if (!(p in w)) extra++
		      if (miss + extra + size + mode + mtime)
			printf "%d missing, %d extra, %d size, %d mode, %d mtime", miss, extra, size, mode, mtime }')
	if [ -n "$n" ]; then
		note "$label ($CORPUS, $phase): the output differs from the source: $n differences (logs/verify.$CORPUS.$phase.$slug.diff)"
	else
		rm -f "$OUTDIR/logs/verify.$CORPUS.$phase.$slug.diff"
		VERIFIED="$VERIFIED, $label ($CORPUS $phase)"
	fi
}

last_tree() { [ "$HAS_MUT" = 1 ] && echo "$CDIR/tree.mut" || echo "$CDIR/tree"; }

last_files() { [ "$HAS_MUT" = 1 ] && echo "$M_FILES" || echo "$T_FILES"; }
last_bytes() { [ "$HAS_MUT" = 1 ] && echo "$M_BYTES" || echo "$T_BYTES"; }

bench_corpus() {
	local c=$1 d=$SCR/dst r=$SCR/restore
	T=$CDIR/tree
	if [ "$c" = million ]; then
		PHASES="first nochange"
		HAS_MUT=0
	else
		PHASES="first nochange mutated"
		HAS_MUT=1
	fi
	# cold runs drop the cache anyway: no warm-up
	local trees=tree
	[ $HAS_MUT = 1 ] && trees="tree tree.mut"
	if [ $CAN_DROP = 0 ]; then
		log "corpus $c: warm-up read"
		# shellcheck disable=SC2086
		(cd "$CDIR" && find $trees -type f -print0 |
			xargs -0 -P2 -n 1000 cat >/dev/null)
	fi

	if has_tool snapshooter; then
		local H=$SCR/heap S=$SCR/snaps
		phases "snapshooter make-snapshot" 10 snap \
			'rm -rf "$SCR"/*; mkdir -p "$H" "$S"' -- \
			"$SNAP_BIN" --file-root "$T" --heap-root "$H" \
			--snap-root "$S" --no-progress make-snapshot
		if [ "$c" != million ]; then
			VERIFY_WANT=$(last_tree)
			restores "snapshooter restore-snapshot --no-save-snapshot-before/after" \
				11 "$(last_files)" "$(last_bytes)" "$r" -- \
				"$SNAP_BIN" --file-root "$r" --heap-root "$H" \
				--snap-root "$S" --no-progress restore-snapshot \
				--no-save-snapshot-before --no-save-snapshot-after
			VERIFY_WANT=$(last_tree)
			restores "snapshooter restore-snapshot (defaults)" 12 \
				"$(last_files)" "$(last_bytes)" "$r" -- \
				"$SNAP_BIN" --file-root "$r" --heap-root "$H" \
				--snap-root "$S" --no-progress restore-snapshot
			rm -rf "${SCR:?}"/*
			phases "snapshooter sync" 50 sync \
				'rm -rf "$SCR"/*; mkdir -p "$d"' -- \
				"$SNAP_BIN" --no-progress sync "$T" "$d"
			verify "snapshooter sync" mutated "$(last_tree)" "$d"
		fi
		rm -rf "${SCR:?}"/*
	fi
	if has_tool cp; then
		local save=$PHASES
		PHASES=first
		phases "cp -a" 20 snap 'rm -rf "$SCR"/*; mkdir -p "$d"' -- \
			cp -a "$T/." "$d"
		verify "cp -a" first "$T" "$d"
		# the floor of a durable copy: make-snapshot writes every new
		# byte into the heap and fsyncs it before the snapshot is
		# saved, cp -a leaves its writes to the kernel's writeback
		phases "cp -a, then sync -f (durable copy)" 24 snap \
			'rm -rf "$SCR"/*; mkdir -p "$d"' -- \
			sh -c 'cp -a "$1/." "$2" && sync -f "$2"' sh "$T" "$d"
		PHASES=$save
		if [ "$c" != million ]; then
			VERIFY_WANT=$T
			restores "cp -a" 20 "$T_FILES" "$T_BYTES" \
				"$r" -- cp -a "$d/." "$r"
		fi
		rm -rf "${SCR:?}"/*
	fi
	if has_tool rsync; then
		phases "rsync -a" 21 snap 'rm -rf "$SCR"/*; mkdir -p "$d"' -- \
			rsync -a "$T/" "$d/"
		[ "$c" != million ] && phases "rsync -a --delete" 51 sync \
			'rm -rf "$SCR"/*; mkdir -p "$d"' -- \
			rsync -a --delete "$T/" "$d/"
		[ "$c" != million ] && verify "rsync -a --delete" mutated "$(last_tree)" "$d"
		rm -rf "${SCR:?}"/*
	fi
	if has_tool rclone && [ "$c" != million ]; then
		phases "rclone copy --transfers 8 --checkers 16" 22 snap \
			'rm -rf "$SCR"/*; mkdir -p "$d"' -- \
			rclone copy --transfers 8 --checkers 16 "$T" "$d"
		phases "rclone sync --transfers 8 --checkers 16" 52 sync \
			'rm -rf "$SCR"/*; mkdir -p "$d"' -- \
			rclone sync --transfers 8 --checkers 16 "$T" "$d"
		verify "rclone sync" mutated "$(last_tree)" "$d"
		rm -rf "${SCR:?}"/*
	fi
	if has_tool restic; then
		local repo=$SCR/restic-repo
		export RESTIC_CACHE_DIR=$SCR/restic-cache
		phases "restic backup" 23 snap \
			'rm -rf "$SCR"/*; restic -r "$repo" init >"$OUTDIR/logs/restic-init.txt" 2>&1' -- \
			restic -r "$repo" backup --quiet "$T"
		if [ "$c" != million ]; then
			VERIFY_WANT=$(last_tree)
			VERIFY_SUB=$T
			restores "restic restore" 23 \
				"$(last_files)" "$(last_bytes)" "$r" -- \
				restic -r "$repo" restore latest --target "$r"
		fi
		rm -rf "${SCR:?}"/*
	fi
	if has_tool md5sum; then
		local save=$PHASES per
		PHASES=first
		# half the files per process (at most 1000): with -n 1000
		# alone, the 2 or 6 files of large went to one md5sum
		per=$(( ($(find "$T" -type f | wc -l) + 1) / 2 ))
		[ "$per" -gt 1000 ] && per=1000
		[ "$per" -lt 1 ] && per=1
		phases "md5sum, 2 processes (MD5 bound)" 30 snap ':' -- \
			sh -c 'find "$1" -type f -print0 | xargs -0 -P2 -n "$2" md5sum >/dev/null' \
			sh "$T" "$per"
		PHASES=$save
	fi
	if has_tool find; then
		local save=$PHASES
		PHASES=nochange
		phases "find -printf (stat walk bound)" 31 snap ':' -- \
			find "$T" -fprintf /dev/null '%s %T@ %p\n'
		PHASES=$save
	fi
}

# ---- run ----------------------------------------------------------------------

LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
KEEP_DIRS=""
VERIFIED=""
VERIFY_WANT=""
VERIFY_SUB=""
CIDX=0
for c in small large mixed million; do
	has_corpus $c || continue
	CIDX=$((CIDX + 1))
	CORPUS=$c
	corpus_prepare $c
	KEEP_DIRS="$KEEP_DIRS $CDIR"
	printf '%s\t%s\t%s\t%s\t%s\n' "$c" "$T_FILES" "$T_BYTES" "$M_FILES" "$M_BYTES" \
		>>"$OUTDIR/corpora.tsv.new"
	SAVED_RUNS=$RUNS
	[ $c = million ] && RUNS=1
	bench_corpus $c
	RUNS=$SAVED_RUNS
done
mv -f "$OUTDIR/corpora.tsv.new" "$OUTDIR/corpora.tsv"

# openssl speed: the 2-core MD5 ceiling, as the bound for "large"
if has_tool openssl && has_corpus large; then
	log "openssl speed -evp md5 -multi 2 -seconds 3"
	# last line: "md5 <16 B> ... <16384 B>" in 1000s of bytes per second
	rate=$(openssl speed -evp md5 -multi 2 -seconds 3 2>/dev/null |
		awk '$1 == "md5" { v = $NF } END { sub(/k$/, "", v); print v * 1000 }')
	if [ -n "$rate" ] && [ "$rate" != 0 ]; then
		lf=$(awk '$1 == "large" { print $2 }' "$OUTDIR/corpora.tsv")
		lb=$(awk '$1 == "large" { print $3 }' "$OUTDIR/corpora.tsv")
		cidx=$(awk '$1 == "large" { print NR }' "$OUTDIR/corpora.tsv")
		wall=$(awk -v b="$lb" -v r="$rate" 'BEGIN { printf "%.6f", b / r }')
		printf '%s\t1\t32\tlarge\tfirst\topenssl speed -evp md5 -multi 2 (computed)\tsnap\t%s\t%s\t1\t%s\t0\t0\t0\tcomputed\n' \
			"$cidx" "$lf" "$lb" "$wall" >>"$RAW"
	fi
fi

# the Python tool: figures quoted from the issue, for "small" only (they
# were taken on the full-size corpus)
PY_ROWS=0
if has_tool python && has_corpus small &&
   awk -v s="$SCALE" 'BEGIN { exit !(s + 0 == 1) }'; then
	PY_ROWS=1
	cidx=$(awk '$1 == "small" { print NR }' "$OUTDIR/corpora.tsv")
	sf=$(awk '$1 == "small" { print $2 }' "$OUTDIR/corpora.tsv")
	sb=$(awk '$1 == "small" { print $3 }' "$OUTDIR/corpora.tsv")
	for pw in "first 1 100" "nochange 2 17.5" "restore 4 89"; do
		set -- $pw
		fam=snap
		[ "$1" = restore ] && fam=restore
		printf '%s\t%s\t15\tsmall\t%s\tsnapshooter (Python), quoted from the issue\t%s\t%s\t%s\t1\t%s\t0\t0\t0\tquoted\n' \
			"$cidx" "$2" "$1" "$fam" "$sf" "$sb" "$3" >>"$RAW"
	done
fi

# ---- the table ------------------------------------------------------------------

mem_gib=$(awk '/^MemTotal/ { printf "%.1f", $2 / 1048576 }' /proc/meminfo)
cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
{
	echo "# snapshooter benchmark"
	echo
	echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "- machine: $(nproc) cores ($cpu), ${mem_gib} GiB memory, kernel $(uname -r)"
	echo "- file system: $FSNOTE"
	if [ $COLD = 1 ] && [ $CAN_DROP = 1 ]; then
		echo "- cache: cold (sync; echo 3 > /proc/sys/vm/drop_caches before every timed run)"
	else
		echo "- cache: warm (one untimed warm-up read per corpus; sync before every timed run)$([ $COLD = 1 ] && echo '; --cold was asked but dropping caches is not permitted')"
	fi
	echo "- load average at the start: $LOAD0; at the end: $(cut -d' ' -f1-3 /proc/loadavg) (the machine may be shared)"
	echo "- runs: $RUNS per (tool, corpus, phase), median shown (million: 1 run)"
	echo "- snapshooter: ${SNAP_NOTE:-not measured}"
	echo "- command: \`$CMDLINE\`"
	echo "- corpora:"
	awk -F'\t' '{ printf "  - %s: %d files, %.1f MB", $1, $2, $3 / 1e6
		if ($1 == "million") print " (no mutated phase)"
		else printf "; after mutation %d files, %.1f MB\n", $4, $5 / 1e6 }' "$OUTDIR/corpora.tsv"
	echo
	echo "| tool | corpus | phase | median s | files/s | MB/s | peak RSS MiB | ratio vs snapshooter |"
	echo "|---|---|---|---:|---:|---:|---:|---:|"
	sort -t "$(printf '\t')" -k1,1n -k2,2n -k3,3n -k10,10n "$RAW" | awk -F'\t' '
	function median(s, n,    a, i, j, t, k) {
		k = split(s, a, " ")
		for (i = 2; i <= k; i++) {
			t = a[i] + 0
			for (j = i - 1; j >= 1 && a[j] + 0 > t; j--)
				a[j + 1] = a[j]
			a[j + 1] = t
		}
		if (k % 2) return a[(k + 1) / 2]
		return (a[k / 2] + a[k / 2 + 1]) / 2
	}
	{
		key = $4 SUBSEP $5 SUBSEP $6
		if (!(key in seen)) {
			seen[key] = 1; order[++n] = key
			corpus[key] = $4; phase[key] = $5; tool[key] = $6
			fam[key] = $7; files[key] = $8; bytes[key] = $9
			tidx[key] = $3
		}
		if ($15 == "0" || $15 == "quoted" || $15 == "computed") {
			ok[key] = ok[key] " " $11
			if ($12 + 0 > rss[key]) rss[key] = $12 + 0
			if ($15 != "0") kind[key] = $15
		} else {
			failed[key] = $15
		}
	}
	END {
		for (i = 1; i <= n; i++) {
			k = order[i]
			if (ok[k] != "") med[k] = median(ok[k])
			# the references: snapshooter rows of each family
			if (tidx[k] == 10 || tidx[k] == 11 || tidx[k] == 50)
				if (med[k] > 0) ref[corpus[k], phase[k], fam[k]] = med[k]
		}
		for (i = 1; i <= n; i++) {
			k = order[i]
			t = tool[k]
			if (kind[k] == "quoted") t = t " *"
			if (kind[k] == "computed") t = t " **"
			if (ok[k] == "") {
				printf "| %s | %s | %s | FAILED (status %s) | | | | |\n",
					t, corpus[k], phase[k], failed[k]
				continue
			}
			m = med[k]
			fps = m > 0 ? sprintf("%.0f", files[k] / m) : "-"
			mbs = m > 0 ? sprintf("%.1f", bytes[k] / 1e6 / m) : "-"
			r = (kind[k] == "") ? sprintf("%.1f", rss[k] / 1024) : "-"
			rk = corpus[k] SUBSEP phase[k] SUBSEP fam[k]
			if (tidx[k] == 12) rk = corpus[k] SUBSEP phase[k] SUBSEP "restore"
			ratio = "-"
			if ((rk in ref) && ref[rk] > 0) {
				if (tidx[k] == 10 || tidx[k] == 11 || tidx[k] == 50)
					ratio = "1.00 (ref)"
				else
					ratio = sprintf("%.2f", m / ref[rk])
			}
			if (failed[k] != "") t = t " (some runs failed: " failed[k] ")"
			printf "| %s | %s | %s | %.2f | %s | %s | %s | %s |\n",
				t, corpus[k], phase[k], m, fps, mbs, r, ratio
		}
	}'
	echo
	echo "Phases: first = into an empty destination; nochange = the same command again;"
	echo "mutated = again after 1% of the files changed, 0.5% added, 0.5% deleted"
	echo "(gen_corpus mutate, the same change for every tool); restore = into an empty folder."
	echo "Ratio = tool time / snapshooter time for the same corpus and phase: rows of"
	echo "\`rsync -a --delete\` and \`rclone sync\` compare with \`snapshooter sync\`, restore rows with"
	echo "\`snapshooter restore-snapshot --no-save-…\`, all others with \`snapshooter make-snapshot\`;"
	echo "above 1 means snapshooter is faster. files/s and MB/s = files and bytes of the tree"
	echo "the phase reads / median time (MB = 10^6 bytes). Peak RSS = ru_maxrss of the largest"
	echo "single process of the command (rsync, md5sum and restic run several)."
	if [ $PY_ROWS = 1 ]; then
		echo
		echo "\\* Not measured: the Python snapshooter cannot be installed here (PyPI is not"
		echo "reachable); its figures are quoted from the issue (small: first run 100 s,"
		echo "no-change 17.5 s, restore 89 s) and were taken on another machine."
	fi
	if grep -q computed "$RAW" 2>/dev/null; then
		echo
		echo "\\*\\* Computed, not run: the bytes of \`large\` / the 16 KiB-block rate of"
		echo "\`openssl speed -evp md5 -multi 2 -seconds 3\` (the CPU ceiling of MD5 on 2 cores)."
	fi
	if [ -n "$VERIFIED" ]; then
		echo
		echo "Outputs checked (untimed: path, size, mode, mtime of every file against the source):${VERIFIED#,}."
	fi
	if [ -s "$NOTES" ]; then
		echo
		echo "Notes:"
		sed 's/^/- /' "$NOTES"
	fi
} >"$OUTDIR/results.md"
cat "$OUTDIR/results.md"
log "results: $OUTDIR/results.md (raw: $RAW, logs: $OUTDIR/logs)"
