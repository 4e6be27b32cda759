# test_helper.bash - every test gets its own spool and config, and runs the
# build tree's binaries ($MQ_BIN overrides, to test an installed copy).
MQ_BIN=${MQ_BIN:-$(cd "$BATS_TEST_DIRNAME/.." && pwd)/build/out/bin}
PATH=$MQ_BIN:$PATH

setup() {
	export MQ_SPOOL=$BATS_TEST_TMPDIR/spool
	export MQ_CONF=$BATS_TEST_TMPDIR/mq.conf
	: >"$MQ_CONF"
	S=$MQ_SPOOL
}

# others_bin DIR - print a directory holding the tools of $MQ_BIN that
# every user can reach: $MQ_BIN itself if they can, else a copy made in
# DIR/bin.  A checkout in /root, or in a directory made by mktemp -d, is
# mode 0700 on Debian: tests that run tools as other users need the copy.
others_bin() {
	if setpriv --reuid=65534 --regid=65534 --clear-groups \
	    test -x "$MQ_BIN/mq-put" 2>/dev/null; then
		echo "$MQ_BIN"
		return
	fi
	chmod 0755 "$1" &&
	    mkdir -m 0755 "$1/bin" &&
	    cp "$MQ_BIN"/mq-* "$1/bin/" &&
	    chmod 0755 "$1/bin"/mq-* &&
	    echo "$1/bin"
}

# conf KEY=VALUE... - write the global config
conf() {
	printf '%s\n' "$@" | sed 's/=/ = /' >"$MQ_CONF"
}

# count DIR - number of files below DIR
count() {
	find "$1" -type f | wc -l | tr -d ' '
}

# wait_for SECONDS COMMAND... - poll until COMMAND succeeds
wait_for() {
	local end=$((SECONDS + $1))
	shift
	until "$@"; do
		[ "$SECONDS" -lt "$end" ] || return 1
		sleep 0.05
	done
}

# exists FILE... - all of them exist
exists() {
	local f
	for f; do
		[ -e "$f" ] || return 1
	done
}

# sigkill_worker FILE ARGS... - run mq-work ARGS in the background and
# SIGKILL it once FILE exists (its command makes it); then nothing renews
# the leases of what it had claimed
sigkill_worker() {
	local file=$1 w
	shift
	mq-work "$@" &
	w=$!
	wait_for 10 exists "$file"
	kill -KILL "$w"
	wait "$w" || true
}

# four_states QUEUE - one message of each state a path may name (bodies
# ready, delayed, held, dead); their paths in ready_f, delayed_f, held_f
# and dead_f (max_attempts is set to 1 for the dead one)
# shellcheck disable=SC2034 # for the test files
four_states() {
	conf max_attempts=1
	mq-put "$1" <<<dead >/dev/null
	mq-nack "$(mq-get "$1")"
	mq-put -D 1h "$1" <<<delayed >/dev/null
	mq-put "$1" <<<held >/dev/null
	held_f=$(files "$1" ready | mq-hold)
	mq-put "$1" <<<ready >/dev/null
	ready_f=$(files "$1" ready) delayed_f=$(files "$1" delayed)
	dead_f=$(files "$1" dead)
}

# hostile_paths QUEUE - plant a symbolic link and a second hard link to
# QUEUE's one ready message (its path in f), and set hostile to paths a
# tool that takes message paths must refuse; unplant_paths QUEUE undoes it
# shellcheck disable=SC2034 # for the test files
hostile_paths() {
	local link=$S/$1/ready/4.0000000001/1700000000.000000.aaaaaaaa,p4,a0,s2
	f=$(mq-ls "$1")
	ln -s "$f" "$link"
	ln "$f" "$BATS_TEST_TMPDIR/twin"
	hostile=("$link" "$f/../../../mq.conf"
	    "$S/$1/ready/4.0000000001/../../ready/x" "$BATS_TEST_TMPDIR/twin"
	    /etc/passwd "$S/$1/tmp/x" "$S/$1/ready/9.0000000001/${f##*/}"
	    "$(printf '%s\033[2J' "$f")")
}
unplant_paths() {
	rm "$BATS_TEST_TMPDIR/twin"
	rm "$S/$1/ready/4.0000000001/1700000000.000000.aaaaaaaa,p4,a0,s2"
}

