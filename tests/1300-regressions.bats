#!/usr/bin/env bats
# Regression tests, each named after the bug it pins (found in review).
load test_helper

@test "regression: a symlink planted as a ready bucket does not take messages out of the spool" {
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

@test "regression: -A after the year 2286 is refused instead of creating an invisible message" {
	run mq-put -A 3000-01-01T00:00:00Z q <<<x
	[ "$status" -eq 64 ]
	[ ! -d "$S/q" ] || [ "$(count "$S/q")" -le 1 ]
}

@test "regression: a bucket number past 10 digits fails the put instead of hiding it" {
	mq-init q
	mkdir "$S/q/ready/4.9999999999"
	run mq-put q <<<x
	if [ "$status" -eq 0 ]; then
		run mq-get q
		[ "$status" -eq 0 ]
	fi
	[ ! -e "$S/q/ready/4.10000000000" ]
}

@test "regression: sync=batch failure mid-group still prints the ids it published" {
	conf sync=batch max_size=4
	run mq-put -l q < <(printf 'a\nb\ntoolong\nc\n')
	[ "$status" -eq 65 ]
	ids=$(printf '%s\n' "$output" | grep -c '^[0-9]\{10\}\.')
	[ "$ids" -eq 2 ]
	[ "$(count "$S/q/ready")" -eq 2 ]
	[ "$(count "$S/q/tmp")" -eq 0 ]
}

@test "regression: -D counts from each streamed line, not from the start" {
	run mq-put -l -D 1s q < <(echo a; sleep 2; echo b)
	[ "$status" -eq 0 ]
	na=$(find "$S/q/delayed" -type f -name "${lines[0]},*" | sed 's/.*,n//')
	nb=$(find "$S/q/delayed" -type f -name "${lines[1]},*" | sed 's/.*,n//')
	[ -n "$na" ] && [ -n "$nb" ]
	[ "$nb" -ge $((na + 1)) ]
}

@test "regression: a huge -l record fails with 65 before it is held in memory" {
	conf max_size=1K
	run mq-put -l q < <(head -c 50000000 /dev/zero)
	[ "$status" -eq 65 ]
	[ "$(count "$S/q/ready")" -eq 0 ]
	[ "$(count "$S/q/tmp")" -eq 0 ]
}

@test "regression: a handle in a queue that does not exist is 66, not 65" {
	mq-init q
	run mq-ack "$S/nosuch/inflight/1795488607.232386.EK2Rnnus,p4,a1,s14,tz08xgzpo"
	[ "$status" -eq 66 ]
	[[ "$output" == *"no such queue"* ]]
}

@test "regression: an unreadable FILE operand reports its own error, not ENOENT" {
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

@test "regression: a handle directly under / is refused, not matched against an empty cache" {
	mq-init q
	run mq-ack "/inflight/1795488607.232386.EK2Rnnus,p4,a1,s14,tz08xgzpo"
	[ "$status" -eq 65 ]
}

# found by fuzz/fuzz-parse.c (corpus file fuzz/corpus/parse/regression-*)
@test "regression: -A with a date that does not exist or a malformed time is refused, not rolled over" {
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

# found by fuzz/fuzz-name.c (fuzz/corpus/name/regression-attempts-ceiling)
@test "regression: a message at the attempts ceiling is delivered with a handle mq-ack takes" {
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

# found by fuzz/fuzz-records.c (fuzz/corpus/records/regression-nul-in-line)
@test "regression: a stdin line with a NUL byte is refused whole, not acted on up to the NUL" {
	printf 'a\nb\n' | mq-put -l q >/dev/null
	h1=$(mq-get q)
	h2=$(mq-get q)
	run mq-ack < <(printf '%s\0%s\n' "$h1" "$h2")
	[ "$status" -eq 65 ]
	[[ "$output" == *"$h1\\0$h2: not a message of this spool"* ]]
	[ "$(count "$S/q/inflight")" -eq 2 ]
	run mq-touch < <(printf '%s\0\n' "$h1")
	[ "$status" -eq 65 ]
	printf '%s\n%s' "$h1" "$h2" | mq-ack
	[ "$(count "$S/q/inflight")" -eq 0 ]
}
