#!/usr/bin/env bats
# Hostile input: bad queue names, forged handles, things planted in the spool.
load test_helper

ID=1732437600.000123.x7QkT3bZ

# snap - everything below the test's directory: path, type, size, mtime,
# link target; so that "changed nothing" can be checked
snap() {
	find "$BATS_TEST_TMPDIR" -printf '%p|%y|%s|%T@|%l|%n\n' | sort
}

# tmo CMD... - run CMD with a time limit: a tool that spins fails (124)
# instead of hanging the suite
tmo() {
	run timeout 10 "$@"
	if [ "$status" -eq 124 ]; then
		echo "timed out: $*"
	fi
}

# outside - a file outside the spool, to be kept safe: sets OUT
outside() {
	mkdir -p "$BATS_TEST_TMPDIR/outside"
	OUT=$BATS_TEST_TMPDIR/outside/precious
	echo 'precious data' >"$OUT"
	touch -d '2001-02-03 04:05:06' "$OUT"
}

# intact FILE - OUT survives unchanged: content and mtime
intact() {
	[ -f "$1" ] && [ "$(cat "$1")" = 'precious data' ] &&
	    [ "$(stat -c %Y "$1")" = "$(date -d '2001-02-03 04:05:06' +%s)" ]
}

bad_names() {
	BAD=('../x' '..' '.' 'a/b' '/abs' 'q/' 'q/../q' $'new\nline' $'q\n'
	    "$(printf 'n%.0s' $(seq 65))" "$(printf 'n%.0s' $(seq 300))"
	    '-x' '--' '-' '' '.hidden' 'a b' 'a*' 'q;rm' $'tab\t')
}

# --- queue names ---------------------------------------------------------

@test "hostile: bad queue names: every tool refuses with 64, changes nothing" {
	bad_names
	conf max_attempts=1
	mq-put q <<<'x' >/dev/null # a spool with something in it
	before=$(snap)
	for n in "${BAD[@]}"; do
		for cmd in "mq-put --" "mq-get --" "mq-ls --" "mq-ls -s ready --" \
		    "mq-stat --" "mq-stat -j --" "mq-kick --" \
		    "mq-purge -s ready --" "mq-purge -s dead --" "mq-init --" \
		    "mq-pause --" "mq-resume --" "mq-fsck --" "mq-fsck -n --" \
		    "mq-release -a" "mq-work -e --"; do
			run $cmd "$n" </dev/null
			if [ "$status" -ne 64 ]; then
				echo "$cmd '$n': status $status, expected 64"
				return 1
			fi
		done
		# a bad name among good ones
		for cmd in "mq-stat" "mq-init" "mq-pause" "mq-fsck"; do
			run $cmd q -- "$n"
			[ "$status" -eq 64 ] || {
				echo "$cmd q '$n': status $status"
				return 1
			}
		done
	done
	[ "$(snap)" = "$before" ]
	[ ! -e "$BATS_TEST_TMPDIR/x" ]
}

@test "hostile: bad queue names create no spool either" {
	bad_names
	for n in "${BAD[@]}"; do
		run mq-put -- "$n" <<<'x'
		[ "$status" -eq 64 ]
		run mq-init -- "$n"
		[ "$status" -eq 64 ]
	done
	[ ! -e "$S" ]
	[ -z "$(ls -A "$BATS_TEST_TMPDIR" | grep -v '^mq.conf$')" ]
}

@test "hostile: a leading - without -- is an option, still 64" {
	run mq-put -x <<<'x'
	[ "$status" -eq 64 ]
	run mq-get -x
	[ "$status" -eq 64 ]
	[ ! -e "$S" ]
}

@test "hostile: the longest valid name (64) works" {
	q=$(printf 'n%.0s' $(seq 64))
	run mq-put "$q" <<<'x'
	[ "$status" -eq 0 ]
	h=$(mq-get "$q")
	[ "$(cat "$h")" = x ]
	mq-ack "$h"
}

# --- forged handles ------------------------------------------------------

