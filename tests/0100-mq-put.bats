#!/usr/bin/env bats
# mq-put: producing messages.
load test_helper
bats_require_minimum_version 1.5.0

ID_RE='^[0-9]{10}\.[0-9]{6}\.[0-9A-Za-z]{8}$'


# nothing at all below the spool but empty directories and lock files
no_messages() {
	[ "$(find "$S" -type f ! -name lock | wc -l)" -eq 0 ]
}

@test "put: prints an id, creates the queue, body is byte exact" {
	run mq-put orders <<<'order 42 paid'
	[ "$status" -eq 0 ]
	[[ "$output" =~ ^[0-9]{10}\.[0-9]{6}\.[0-9A-Za-z]{8}$ ]]
	f=$(find "$S/orders/ready" -type f)
	[ "$(cat "$f")" = "order 42 paid" ]
	[[ "$f" == *"/ready/4."*"/$output,p4,a0,s14" ]]
}

@test "put: id format: 10-digit seconds near now, 6-digit microseconds, 8 random alnum" {
	before=$(date +%s)
	run mq-put q <<<x
	after=$(date +%s)
	[ "$status" -eq 0 ]
	[[ "$output" =~ $ID_RE ]]
	secs=${output%%.*}
	[ "$((10#$secs))" -ge "$before" ]
	[ "$((10#$secs))" -le "$after" ]
}

@test "put: the file name is ID,p4,a0,sSIZE in ready/4.0000000001/" {
	run mq-put q <<<'hello'
	[ "$status" -eq 0 ]
	f=$(only q ready)
	[ "$f" = "$S/q/ready/4.0000000001/$output,p4,a0,s6" ]
}

@test "put: queue auto-created with the full layout, no .init leftovers" {
	export MQ_SPOOL=$BATS_TEST_TMPDIR/deep/er/spool
	S=$MQ_SPOOL
	run mq-put newq <<<x
	[ "$status" -eq 0 ]
	for d in ready delayed inflight dead tmp; do
		[ -d "$S/newq/$d" ]
	done
	[ -f "$S/newq/lock" ]
	[ -z "$(find "$S" -maxdepth 1 -name '.init*')" ]
	[ -z "$(ls -A "$S/newq/tmp")" ]
}

@test "put: an existing queue is reused" {
	mq-put q <<<one
	mq-put q <<<two
	[ "$(count "$S/q/ready")" -eq 2 ]
	[ "$(ls "$S")" = q ]
}

@test "put: concurrent puts creating the same queue all succeed" {
	for i in 1 2 3 4 5 6 7 8; do
		mq-put racing <<<"m$i" >"$BATS_TEST_TMPDIR/out.$i" &
	done
	wait
	[ "$(cat "$BATS_TEST_TMPDIR"/out.* | wc -l)" -eq 8 ]
	[ "$(count "$S/racing/ready")" -eq 8 ]
	[ -z "$(find "$S" -maxdepth 1 -name '.init*')" ]
}

@test "put: -d DIR overrides MQ_SPOOL and is created" {
	run mq-put -d "$BATS_TEST_TMPDIR/other" q <<<x
	[ "$status" -eq 0 ]
	[ "$(count "$BATS_TEST_TMPDIR/other/q/ready")" -eq 1 ]
	[ ! -e "$S" ]
}

@test "put: body from stdin with no trailing newline is byte exact" {
	printf 'no newline' | mq-put q
	f=$(only q ready)
	cmp "$f" <(printf 'no newline')
	[ "$(field s "$f")" = 10 ]
}

@test "put: binary body with NUL bytes from stdin is byte exact" {
	printf 'a\0b\0\0c\377\n\0' >"$BATS_TEST_TMPDIR/bin"
	mq-put q <"$BATS_TEST_TMPDIR/bin"
	f=$(only q ready)
	cmp "$f" "$BATS_TEST_TMPDIR/bin"
	[ "$(field s "$f")" = 9 ]
}

@test "put: binary FILE operand with NUL bytes is byte exact" {
	printf '\0\0\0x\0' >"$BATS_TEST_TMPDIR/bin"
	run mq-put q "$BATS_TEST_TMPDIR/bin"
	[ "$status" -eq 0 ]
	f=$(only q ready)
	cmp "$f" "$BATS_TEST_TMPDIR/bin"
	[[ "$f" == *"/$output,p4,a0,s5" ]]
}

@test "put: empty stdin is one empty message" {
	run mq-put q </dev/null
	[ "$status" -eq 0 ]
	[[ "$output" =~ $ID_RE ]]
	f=$(only q ready)
	[ ! -s "$f" ]
	[ "$(field s "$f")" = 0 ]
}

@test "put: a 10 MB random file is byte exact" {
	head -c 10485760 /dev/urandom >"$BATS_TEST_TMPDIR/big"
	run mq-put q "$BATS_TEST_TMPDIR/big"
	[ "$status" -eq 0 ]
	f=$(only q ready)
	cmp "$f" "$BATS_TEST_TMPDIR/big"
	[ "$(field s "$f")" = 10485760 ]
}

