#!/usr/bin/env bats
load test_helper

# bury QUEUE BODY... - put each body and dead-letter it (max_attempts = 1,
# one delivery and a nack)
bury() {
	local q=$1 b h
	shift
	for b; do
		mq-put -d "$S" "$q" <<<"$b" >/dev/null
		h=$(mq-get "$q")
		[ "$(cat "$h")" = "$b" ]
		mq-nack "$h"
	done
}

# kick_conf - config for the tests: one delivery, then dead
kick_conf() {
	conf max_attempts=1 lease=1h backoff=0
}

@test "kick: dead messages come from nack at max_attempts" {
	kick_conf
	bury q one
	f=$(find "$S/q/dead" -type f)
	[[ "$f" == "$S/q/dead/"*",p4,a1,s4,rattempts" ]]
	[ "$(count "$S/q/ready")" -eq 0 ]
}

@test "kick: moves every dead message back to ready, attempts reset, no reason" {
	kick_conf
	bury q one two three
	[ "$(count "$S/q/dead")" -eq 3 ]
	run mq-kick q
	[ "$status" -eq 0 ]
	[ "$(count "$S/q/dead")" -eq 0 ]
	[ "$(count "$S/q/ready")" -eq 3 ]
	for f in $(find "$S/q/ready" -type f); do
		n=${f##*/}
		[[ "$n" =~ ^[0-9]{10}\.[0-9]{6}\.[0-9A-Za-z]{8},p4,a0,s[0-9]+$ ]]
		[[ "$n" != *,r* ]]
	done
	# delivered again, in their original order, and can die again
	run mq-get -n 3 q
	[ "$status" -eq 0 ]
	[ "$(for h in "${lines[@]}"; do cat "$h"; done | tr '\n' ' ')" = "one two three " ]
	for h in "${lines[@]}"; do
		[[ "$h" == *,a1,s*,l*,t* ]]
	done
}

@test "kick: keeps priority and id, drops expiry" {
	kick_conf
	id=$(mq-put -p 7 -T 1h q <<<'urgent')
	h=$(mq-get q)
	[[ "$h" == *"/$id,p7,a1,s7,x"* ]]
	mq-nack "$h"
	f=$(find "$S/q/dead" -type f)
	[[ "$f" == *"/$id,p7,a1,s7,x"*",rattempts" ]]
	run mq-kick q
	[ "$status" -eq 0 ]
	f=$(find "$S/q/ready" -type f)
	[[ "$f" == "$S/q/ready/7."*"/$id,p7,a0,s7" ]]
	[ "$(cat "$f")" = urgent ]
}

@test "kick: an empty dead/ is fine" {
	mq-init q
	run mq-kick q
	[ "$status" -eq 0 ]
	[ "$(count "$S/q")" -eq 1 ]
}

@test "kick: one named dead path, the others stay dead" {
	kick_conf
	bury q one two three
	two=$(grep -l '^two$' "$S"/q/dead/*)
	run mq-kick q "$two"
	[ "$status" -eq 0 ]
	[ "$(count "$S/q/dead")" -eq 2 ]
	[ "$(count "$S/q/ready")" -eq 1 ]
	f=$(find "$S/q/ready" -type f)
	[ "$(cat "$f")" = two ]
	[[ "${f##*/}" == *,p4,a0,s4 ]]
	[ ! -e "$two" ]
}

@test "kick: several named dead paths" {
	kick_conf
	bury q one two three
	run mq-kick q "$S"/q/dead/*
	[ "$status" -eq 0 ]
	[ "$(count "$S/q/dead")" -eq 0 ]
	[ "$(count "$S/q/ready")" -eq 3 ]
}

@test "kick: a path that is not a dead message exits 65, changes nothing" {
	kick_conf
	bury q one
	dead=$(find "$S/q/dead" -type f)
	mq-put q <<<'ready' >/dev/null
	ready=$(find "$S/q/ready" -type f)
	mq-put q <<<'busy' >/dev/null
	inflight=$(mq-get q)
	before=$(find "$S" | sort)
	for p in "$ready" "$inflight" "$S/q/dead" "$S/q/dead/" "$S/q/lock" \
	    "$S/q/ready/${dead##*/}" "$S/q/inflight/${dead##*/}" \
	    "$BATS_TEST_TMPDIR/q/dead/${dead##*/}" "${dead##*/}" \
	    "$S/q/dead/junk" "$S/q/dead/../dead/"; do
		run mq-kick q "$p"
		[ "$status" -eq 65 ]
	done
	[ "$(find "$S" | sort)" = "$before" ]
}

@test "kick: another queue's dead path exits 65, changes nothing" {
	kick_conf
	bury a one
	bury b two
	other=$(find "$S/b/dead" -type f)
	before=$(find "$S" | sort)
	run mq-kick a "$other"
	[ "$status" -eq 65 ]
	[ "$(find "$S" | sort)" = "$before" ]
	# the right queue takes it
	run mq-kick b "$other"
	[ "$status" -eq 0 ]
	[ "$(count "$S/b/ready")" -eq 1 ]
	[ "$(count "$S/a/dead")" -eq 1 ]
}

@test "kick: a dead path that is gone exits 66" {
	kick_conf
	bury q one
	dead=$(find "$S/q/dead" -type f)
	mq-kick q
	run mq-kick q "$dead"
	[ "$status" -eq 66 ]
	[ "$(count "$S/q/ready")" -eq 1 ]
}

@test "kick: a bad path among good ones: the good ones are kicked, exit 65" {
	kick_conf
	bury q one two
	set -- "$S"/q/dead/*
	run mq-kick q "$1" "$S/q/dead/junk" "$2"
	[ "$status" -eq 65 ]
	[ "$(count "$S/q/dead")" -eq 0 ]
	[ "$(count "$S/q/ready")" -eq 2 ]
}

@test "kick: no handle operands kicks all dead messages" {
	kick_conf
	bury q one two
	run mq-kick q </dev/null
	[ "$status" -eq 0 ]
	[ "$(count "$S/q/ready")" -eq 2 ]
}

@test "kick: missing queue exits 66, creates nothing" {
	run mq-kick nosuch
	[ "$status" -eq 66 ]
	[ ! -e "$S" ]
	mq-init q
	run mq-kick nosuch "$S/nosuch/dead/1732437600.000123.x7QkT3bZ,p4,a1,rattempts"
	[ "$status" -eq 66 ]
	[ ! -e "$S/nosuch" ]
}

@test "kick: no queue operand is a usage error; bad name exits 64" {
	run mq-kick
	[ "$status" -eq 64 ]
	run mq-kick ../q
	[ "$status" -eq 64 ]
}

@test "kick: -d names the spool" {
	kick_conf
	sp=$BATS_TEST_TMPDIR/other
	mq-put -d "$sp" q <<<'x' >/dev/null
	mq-nack -d "$sp" "$(mq-get -d "$sp" q)"
	[ "$(count "$sp/q/dead")" -eq 1 ]
	run mq-kick -d "$sp" q
	[ "$status" -eq 0 ]
	[ "$(count "$sp/q/ready")" -eq 1 ]
}

@test "kick: an expired message comes back without its expiry" {
	id=$(mq-put -T 1s q <<<'stale')
	sleep 2.1
	run mq-get q
	[ "$status" -eq 1 ]
	f=$(find "$S/q/dead" -type f)
	[[ "$f" == "$S/q/dead/$id,p4,a0,s6,x"*",rexpired" ]]
	run mq-kick q "$f"
	[ "$status" -eq 0 ]
	[ "$(find "$S/q/ready" -type f)" = "$(find "$S/q/ready" -type f -name "$id,p4,a0,s6")" ]
	h=$(mq-get q)
	[ "$(cat "$h")" = stale ]
}

@test "kick -s delayed: a backing-off retry is ready now, its attempts and expiry kept" {
	conf backoff=1h
	id=$(mq-put -T 2h q <<<retry)
	h=$(mq-get q)
	mq-nack "$h"
	d=$(files q delayed)
	[[ "${d##*/}" == "$id,p4,a1,s6,x"*",n"* ]]
	run mq-kick -s delayed q
	[ "$status" -eq 0 ] && [ -z "$output" ]
	[ "$(count "$S/q/delayed")" -eq 0 ]
	r=$(files q ready)
	[[ "${r##*/}" == "$id,p4,a1,s6,x"* ]]
	[[ "${r##*/}" != *",n"* ]]
	h=$(mq-get q)
	[[ "${h##*/}" == "$id,p4,a2,"* ]]
}