# lock_waits FILE BYTE [READ|WRITE] - a process waits to lock BYTE of the
# lock file FILE (an open file description lock, as the tools take;
# WRITE unless told)
lock_waits() {
	local ino
	ino=$(stat -c %i "$1")
	grep -Eq -- "-> OFDLCK +ADVISORY +${3:-WRITE} +-1 +[0-9a-f]+:[0-9a-f]+:$ino $2 $2\$" /proc/locks
}

# lock_held FILE BYTE [READ|WRITE] - a process holds BYTE of the lock file
# FILE locked (WRITE unless told), not only waits for it
lock_held() {
	local ino
	ino=$(stat -c %i "$1")
	grep -Eq -- "^[0-9]+: OFDLCK +ADVISORY +${3:-WRITE} +-1 +[0-9a-f]+:[0-9a-f]+:$ino $2 $2\$" /proc/locks
}

# field F PATH - the value of field F in the message name of PATH
field() {
	basename "$2" | tr ',' '\n' | sed -n "s/^$1//p"
}

# shellcheck disable=SC2034 # for the test files
LIVE=4102444800 # a key file's mtime while its message is in the spool

# hash KEY - the first 128 bits of the key's SHA-256, as mq(7) says
hash() {
	printf %s "$1" | sha256sum | cut -c1-32
}

# key_file QUEUE KEY - the key file of KEY in QUEUE
key_file() {
	local h
	h=$(hash "$2")
	echo "$S/$1/keys/${h:0:2}/$h"
}

# files QUEUE STATE - the message files of a state, in path order (which is
# delivery order within one priority)
files() {
	find "$S/$1/$2" -type f | sort
}

# the one file of a state; fails unless there is exactly one
only() {
	local f
	f=$(files "$1" "$2")
	[ -n "$f" ] && [ "$(printf '%s\n' "$f" | wc -l)" -eq 1 ] || {
		echo "expected exactly one file in $1/$2, got: $f" >&2
		return 1
	}
	printf '%s\n' "$f"
}

# try_get ARGS... - one mq-get; on success its output is in $h
try_get() {
	h=$(mq-get "$@")
}

# now_ge T - the clock has reached epoch second T
now_ge() {
	[ "$(date +%s)" -ge "$1" ]
}

# the lease deadline of a handle, in whole seconds: its mtime plus the
# lease (ms) in its name
deadline() {
	local l
	l=$(field l "$1")
	echo $((($(stat -c %.3Y "$1" | tr -d .) + ${l:-0}) / 1000))
}

# ro_spool - a read-only view of the spool at $RO (a bind mount), or skip
ro_spool() {
	RO=$BATS_TEST_TMPDIR/ro
	mkdir "$RO"
	if ! mount --bind "$S" "$RO" 2>/dev/null; then
		skip "cannot bind-mount (mount not permitted here)"
	fi
	if ! mount -o remount,bind,ro "$RO" 2>/dev/null; then
		umount "$RO"
		skip "cannot remount read-only"
	fi
}

# msgs QUEUE - number of messages of QUEUE, in any state
msgs() {
	find "$S/$1"/*/ -type f -name '*,*' | wc -l | tr -d ' '
}

# a read-only mount made by a test ($RO), or a process it started in the
# background, never outlives it (a failed test must not hang the run)
teardown() {
	local p
	for p in $(jobs -p); do
		kill -KILL "$p" 2>/dev/null || true
	done
	if [ -n "${RO:-}" ] && mountpoint -q "$RO" 2>/dev/null; then
		umount "$RO"
	fi
}

# each_body FILE... - the body of each message, on a line of its own
each_body() {
	local f
	for f; do
		printf '%s\n' "$(cat "$f")"
	done
}

# tree_state DIR... - every path below DIRs with its type, size, mtime,
# link target and link count: equal before and after means nothing moved
tree_state() {
	find "$@" -printf '%p|%y|%s|%T@|%l|%n\n' | sort
}

# timed SECONDS COMMAND... - timeout(1) SECONDS COMMAND, for a command the
# timeout is meant to stop (status 124).  timeout signals the command, then
# its process group: a sanitized tool that the first signal made exit is
# then inside LeakSanitizer's ptrace of itself, which the second hangs for
# good.  So a sanitized build checks no leaks of a process stopped so.
timed() {
	if [ "${MQ_SANITIZE:-}" = 1 ]; then
		ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
		    timeout "$@"
	else
		timeout "$@"
	fi
}