@test "put: a 10 MB random body on stdin is byte exact" {
	head -c 10485760 /dev/urandom >"$BATS_TEST_TMPDIR/big"
	cat "$BATS_TEST_TMPDIR/big" | mq-put q
	f=$(only q ready)
	cmp "$f" "$BATS_TEST_TMPDIR/big"
}

@test "put: FILE operands: one message and one id per file, in order" {
	printf 'first' >"$BATS_TEST_TMPDIR/f1"
	printf '' >"$BATS_TEST_TMPDIR/f2"
	printf 'third\n' >"$BATS_TEST_TMPDIR/f3"
	run mq-put q "$BATS_TEST_TMPDIR/f1" "$BATS_TEST_TMPDIR/f2" \
	    "$BATS_TEST_TMPDIR/f3"
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 3 ]
	for i in 0 1 2; do
		[[ "${lines[$i]}" =~ $ID_RE ]]
		f=$(find "$S/q/ready" -type f -name "${lines[$i]},*")
		cmp "$f" "$BATS_TEST_TMPDIR/f$((i + 1))"
	done
	# ids increase in operand order
	[ "$(printf '%s\n' "${lines[@]}" | sort -c && echo sorted)" = sorted ]
	[ "${lines[0]}" != "${lines[1]}" ] && [ "${lines[1]}" != "${lines[2]}" ]
}

@test "put: FILE operands ignore stdin" {
	printf 'file' >"$BATS_TEST_TMPDIR/f"
	mq-put q "$BATS_TEST_TMPDIR/f" <<<'stdin'
	f=$(only q ready)
	cmp "$f" "$BATS_TEST_TMPDIR/f"
}

@test "put: missing FILE operand is an error naming the file, nothing half-written" {
	run mq-put q "$BATS_TEST_TMPDIR/nonexistent"
	[ "$status" -eq 66 ]
	[[ "$output" == *nonexistent* ]]
	[ "$(count "$S/q/ready")" -eq 0 ]
	[ -z "$(ls -A "$S/q/tmp")" ]
}

@test "put: an unreadable FILE operand -> 77 naming it, Permission denied (was reported as ENOENT)" {
	[ "$(id -u)" -eq 0 ] || skip "needs root to run as another user"
	command -v setpriv >/dev/null || skip "no setpriv"
	# outside the bats run's directory (0700), which uid 65534 cannot
	# enter: the spool must be reachable, only the FILE not
	d=$(mktemp -d /var/tmp/mq-unreadable.XXXXXX)
	chmod 755 "$d"
	echo x >"$d/secret"
	chmod 600 "$d/secret"
	mkdir -m 777 "$d/sp"
	# no global configuration (a configuration is a regular file: not /dev/null)
	: >"$d/empty.conf"
	chmod 644 "$d/empty.conf"
	mkdir "$d/tools"
	bin=$(others_bin "$d/tools")
	run setpriv --reuid=65534 --regid=65534 --clear-groups \
	    env MQ_CONF="$d/empty.conf" "$bin/mq-put" -d "$d/sp" q "$d/secret"
	rm -rf "$d"
	echo "$output"
	[ "$status" -eq 77 ]
	[[ "$output" == *"$d/secret: Permission denied"* ]]
}

@test "put: missing FILE among others: error, every printed id is a message" {
	printf 'one' >"$BATS_TEST_TMPDIR/f1"
	printf 'three' >"$BATS_TEST_TMPDIR/f3"
	mq-put q "$BATS_TEST_TMPDIR/f1" "$BATS_TEST_TMPDIR/missing" \
	    "$BATS_TEST_TMPDIR/f3" >"$BATS_TEST_TMPDIR/ids" && rc=0 || rc=$?
	[ "$rc" -eq 66 ]
	# the id of f1 was printed and its message is there
	[ "$(wc -l <"$BATS_TEST_TMPDIR/ids")" -ge 1 ]
	[ "$(wc -l <"$BATS_TEST_TMPDIR/ids")" -eq "$(count "$S/q/ready")" ]
	while read -r id; do
		[ -n "$(find "$S/q/ready" -type f -name "$id,*")" ]
	done <"$BATS_TEST_TMPDIR/ids"
	[ -z "$(ls -A "$S/q/tmp")" ]
}

@test "put: a directory as FILE operand fails and leaves nothing" {
	mkdir "$BATS_TEST_TMPDIR/dir"
	run mq-put q "$BATS_TEST_TMPDIR/dir"
	[ "$status" -ne 0 ]
	[ "$(count "$S/q/ready")" -eq 0 ]
	[ -z "$(ls -A "$S/q/tmp")" ]
}

@test "put: -l: one message per line, the newline is not part of the body" {
	run mq-put -l q < <(printf 'alpha\nbeta\ngamma\n')
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 3 ]
	[ "$(count "$S/q/ready")" -eq 3 ]
	mapfile -t fs < <(files q ready)
	cmp "${fs[0]}" <(printf 'alpha')
	cmp "${fs[1]}" <(printf 'beta')
	cmp "${fs[2]}" <(printf 'gamma')
	for i in 0 1 2; do
		[[ "${fs[$i]}" == *"/${lines[$i]},p4,a0,s"[45] ]]
	done
}

