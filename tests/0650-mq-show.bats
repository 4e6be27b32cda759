#!/usr/bin/env bats
# mq-show: the envelope and headers of messages in every state, as text
# and as JSON (-j); hostile headers and paths.
load test_helper
bats_require_minimum_version 1.5.0

# iso EPOCH - a time as mq-show prints it
iso() {
	date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ
}

# id_time PATH - the second in the id of a message file
id_time() {
	basename "$1" | cut -c1-10
}

# lease_iso HANDLE - its lease deadline (mtime + ,l) to the millisecond
lease_iso() {
	local ms
	ms=$(($(stat -c %.3Y "$1" | tr -d .) + $(field l "$1")))
	printf '%s.%03dZ\n' "$(date -u -d "@$((ms / 1000))" +%Y-%m-%dT%H:%M:%S)" \
	    $((ms % 1000))
}

# json FILE CODE - run python CODE with m, the one JSON object on the one
# line of FILE
json() {
	python3 -c 'import json, sys
lines = open(sys.argv[1], "rb").read().split(b"\n")
assert len(lines) == 2 and lines[1] == b"", lines
m = json.loads(lines[0])
'"$2" "$1"
}

# plant FILE BYTES - set FILE's headers attribute to BYTES (printf format)
plant() {
	setfattr -n user.mq.h -v "0x$(printf "$2" | od -An -v -tx1 | tr -d ' \n')" "$1"
}

bad_path() {
	[ "$stderr" = "mq-show: $1: not a message of this spool in that state" ]
}

@test "show: a ready message: every field it has, then the headers in put order" {
	id=$(mq-put -p 7 -k order-42 -g customer-7 -T 1h -H content-type=text/plain \
	    -r orders.paid -H z=1 -H a=2 q <<<'order 42 paid')
	f=$(only q ready)
	run --separate-stderr mq-show "$f"
	[ "$status" -eq 0 ] && [ -z "$stderr" ]
	[ "$output" = "$(printf '%s\n' "id: $id" "queue: q" "state: ready" \
	    "priority: 7" "attempts: 0" "size: 14" \
	    "enqueued: $(iso "$(id_time "$f")")" \
	    "expires: $(iso "$(field x "$f")")" \
	    "key: $(hash order-42)" "group: $(hash customer-7)" \
	    "content-type: text/plain" "routing-key: orders.paid" "z: 1" "a: 2")" ]
}

@test "show: a message without options or headers has only the fields every message has" {
	id=$(mq-put q </dev/null)
	run mq-show "$(only q ready)"
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf '%s\n' "id: $id" "queue: q" "state: ready" \
	    "priority: 4" "attempts: 0" "size: 0" \
	    "enqueued: $(iso "${id%%.*}")")" ]
}

@test "show: a delayed message has its due time" {
	mq-put -D 1h -H h=v q <<<later >/dev/null
	f=$(only q delayed)
	run mq-show "$f"
	[ "$status" -eq 0 ]
	[ "${lines[2]}" = "state: delayed" ]
	[ "${lines[7]}" = "due: $(iso "$(field n "$f")")" ]
	[ "${lines[8]}" = "h: v" ]
	[ "${#lines[@]}" -eq 9 ]
}

@test "show: an in-flight handle of mq-get: attempts, and the lease deadline to the ms" {
	conf lease=90s
	mq-put -H h=v q <<<x >/dev/null
	h=$(mq-get q)
	run mq-show "$h"
	[ "$status" -eq 0 ]
	[ "${lines[2]}" = "state: inflight" ]
	[ "${lines[4]}" = "attempts: 1" ]
	[ "${lines[7]}" = "lease: $(lease_iso "$h")" ]
	[ "${lines[8]}" = "h: v" ]
	# mq-touch -L moves it, and mq-show follows
	mq-touch -L 1h "$h"
	run mq-show "$h"
	[ "${lines[7]}" = "lease: $(lease_iso "$h")" ]
	[[ "${lines[7]}" == "lease: $(date -u -d '+1 hour' +%Y-%m-%dT%H):"* ]] ||
	    [[ "${lines[7]}" == "lease: $(date -u -d '+61 min' +%Y-%m-%dT%H):"* ]]
}

