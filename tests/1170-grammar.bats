#!/usr/bin/env bats
# The grammar of names (mq(7), "Message ids and names") as every tool reads
# it, what they print of names, the times and leases a name can hold, and
# the facts of mq(7) that a second implementation needs, checked against
# the tools so that the page cannot drift from them (issue 12).

bats_require_minimum_version 1.5.0
load test_helper

ROOT=$(cd "$BATS_TEST_DIRNAME/.." && pwd)

# A member of the group of a shared spool, made as in 1150-multiuser.bats
# (files run in parallel: useradd may find the user database locked).
setup_file() {
	[ "$(id -u)" -eq 0 ] || return 0
	for _ in 1 2 3 4 5; do
		getent group mqshare >/dev/null || groupadd mqshare 2>/dev/null
		id mqprod >/dev/null 2>&1 ||
		    useradd -M -N -g mqshare -s /bin/sh mqprod 2>/dev/null
		id mqprod >/dev/null 2>&1 && break
		sleep 1
	done
	OTHERS=$(mktemp -d /var/tmp/mq-bin.XXXXXX)
	OBIN=$(others_bin "$OTHERS")
	export OTHERS OBIN
}

teardown_file() {
	[ -z "${OTHERS:-}" ] || rm -rf "$OTHERS"
}

# shared_spool - a spool in /var/tmp (the test's own directory is 0700)
# with the queue orders shared with the group mqshare, or skip
shared_spool() {
	[ "$(id -u)" -eq 0 ] || skip "needs root to create users and switch to them"
	command -v runuser >/dev/null || skip "runuser is not installed"
	SHARED=$(mktemp -d /var/tmp/mq-shared.XXXXXX)
	chmod 0755 "$SHARED"
	export MQ_SPOOL=$SHARED/spool MQ_CONF=$SHARED/mq.conf
	S=$MQ_SPOOL
	: >"$MQ_CONF"
	chmod 0644 "$MQ_CONF"
	mq-init -g mqshare orders
}

# member CMD... - run CMD as the group member mqprod
member() {
	runuser -u mqprod -- env PATH="$OBIN:$PATH" MQ_SPOOL="$MQ_SPOOL" \
	    MQ_CONF="$MQ_CONF" "$@"
}

teardown() {
	[ -z "${SHARED:-}" ] || rm -rf "$SHARED"
}

# libfaketime's clock interception hangs ASan-instrumented tools at start:
# tests of the clock run in the plain build only
needs_faketime() {
	[ "${MQ_SANITIZE:-}" != 1 ] ||
	    skip "libfaketime hangs ASan builds; run in the plain build"
	command -v faketime >/dev/null || skip "faketime is not installed"
}

# at EPOCH CMD... - run CMD with a clock that starts at EPOCH
at() {
	local t=$1
	shift
	TZ=UTC faketime -f "@$(date -u -d "@$t" '+%F %T')" "$@"
}

# page_says TEXT - mq(7), as mandoc renders it, says TEXT (any run of
# white space counts as one space)
page_says() {
	command -v mandoc >/dev/null || skip "mandoc is not installed"
	mandoc -Tascii "$ROOT/man/mq.7" | col -b | tr -s '[:space:]' ' ' |
	    grep -qF -- "$1" || {
		echo "mq(7) does not say: $1" >&2
		return 1
	}
}

# plant QUEUE DIR NAME BODY - a file as a foreign hand would put it
plant() {
	mkdir -p "$S/$1/$2"
	printf '%s' "$4" >"$S/$1/$2/$3"
}

@test "regression: issue 12 defect 5: a bucket a member plants in delayed/ is no bucket: root's mq-ls prints no raw byte, one line per message" {
	shared_spool
	member sh -c 'echo real | mq-put orders' >/dev/null
	now=$(date +%s)
	# a window named with terminal escapes and a newline, and one that
	# strtoll would read as a time long past, each with a due message
	for w in "$(printf '\033]0;X\a\033[2J\nfake')" "+${now:0:9}"; do
		member env D="$S/orders/delayed/$w" \
		    N="$now.000001.AAAAAAAA,p4,a0,n$((now - 60))" \
		    sh -c 'mkdir "$D" && echo planted >"$D/$N"'
	done
	run --separate-stderr mq-ls orders
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 1 ]
	[[ "$output" == "$S/orders/ready/"*",p4,a0,s5" ]]
	[[ "$output" != *[[:cntrl:]]* ]]
	run mq-ls -s delayed orders
	[ "$status" -eq 0 ] && [ -z "$output" ]
	# so mq-ls | mq-hold holds what it lists, and nothing else
	run --separate-stderr sh -c 'mq-ls -s delayed orders | mq-hold'
	[ "$status" -eq 0 ] && [ -z "$output" ] && [ -z "$stderr" ]
	mq-stat -j orders | grep -q '"ready":1,"delayed":0,'
	# never promoted, never delivered
	run mq-get -n 5 orders
	[ "${#lines[@]}" -eq 1 ]
	[ "$(cat "${lines[0]}")" = real ]
	[ "$(find "$S/orders/delayed" -type f -printf x)" = xx ]
	run mq-fsck orders
	[ "$status" -eq 1 ]
	[[ "$output" == *" quarantined=2 "* ]]
	[ -z "$(ls "$S/orders/delayed")" ]
}

