#!/usr/bin/env bats
load test_helper

@test "put: prints an id, creates the queue, body is byte exact" {
	run mq-put orders <<<'order 42 paid'
	[ "$status" -eq 0 ]
	[[ "$output" =~ ^[0-9]{10}\.[0-9]{6}\.[0-9A-Za-z]{8}$ ]]
	f=$(find "$S/orders/ready" -type f)
	[ "$(cat "$f")" = "order 42 paid" ]
	[[ "$f" == *"/ready/4."*"/$output,p4,a0,s14" ]]
}