@test "put: -l: last line without a newline is still a message" {
	printf 'one\ntwo' | mq-put -l q
	mapfile -t fs < <(files q ready)
	[ "${#fs[@]}" -eq 2 ]
	cmp "${fs[0]}" <(printf 'one')
	cmp "${fs[1]}" <(printf 'two')
}

@test "put: -l: a final newline does not make an extra empty message" {
	run mq-put -l q < <(printf 'only\n')
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 1 ]
	[ "$(count "$S/q/ready")" -eq 1 ]
}

@test "put: -l: empty lines are empty messages" {
	run mq-put -l q < <(printf 'a\n\n\nb\n')
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 4 ]
	mapfile -t fs < <(files q ready)
	[ "${#fs[@]}" -eq 4 ]
	cmp "${fs[0]}" <(printf 'a')
	[ ! -s "${fs[1]}" ] && [ "$(field s "${fs[1]}")" = 0 ]
	[ ! -s "${fs[2]}" ] && [ "$(field s "${fs[2]}")" = 0 ]
	cmp "${fs[3]}" <(printf 'b')
}

@test "put: -l: empty stdin puts nothing and succeeds" {
	run mq-put -l q </dev/null
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ "$(count "$S/q/ready")" -eq 0 ]
}

@test "put: -l: lines keep CR and NUL bytes" {
	printf 'a\r\nb\0c\n' | mq-put -l q
	mapfile -t fs < <(files q ready)
	[ "${#fs[@]}" -eq 2 ]
	cmp "${fs[0]}" <(printf 'a\r')
	cmp "${fs[1]}" <(printf 'b\0c')
}

@test "put: -l: lines longer than the read buffer are kept whole" {
	head -c 200000 /dev/zero | tr '\0' x >"$BATS_TEST_TMPDIR/long"
	{ cat "$BATS_TEST_TMPDIR/long"; echo; echo short; } | mq-put -l q
	mapfile -t fs < <(files q ready)
	[ "${#fs[@]}" -eq 2 ]
	cmp "${fs[0]}" "$BATS_TEST_TMPDIR/long"
	cmp "${fs[1]}" <(printf 'short')
}

@test "put: -l: ids of one batch strictly increase" {
	seq 500 | mq-put -l q >"$BATS_TEST_TMPDIR/ids"
	[ "$(wc -l <"$BATS_TEST_TMPDIR/ids")" -eq 500 ]
	sort -c "$BATS_TEST_TMPDIR/ids"
	[ "$(sort -u "$BATS_TEST_TMPDIR/ids" | wc -l)" -eq 500 ]
	# and bodies are in input order when read in id order
	mapfile -t fs < <(files q ready)
	[ "$(cat "${fs[0]}")" = 1 ]
	[ "$(cat "${fs[499]}")" = 500 ]
}

@test "put: -0: one message per NUL-terminated record" {
	run mq-put -0 q < <(printf 'one\0two\nlines\0\0last')
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 4 ]
	mapfile -t fs < <(files q ready)
	[ "${#fs[@]}" -eq 4 ]
	cmp "${fs[0]}" <(printf 'one')
	cmp "${fs[1]}" <(printf 'two\nlines')
	[ ! -s "${fs[2]}" ]
	cmp "${fs[3]}" <(printf 'last')
}

@test "put: -0: empty stdin puts nothing" {
	run mq-put -0 q </dev/null
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ "$(count "$S/q/ready")" -eq 0 ]
}

@test "put: -l with a FILE operand is a usage error" {
	printf 'x\n' >"$BATS_TEST_TMPDIR/f"
	run mq-put -l q "$BATS_TEST_TMPDIR/f"
	[ "$status" -eq 64 ]
	[ ! -e "$S" ]
}

@test "put: -p sets the priority, 0 to 9" {
	for p in 0 1 5 9; do
		run mq-put -p "$p" q <<<"p$p"
		[ "$status" -eq 0 ]
		f=$(find "$S/q/ready" -type f -name "$output,*")
		[ "$f" = "$S/q/ready/$p.0000000001/$output,p$p,a0,s3" ]
	done
}

@test "put: default priority is 4" {
	run mq-put q <<<x
	[ -f "$S/q/ready/4.0000000001/$output,p4,a0,s2" ]
}

@test "put: -p with a bad value is a usage error and creates nothing" {
	for p in 10 -1 x '' 1.5 3x 99999999999999999999; do
		run mq-put -p "$p" q <<<x
		[ "$status" -eq 64 ] || { echo "prio [$p]: $status"; false; }
	done
	[ ! -e "$S/q" ]
}