@test "kick -s delayed: named ones only; a message put with -D as well as a retry" {
	a=$(mq-put -D 1h q <<<a)
	b=$(mq-put -A '2100-01-01T00:00:00Z' q <<<b)
	pa=$(files q delayed | grep "/$a,")
	mq-kick -s delayed q "$pa"
	[ "$(count "$S/q/ready")" -eq 1 ] && [ "$(count "$S/q/delayed")" -eq 1 ]
	h=$(mq-get q)
	[ "$(cat "$h")" = a ]
	mq-kick -s delayed q
	h=$(mq-get q)
	[ "$(cat "$h")" = b ]
}

@test "kick -s delayed: the page's recipe kicks retries (,a > 0), not what -D scheduled" {
	conf backoff=1h
	mq-put -D 1h q <<<scheduled >/dev/null
	mq-put q <<<retry >/dev/null
	mq-nack "$(mq-get q)"
	[ "$(count "$S/q/delayed")" -eq 2 ]
	# the recipe as mq-kick(1) prints it, run on q
	recipe=$(sed -n '/^\$ mq-ls -s delayed orders/,/xargs -r mq-kick -s delayed orders$/p' \
	    "$BATS_TEST_DIRNAME/../man/mq-kick.1" | sed 's/^\$ //; s/orders/q/g')
	[ -n "$recipe" ]
	bash -c "$recipe"
	[ "$(count "$S/q/delayed")" -eq 1 ]
	[ "$(cat "$(mq-get q)")" = retry ]
}

