#!/usr/bin/env bats
# mq-put -P (--prepare): half messages, written into prepared/ and never
# delivered until mq-commit publishes them (mq(7) Half messages).
load test_helper
bats_require_minimum_version 1.5.0

@test "prepare: -P prints the handle in prepared/; nothing is delivered or counted ready" {
	run mq-put -P q <<<body
	[ "$status" -eq 0 ]
	[[ "$output" == "$S/q/prepared/"*,p4,a0,s5 ]]
	[ -f "$output" ]
	[ "$(cat "$output")" = body ]
	h=$output
	run mq-get q
	[ "$status" -eq 1 ]
	run mq-stat -j q
	[[ "$output" == *'"ready":0,'* ]]
	[[ "$output" == *'"prepared":1,'* ]]
	run mq-ls -s prepared q
	[ "$output" = "$h" ]
	[ "$(count "$S/q/tmp")" -eq 0 ]
}

@test "prepare: --prepare is -P" {
	run mq-put --prepare q <<<x
	[ "$status" -eq 0 ]
	[[ "$output" == "$S/q/prepared/"* ]]
}

@test "prepare: the name keeps -p, -T, -D, -g, -k and the headers for the commit" {
	h=$(mq-put -P -p 7 -T 1h -D 2h -g g1 -k k1 -H a=b q <<<x)
	[ "$(field p "$h")" = 7 ]
	[ -n "$(field x "$h")" ]
	[ -n "$(field n "$h")" ]
	[ "$(field g "$h")" = "$(hash g1)" ]
	[ "$(field k "$h")" = "$(hash k1)" ]
	run mq-show "$h"
	[[ "$output" == *"a: b"* ]] || [[ "$output" == *"a=b"* ]]
	[[ "$output" == *prepared* ]]
}

@test "prepare: -l and -0 prepare each record and print each handle (sync = batch too)" {
	conf sync=batch
	run mq-put -P -l q < <(seq 3)
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 3 ]
	for l in "${lines[@]}"; do
		[[ "$l" == "$S/q/prepared/"* ]]
		[ -f "$l" ]
	done
	[ "$(count "$S/q/prepared")" -eq 3 ]
}

@test "prepare: a keyed put meeting a prepared message with its key exits 75 and puts nothing" {
	h=$(mq-put -P -k order-42 q <<<first)
	run mq-put -k order-42 q <<<second
	[ "$status" -eq 75 ]
	[[ "$output" == *"prepared, not yet committed"* ]]
	run mq-put -P -k order-42 q <<<third
	[ "$status" -eq 75 ]
	[ "$(msgs q)" -eq 1 ]
	[ "$(count "$S/q/tmp")" -eq 0 ]
	[ -f "$h" ]
}

@test "prepare: a rollback forgets the key at once, so a retry of the put is not swallowed" {
	conf dedup_window=1h
	h=$(mq-put -P -k k q <<<first)
	mq-rm "$h"
	[ ! -e "$(key_file q k)" ]
	run mq-put -k k q <<<retry
	[ "$status" -eq 0 ]
	f=$(only q ready)
	[ "$(cat "$f")" = retry ]
	[ "$(basename "$f" | cut -d, -f1)" = "$output" ]
}

@test "prepare: once committed, the key dedups as any put's (the original id, nothing put)" {
	h=$(mq-put -P -k k q <<<first)
	mq-commit "$h"
	id=$(basename "$h" | cut -d, -f1)
	run mq-put -k k q <<<again
	[ "$status" -eq 0 ]
	[ "$output" = "$id" ]
	[ "$(msgs q)" -eq 1 ]
}

@test "prepare: a keyed prepare that died between its key and its rename is finished into prepared/, never ready" {
	# what the put had written: the body in tmp/ID, the key naming
	# prepared/NAME (mq(7) Idempotent producers)
	mq-init q
	id=1796000000.000001.AbCdEfGh
	name="$id,p4,a0,s4,k$(hash k)"
	printf body >"$S/q/tmp/$id"
	kf=$(key_file q k)
	mkdir -p "$(dirname "$kf")"
	printf '%s\nprepared/%s\n' "$id" "$name" >"$kf"
	touch -d @$LIVE "$kf"
	run mq-put -k k q <<<retry
	[ "$status" -eq 75 ]
	[ -f "$S/q/prepared/$name" ]
	[ "$(count "$S/q/ready")" -eq 0 ]
	[ ! -e "$S/q/tmp/$id" ]
}

@test "prepare: a topic takes no prepared messages (its subscribers would be decided at the commit)" {
	mq-init t sub
	mq-sub t sub
	run mq-put -P t <<<x
	[ "$status" -eq 64 ]
	[ "$(msgs t)" -eq 0 ]
	[ "$(msgs sub)" -eq 0 ]
}

@test "prepare: a queue made before prepared/ existed gets it at the first prepare" {
	mq-init q
	rmdir "$S/q/prepared"
	run mq-stat -j q
	[ "$status" -eq 0 ]
	h=$(mq-put -P q <<<x)
	[ -f "$h" ]
}

@test "prepare: a queue holding a prepared message cannot become a topic (a commit would publish it there)" {
	mq-put -P q <<<x >/dev/null
	mq-init sub
	run mq-sub q sub
	[ "$status" -eq 65 ]
	[[ "$output" == *"holds 1 message"* ]]
}
