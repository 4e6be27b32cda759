#!/usr/bin/env bats
# A spool shared by the members of a group: real unprivileged users.

bats_require_minimum_version 1.5.0
load test_helper
load multiuser_helper

setup_file() {
	users_setup_file
}

teardown_file() {
	users_teardown_file
}

setup() {
	shared_setup
}

teardown() {
	shared_teardown
}

@test "multi-user: mq-init -g makes setgid group directories and a shared config" {
	[ "$(stat -c '%a %G' "$S/orders")" = "2770 mqshare" ]
	for d in ready delayed inflight dead held tmp; do
		[ "$(stat -c '%a %G' "$S/orders/$d")" = "2770 mqshare" ]
	done
	[ "$(stat -c '%a %G' "$S/orders/lock")" = "660 mqshare" ]
	grep -qx 'mode = 0660' "$S/orders/mq.conf"
	grep -qx 'group = mqshare' "$S/orders/mq.conf"
}

@test "multi-user: a producer in the group puts, a consumer in the group gets and acks" {
	id=$(as mqprod sh -c 'echo "order 1" | mq-put orders')
	f=$(find "$S/orders/ready" -type f)
	[ "$(stat -c '%a %U %G' "$f")" = "660 mqprod mqshare" ]
	[ "$(stat -c '%G' "$(dirname "$f")")" = mqshare ]
	h=$(as mqcons mq-get orders)
	[[ "$h" == *"/inflight/$id,"* ]]
	[ "$(as mqcons cat "$h")" = "order 1" ]
	as mqcons mq-touch "$h"
	as mqcons mq-ack "$h"
	[ ! -e "$h" ]
}

@test "multi-user: nack, expired leases and dead letters work across users" {
	echo 'max_attempts = 2' >>"$S/orders/mq.conf"
	as mqprod sh -c 'echo x | mq-put orders' >/dev/null
	h=$(as mqcons mq-get -L 1 orders)
	wait_for 15 bash -c "[ \$(date +%s) -gt $(deadline "$h") ]"
	# the producer's own consumer reclaims the consumer's lapsed claim
	h=$(as mqprod mq-get orders)
	[[ "$h" == *,a2,* ]]
	as mqprod mq-nack "$h"
	[[ "$(find "$S/orders/dead" -type f)" == *",rattempts" ]]
	as mqcons mq-kick orders
	[ "$(find "$S/orders/ready" -type f | wc -l)" -eq 1 ]
}

@test "multi-user: buckets made by anyone stay in the group (bucket roll-over)" {
	echo 'bucket_size = 2' >>"$S/orders/mq.conf"
	as mqprod sh -c 'seq 5 | mq-put -l orders' >/dev/null
	for d in "$S"/orders/ready/*; do
		[ "$(stat -c '%a %G' "$d")" = "2770 mqshare" ]
	done
	as mqcons mq-get -n 5 orders >"$SHARED/h"
	[ "$(wc -l <"$SHARED/h")" -eq 5 ]
	as mqcons mq-ack <"$SHARED/h"
	[ "$(find "$S/orders" -type f -name '*,*' | wc -l)" -eq 0 ]
}

@test "multi-user: a user outside the group gets permission denied and reads nothing" {
	as mqprod sh -c 'echo secret | mq-put orders' >/dev/null
	f=$(find "$S/orders/ready" -type f)
	run as mqout mq-get orders
	[ "$status" -eq 77 ]
	[[ "$output" == *"Permission denied"* ]]
	run as mqout sh -c 'echo x | mq-put orders'
	[ "$status" -eq 77 ]
	run as mqout cat "$f"
	[ "$status" -ne 0 ]
	run as mqout mq-stat orders
	[ "$status" -eq 77 ]
	[ "$(find "$S/orders/ready" -type f)" = "$f" ]
}

@test "multi-user: nobody can make mq read or delete a file outside the spool" {
	as mqprod sh -c 'echo x | mq-put orders' >/dev/null
	h=$(as mqcons mq-get orders)
	secret=$SHARED/secret
	echo private >"$secret"
	chmod 0600 "$secret"
	# a consumer plants a symlink with a message name in inflight/
	as mqcons ln -s "$secret" "$S/orders/inflight/1795000000.000001.AAAAAAAA,p4,a1,tAAAAAAAA"
	run as mqcons mq-ack "$S/orders/inflight/1795000000.000001.AAAAAAAA,p4,a1,tAAAAAAAA"
	[ "$status" -eq 65 ]
	[ -e "$secret" ]
	# and in a bucket: never delivered, never followed
	b=$(ls "$S/orders/ready" | head -1)
	[ -n "$b" ] || b=4.0000000001
	mkdir -p "$S/orders/ready/$b"
	as mqcons ln -sf "$secret" "$S/orders/ready/$b/1795000000.000002.BBBBBBBB,p4,a0"
	run as mqcons mq-get orders
	[ "$status" -eq 1 ]
	[ "$(cat "$secret")" = private ]
	as mqcons mq-ack "$h"
}