@test "hostile: a handle outside the spool is refused (65), nothing deleted" {
	# a real in-flight message of another spool
	other=$BATS_TEST_TMPDIR/other
	mq-put -d "$other" q <<<'theirs' >/dev/null
	h=$(mq-get -d "$other" -L 1h q)
	mq-init q
	before=$(snap)
	for tool in mq-ack mq-nack mq-touch; do
		run $tool "$h"
		[ "$status" -eq 65 ]
		run $tool <<<"$h"
		[ "$status" -eq 65 ]
	done
	# escaping with .. from inside the spool
	run mq-ack "$S/q/inflight/../../../other/q/inflight/${h##*/}"
	[ "$status" -eq 65 ]
	run mq-nack "$S/../other/q/inflight/${h##*/}"
	[ "$status" -eq 65 ]
	[ "$(snap)" = "$before" ]
	[ "$(cat "$h")" = theirs ]
}

@test "hostile: a handle at a ready or dead file is refused (65), nothing moves" {
	conf max_attempts=1
	mq-put other <<<'dead' >/dev/null
	mq-nack "$(mq-get other)"
	mq-put other <<<'ready' >/dev/null
	mq-put q <<<'mine' >/dev/null
	ready=$(find "$S/other/ready" -type f)
	dead=$(find "$S/other/dead" -type f)
	mine=$(find "$S/q/ready" -type f)
	before=$(snap)
	for p in "$ready" "$dead" "$mine"; do
		for tool in mq-ack mq-nack mq-touch; do
			run $tool "$p"
			[ "$status" -eq 65 ]
		done
	done
	# the same name under inflight/ is no message either
	run mq-ack "$S/other/inflight/${ready##*/}"
	[ "$status" -eq 65 ]
	[ "$(snap)" = "$before" ]
}