@test "show: a dead message (max_attempts = 1 and a nack) has its reason, no lease" {
	conf max_attempts=1
	mq-put -H h=v q <<<x >/dev/null
	mq-nack "$(mq-get q)"
	f=$(only q dead)
	run mq-show "$f"
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf '%s\n' "id: $(basename "$f" | cut -c1-26)" \
	    "queue: q" "state: dead" "priority: 4" "attempts: 1" "size: 2" \
	    "enqueued: $(iso "$(id_time "$f")")" "reason: attempts" "h: v")" ]
}

@test "show: a held message (mq-hold), from mq-hold's output, keeps its due time and headers" {
	mq-put -D 1h -H h=v q <<<x >/dev/null
	held=$(mq-hold "$(only q delayed)")
	run mq-show "$held"
	[ "$status" -eq 0 ]
	[ "${lines[2]}" = "state: held" ]
	[ "${lines[7]}" = "due: $(iso "$(field n "$held")")" ]
	[ "${lines[8]}" = "h: v" ]
	# and what mq-hold prints goes straight in
	mq-put q <<<y >/dev/null
	run mq-show < <(mq-hold "$(only q ready)")
	[ "$status" -eq 0 ] && [ "${lines[2]}" = "state: held" ]
}

@test "show: paths from stdin, as mq-ls prints them: one block a message, an empty line between" {
	conf max_attempts=1
	mq-put q <<<dead >/dev/null
	mq-nack "$(mq-get q)"
	mq-put q <<<inflight >/dev/null
	mq-get q >/dev/null
	mq-put -D 1h q <<<delayed >/dev/null
	mq-put q <<<ready >/dev/null
	mq-put q <<<held >/dev/null
	mq-hold "$(files q ready | tail -n 1)" >/dev/null
	run mq-show < <(mq-ls q)
	[ "$status" -eq 0 ]
	[ "$(grep -c '^id: ' <<<"$output")" -eq 5 ]
	[ "$(grep -c '^$' <<<"$output")" -eq 4 ]
	[ "$(grep '^state: ' <<<"$output" | tr '\n' ' ')" = \
	    "state: ready state: delayed state: inflight state: dead state: held " ]
	# relative to the current directory, as mq-ls -d prints them then
	cd "$S/.."
	run mq-show -d spool "$(cd "$S/.." && mq-ls -d spool -s ready q)"
	[ "$status" -eq 0 ] && [ "${lines[2]}" = "state: ready" ]
	# -j: one object a line, nothing between
	run mq-show -j < <(mq-ls q)
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 5 ]
	printf '%s\n' "$output" | python3 -c 'import json, sys
s = [json.loads(l)["state"] for l in sys.stdin]
assert s == ["ready", "delayed", "inflight", "dead", "held"], s'
}

@test "show: -j: every field, by name and type, headers an object in put order" {
	conf lease=90s
	id=$(mq-put -p 2 -k k -g g -T 1h -D 1s -H b=1 -H a=2 -H id=3 q <<<body)
	sleep 2
	h=$(mq-get q)
	mq-show -j "$h" >"$BATS_TEST_TMPDIR/out"
	ID=$id Q=q ENQ=$(iso "${id%%.*}") EXP=$(iso "$(field x "$h")") \
	    KEY=$(hash k) GRP=$(hash g) LEASE=$(lease_iso "$h") \
	    json "$BATS_TEST_TMPDIR/out" '
import os
e = os.environ
want = {"id": e["ID"], "queue": "q", "state": "inflight", "priority": 2,
    "attempts": 1, "size": 5, "enqueued": e["ENQ"], "expires": e["EXP"],
    "key": e["KEY"], "group": e["GRP"], "lease": e["LEASE"],
    "headers": {"b": "1", "a": "2", "id": "3"}}
assert m == want, (m, want)
assert list(m) == list(want), list(m)
assert list(m["headers"]) == ["b", "a", "id"]
assert all(type(m[k]) is int for k in ("priority", "attempts", "size"))'
	# the other states' fields
	mq-put -D 1h q <<<x >/dev/null
	mq-show -j "$(only q delayed)" >"$BATS_TEST_TMPDIR/out"
	DUE=$(iso "$(field n "$(only q delayed)")") json "$BATS_TEST_TMPDIR/out" '
import os
assert m["state"] == "delayed" and m["due"] == os.environ["DUE"], m
assert m["headers"] == {} and "lease" not in m and "reason" not in m, m'
	conf max_attempts=1
	mq-nack "$h"
	mq-show -j "$(only q dead)" >"$BATS_TEST_TMPDIR/out"
	json "$BATS_TEST_TMPDIR/out" '
assert m["state"] == "dead" and m["reason"] == "attempts", m
assert "lease" not in m and "due" not in m, m'
}