@test "put: -D puts the message into delayed/T/ with the not-before time" {
	before=$(date +%s)
	run mq-put -D 90s q <<<later
	after=$(date +%s)
	[ "$status" -eq 0 ]
	[ "$(count "$S/q/ready")" -eq 0 ]
	f=$(only q delayed)
	n=$(field n "$f")
	[ "$n" -ge $((before + 90)) ] && [ "$n" -le $((after + 91)) ]
	win=$(basename "$(dirname "$f")")
	[[ "$win" =~ ^[0-9]{10}$ ]]
	[ "$((10#$win % 60))" -eq 0 ]
	[ "$((10#$win))" -le "$n" ] && [ "$n" -lt $((10#$win + 60)) ]
	[ "$(basename "$f")" = "$output,p4,a0,s6,n$n" ]
	cmp "$f" <(printf 'later\n')
}

@test "put: -D accepts combined units (1h30m) and ms" {
	before=$(date +%s)
	mq-put -D 1h30m q <<<x
	after=$(date +%s)
	n=$(field n "$(only q delayed)")
	[ "$n" -ge $((before + 5400)) ] && [ "$n" -le $((after + 5401)) ]
	run mq-put -D 1500ms q2 <<<x
	[ "$status" -eq 0 ]
	[ "$(count "$S/q2/delayed")" -eq 1 ]
}

@test "put: -l -D delays each line from when it is read (was from the start of the stream: later lines came due early)" {
	run mq-put -l -D 1s q < <(echo a; sleep 2; echo b)
	[ "$status" -eq 0 ]
	na=$(find "$S/q/delayed" -type f -name "${lines[0]},*" | sed 's/.*,n//')
	nb=$(find "$S/q/delayed" -type f -name "${lines[1]},*" | sed 's/.*,n//')
	[ -n "$na" ] && [ -n "$nb" ]
	[ "$nb" -ge $((na + 1)) ]
}

@test "put: -D 0 makes the message ready at once" {
	mq-put -D 0 q <<<x
	f=$(only q ready)
	[ -z "$(field n "$f")" ]
	[ "$(count "$S/q/delayed")" -eq 0 ]
}

@test "put: -D with a bad duration is a usage error and creates nothing" {
	for d in bogus '' -1 1x 1.5s 5s3 s 99999999999999999999; do
		run mq-put -D "$d" q <<<x
		[ "$status" -eq 64 ] || { echo "delay [$d]: $status"; false; }
	done
	[ ! -e "$S/q" ]
}

@test "put: -A epoch seconds delays until that time" {
	t=$(( $(date +%s) + 600 ))
	run mq-put -A "$t" q <<<x
	[ "$status" -eq 0 ]
	f=$(only q delayed)
	[ "$(field n "$f")" = "$t" ]
	[ "$(basename "$(dirname "$f")")" = "$(printf '%010d' $((t - t % 60)))" ]
}

@test "put: -A @epoch seconds" {
	t=$(( $(date +%s) + 700 ))
	mq-put -A "@$t" q <<<x
	[ "$(field n "$(only q delayed)")" = "$t" ]
}

@test "put: -A ISO 8601 with Z is UTC" {
	t=$(( $(date +%s) + 3600 ))
	iso=$(date -u -d "@$t" +%Y-%m-%dT%H:%M:%SZ)
	mq-put -A "$iso" q <<<x
	[ "$(field n "$(only q delayed)")" = "$t" ]
}

@test "put: -A ISO 8601 without Z is local time" {
	t=$(( $(date +%s) + 7200 ))
	iso=$(TZ=XYZ-3 date -d "@$t" +%Y-%m-%dT%H:%M:%S)
	TZ=XYZ-3 mq-put -A "$iso" q <<<x
	[ "$(field n "$(only q delayed)")" = "$t" ]
}

@test "put: -A in the past makes the message ready at once" {
	for a in 1000000000 @1000000000 2001-09-09T01:46:40Z; do
		run mq-put -A "$a" q <<<x
		[ "$status" -eq 0 ]
	done
	[ "$(count "$S/q/ready")" -eq 3 ]
	[ "$(count "$S/q/delayed")" -eq 0 ]
	[ -z "$(find "$S/q/ready" -name '*,n*')" ]
}

@test "put: -A with a bad time is a usage error and creates nothing" {
	for a in bogus '' @ @-5 -5 1.5 2026-13-01T00:00:00Z \
	    2026-11-24T10:00:00+01:00 2026-11-24 tomorrow; do
		run mq-put -A "$a" q <<<x
		[ "$status" -eq 64 ] || { echo "time [$a]: $status"; false; }
	done
	[ ! -e "$S/q" ]
}

# found by fuzz/fuzz-parse.c (corpus file fuzz/corpus/parse/regression-*)
@test "put: -A with a date that does not exist or a malformed time -> 64 (2026-02-31 was rolled over into March)" {
	for a in 2026-02-31T00:00:00Z 2026-11-24T10:00:60Z 2026-11-24T10:0Z \
	    ' 2026-11-24T10:00Z' 2026-1-2T03:04Z 2026-11-2410:00 \
	    "$(printf '2026-11-24\n10:00')" 2026-11-24T10:00:00ZZ \
	    @2026-11-24T10:00:00Z; do
		run mq-put -A "$a" q <<<x
		[ "$status" -eq 64 ] || { echo "time [$a]: $status"; false; }
	done
	[ ! -e "$S/q" ]
	# a local time skipped by a change to summer time does not exist either
	run env TZ=CET-1CEST,M3.5.0,M10.5.0/3 mq-put -A 2026-03-29T02:30 q <<<x
	[ "$status" -eq 64 ]
	run env TZ=CET-1CEST,M3.5.0,M10.5.0/3 mq-put -A 2026-03-29T03:30 q <<<x
	[ "$status" -eq 0 ]
	t=$(( $(date +%s) + 86400 ))
	run mq-put -A "$(date -u -d "@$t" '+%Y-%m-%d %H:%M')Z" q <<<x
	[ "$status" -eq 0 ]
}

@test "put: -D and -A together are a usage error" {
	run mq-put -D 10s -A "$(( $(date +%s) + 600 ))" q <<<x
	[ "$status" -eq 64 ]
	[ -z "$(find "$S" -type f ! -name lock 2>/dev/null)" ]
}

@test "put: -T sets the expiry field x" {
	before=$(date +%s)
	run mq-put -T 1h q <<<x
	after=$(date +%s)
	[ "$status" -eq 0 ]
	f=$(only q ready)
	x=$(field x "$f")
	[ "$x" -ge $((before + 3600)) ] && [ "$x" -le $((after + 3601)) ]
	[ "$(basename "$f")" = "$output,p4,a0,s2,x$x" ]
}

@test "put: -T with -D and -p: fields in canonical order p a s x n" {
	run mq-put -p 7 -T 2h -D 1h q <<<x
	[ "$status" -eq 0 ]
	f=$(only q delayed)
	x=$(field x "$f")
	n=$(field n "$f")
	[ "$(basename "$f")" = "$output,p7,a0,s2,x$x,n$n" ]
	[ "$x" -gt "$n" ]
}

@test "put: ttl from the config sets x; -T overrides it" {
	conf ttl=1h
	now=$(date +%s)
	mq-put q <<<x
	x=$(field x "$(only q ready)")
	[ "$x" -ge $((now + 3600)) ] && [ "$x" -le $((now + 3602)) ]
	mq-put -T 10d q2 <<<x
	x=$(field x "$(only q2 ready)")
	[ "$x" -ge $((now + 864000)) ] && [ "$x" -le $((now + 864002)) ]
}

@test "put: no ttl by default: no x field" {
	mq-put q <<<x
	[ -z "$(field x "$(only q ready)")" ]
}

@test "put: -T 0 means never expires (overrides a configured ttl)" {
	conf ttl=1h
	run mq-put -T 0 q <<<x
	[ "$status" -eq 0 ]
	[ -z "$(field x "$(only q ready)")" ]
}

@test "put: -T with a bad duration is a usage error" {
	for t in bogus '' -1 1y; do
		run mq-put -T "$t" q <<<x
		[ "$status" -eq 64 ] || { echo "ttl [$t]: $status"; false; }
	done
	[ ! -e "$S/q" ]
}

@test "put: body of exactly max_size is accepted" {
	conf max_size=10
	run mq-put q < <(printf '0123456789')
	[ "$status" -eq 0 ]
	[ "$(count "$S/q/ready")" -eq 1 ]
}

@test "put: body larger than max_size (stdin) -> 65, nothing in tmp/ or ready/" {
	conf max_size=10
	run mq-put q < <(printf '0123456789A')
	[ "$status" -eq 65 ]
	[[ "$output" == *max_size* ]]
	[ -z "$(ls -A "$S/q/tmp")" ]
	[ "$(count "$S/q/ready")" -eq 0 ]
}

@test "put: FILE larger than max_size (K suffix) -> 65, nothing left" {
	conf max_size=1K
	head -c 1024 /dev/urandom >"$BATS_TEST_TMPDIR/ok"
	head -c 1025 /dev/urandom >"$BATS_TEST_TMPDIR/big"
	run mq-put q "$BATS_TEST_TMPDIR/ok"
	[ "$status" -eq 0 ]
	run mq-put q "$BATS_TEST_TMPDIR/big"
	[ "$status" -eq 65 ]
	[ -z "$(ls -A "$S/q/tmp")" ]
	[ "$(count "$S/q/ready")" -eq 1 ]
}

@test "put: -l record larger than max_size -> 65, earlier lines kept, nothing in tmp/" {
	conf max_size=5
	mq-put -l q < <(printf 'ok\ntoolongline\n') >"$BATS_TEST_TMPDIR/ids" &&
	    rc=0 || rc=$?
	[ "$rc" -eq 65 ]
	[ -z "$(ls -A "$S/q/tmp")" ]
	[ -z "$(grep -rl toolong "$S/q" 2>/dev/null)" ]
	f=$(files q ready | head -1)
	cmp "$f" <(printf 'ok')
	[ "$(wc -l <"$BATS_TEST_TMPDIR/ids")" -eq "$(count "$S/q/ready")" ]
}

@test "put: -l a 50 MB record over max_size fails with 65 before it is held in memory (was read whole first)" {
	conf max_size=1K
	run mq-put -l q < <(head -c 50000000 /dev/zero)
	[ "$status" -eq 65 ]
	[ "$(count "$S/q/ready")" -eq 0 ]
	[ "$(count "$S/q/tmp")" -eq 0 ]
}

@test "put: 64 MB default max_size: 64M+1 bytes refused" {
	head -c $((64 * 1024 * 1024 + 1)) /dev/zero >"$BATS_TEST_TMPDIR/huge"
	run mq-put q "$BATS_TEST_TMPDIR/huge"
	[ "$status" -eq 65 ]
	[ -z "$(ls -A "$S/q/tmp")" ]
	[ "$(count "$S/q/ready")" -eq 0 ]
}

@test "put: max_size = 0 allows only empty messages" {
	conf max_size=0
	run mq-put q </dev/null
	[ "$status" -eq 0 ]
	run mq-put q < <(printf x)
	[ "$status" -eq 65 ]
	[ "$(count "$S/q/ready")" -eq 1 ]
	[ -z "$(ls -A "$S/q/tmp")" ]
}

@test "put: the queue's mq.conf overrides the global config" {
	conf max_size=100
	mq-put q <<<x
	echo 'max_size = 4' >"$S/q/mq.conf"
	run mq-put q < <(printf '12345')
	[ "$status" -eq 65 ]
	run mq-put other < <(printf '12345')
	[ "$status" -eq 0 ]
}

@test "put: mode from the config is the exact file mode" {
	conf mode=0600
	mq-put q <<<x
	[ "$(stat -c %a "$(only q ready)")" = 600 ]
	conf mode=0644
	(umask 077 && mq-put q2 <<<x)
	[ "$(stat -c %a "$(only q2 ready)")" = 644 ]
}

@test "put: without mode, files get 0666 & ~umask" {
	(umask 027 && mq-put q <<<x)
	[ "$(stat -c %a "$(only q ready)")" = 640 ]
}

@test "put: group from the config (number) sets the file's group" {
	# a group that exists: a number no group has is refused (1000-config)
	g=$(getent group daemon | cut -d: -f3)
	[ -n "$g" ] || skip "no group daemon"
	conf group="$g"
	mq-put q <<<x
	[ "$(stat -c %g "$(only q ready)")" = "$g" ]
}

@test "put: good queue names are accepted" {
	long=$(printf 'a%.0s' $(seq 64))
	for n in A-z_0.9 x "$long" 0 a.b-c_d; do
		run mq-put "$n" <<<x
		[ "$status" -eq 0 ] || { echo "name [$n]: $status"; false; }
		[ -d "$S/$n/ready" ]
	done
}

@test "put: bad queue names -> 64 and nothing created" {
	long=$(printf 'a%.0s' $(seq 65))
	for n in ../x a/b '' .x .hidden -x "$long" 'a b' 'a*' .. . 'é' 'a,b'; do
		run mq-put -- "$n" <<<x
		[ "$status" -eq 64 ] || { echo "name [$n]: $status"; false; }
		[[ "$output" == *"bad queue name"* ]]
	done
	[ ! -e "$S" ] || [ -z "$(ls -A "$S")" ]
	[ ! -e "$BATS_TEST_TMPDIR/x" ]
}

@test "put: no queue operand is a usage error" {
	run mq-put </dev/null
	[ "$status" -eq 64 ]
	[[ "$output" == *usage:* ]]
}

@test "put: -h prints usage on stdout and exits 0" {
	run --separate-stderr mq-put -h
	[ "$status" -eq 0 ]
	[[ "$output" == "usage: mq-put"* ]]
	[ -z "$stderr" ]
	[ ! -e "$S" ]
}

@test "put: -V prints the version" {
	run mq-put -V
	[ "$status" -eq 0 ]
	[ "$output" = "mq-put 0.1.0" ]
	[ ! -e "$S" ]
}

@test "put: bad option -> 64 with usage" {
	run mq-put -z q <<<x
	[ "$status" -eq 64 ]
	[[ "$output" == *usage:* ]]
	[ ! -e "$S" ]
}

@test "put: option missing its argument -> 64" {
	for o in -p -D -A -T -d; do
		run mq-put "$o"
		[ "$status" -eq 64 ] || { echo "option $o: $status"; false; }
	done
}

@test "put: sync=none, batch and full all put byte-exact messages" {
	printf 'file body' >"$BATS_TEST_TMPDIR/f"
	for mode in none batch full; do
		conf "sync=$mode"
		run mq-put -l "q$mode" < <(printf '1\n2\n3\n')
		[ "$status" -eq 0 ]
		[ "${#lines[@]}" -eq 3 ]
		run mq-put "q$mode" "$BATS_TEST_TMPDIR/f" "$BATS_TEST_TMPDIR/f"
		[ "$status" -eq 0 ]
		[ "${#lines[@]}" -eq 2 ]
		run mq-put "q$mode" <<<stdin
		[ "$status" -eq 0 ]
		[ "$(count "$S/q$mode/ready")" -eq 6 ]
		mapfile -t fs < <(files "q$mode" ready)
		cmp "${fs[0]}" <(printf 1)
		cmp "${fs[2]}" <(printf 3)
		cmp "${fs[3]}" "$BATS_TEST_TMPDIR/f"
		cmp "${fs[5]}" <(printf 'stdin\n')
		[ -z "$(ls -A "$S/q$mode/tmp")" ]
	done
}

@test "put: bad sync value is a configuration error (78, file:line:)" {
	printf '# comment\nsync = sometimes\n' >"$MQ_CONF"
	run mq-put q <<<x
	[ "$status" -eq 78 ]
	[[ "$output" == *"$MQ_CONF:2:"* ]]
	[ -z "$(find "$S" -type f ! -name lock 2>/dev/null)" ]
}

@test "put: MQ_CONF naming a missing file is a configuration error" {
	export MQ_CONF=$BATS_TEST_TMPDIR/nope.conf
	run mq-put q <<<x
	[ "$status" -eq 78 ]
}

@test "put: sync=batch group commit: 3000 lines -> 3000 messages in >= 3 buckets" {
	conf sync=batch
	seq 3000 | mq-put -l q >"$BATS_TEST_TMPDIR/ids"
	[ "$(wc -l <"$BATS_TEST_TMPDIR/ids")" -eq 3000 ]
	[ "$(sort -u "$BATS_TEST_TMPDIR/ids" | wc -l)" -eq 3000 ]
	[ "$(count "$S/q/ready")" -eq 3000 ]
	[ "$(ls "$S/q/ready" | wc -l)" -ge 3 ]
	for b in "$S"/q/ready/*; do
		[ "$(ls "$b" | wc -l)" -le 1024 ]
	done
	# every printed id is a message
	find "$S/q/ready" -type f -printf '%f\n' | cut -d, -f1 | sort \
	    >"$BATS_TEST_TMPDIR/names"
	sort "$BATS_TEST_TMPDIR/ids" | cmp - "$BATS_TEST_TMPDIR/names"
	[ -z "$(ls -A "$S/q/tmp")" ]
	# delivery order is input order
	mapfile -t fs < <(files q ready)
	[ "$(cat "${fs[0]}")" = 1 ]
	[ "$(cat "${fs[1024]}")" = 1025 ]
	[ "$(cat "${fs[2999]}")" = 3000 ]
}

@test "put: sync=batch -l failing mid-group (65) still prints the ids it published (they were published unreported)" {
	conf sync=batch max_size=4
	run mq-put -l q < <(printf 'a\nb\ntoolong\nc\n')
	[ "$status" -eq 65 ]
	ids=$(printf '%s\n' "$output" | grep -c '^[0-9]\{10\}\.')
	[ "$ids" -eq 2 ]
	[ "$(count "$S/q/ready")" -eq 2 ]
	[ "$(count "$S/q/tmp")" -eq 0 ]
}

@test "put: sync=batch -l prints each id before more input arrives (slow writer)" {
	conf sync=batch
	out=$BATS_TEST_TMPDIR/ids
	: >"$out"
	{
		echo first
		if wait_for 10 grep -q . "$out"; then
			echo seen >"$BATS_TEST_TMPDIR/flag"
		fi
		echo second
	} | mq-put -l q >"$out"
	[ -f "$BATS_TEST_TMPDIR/flag" ]
	[ "$(wc -l <"$out")" -eq 2 ]
	[ "$(count "$S/q/ready")" -eq 2 ]
}

@test "put: sync=full -l prints each id before more input arrives (slow writer)" {
	out=$BATS_TEST_TMPDIR/ids
	: >"$out"
	{
		echo first
		if wait_for 10 grep -q . "$out"; then
			echo seen >"$BATS_TEST_TMPDIR/flag"
		fi
		echo second
	} | mq-put -l q >"$out"
	[ -f "$BATS_TEST_TMPDIR/flag" ]
	[ "$(wc -l <"$out")" -eq 2 ]
}

@test "put: bucket roll-over: bucket_size = 2, 5 messages -> 3 buckets P.SEQ" {
	conf bucket_size=2
	for i in 1 2 3 4 5; do
		mq-put q <<<"m$i" >/dev/null
	done
	run ls "$S/q/ready"
	[ "${#lines[@]}" -eq 3 ]
	[ "${lines[0]}" = 4.0000000001 ]
	[ "${lines[1]}" = 4.0000000002 ]
	[ "${lines[2]}" = 4.0000000003 ]
	[ "$(ls "$S/q/ready/4.0000000001" | wc -l)" -eq 2 ]
	[ "$(ls "$S/q/ready/4.0000000002" | wc -l)" -eq 2 ]
	[ "$(ls "$S/q/ready/4.0000000003" | wc -l)" -eq 1 ]
	mapfile -t fs < <(files q ready)
	for i in 0 1 2 3 4; do
		[ "$(cat "${fs[$i]}")" = "m$((i + 1))" ]
	done
}

@test "put: bucket roll-over is per priority" {
	conf bucket_size=2
	mq-put -l q < <(printf 'a\nb\nc\n') >/dev/null
	mq-put -l -p 9 q < <(printf 'x\ny\nz\n') >/dev/null
	[ "$(ls "$S/q/ready" | tr '\n' ' ')" = \
	    "4.0000000001 4.0000000002 9.0000000001 9.0000000002 " ]
}

@test "put: bucket roll-over past P.9999999999 fails the put or stays deliverable (was rolled into an 11-digit bucket no reader lists: hidden)" {
	mq-init q
	mkdir "$S/q/ready/4.9999999999"
	run mq-put q <<<x
	if [ "$status" -eq 0 ]; then
		run mq-get q
		[ "$status" -eq 0 ]
	fi
	[ ! -e "$S/q/ready/4.10000000000" ]
}

@test "put: tail record in the lock file is P SEQ COUNT, 32 bytes per priority" {
	conf bucket_size=2
	mq-put -l -p 3 q < <(printf 'a\nb\nc\n') >/dev/null
	rec=$(dd if="$S/q/lock" bs=32 skip=3 count=1 2>/dev/null)
	[ "${#rec}" -eq 31 ]
	read -r p seq cnt <<<"$rec"
	[ "$p" = 3 ]
	[ "$((10#$seq))" -eq 2 ]
	[ "$((10#$cnt))" -eq 1 ]
}

@test "put: a corrupt tail record is rebuilt from the bucket names" {
	conf bucket_size=2
	mq-put -l q < <(printf 'a\nb\nc\n') >/dev/null
	printf 'garbage garbage garbage garbage' |
	    dd of="$S/q/lock" bs=32 seek=4 conv=notrunc 2>/dev/null
	mq-put q <<<d >/dev/null
	# continues after the highest bucket, never into an older one
	[ "$(ls "$S/q/ready/4.0000000001" | wc -l)" -eq 2 ]
	[ "$(count "$S/q/ready")" -eq 4 ]
	for b in "$S"/q/ready/*; do
		[ "$(ls "$b" | wc -l)" -le 2 ]
	done
}

@test "put: concurrent producers: every message put, no bucket overfilled" {
	conf bucket_size=2 sync=none
	mq-init q
	for i in 1 2 3 4; do
		(seq 100 | mq-put -l q >"$BATS_TEST_TMPDIR/ids.$i" \
		    2>"$BATS_TEST_TMPDIR/err.$i"; echo $? >"$BATS_TEST_TMPDIR/rc.$i") &
	done
	wait
	cat "$BATS_TEST_TMPDIR"/err.*
	[ "$(cat "$BATS_TEST_TMPDIR"/rc.* | sort -u)" = 0 ]
	[ "$(cat "$BATS_TEST_TMPDIR"/ids.* | sort -u | wc -l)" -eq 400 ]
	[ "$(count "$S/q/ready")" -eq 400 ]
	for b in "$S"/q/ready/*; do
		[ "$(ls "$b" | wc -l)" -le 2 ]
	done
	[ -z "$(ls -A "$S/q/tmp")" ]
}

@test "put: stdout write error -> 74" {
	run bash -c 'mq-put q <<<x >/dev/full'
	[ "$status" -eq 74 ]
}

@test "put: out of file descriptors -> 75 (not a config error), nothing half-written" {
	mq-init q
	ok=
	for n in $(seq 3 40); do
		rc=0
		(ulimit -n "$n" && exec mq-put q <<<"fd$n") >/dev/null 2>"$BATS_TEST_TMPDIR/err" || rc=$?
		if [ "$rc" -eq 0 ]; then
			ok=$n
			break
		fi
		# too few descriptors for the shell or loader to start mq at all
		grep -q '^mq-put: ' "$BATS_TEST_TMPDIR/err" || continue
		! grep -q 'loading shared libraries' "$BATS_TEST_TMPDIR/err" || continue
		[ "$rc" -eq 75 ] || { echo "ulimit -n $n: exit $rc"; cat "$BATS_TEST_TMPDIR/err"; false; }
	done
	[ -n "$ok" ]
	[ "$(count "$S/q/ready")" -eq 1 ]
	[ -z "$(ls -A "$S/q/tmp")" ]
}

@test "put: read-only spool -> 73, no partial message" {
	mq-put q <<<existing >/dev/null
	ro_spool
	run mq-put -d "$RO" q <<<new
	[ "$status" -eq 73 ]
	run mq-put -d "$RO" newq <<<new
	[ "$status" -eq 73 ]
	run mq-put -l -d "$RO" q < <(printf 'a\nb\n')
	[ "$status" -eq 73 ]
	[ -z "$output" ] || [[ ! "$output" =~ ^[0-9]{10}\. ]]
	umount "$RO"
	[ "$(count "$S/q/ready")" -eq 1 ]
	[ "$(cat "$(only q ready)")" = existing ]
	[ -z "$(ls -A "$S/q/tmp")" ]
	[ ! -e "$S/newq" ]
}

@test "put: sync=batch reserves a group's slots at once and still fills buckets exactly" {
	conf bucket_size=10 sync=batch
	run mq-put -l q < <(seq 25)
	[ "$status" -eq 0 ]
	[ "$(for b in "$S"/q/ready/*; do ls "$b" | wc -l; done | tr '\n' ' ')" = "10 10 5 " ]
	# the tail record counts what was reserved
	grep -q '^4 0000000003 00000005 *$' "$S/q/lock"
}

@test "put: concurrent sync=batch producers never overfill a bucket" {
	conf bucket_size=7 sync=batch
	mq-init q
	for i in 1 2 3 4; do
		(seq -f "$i-%g" 300 | mq-put -l q >"$BATS_TEST_TMPDIR/ids.$i"; echo $? >"$BATS_TEST_TMPDIR/rc.$i") &
	done
	wait
	[ "$(cat "$BATS_TEST_TMPDIR"/rc.* | sort -u)" = 0 ]
	[ "$(cat "$BATS_TEST_TMPDIR"/ids.* | sort -u | wc -l)" -eq 1200 ]
	[ "$(count "$S/q/ready")" -eq 1200 ]
	for b in "$S"/q/ready/*; do
		[ "$(ls "$b" | wc -l)" -le 7 ]
	done
}