@test "hostile: malformed and odd handles are refused (65)" {
	mq-put q <<<'x' >/dev/null
	h=$(mq-get -L 1h q)
	n=${h##*/}
	before=$(snap)
	long=$S/q/inflight/$(printf 'a%.0s' $(seq 5000))/$n
	for p in "$S/q/inflight/junk" "$S/q/inflight/$ID" "$S/q/inflight/$ID,p4,a1" \
	    "$S/q/inflight/$n,zz" "$S/q/inflight/" "$S/q/inflight" "$S/q" "$S" / \
	    "$n" "inflight/$n" "$S/q/tmp/$n" "$S/q/lock" "$long" \
	    "$S/q/inflight/$n/" "$S/q/inflight/./$n/."; do
		for tool in mq-ack mq-nack mq-touch; do
			run $tool "$p"
			[ "$status" -eq 65 ] || {
				echo "$tool '$p': status $status"
				return 1
			}
		done
	done
	[ "$(snap)" = "$before" ]
	# the real handle still works
	mq-ack "$h"
}

@test "hostile: a symlink planted in inflight/ is refused (65), target survives" {
	outside
	mq-init q
	link=$S/q/inflight/$ID,p4,a1,s14,tABCDEFGH
	ln -s "$OUT" "$link"
	before=$(snap)
	for tool in mq-ack mq-nack mq-touch; do
		run $tool "$link"
		[ "$status" -eq 65 ]
	done
	run mq-ack <<<"$link"
	[ "$status" -eq 65 ]
	[ "$(snap)" = "$before" ]
	intact "$OUT"
	[ -L "$link" ]
	# and consumers do not reclaim it either
	run mq-get -L 1 q
	[ "$status" -eq 1 ]
	run mq-stat -j q
	[[ "$output" == *'"ready":0,"delayed":0,"inflight":0,'* ]]
	intact "$OUT"
	[ -L "$link" ]
}

@test "hostile: a symlink in inflight/ to another in-flight message is refused" {
	mq-put q <<<'real' >/dev/null
	h=$(mq-get -L 1h q)
	link=$S/q/inflight/$ID,p4,a1,s5,tABCDEFGH
	ln -s "$h" "$link"
	for tool in mq-ack mq-nack mq-touch; do
		run $tool "$link"
		[ "$status" -eq 65 ]
	done
	[ "$(cat "$h")" = real ]
	[ -L "$link" ]
}

@test "hostile: a hard link planted in inflight/: the target outside survives" {
	outside
	mq-init q
	link=$S/q/inflight/$ID,p4,a1,s14,tABCDEFGH
	ln "$OUT" "$link"
	run mq-ack "$link"
	[ -f "$OUT" ] && [ "$(cat "$OUT")" = 'precious data' ]
	ln "$OUT" "$link" 2>/dev/null || true
	run mq-nack -D 0 "$link"
	[ -f "$OUT" ] && [ "$(cat "$OUT")" = 'precious data' ]
	mq-purge -s ready q
	mq-purge -s inflight q
	[ -f "$OUT" ] && [ "$(cat "$OUT")" = 'precious data' ]
}

@test "hostile: a hard link planted in inflight/ is refused (65), target untouched" {
	# mq never makes a second link to a message: a file in inflight/ with
	# more than one link is not a message of the spool
	outside
	mq-init q
	link=$S/q/inflight/$ID,p4,a1,s14,tABCDEFGH
	ln "$OUT" "$link"
	before=$(snap)
	for tool in mq-touch mq-nack mq-ack; do
		run $tool "$link"
		echo "$tool: $status"
		[ "$status" -eq 65 ]
	done
	[ "$(snap)" = "$before" ]
	intact "$OUT"
	[ "$(count "$S/q/ready")" -eq 0 ]
}

@test "hostile: a hard link planted with a fan-out name (,f) to a writable file is refused (65)" {
	# only read-only files may be fan-out copies with more than one link
	outside
	mq-init q
	link=$S/q/inflight/$ID,p4,a1,s14,f,tABCDEFGH
	ln "$OUT" "$link"
	ready=$S/q/ready/4.0000000001/1732437600.000124.x7QkT3bZ,p4,a0,s14,f
	mkdir -p "${ready%/*}"
	ln "$OUT" "$ready"
	before=$(snap)
	for tool in mq-touch mq-nack mq-ack mq-hold; do
		run $tool "$link"
		echo "$tool: $status"
		[ "$status" -eq 65 ]
	done
	run mq-hold "$ready"
	[ "$status" -eq 65 ]
	[ "$(snap)" = "$before" ]
	intact "$OUT"
}

@test "hostile: a directory or FIFO in inflight/ is refused (65), survives" {
	mq-init q
	d=$S/q/inflight/$ID,p4,a1,tABCDEFGH
	f=$S/q/inflight/1732437600.000124.x7QkT3bZ,p4,a1,tABCDEFGH
	mkdir "$d"
	echo inside >"$d/file"
	mkfifo "$f"
	before=$(snap)
	for p in "$d" "$d/" "$f"; do
		for tool in mq-ack mq-nack mq-touch; do
			tmo $tool "$p"
			[ "$status" -eq 65 ]
		done
	done
	[ "$(snap)" = "$before" ]
	[ "$(cat "$d/file")" = inside ]
	[ -p "$f" ]
	tmo mq-get -L 1 q
	[ "$status" -eq 1 ]
	[ "$(cat "$d/file")" = inside ]
	[ -p "$f" ]
}

@test "hostile: kick refuses a symlink planted in dead/, target survives" {
	outside
	mq-init q
	link=$S/q/dead/$ID,p4,a5,s14,rattempts
	ln -s "$OUT" "$link"
	before=$(snap)
	run mq-kick q "$link"
	[ "$status" -eq 65 ]
	[ "$(snap)" = "$before" ]
	run mq-kick q
	[ "$status" -eq 0 ]
	[ "$(count "$S/q/ready")" -eq 0 ]
	[ -L "$link" ]
	intact "$OUT"
	run mq-purge -s dead q
	[ -L "$link" ]
	intact "$OUT"
}

# --- things planted in ready/ --------------------------------------------

@test "hostile: junk names in a ready bucket are never delivered, never deleted" {
	mq-put q <<<'one' >/dev/null
	b=$(find "$S/q/ready" -mindepth 1 -type d)
	# (a bare id is a valid name: p4 and a0 are the defaults)
	for n in junk "$ID,p4,a0,s5,zz" "$ID,a0,p4" "$ID,p10" "$ID,q1" \
	    "${ID}X,p4,a0" "${ID:0:25},p4,a0" ".$ID,p4,a0" "$ID,p4,a0,s5,"; do
		echo junk >"$b/$n"
	done
	mq-put q <<<'two' >/dev/null
	before=$(ls -A "$b" | grep -v '^1[0-9]\{9\}\.[0-9]\{6\}\.[0-9A-Za-z]\{8\},p4,a0,s4$' | sort)
	[ "$(printf '%s\n' "$before" | wc -l)" -eq 9 ]
	tmo mq-get -n 20 q
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 2 ]
	[ "$(cat "${lines[0]}")" = one ]
	[ "$(cat "${lines[1]}")" = two ]
	mq-ack "${lines[@]}"
	tmo mq-get q
	[ "$status" -eq 1 ]
	run mq-ls q
	[ -z "$output" ]
	run mq-purge -s ready q
	[ "$status" -eq 0 ]
	[ "$(ls -A "$b" | sort)" = "$before" ]
}