@test "show: -j: valid UTF-8 passes, controls are \\u00XX, other bytes \\udcXX (surrogateescape)" {
	v=$(printf 'caf\303\251 \342\202\254 \360\237\230\200 "q" \\ \033[2J\001\t\177 \302\233 \377\376 \300\257 \355\240\200 x=y\nz')
	mq-put -H "v=$v" -H plain=ok q <<<x >/dev/null
	f=$(only q ready)
	mq-show -j "$f" >"$BATS_TEST_TMPDIR/out"
	# the exact escapes
	grep -qF '"v":"café € 😀 \"q\" \\ \u001b[2J\u0001\u0009\u007f \u009b \udcff\udcfe \udcc0\udcaf \udced\udca0\udc80 x=y\u000az"' \
	    "$BATS_TEST_TMPDIR/out"
	# no control byte reaches the output raw, ESC above all
	! LC_ALL=C grep -q "$(printf '[\001-\011\013-\037\177\033]')" "$BATS_TEST_TMPDIR/out"
	! grep -q "$(printf '\302\233')" "$BATS_TEST_TMPDIR/out"
	# and the bytes come back exactly
	getfattr --only-values -n user.mq.h "$f" >"$BATS_TEST_TMPDIR/raw"
	json "$BATS_TEST_TMPDIR/out" '
raw = open(sys.argv[1][:-3] + "raw", "rb").read()
got = b"".join(k.encode() + b"=" + v.encode("utf-8", "surrogateescape") + b"\0"
    for k, v in m["headers"].items())
assert got == raw, (got, raw)'
}

@test "show: hostile values are escaped by vis(3): newline, ESC, tab, '=', backslash, non-ASCII" {
	v=$(printf 'a=b\nid: forged\033[2J\tc\\d caf\303\251 \377\001')
	mq-put -H "v=$v" -H "w= lead" q <<<x >/dev/null
	run --separate-stderr mq-show "$(only q ready)"
	[ "$status" -eq 0 ]
	[ "${lines[7]}" = 'v: a=b\nid: forged\033[2J\tc\\d caf\303\251 \377\001' ]
	[ "${lines[8]}" = 'w:  lead' ]
	[ "${#lines[@]}" -eq 9 ]
	# one id line: the forged one stays inside its value
	[ "$(grep -c '^id: ' <<<"$output")" -eq 1 ]
	! LC_ALL=C grep -q "$(printf '[\001-\011\013-\037\177\033\200-\377]')" <<<"$output"
}

@test "show: 3072 bytes of headers, and hundreds of headers, in order" {
	v=$(head -c 3069 /dev/zero | tr '\0' v)
	mq-put -H "a=$v" q <<<x >/dev/null
	run mq-show "$(only q ready)"
	[ "$status" -eq 0 ]
	[ "${lines[7]}" = "a: $v" ]
	mq-purge -s ready q
	args=()
	for i in $(seq 1 300); do args+=(-H "h$i=$i"); done
	mq-put "${args[@]}" q <<<x >/dev/null
	mq-show "$(only q ready)" | tail -n +8 >"$BATS_TEST_TMPDIR/got"
	for i in $(seq 1 300); do echo "h$i: $i"; done | diff - "$BATS_TEST_TMPDIR/got"
	mq-show -j "$(only q ready)" >"$BATS_TEST_TMPDIR/out"
	json "$BATS_TEST_TMPDIR/out" '
assert list(m["headers"].items()) == [("h%d" % i, str(i)) for i in range(1, 301)]'
}

