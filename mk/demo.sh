#!/bin/sh
# demo.sh - a real producer and three workers, in a spool of their own.
# A shop puts 30 paid orders (3 of them urgent); workers claim them in
# batches, "ship" them, ack what worked and nack what failed.  One order
# names an article the catalog does not know yet: it fails max_attempts
# times and is dead-lettered; the catalog is fixed, the order kicked back
# and shipped.
set -eu
PATH=${MQ_BIN:?}:$PATH
dir=$(mktemp -d "${TMPDIR:-/tmp}/mq-demo.XXXXXX")
# the demo's own spool and an empty global config: nothing of the
# machine's queues is touched, and no /etc/mq.conf changes what it shows
export MQ_SPOOL="$dir/spool" MQ_CONF="$dir/mq.conf"
: >"$MQ_CONF"
q=orders
echo "== the demo's spool: $MQ_SPOOL (see it with: mq-stat -d $MQ_SPOOL)"
seq 100 199 >"$dir/catalog"
echo "== producer: 30 orders, 3 of them urgent (-p 9)"
seq 1 27 | awk '{ print "order " $1 " article " 100 + $1 }' |
    mq-put -l "$q" >/dev/null
printf 'order 900 article 150\norder 901 article 151\norder 902 article 4711\n' |
    mq-put -l -p 9 "$q" >/dev/null
mq-stat "$q"
# worker N: claim up to 5 at a time until the queue is empty; an order
# whose article is not in the catalog fails and is retried at once
worker() {
	while hs=$(mq-get -n 5 -L 10s "$q"); do
		for h in $hs; do
			body=$(cat "$h")	# "order N article A", no newline
			order=${body#order } order=${order%% *}
			article=${body##* }
			if grep -qx "$article" "$dir/catalog"; then
				mq-ack "$h"
				echo "worker $1: shipped order $order"
			else
				mq-nack -D 0 "$h"
				echo "worker $1: order $order: no article $article"
			fi
		done
	done
}
echo "== three workers drain the queue (urgent orders first)"
worker 1 & worker 2 & worker 3 &
wait
echo "== after the workers: order 902 failed 5 times and is dead"
mq-stat "$q"
mq-ls -s dead "$q" | sed 's|.*/||'
echo "== the fix: article 4711 goes into the catalog; kick the order back"
echo 4711 >>"$dir/catalog"
mq-kick "$q"
worker 1
mq-stat "$q"
echo "== done; the spool stays in $dir until you remove it"