@test "hostile: a name valid only in another state in ready/ is never delivered, never deleted" {
	# a claim token belongs in inflight/, a reason in dead/
	mq-put q <<<'one' >/dev/null
	b=$(find "$S/q/ready" -mindepth 1 -type d)
	echo junk >"$b/$ID,p4,a1,tABCDEFGH"
	echo junk >"$b/1732437600.000124.x7QkT3bZ,p4,a1,rattempts"
	tmo mq-get -n 20 q
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 1 ]
	[ "$(cat "${lines[0]}")" = one ]
	mq-ack "${lines[0]}"
	tmo mq-get q
	[ "$status" -eq 1 ]
	run mq-purge -s ready q
	[ -f "$b/$ID,p4,a1,tABCDEFGH" ]
	[ -f "$b/1732437600.000124.x7QkT3bZ,p4,a1,rattempts" ]
}

@test "hostile: files outside buckets and bad bucket names in ready/ are ignored" {
	mq-init q
	r=$S/q/ready
	echo junk >"$r/$ID,p4,a0,s5"
	mkdir "$r/4.1" "$r/x.0000000001" "$r/44.0000000001" "$r/4.00000000001" "$r/.4.0000000001"
	for d in 4.1 x.0000000001 44.0000000001 4.00000000001 .4.0000000001; do
		echo junk >"$r/$d/$ID,p4,a0,s5"
	done
	before=$(snap)
	tmo mq-get -n 10 q
	[ "$status" -eq 1 ]
	run mq-purge -s ready q
	[ "$status" -eq 0 ]
	run mq-ls q
	[ -z "$output" ]
	run mq-stat -j q
	[[ "$output" == *'"ready":0,'* ]]
	[ "$(find "$r" -type f | wc -l)" -eq 6 ]
	# and real messages still flow past them
	mq-put q <<<'real' >/dev/null
	tmo mq-get q
	[ "$status" -eq 0 ]
	[ "$(cat "$output")" = real ]
}

@test "hostile: a symlink planted in a ready bucket is never delivered" {
	outside
	mq-put q <<<'one' >/dev/null
	b=$(find "$S/q/ready" -mindepth 1 -type d)
	link=$b/$ID,p4,a0,s14
	ln -s "$OUT" "$link"
	mkdir -p "$S/q/ready/9.0000000001"
	ln -s "$OUT" "$S/q/ready/9.0000000001/$ID,p9,a0,s14"
	tmo mq-get -n 10 q
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 1 ]
	[ "$(cat "${lines[0]}")" = one ]
	mq-ack "${lines[0]}"
	tmo mq-get q
	[ "$status" -eq 1 ]
	run mq-ls q
	[ -z "$output" ]
	run mq-purge -s ready q
	[ -L "$link" ]
	[ -L "$S/q/ready/9.0000000001/$ID,p9,a0,s14" ]
	intact "$OUT"
}

@test "hostile: a symlink planted as a ready bucket is never followed" {
	outside
	# a directory outside holding a well-formed message
	mkdir "$BATS_TEST_TMPDIR/outside/bucket"
	echo 'not yours' >"$BATS_TEST_TMPDIR/outside/bucket/$ID,p9,a0,s10"
	mq-put q <<<'one' >/dev/null
	ln -s "$BATS_TEST_TMPDIR/outside/bucket" "$S/q/ready/9.0000000001"
	before=$(snap)
	tmo mq-get -n 10 q
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 1 ]
	[ "$(cat "${lines[0]}")" = one ]
	run mq-purge -s ready q
	[ -f "$BATS_TEST_TMPDIR/outside/bucket/$ID,p9,a0,s10" ]
	[ -L "$S/q/ready/9.0000000001" ]
}

@test "hostile: mq-put into a symlink planted as a ready or delayed bucket fails (the message was written outside the spool)" {
	mq-init q
	mkdir "$BATS_TEST_TMPDIR/outside"
	ln -s "$BATS_TEST_TMPDIR/outside" "$S/q/ready/4.0000000001"
	run mq-put q <<<secret
	[ "$status" -ne 0 ]
	[ "$(count "$BATS_TEST_TMPDIR/outside")" -eq 0 ]
	run mq-put -D 1h q <<<secret
	[ "$status" -eq 0 ]
	t=$(basename "$(find "$S/q/delayed" -mindepth 1 -maxdepth 1)")
	mv "$S/q/delayed/$t" "$BATS_TEST_TMPDIR/d"
	ln -s "$BATS_TEST_TMPDIR/outside" "$S/q/delayed/$t"
	run mq-put -D 1h q <<<secret
	[ "$status" -ne 0 ]
	[ "$(count "$BATS_TEST_TMPDIR/outside")" -eq 0 ]
}