@test "show: a planted malformed attribute: one error naming the message, 65, nothing shown of it, the next shown" {
	mq-put -H a=1 q <<<bad >/dev/null
	mq-put -H a=1 q <<<good >/dev/null
	bad=$(files q ready | head -n 1)
	good=$(files q ready | tail -n 1)
	# no '=', a record without its NUL, a bad name, a name twice (folded),
	# an empty name, an escape in a name, more than 3072 bytes
	for b in 'noequals\0' 'a=1' 'bad name=1\0' 'a-b=1\0a.b=2\0' '=1\0' \
	    'a\033=1\0' "$(head -c 3100 /dev/zero | tr '\0' v)=\\0"; do
		plant "$bad" "$b" || skip "cannot set the attribute here"
		run --separate-stderr mq-show "$bad" "$good"
		echo "$b: $status $stderr"
		[ "$status" -eq 65 ]
		[[ "$stderr" == "mq-show: $bad: cannot read headers: bad header"* ]]
		[ "$(printf '%s\n' "$stderr" | wc -l)" -eq 1 ]
		[ "${lines[0]}" = "id: $(basename "$good" | cut -c1-26)" ]
		[ "$(grep -c '^id: ' <<<"$output")" -eq 1 ]
		run --separate-stderr mq-show -j "$bad"
		[ "$status" -eq 65 ] && [ -z "$output" ]
	done
}

@test "show: a symlink, a FIFO, a twin, a path outside the spool, ../: one line each, 65, the rest shown" {
	mq-put q <<<x >/dev/null
	f=$(only q ready)
	b=$(dirname "$f") n=$(basename "$f")
	other=$BATS_TEST_TMPDIR/other
	mkdir -p "$other/q/ready/${b##*/}"
	echo secret >"$other/q/ready/${b##*/}/1700000000.000001.AAAAAAAA,p4,a0"
	ln -s "$other/q/ready/${b##*/}/1700000000.000001.AAAAAAAA,p4,a0" \
	    "$b/1700000000.000002.AAAAAAAA,p4,a0"
	mkfifo "$b/1700000000.000003.AAAAAAAA,p4,a0"
	mkfifo "$S/q/dead/1700000000.000004.AAAAAAAA,p4,a1,rattempts"
	ln -s "$S/q/ready" "$S/q/held/1700000000.000005.AAAAAAAA,p4,a0"
	echo twin >"$BATS_TEST_TMPDIR/twin-src"
	ln "$BATS_TEST_TMPDIR/twin-src" "$b/1700000000.000006.AAAAAAAA,p4,a0"
	cd "$b"
	for p in "$b/1700000000.000002.AAAAAAAA,p4,a0" \
	    "$b/1700000000.000003.AAAAAAAA,p4,a0" \
	    "$S/q/dead/1700000000.000004.AAAAAAAA,p4,a1,rattempts" \
	    "$S/q/held/1700000000.000005.AAAAAAAA,p4,a0" \
	    "$b/1700000000.000006.AAAAAAAA,p4,a0" \
	    "$other/q/ready/${b##*/}/1700000000.000001.AAAAAAAA,p4,a0" \
	    "$S/../../$(basename "$BATS_TEST_TMPDIR")/other/q/ready/${b##*/}/1700000000.000001.AAAAAAAA,p4,a0" \
	    "../../../../other/q/ready/${b##*/}/1700000000.000001.AAAAAAAA,p4,a0" \
	    "$S/q/ready/$n" "$S/q/tmp/$n" "$S/q/$n" "$b" "$b/" "$n" /etc/passwd; do
		run --separate-stderr timeout 10 mq-show "$p" "$f"
		echo "$p: $status $stderr"
		[ "$status" -eq 65 ]
		bad_path "$p"
		[ "${lines[0]}" = "id: ${n:0:26}" ]
		[[ "$output" != *secret* ]]
	done
}