@test "regression: issue 12 defect 5: a refused handle or queue name is printed escaped, on one line" {
	mq-init q
	run --separate-stderr mq-ack "$S/q/inflight/$(printf 'x\033[2J\ny\tz')"
	[ "$status" -eq 65 ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ "$stderr" == "mq-ack: $S/q/inflight/x\\033[2J\\ny\\tz: not a message"* ]]
	run --separate-stderr mq-stat "$(printf 'a\033b')"
	[ "$status" -eq 64 ]
	[ "$stderr" = 'mq-stat: a\033b: bad queue name' ]
	run --separate-stderr mq-put "$(printf 'a\nb')" </dev/null
	[ "$status" -eq 64 ]
	[ "$stderr" = 'mq-put: a\nb: bad queue name' ]
	page_says "it escapes it as vis(3) does with VIS_CSTYLE | VIS_OCTAL | VIS_TAB | VIS_NL"
}

@test "regression: issue 12 defect 6: at epoch 10000000000 mq-put fails (65, one line) and puts nothing" {
	needs_faketime
	mq-init q
	run --separate-stderr at 10000000000 mq-put q <<<x
	[ "$status" -eq 65 ]
	[ -z "$output" ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ "$stderr" == "mq-put: q: cannot put message: "*"2286-11-20T17:46:39Z"* ]]
	[ "$(msgs q)" -eq 0 ]
	[ -z "$(ls "$S/q/tmp")" ]
	# the last second an id holds still makes a message, and it is delivered
	id=$(at 9999999999 mq-put q <<<last)
	[[ "$id" == 9999999999.* ]]
	h=$(at 9999999999 mq-get q)
	[ "$(cat "$h")" = last ]
}

@test "regression: issue 12 defect 6: an expiry or due time past 2286 is refused (65), nothing put; -A past it is a bad time (64)" {
	needs_faketime
	mq-init q
	for o in "-T 1d" "-D 1d" "-l -D 1d"; do
		# shellcheck disable=SC2086
		run --separate-stderr at 9999990000 mq-put $o q <<<x
		[ "$status" -eq 65 ]
		[[ "$stderr" == *"cannot put message: beyond what a message name holds"* ]]
	done
	echo 'ttl = 2d' >"$S/q/mq.conf"
	run at 9999990000 mq-put q <<<x
	[ "$status" -eq 65 ]
	rm "$S/q/mq.conf"
	run mq-put -A @10000000000 q <<<x
	[ "$status" -eq 64 ]
	run mq-put -A 2286-11-20T17:46:40Z q <<<x
	[ "$status" -eq 64 ]
	[ "$(msgs q)" -eq 0 ]
	[ -z "$(ls "$S/q/tmp")" ]
	# up to the last second, they are put
	at 9999990000 mq-put -T 2h -D 1h q <<<x >/dev/null
	f=$(only q delayed)
	[ "$(field x "$f")" -le 9999999999 ] && [ "$(field n "$f")" -le 9999999999 ]
}

@test "grammar: mq-put -A after the year 2286 is refused with 64 (was put at a time no name holds: an invisible message)" {
	run mq-put -A 3000-01-01T00:00:00Z q <<<x
	[ "$status" -eq 64 ]
	[ ! -d "$S/q" ] || [ "$(count "$S/q")" -le 1 ]
}

@test "regression: issue 12 defect 6: a nack whose delay ends past 2286 is refused (65), the message stays in flight" {
	needs_faketime
	at 9999990000 mq-put q <<<x >/dev/null
	h=$(at 9999990000 mq-get q)
	run --separate-stderr at 9999990000 mq-nack -D 1d "$h"
	[ "$status" -eq 65 ]
	[[ "$stderr" == *"beyond what a message name holds"* ]]
	[ -f "$h" ]
	at 9999990000 mq-nack -D 1h "$h"
	[ "$(field n "$(only q delayed)")" -le 9999999999 ]
}