@test "hostile: a FIFO planted in a ready bucket does not block consumers" {
	mq-put q <<<'one' >/dev/null
	b=$(find "$S/q/ready" -mindepth 1 -type d)
	mkfifo "$b/$ID,p4,a0,s3"
	tmo mq-get -n 10 q
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 1 ]
	tmo mq-stat q
	[ "$status" -eq 0 ]
	tmo mq-purge -s ready q
	[ "$status" -eq 0 ]
	[ -p "$b/$ID,p4,a0,s3" ]
}

# --- symlinks planted as queues and queue parts --------------------------

@test "hostile: a symlink planted as a queue directory is refused" {
	elsewhere=$BATS_TEST_TMPDIR/elsewhere
	mq-init -d "$elsewhere" evil
	mq-put -d "$elsewhere" evil <<<'elsewhere' >/dev/null
	mq-init q
	ln -s "$elsewhere/evil" "$S/evil"
	before=$(snap)
	for cmd in "mq-put evil" "mq-get evil" "mq-ls evil" "mq-stat evil" \
	    "mq-kick evil" "mq-purge -s ready evil" "mq-init evil"; do
		run $cmd <<<'planted'
		echo "$cmd: $status"
		[ "$status" -eq 65 ] || [ "$status" -eq 66 ]
	done
	[ "$(snap)" = "$before" ]
	# listing all queues does not follow it either
	run mq-stat -j
	[ "$status" -eq 0 ]
	[ "$output" = '{"queue":"q","ready":0,"delayed":0,"inflight":0,"dead":0,"held":0,"done":0,"prepared":0,"oldest":null,"bytes":0,"done_bytes":0,"paused":false}' ]
	# handles through it are not of this spool
	h=$(mq-get -d "$elsewhere" -L 1h evil)
	run mq-ack "$S/evil/inflight/${h##*/}"
	[ "$status" -eq 65 ]
	[ -f "$h" ]
}

@test "hostile: a symlink planted as a queue's state directory is refused" {
	outside
	mq-put q <<<'x' >/dev/null
	for d in inflight dead delayed held prepared tmp; do
		mq-init "q$d"
		rmdir "$S/q$d/$d"
		ln -s "$BATS_TEST_TMPDIR/outside" "$S/q$d/$d"
	done
	before=$(snap)
	for d in inflight dead delayed held prepared tmp; do
		for cmd in "mq-put q$d" "mq-get q$d" "mq-ls q$d" "mq-stat q$d" \
		    "mq-kick q$d" "mq-purge -s $d q$d"; do
			run $cmd <<<'planted'
			echo "$cmd: $status"
			[ "$status" -ne 0 ]
		done
	done
	[ "$(snap)" = "$before" ]
	intact "$OUT"
	[ "$(ls "$BATS_TEST_TMPDIR/outside")" = precious ]
}

@test "hostile: a symlink planted as the lock file is not written through" {
	outside
	mq-init q
	rm "$S/q/lock"
	ln -s "$OUT" "$S/q/lock"
	for cmd in "mq-put q" "mq-get q" "mq-stat q" "mq-purge -s ready q"; do
		run $cmd <<<'x'
		[ "$status" -ne 0 ]
	done
	intact "$OUT"
}

@test "hostile: a symlink planted as the queue's mq.conf is not followed" {
	mkdir -p "$BATS_TEST_TMPDIR/outside"
	printf 'max_attempts = 1\nbackoff = 0\n' >"$BATS_TEST_TMPDIR/outside/evil.conf"
	conf backoff=0 lease=1h
	mq-put q <<<'x' >/dev/null
	h=$(mq-get q)
	ln -s "$BATS_TEST_TMPDIR/outside/evil.conf" "$S/q/mq.conf"
	run mq-nack "$h"
	# refused as a configuration error, or read as no file at all: never
	# the planted settings (which would dead-letter the message)
	[ "$status" -eq 78 ] || [ "$status" -eq 0 ]
	[ "$(count "$S/q/dead")" -eq 0 ]
}