@test "show: a path with control bytes is named escaped, never raw" {
	mq-init q
	run --separate-stderr mq-show "$(printf '%s/q/ready/4.0000000001/x\033[2J\ny' "$S")"
	[ "$status" -eq 65 ]
	[ "$stderr" = "mq-show: $S/q/ready/4.0000000001/x\\033[2J\\ny: not a message of this spool in that state" ]
	# a line of stdin with a NUL byte is no path
	run --separate-stderr mq-show < <(printf '%s/q/ready/a\0b\n' "$S")
	[ "$status" -eq 65 ]
	[ "$stderr" = "mq-show: $S/q/ready/a\\0b: not a message of this spool in that state" ]
}

@test "show: a message that moved on meanwhile: 1, and the others are shown" {
	conf max_attempts=1
	mq-put q <<<a >/dev/null
	mq-put q <<<b >/dev/null
	r=$(files q ready | head -n 1)
	keep=$(files q ready | tail -n 1)
	h=$(mq-get q) # claims r: its ready path is gone
	run --separate-stderr mq-show "$r" "$keep"
	[ "$status" -eq 1 ]
	[ "$stderr" = "mq-show: $r: message moved meanwhile: claimed, held, released or deleted" ]
	[ "${lines[0]}" = "id: $(basename "$keep" | cut -c1-26)" ]
	mq-ack "$h"
	run --separate-stderr mq-show "$h"
	[ "$status" -eq 1 ]
	[ "$stderr" = "mq-show: $h: lease lost: message acked, reclaimed or claimed again" ]
	mq-nack "$(mq-get q)"
	d=$(only q dead)
	mq-kick q "$d"
	run --separate-stderr mq-show "$d"
	[ "$status" -eq 1 ]
	# the worst status wins: 65 after 1
	run --separate-stderr mq-show "$d" "$S/q/nonsense"
	[ "$status" -eq 65 ]
}

@test "show: a queue that does not exist: 66" {
	mq-init q
	run --separate-stderr mq-show "$S/nosuch/ready/4.0000000001/1700000000.000001.AAAAAAAA,p4,a0"
	[ "$status" -eq 66 ]
	[ "$stderr" = "mq-show: $S/nosuch/ready/4.0000000001/1700000000.000001.AAAAAAAA,p4,a0: no such queue" ]
}

@test "show: an unreadable message: 77" {
	[ "$(id -u)" -ne 0 ] || skip "root reads every file"
	mq-put q <<<x >/dev/null
	chmod 0 "$(only q ready)"
	run --separate-stderr mq-show "$(only q ready)"
	[ "$status" -eq 77 ]
}

@test "show: moves, locks and changes nothing" {
	conf max_attempts=1
	mq-put -H a=1 q <<<a >/dev/null
	mq-put -D 1h q <<<b >/dev/null
	mq-put q <<<c >/dev/null
	h=$(mq-get q)
	before=$(tree_state "$S")
	mq-ls q | mq-show >/dev/null
	mq-ls q | mq-show -j >/dev/null
	[ "$(tree_state "$S")" = "$before" ]
	# the handle still works
	mq-ack "$h"
}

@test "show: usage: a bad option is 64; no operands and empty stdin print nothing, 0" {
	run --separate-stderr mq-show -x
	[ "$status" -eq 64 ]
	[ "${stderr##*$'\n'}" = "usage: mq-show [-j] [-d dir] [path ...]" ]
	run --separate-stderr mq-show </dev/null
	[ "$status" -eq 0 ] && [ -z "$output" ] && [ -z "$stderr" ]
}

@test "show: a full stdout is 74, not a silent success" {
	[ -w /dev/full ] || skip "no /dev/full"
	mq-put q <<<x >/dev/null
	run bash -c 'mq-show "$1" >/dev/full' _ "$(only q ready)"
	[ "$status" -eq 74 ]
}