@test "regression: issue 12 defect 6: a lease longer than a name holds is refused (-L: 64, lease: 78), never claimed out of sight" {
	mq-put q <<<x >/dev/null
	run mq-get -L 36500d q
	[ "$status" -eq 64 ]
	run mq-work -L 36500d q true
	[ "$status" -eq 64 ]
	echo 'lease = 36500d' >"$S/q/mq.conf"
	run --separate-stderr mq-get q
	[ "$status" -eq 78 ]
	[[ "$stderr" == *"mq.conf:1: lease: longer than 31 years: 36500d" ]]
	rm "$S/q/mq.conf"
	[ -n "$(only q ready)" ]
	# the longest that fits
	h=$(mq-get -L 11574d q)
	[ "$(field l "$h")" = 999993600000 ]
	mq-ack "$h"
}

# found by fuzz/fuzz-name.c (fuzz/corpus/name/regression-attempts-ceiling)
@test "grammar: a message at the attempts ceiling (a999999999) is delivered with a handle mq-ack takes (was claimed as a1000000000, no name: never acked, not counted)" {
	mq-init q
	mkdir "$S/q/ready/4.0000000001"
	echo x >"$S/q/ready/4.0000000001/1000000000.000000.AAAAAAAA,p4,a999999999,s2"
	run mq-get q
	[ "$status" -eq 0 ]
	[ "$(field a "$output")" = 999999999 ]
	run mq-ack "$output"
	[ "$status" -eq 0 ]
	[ "$(count "$S/q/inflight")" -eq 0 ]
}

@test "issue 12: a name without ,p lies in a bucket of priority 4 only: elsewhere it is not delivered, listed or counted, and mq-fsck quarantines it" {
	mq-init q
	plant q ready/7.0000000001 1700000000.000001.AAAAAAAA,a0,s2 p7
	plant q ready/4.0000000001 1700000000.000002.BBBBBBBB,p7,a0 p4
	plant q ready/4.0000000001 1700000000.000003.CCCCCCCC,a0 ok
	run mq-ls q
	[ "$output" = "$S/q/ready/4.0000000001/1700000000.000003.CCCCCCCC,a0" ]
	mq-stat -j q | grep -q '"ready":1,'
	run mq-get -n 5 q
	[ "${#lines[@]}" -eq 1 ]
	[[ "${lines[0]}" == */inflight/1700000000.000003.CCCCCCCC,p4,a1,* ]]
	run mq-fsck q
	[[ "$output" == *" quarantined=2 "* ]]
	[ -f "$S/q/quarantine/ready_7.0000000001_1700000000.000001.AAAAAAAA,a0,s2" ]
	[ -f "$S/q/quarantine/ready_4.0000000001_1700000000.000002.BBBBBBBB,p7,a0" ]
	page_says "So a name without ,p is delivered from a bucket of priority 4 only."
}

@test "issue 12: a delayed message outside its window, or in a window that is no window, is not promoted; mq-fsck quarantines it" {
	mq-init q
	now=$(date +%s)
	w=$((now / 60 * 60 - 600))
	plant q "delayed/$w" "1700000000.000001.AAAAAAAA,p4,a0,n$((w + 120))" early
	plant q "delayed/+$((w / 10))" "1700000000.000002.BBBBBBBB,p4,a0,n$w" sign
	plant q "delayed/$w" "1700000000.000003.CCCCCCCC,p4,a0,n$((w + 1))" ok
	run mq-get -n 5 q
	[ "${#lines[@]}" -eq 1 ]
	[ "$(cat "${lines[0]}")" = ok ]
	run mq-fsck q
	[[ "$output" == *" quarantined=2 "* ]]
	page_says "its due time n, the ,n field, falls in the window: T = n - n mod 60"
}

@test "mq(7): a new queue holds ready/ delayed/ inflight/ dead/ held/ prepared/ tmp/ and an empty lock; a priority's first bucket is P.0000000001" {
	mq-init q
	[ "$(ls -A "$S/q" | tr '\n' ' ')" = "dead delayed held inflight lock prepared ready tmp " ]
	[ ! -s "$S/q/lock" ]
	[ -z "$(find "$S/q" -mindepth 2)" ]
	page_says "holds the empty directories ready/, delayed/, inflight/, dead/, held/, prepared/ and tmp/ and the empty file lock, nothing else"
	mq-put -p 7 q <<<x >/dev/null
	mq-put -p 0 q <<<x >/dev/null
	[ "$(ls "$S/q/ready" | tr '\n' ' ')" = "0.0000000001 7.0000000001 " ]
	page_says "the first bucket of a priority is P.0000000001"
}

