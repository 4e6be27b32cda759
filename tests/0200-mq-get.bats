#!/usr/bin/env bats
# mq-get: claiming messages.
load test_helper
bats_require_minimum_version 1.5.0

ID_RE='[0-9]{10}\.[0-9]{6}\.[0-9A-Za-z]{8}'


@test "get: handle is an absolute path in SPOOL/QUEUE/inflight/ and cat gives the body" {
	id=$(mq-put q <<<'hello')
	run mq-get q
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 1 ]
	h=$output
	[[ "$h" == /* ]]
	[ "$(dirname "$h")" = "$S/q/inflight" ]
	[[ "$(basename "$h")" =~ ^$id,p4,a1,s6,l[0-9]+,t[0-9A-Za-z]{6,16}$ ]]
	[ -f "$h" ]
	[ "$(cat "$h")" = hello ]
	# moved, not copied
	[ "$(count "$S/q/ready")" -eq 0 ]
	[ "$(count "$S/q/inflight")" -eq 1 ]
}

@test "get: binary body is byte exact through the handle" {
	printf 'a\0b\377' >"$BATS_TEST_TMPDIR/bin"
	mq-put q "$BATS_TEST_TMPDIR/bin" >/dev/null
	h=$(mq-get q)
	cmp "$h" "$BATS_TEST_TMPDIR/bin"
}

@test "get: handle is absolute even with a relative spool" {
	cd "$BATS_TEST_TMPDIR"
	mq-put -d rel q <<<x >/dev/null
	run mq-get -d rel q
	[ "$status" -eq 0 ]
	[ "$output" = "$(find "$BATS_TEST_TMPDIR/rel/q/inflight" -type f)" ]
	[[ "$output" == /* ]]
	MQ_SPOOL=rel mq-put q <<<y >/dev/null
	run env MQ_SPOOL=rel mq-get q
	[ "$status" -eq 0 ]
	[[ "$output" == "$BATS_TEST_TMPDIR/rel/q/inflight/"* ]]
}

@test "get: -d overrides MQ_SPOOL" {
	mq-put -d "$BATS_TEST_TMPDIR/other" q <<<x >/dev/null
	run mq-get q
	[ "$status" -eq 66 ]
	run mq-get -d "$BATS_TEST_TMPDIR/other" q
	[ "$status" -eq 0 ]
	[[ "$output" == "$BATS_TEST_TMPDIR/other/q/inflight/"* ]]
}

@test "get: default lease is 30s: mtime is the deadline" {
	mq-put q <<<x >/dev/null
	before=$(date +%s)
	h=$(mq-get q)
	after=$(date +%s)
	d=$(deadline "$h")
	[ "$d" -ge $((before + 29)) ] && [ "$d" -le $((after + 31)) ]
}

@test "get: -L sets the lease" {
	mq-put -l q < <(printf 'a\nb\n') >/dev/null
	before=$(date +%s)
	h=$(mq-get -L 10m q)
	d=$(deadline "$h")
	[ "$d" -ge $((before + 599)) ] && [ "$d" -le $((before + 602)) ]
	h=$(mq-get -L 1h30m q)
	d=$(deadline "$h")
	[ "$d" -ge $((before + 5399)) ] && [ "$d" -le $((before + 5402)) ]
}

@test "get: lease from the config, the queue's mq.conf overrides it" {
	conf lease=2m
	mq-put -l q < <(printf 'a\nb\n') >/dev/null
	now=$(date +%s)
	d=$(deadline "$(mq-get q)")
	[ "$d" -ge $((now + 119)) ] && [ "$d" -le $((now + 122)) ]
	echo 'lease = 1h' >"$S/q/mq.conf"
	d=$(deadline "$(mq-get q)")
	[ "$d" -ge $((now + 3599)) ] && [ "$d" -le $((now + 3602)) ]
}

@test "get: empty queue -> exit 1, no output" {
	mq-init q
	run mq-get q
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	# stdout stays empty even when stderr is split off
	out=$(mq-get q 2>/dev/null) || true
	[ -z "$out" ]
}

@test "get: drained queue -> exit 1" {
	mq-put q <<<x >/dev/null
	mq-get q >/dev/null
	run mq-get q
	[ "$status" -eq 1 ]
	[ -z "$output" ]
}

@test "get: missing queue -> 66, nothing created" {
	mq-init other
	run mq-get q
	[ "$status" -eq 66 ]
	[ ! -e "$S/q" ]
}

@test "get: missing spool -> 66, nothing created" {
	run mq-get q
	[ "$status" -eq 66 ]
	[ ! -e "$S" ]
}

@test "get: -n count returns up to count handles, exit 0 if at least one" {
	mq-put -l q < <(printf 'a\nb\nc\n') >/dev/null
	run mq-get -n 2 q
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 2 ]
	[ "$(cat "${lines[0]}")" = a ]
	[ "$(cat "${lines[1]}")" = b ]
	run mq-get -n 5 q
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 1 ]
	[ "$(cat "${lines[0]}")" = c ]
	run mq-get -n 5 q
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	[ "$(count "$S/q/inflight")" -eq 3 ]
}

@test "get: -n with a bad count -> 64, nothing claimed" {
	mq-put q <<<x >/dev/null
	for n in 0 -1 x '' 1.5 1000001; do
		run mq-get -n "$n" q
		[ "$status" -eq 64 ] || { echo "count [$n]: $status"; false; }
	done
	[ "$(count "$S/q/ready")" -eq 1 ]
}

@test "get: -L with a bad duration -> 64, nothing claimed" {
	mq-put q <<<x >/dev/null
	for l in 0 0s bogus -1 '' 1x 1.5s; do
		run mq-get -L "$l" q
		[ "$status" -eq 64 ] || { echo "lease [$l]: $status"; false; }
	done
	[ "$(count "$S/q/ready")" -eq 1 ]
}

@test "get: bad queue names -> 64" {
	long=$(printf 'a%.0s' $(seq 65))
	for n in ../x a/b '' .x -x "$long"; do
		run mq-get -- "$n"
		[ "$status" -eq 64 ] || { echo "name [$n]: $status"; false; }
	done
}

@test "get: no queue operand or two of them -> 64" {
	mq-init q r
	run mq-get
	[ "$status" -eq 64 ]
	run mq-get q r
	[ "$status" -eq 64 ]
}

@test "get: -h -> 0 with usage on stdout, -V prints the version, bad option -> 64" {
	run --separate-stderr mq-get -h
	[ "$status" -eq 0 ]
	[[ "$output" == "usage: mq-get"* ]]
	[ -z "$stderr" ]
	run mq-get -V
	[ "$status" -eq 0 ]
	[ "$output" = "mq-get 0.1.0" ]
	run mq-get -x q
	[ "$status" -eq 64 ]
	[[ "$output" == *usage:* ]]
}

@test "get: delivery order: priority first, then FIFO" {
	mq-put q <<<a4 >/dev/null
	mq-put -p 0 q <<<b0 >/dev/null
	mq-put -p 9 q <<<c9 >/dev/null
	mq-put q <<<d4 >/dev/null
	mq-put -p 9 q <<<e9 >/dev/null
	mq-put -p 5 q <<<f5 >/dev/null
	mq-put q <<<g4 >/dev/null
	run mq-get -n 10 q
	[ "$status" -eq 0 ]
	got=$(for h in "${lines[@]}"; do cat "$h"; done | tr '\n' ' ')
	[ "$got" = "c9 e9 f5 a4 d4 g4 b0 " ]
}

@test "get: FIFO holds across buckets and across separate mq-get runs" {
	conf bucket_size=2
	seq 7 | mq-put -l q >/dev/null
	[ "$(ls "$S/q/ready" | wc -l)" -eq 4 ]
	got=
	while h=$(mq-get q); do
		got="$got$(cat "$h") "
	done
	[ "$got" = "1 2 3 4 5 6 7 " ]
}

@test "get: a foreign producer's file (any SEQ) is delivered, lowest SEQ of highest P first" {
	mq-init q
	id1=1700000000.000001.AAAAAAAA
	id2=1700000000.000002.BBBBBBBB
	id3=1700000000.000003.CCCCCCCC
	mkdir "$S/q/ready/4.0000000007" "$S/q/ready/4.0000000003" \
	    "$S/q/ready/6.0000000009"
	printf 'seven' >"$S/q/ready/4.0000000007/$id1,p4,a0,s5"
	printf 'three' >"$S/q/ready/4.0000000003/$id2,p4,a0,s5"
	printf 'six' >"$S/q/ready/6.0000000009/$id3,p6,a0,s3"
	run mq-get -n 3 q
	[ "$status" -eq 0 ]
	[ "$(cat "${lines[0]}")" = six ]
	[ "$(cat "${lines[1]}")" = three ]
	[ "$(cat "${lines[2]}")" = seven ]
	[[ "$(basename "${lines[1]}")" == "$id2,p4,a1,s5,l"* ]]
}

@test "get: a ready name without the s field is delivered (it is optional)" {
	mq-init q
	mkdir "$S/q/ready/4.0000000001"
	printf 'body' >"$S/q/ready/4.0000000001/1700000000.000001.AAAAAAAA,p4,a0"
	run mq-get q
	[ "$status" -eq 0 ]
	[[ "$(basename "$output")" =~ ^1700000000\.000001\.AAAAAAAA,p4,a1,l[0-9]+,t[0-9A-Za-z]{6,16}$ ]]
}

@test "get: entries not matching the grammar are never delivered, never deleted" {
	mq-init q
	b=$S/q/ready/4.0000000001
	mkdir "$b" "$S/q/ready/junkbucket"
	printf x >"$b/garbage"
	printf x >"$b/1700000000.000001.AAAAAAAA,p4,a0,s1,tTOKEN123"   # token in ready
	printf x >"$b/1700000000.000001.AAAAAAAA,a0,p4"                # wrong order
	printf x >"$b/1700000000.000001.AAAAAAA"                       # short id
	printf x >"$b/1700000000.000001.AAAAAAAA,p4,a0,s1,zfoo"        # unknown field
	printf x >"$b/.1700000000.000001.AAAAAAAA,p4,a0,s1"
	printf x >"$S/q/ready/junkbucket/1700000000.000002.AAAAAAAA,p4,a0,s1"
	printf x >"$S/q/ready/1700000000.000003.AAAAAAAA,p4,a0,s1"     # not in a bucket
	before=$(find "$S/q" | sort)
	# (timeout: a consumer that loops over the junk must fail, not hang)
	run timeout 10 mq-get -n 10 q
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	[ "$(find "$S/q" | sort)" = "$before" ]
	[ "$(count "$S/q/inflight")" -eq 0 ]
}

@test "get: junk next to real messages: the messages are delivered, the junk stays" {
	mq-put -l q < <(printf 'a\nb\n') >/dev/null
	b=$(find "$S/q/ready" -mindepth 1 -type d)
	printf x >"$b/garbage"
	printf x >"$b/0000000000.000000.AAAAAAAA,p4,a0,s1,tTOKEN123"
	run timeout 10 mq-get -n 10 q
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 2 ]
	[ "$(cat "${lines[0]}")" = a ]
	[ "$(cat "${lines[1]}")" = b ]
	[ -f "$b/garbage" ]
	[ -f "$b/0000000000.000000.AAAAAAAA,p4,a0,s1,tTOKEN123" ]
	run timeout 10 mq-get q
	[ "$status" -eq 1 ]
}

@test "get: a junk-only bucket does not hide the messages of later buckets" {
	mq-init q
	mkdir "$S/q/ready/4.0000000001"
	printf x >"$S/q/ready/4.0000000001/garbage"
	mkdir "$S/q/ready/4.0000000002"
	printf real >"$S/q/ready/4.0000000002/1700000000.000001.AAAAAAAA,p4,a0,s4"
	run timeout 10 mq-get q
	[ "$status" -eq 0 ]
	[ "$(cat "$output")" = real ]
}

@test "get: a symlink with a valid name in a ready bucket is not delivered, its target survives" {
	mq-init q
	printf secret >"$BATS_TEST_TMPDIR/target"
	mkdir "$S/q/ready/4.0000000001"
	ln -s "$BATS_TEST_TMPDIR/target" \
	    "$S/q/ready/4.0000000001/1700000000.000001.AAAAAAAA,p4,a0,s6"
	run mq-get q
	[ "$status" -eq 1 ]
	[ "$(cat "$BATS_TEST_TMPDIR/target")" = secret ]
	[ -z "$(ls -A "$S/q/inflight")" ]
	[ -L "$S/q/ready/4.0000000001/1700000000.000001.AAAAAAAA,p4,a0,s6" ]
}

@test "get: a directory named like a message in a ready bucket is not delivered" {
	mq-init q
	mkdir -p "$S/q/ready/4.0000000001/1700000000.000001.AAAAAAAA,p4,a0,s1"
	run timeout 10 mq-get q
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	[ -d "$S/q/ready/4.0000000001/1700000000.000001.AAAAAAAA,p4,a0,s1" ]
	[ -z "$(ls -A "$S/q/inflight")" ]
}

@test "get: delayed message not delivered before due, delivered after" {
	id=$(mq-put -D 2 q <<<later)
	run mq-get q
	[ "$status" -eq 1 ]
	[ "$(count "$S/q/delayed")" -eq 1 ]
	wait_for 6 try_get q
	[ "$(cat "$h")" = later ]
	[[ "$(basename "$h")" =~ ^$id,p4,a1,s6,l[0-9]+,t[0-9A-Za-z]{6,16}$ ]]
	[ "$(count "$S/q/delayed")" -eq 0 ]
}

@test "get: a delayed message is not due before its n time" {
	n=$(( $(date +%s) + 3 ))
	mq-put -A "$n" q <<<x >/dev/null
	# strictly before the due second (a margin of 1 s for slow runs)
	while [ "$(date +%s)" -lt $((n - 1)) ]; do
		run mq-get q
		[ "$status" -eq 1 ]
		sleep 0.2
	done
	wait_for 5 try_get q
}

@test "get: due delayed messages keep their priority" {
	mq-put -D 3 -p 9 q <<<urgent >/dev/null
	mq-put q <<<normal >/dev/null
	h=$(mq-get q)
	[ "$(cat "$h")" = normal ]
	wait_for 8 try_get q
	[ "$(cat "$h")" = urgent ]
	[[ "$(basename "$h")" == *,p9,a1,* ]]
}

@test "get: a foreign delayed file in a past window is promoted, the window removed" {
	mq-init q
	t=$(( $(date +%s) - 600 ))
	w=$(printf '%010d' $((t - t % 60)))
	mkdir "$S/q/delayed/$w"
	printf old >"$S/q/delayed/$w/1700000000.000001.AAAAAAAA,p4,a0,s3,n$t"
	run mq-get q
	[ "$status" -eq 0 ]
	[ "$(cat "$output")" = old ]
	[ ! -e "$S/q/delayed/$w" ]
}

@test "get: ttl: an expired message is not delivered, it goes to dead/ with ,rexpired" {
	id=$(mq-put -T 1 q <<<stale)
	x=$(field x "$(only q ready)")
	wait_for 5 now_ge "$x"
	run mq-get q
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	f=$(only q dead)
	[ "$(basename "$f")" = "$id,p4,a0,s6,x$x,rexpired" ]
	[ "$(cat "$f")" = stale ]
	[ "$(count "$S/q/ready")" -eq 0 ]
	[ "$(count "$S/q/inflight")" -eq 0 ]
}

@test "get: ttl: an expired message is skipped, the next one is delivered" {
	mq-put -T 1 q <<<stale >/dev/null
	mq-put q <<<fresh >/dev/null
	x=$(field x "$(find "$S/q/ready" -name '*,x*')")
	wait_for 5 now_ge "$x"
	run mq-get -n 5 q
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 1 ]
	[ "$(cat "$output")" = fresh ]
	[[ "$(basename "$(only q dead)")" == *",rexpired" ]]
}

@test "get: an expired message inside a run of claims is buried, the run goes on" {
	mq-put q <<<fresh1 >/dev/null
	mq-put -T 1 q <<<stale >/dev/null
	mq-put q <<<fresh2 >/dev/null
	x=$(field x "$(find "$S/q/ready" -name '*,x*')")
	wait_for 5 now_ge "$x"
	run mq-get -n 5 q
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 2 ]
	[ "$(cat "${lines[0]}")" = fresh1 ]
	[ "$(cat "${lines[1]}")" = fresh2 ]
	[[ "$(basename "$(only q dead)")" == *",rexpired" ]]
}

@test "get: -n claims no more than it prints, however big the bucket" {
	conf sync=none
	seq 200 | mq-put -l q >/dev/null
	run mq-get -n 3 q
	[ "${#lines[@]}" -eq 3 ]
	[ "$(count "$S/q/inflight")" -eq 3 ]
	run mq-get -n 100 q
	[ "${#lines[@]}" -eq 100 ]
	[ "$(count "$S/q/inflight")" -eq 103 ]
	[ "$(count "$S/q/ready")" -eq 97 ]
}

@test "get: ttl not yet reached: delivered with its x field" {
	id=$(mq-put -T 1h q <<<x)
	run mq-get q
	[ "$status" -eq 0 ]
	[[ "$(basename "$output")" =~ ^$id,p4,a1,s2,x[0-9]{10},l[0-9]+,t[0-9A-Za-z]+$ ]]
}

@test "get: ttl from the config expires messages" {
	conf ttl=1s
	mq-put q <<<x >/dev/null
	x=$(field x "$(only q ready)")
	wait_for 5 now_ge "$x"
	run mq-get q
	[ "$status" -eq 1 ]
	[[ "$(only q dead)" == *",rexpired" ]]
}

@test "get: a delayed message whose ttl passes before it is due goes to dead/" {
	mq-put -D 3 -T 1 q <<<x >/dev/null
	f=$(only q delayed)
	n=$(field n "$f")
	wait_for 8 now_ge "$n"
	run mq-get q
	[ "$status" -eq 1 ]
	[[ "$(only q dead)" == *",rexpired" ]]
}

@test "get: a claimed message is hidden from other consumers during its lease" {
	mq-put q <<<x >/dev/null
	h=$(mq-get q)
	run mq-get q
	[ "$status" -eq 1 ]
	[ -f "$h" ]
}

@test "get: -L 1: the next mq-get after expiry reclaims it, attempts a1 -> a2, new token" {
	id=$(mq-put q <<<again)
	h1=$(mq-get -L 1 q)
	[[ "$(basename "$h1")" == "$id,p4,a1,s6,l"* ]]
	wait_for 5 try_get -L 30 q
	[[ "$(basename "$h")" =~ ^$id,p4,a2,s6,l[0-9]+,t[0-9A-Za-z]{6,16}$ ]]
	[ "$h" != "$h1" ]
	[ ! -e "$h1" ]
	[ "$(cat "$h")" = again ]
	[ "$(count "$S/q/inflight")" -eq 1 ]
}

@test "get: mq-stat also reclaims an expired lease back to ready (attempt counted)" {
	id=$(mq-put q <<<x)
	h=$(mq-get -L 1 q)
	reclaimed() {
		mq-stat q >/dev/null && [ "$(count "$S/q/inflight")" -eq 0 ]
	}
	wait_for 5 reclaimed
	f=$(only q ready)
	[ "$(basename "$f")" = "$id,p4,a1,s2" ]
	[ ! -e "$h" ]
}

@test "get: max_attempts = 2 with expiring leases -> dead/ with ,rattempts" {
	conf max_attempts=2
	id=$(mq-put q <<<poison)
	h=$(mq-get -L 1 q)
	[[ "$h" == *,a1,* ]]
	wait_for 5 try_get -L 1 q
	[[ "$h" == *,a2,* ]]
	buried() {
		! mq-get q >/dev/null && [ "$(count "$S/q/dead")" -eq 1 ]
	}
	wait_for 5 buried
	f=$(only q dead)
	[ "$(basename "$f")" = "$id,p4,a2,s7,rattempts" ]
	[ "$(cat "$f")" = poison ]
	[ "$(count "$S/q/ready")" -eq 0 ]
	[ "$(count "$S/q/inflight")" -eq 0 ]
}

@test "get: max_attempts = 0 never dead-letters on lease expiry" {
	conf max_attempts=0
	mq-init q
	# a message already delivered 7 times, its lease long gone
	f="$S/q/inflight/1700000000.000001.AAAAAAAA,p4,a7,s1,tTOKEN123"
	printf x >"$f"
	touch -d @1000000000 "$f"
	run mq-get q
	[ "$status" -eq 0 ]
	[[ "$(basename "$output")" == 1700000000.000001.AAAAAAAA,p4,a8,s1,l* ]]
	[ "$(count "$S/q/dead")" -eq 0 ]
}

@test "get: default max_attempts is 5 for expired leases" {
	mq-init q
	f="$S/q/inflight/1700000000.000001.AAAAAAAA,p4,a4,s1,tTOKEN123"
	printf x >"$f"
	touch -d @1000000000 "$f"
	h=$(mq-get -L 1 q)
	[[ "$h" == *,a5,* ]]
	buried() {
		! mq-get q >/dev/null && [ "$(count "$S/q/dead")" -eq 1 ]
	}
	wait_for 5 buried
	[[ "$(only q dead)" == *",a5,s1,rattempts" ]]
}

@test "get: malformed or symlinked entries in inflight/ are not reclaimed" {
	mq-init q
	printf secret >"$BATS_TEST_TMPDIR/target"
	touch -d @1000000000 "$BATS_TEST_TMPDIR/target"
	ln -s "$BATS_TEST_TMPDIR/target" \
	    "$S/q/inflight/1700000000.000001.AAAAAAAA,p4,a1,s6,tTOKEN123"
	printf x >"$S/q/inflight/junk"
	printf x >"$S/q/inflight/1700000000.000002.AAAAAAAA,p4,a1,s1"
	touch -h -d @1000000000 "$S/q/inflight/"*
	run mq-get q
	[ "$status" -eq 1 ]
	[ "$(ls "$S/q/inflight" | wc -l)" -eq 3 ]
	[ "$(cat "$BATS_TEST_TMPDIR/target")" = secret ]
	[ "$(count "$S/q/ready")" -eq 0 ]
}

@test "get: empty buckets are removed after draining, except the current tail" {
	conf bucket_size=2
	seq 6 | mq-put -l q >/dev/null
	[ "$(ls "$S/q/ready" | wc -l)" -eq 3 ]
	while mq-get q >/dev/null; do :; done
	[ "$(count "$S/q/inflight")" -eq 6 ]
	[ "$(ls "$S/q/ready" | wc -l)" -le 1 ]
	# and the queue still works
	mq-put q <<<7 >/dev/null
	[ "$(cat "$(mq-get q)")" = 7 ]
}

@test "get: -n draining leaves at most one bucket per priority" {
	conf bucket_size=2
	seq 6 | mq-put -l q >/dev/null
	seq 3 | mq-put -l -p 7 q >/dev/null
	[ "$(ls "$S/q/ready" | wc -l)" -eq 5 ]
	run mq-get -n 9 q
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 9 ]
	mq-get q >/dev/null || true
	[ "$(ls "$S/q/ready" | grep -c '^4\.')" -le 1 ]
	[ "$(ls "$S/q/ready" | grep -c '^7\.')" -le 1 ]
	[ "$(count "$S/q/ready")" -eq 0 ]
}

@test "get: concurrent consumers never claim one message twice" {
	conf sync=none
	seq 300 | mq-put -l q >/dev/null
	for i in 1 2 3 4; do
		mq-get -n 300 q >"$BATS_TEST_TMPDIR/got.$i" &
	done
	wait || true
	cat "$BATS_TEST_TMPDIR"/got.* >"$BATS_TEST_TMPDIR/all"
	[ "$(wc -l <"$BATS_TEST_TMPDIR/all")" -eq 300 ]
	[ "$(sort -u "$BATS_TEST_TMPDIR/all" | wc -l)" -eq 300 ]
	while read -r h; do cat "$h"; echo; done <"$BATS_TEST_TMPDIR/all" |
	    sort -n >"$BATS_TEST_TMPDIR/bodies"
	seq 300 | cmp - "$BATS_TEST_TMPDIR/bodies"
	[ "$(count "$S/q/ready")" -eq 0 ]
}

@test "get: stdout write error -> 74" {
	mq-put q <<<x >/dev/null
	run bash -c 'mq-get q >/dev/full'
	[ "$status" -eq 74 ]
}

@test "get: configuration error -> 78" {
	mq-put q <<<x >/dev/null
	echo 'lease = forever' >"$MQ_CONF"
	run mq-get q
	[ "$status" -eq 78 ]
	[[ "$output" == *"$MQ_CONF:1:"* ]]
	[ "$(count "$S/q/ready")" -eq 1 ]
	printf '[section]\nlease = 1s\n' >"$MQ_CONF"
	run mq-get q
	[ "$status" -eq 78 ]
}

@test "get: out of file descriptors -> 75 (not a config error), nothing lost" {
	mq-put q <<<x >/dev/null
	ok=
	for n in $(seq 3 40); do
		rc=0
		(ulimit -n "$n" && exec mq-get q) >"$BATS_TEST_TMPDIR/h" 2>"$BATS_TEST_TMPDIR/err" || rc=$?
		if [ "$rc" -eq 0 ]; then
			ok=$n
			break
		fi
		# too few descriptors for the shell or loader to start mq at all
		grep -q '^mq-get: ' "$BATS_TEST_TMPDIR/err" || continue
		! grep -q 'loading shared libraries' "$BATS_TEST_TMPDIR/err" || continue
		[ "$rc" -eq 75 ] || { echo "ulimit -n $n: exit $rc"; cat "$BATS_TEST_TMPDIR/err"; false; }
		[ "$(count "$S/q/ready")" -eq 1 ]
	done
	[ -n "$ok" ]
	[ -f "$(cat "$BATS_TEST_TMPDIR/h")" ]
}

@test "get: read-only spool -> 73, nothing moves" {
	mq-put q <<<x >/dev/null
	ro_spool
	run mq-get -d "$RO" q
	[ "$status" -eq 73 ]
	umount "$RO"
	[ "$(count "$S/q/ready")" -eq 1 ]
	[ "$(count "$S/q/inflight")" -eq 0 ]
}