@test "kick -s delayed: an expired delayed message goes to dead/ as expired" {
	id=$(mq-put -D 1h -T 1s q <<<late)
	sleep 2.1
	mq-kick -s delayed q
	[ "$(count "$S/q/ready")" -eq 0 ]
	[[ "$(files q dead)" == *"/$id,"*",rexpired" ]]
}

@test "kick -s delayed: a delayed message of an ordered group keeps its turn" {
	conf backoff=1h
	mq-put -g g q <<<one >/dev/null
	mq-put -g g q <<<two >/dev/null
	mq-nack "$(mq-get q)"
	# one backs off, two waits behind it
	run mq-get q
	[ "$status" -eq 1 ]
	mq-kick -s delayed q
	h=$(mq-get q)
	[ "$(cat "$h")" = one ]
	mq-ack "$h"
	[ "$(cat "$(mq-get q)")" = two ]
}

@test "kick -s delayed: hostile or wrong paths refused (65), a promoted one is 1, bad states 64" {
	mq-put -D 1h q <<<a >/dev/null
	d=$(files q delayed)
	run mq-kick -s delayed q "$S/q/delayed/../mq.conf"
	[ "$status" -eq 65 ]
	run mq-kick -s delayed other "$d"
	[ "$status" -eq 66 ] || [ "$status" -eq 65 ]
	mq-put q2 <<<x >/dev/null
	run mq-kick -s delayed q2 "$d"
	[ "$status" -eq 65 ]
	mq-kick -s delayed q "$d"
	run mq-kick -s delayed q "$d"
	[ "$status" -eq 1 ]
	[[ "$output" == *"moved meanwhile"* ]]
	for s in ready inflight held nonsense; do
		run mq-kick -s "$s" q
		[ "$status" -eq 64 ]
	done
	[ "$(count "$S/q/ready")" -eq 1 ]
}