@test "mq(7): the tail record of P is 32 bytes at 32P: P, SEQ in 10 digits, COUNT in 8, spaces, a newline" {
	conf bucket_size=2
	mq-put q <<<x >/dev/null
	cmp <(dd if="$S/q/lock" bs=1 skip=128 count=32 2>/dev/null) \
	    <(printf '%-31s\n' '4 0000000001 00000001')
	# the records before it were never written: zero bytes
	[ "$(head -c 128 "$S/q/lock" | tr -d '\0' | wc -c)" -eq 0 ]
	page_says "bytes 128 to 159 of lock read"
	page_says "4 0000000001 00000001"
	page_says "10 spaces and a newline"
	seq 2 | mq-put -l q >/dev/null
	cmp <(dd if="$S/q/lock" bs=1 skip=128 count=32 2>/dev/null) \
	    <(printf '%-31s\n' '4 0000000002 00000001')
}

@test "mq(7): every message made ready takes a slot; a missing record starts the bucket after the highest" {
	conf bucket_size=3
	mq-put q <<<a >/dev/null
	h=$(mq-get q)
	mq-nack -D 0 "$h"
	cmp <(dd if="$S/q/lock" bs=1 skip=128 count=32 2>/dev/null) \
	    <(printf '%-31s\n' '4 0000000001 00000002')
	page_says "Every message made ready takes one slot"
	: >"$S/q/lock"
	mq-put q <<<b >/dev/null
	[ "$(ls "$S/q/ready" | tr '\n' ' ')" = "4.0000000001 4.0000000002 " ]
	[ "$(ls "$S/q/ready/4.0000000002" | wc -l)" -eq 1 ]
	page_says "the producer starts a new bucket after the highest P.SEQ in ready/"
}

@test "mq(7): ,x and ,n are the put's time plus the ttl or delay, rounded up; ,n goes when the message becomes ready" {
	needs_faketime
	at 2000000000 mq-put -T 1h -D 1500ms q <<<x >/dev/null
	f=$(only q delayed)
	[ "$(field n "$f")" = 2000000002 ]
	[ "$(field x "$f")" = 2000003601 ]
	h=$(at 2000000010 mq-get q)
	[[ "$h" != *,n* ]]
	[ "$(field x "$h")" = 2000003601 ]
	page_says "plus the ttl, rounded up to a whole second, so that no message expires early"
	page_says "mq drops the field when the message becomes ready"
}

# the sh scripts of mq(7) (the .Bd -literal blocks that start with #!/bin/sh),
# as a reader would copy them: NAME.sh in DIR
page_scripts() {
	awk -v dir="$1" '
		/^\.Bd -literal$/ { inb = 1; n = 0; next }
		/^\.Ed$/ { inb = 0; next }
		inb && n == 0 && $0 != "#!/bin/sh" { inb = 0 }
		inb { line[n++] = $0 }
		inb && n == 2 {
			out = dir "/" $2
			print line[0] >out
		}
		inb && n >= 2 { print >out }
	' "$ROOT/man/mq.7"
	sed -i 's/\\e/\\/g' "$1"/*.sh
	chmod +x "$1"/*.sh
}

@test "mq(7): put.sh and get.sh of the page interoperate with the tools; get.sh skips a name not of its bucket" {
	command -v flock >/dev/null || skip "flock is not installed"
	page_scripts "$BATS_TEST_TMPDIR"
	[ -x "$BATS_TEST_TMPDIR/put.sh" ] && [ -x "$BATS_TEST_TMPDIR/get.sh" ]
	mq-init q
	id=$("$BATS_TEST_TMPDIR/put.sh" "$S/q" 6 <<<foreign)
	h=$(mq-get q)
	[[ "$h" == "$S/q/inflight/$id,p6,a1,s8,"* ]]
	[ "$(cat "$h")" = foreign ]
	mq-ack "$h"
	plant q ready/7.0000000001 1700000000.000001.AAAAAAAA,a0 planted
	run "$BATS_TEST_TMPDIR/get.sh" "$S/q"
	[ "$status" -eq 1 ]
	id=$(mq-put -p 3 q <<<native)
	h=$("$BATS_TEST_TMPDIR/get.sh" "$S/q" 60)
	[[ "$h" == "$S/q/inflight/$id,p3,a1,s7,t"* ]]
	mq-ack "$h"
	[ "$(msgs q)" -eq 1 ]
}
