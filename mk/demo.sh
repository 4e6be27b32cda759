#!/bin/sh
# demo.sh - a real producer and three workers on the default spool.
# A shop puts 30 paid orders (some urgent); workers claim them in batches,
# "process" them, ack what worked and nack what failed; a poisoned order is
# dead-lettered after max_attempts and kicked back once it is fixed.
set -eu
PATH=${MQ_BIN:?}:$PATH
q=demo.orders
# start from a clean queue so the demo can be run again
mq-init "$q"
for s in ready delayed inflight dead held; do mq-purge -s "$s" "$q"; done
echo "== producer: 30 orders, 3 of them urgent (-p 9)"
seq 1 27 | sed 's/^/order /; s/$/ paid/' | mq-put -l "$q" >/dev/null
printf 'order 900 paid\norder 901 paid\norder 902 POISON\n' |
    mq-put -l -p 9 "$q" >/dev/null
mq-stat "$q"
worker() {
	while hs=$(mq-get -n 5 -L 10s "$q"); do
		for h in $hs; do
			body=$(cat "$h")
			case $body in
			*POISON*) mq-nack -D 0 "$h"; echo "worker $1: failed: $body" ;;
			*) mq-ack "$h"; echo "worker $1: done:   $body" ;;
			esac
		done
	done
}
echo "== three workers drain the queue (urgent orders first)"
worker 1 & worker 2 & worker 3 &
wait
echo "== after the workers: the poisoned order is dead"
mq-stat "$q"
mq-ls -s dead "$q"
echo "== fixed upstream: kick it back and drain"
mq-kick "$q"
h=$(mq-get "$q") && echo "worker 1: done:   $(cat "$h")" && mq-ack "$h"
mq-stat "$q"
