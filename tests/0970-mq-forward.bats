#!/usr/bin/env bats
# mq-forward: a local queue into an AMQP broker, with publisher confirms.
# One private broker for the file (mk/rabbitmq.sh); what arrived is checked
# with tests/amqp-peek, which shares no code with the tool.

bats_require_minimum_version 1.5.0
load test_helper
load bridge_helper

setup_file() {
	# one broker for the file, and some tests kill or freeze it
	export BATS_NO_PARALLELIZE_WITHIN_FILE=true
	bridge_setup_file
	[ -z "$BRIDGE_SKIP" ] || return 0
	# the crash test's queue, long before its kill: a durable queue
	# declared just before a SIGKILL may not survive it
	bq fcrash
}

teardown_file() {
	bridge_teardown_file
}

@test "forward: 10,000 messages, none lost: ids, bodies and delivery mode intact" {
	conf sync=batch
	bq f10k
	seq 10000 | sed 's/^/message /' | mq-put -l q >"$T/ids"
	[ "$(wc -l <"$T/ids")" -eq 10000 ]
	run mq-forward --drain -t 60 q "$URL" "" f10k
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(msgs q)" -eq 0 ]
	peek f10k >"$T/peeked"
	[ "$(wc -l <"$T/peeked")" -eq 10000 ]
	# each id once, with its own body
	paste "$T/ids" <(seq 10000 | sed 's/^/message /') | sort >"$T/want"
	cut -f1,4 "$T/peeked" | sort >"$T/got"
	diff "$T/want" "$T/got"
	# persistent, and the default priority
	[ "$(cut -f2 "$T/peeked" | sort -u)" = 2 ]
	[ "$(cut -f3 "$T/peeked" | sort -u)" = 4 ]
}

@test "forward: properties: message-id, priority, timestamp, app_id, expiration" {
	bq fprops
	id1=$(echo one | mq-put -p 7 q)
	id2=$(printf 'two\0\377\n' | mq-put -p 0 -T 1h q)
	run mq-forward --drain q "$URL" "" fprops
	[ "$status" -eq 0 ]
	# id, delivery mode, priority, timestamp, expiration, app_id,
	# redelivered, body
	peek -x fprops >"$T/out"
	cat "$T/out"
	[ "$(wc -l <"$T/out")" -eq 2 ]
	grep -qxF "$id1	2	7	${id1%%.*}	-	mq	0	one\\n" "$T/out"
	IFS=$'\t' read -r mid dm pr ts exp app red body < <(grep "^$id2	" "$T/out")
	[ "$mid" = "$id2" ]
	[ "$dm" = 2 ]
	[ "$pr" = 0 ]
	[ "$ts" = "${id2%%.*}" ]
	[ "$app" = mq ]
	[ "$body" = 'two\x00\xff\n' ]
	# the ttl left, in ms: about an hour (the expiry is a whole second)
	[ "$exp" -gt 3500000 ]
	[ "$exp" -le 3601000 ]
}

@test "forward: the routing key defaults to the local queue's name" {
	bq fdefkey -e amq.direct -r orders-$BATS_TEST_NUMBER
	id=$(echo x | mq-put "orders-$BATS_TEST_NUMBER")
	run mq-forward --drain "orders-$BATS_TEST_NUMBER" "$URL" amq.direct
	[ "$status" -eq 0 ]
	[ "$(peek fdefkey | cut -f1)" = "$id" ]
}

@test "forward: -v tells each message forwarded" {
	bq fverbose
	id1=$(echo a | mq-put q)
	id2=$(echo b | mq-put q)
	run mq-forward -v --drain q "$URL" "" fverbose
	[ "$status" -eq 0 ]
	[[ "$output" == *"mq-forward: $id1 forwarded"* ]]
	[[ "$output" == *"mq-forward: $id2 forwarded"* ]]
}

@test "forward: the broker killed (SIGKILL) and restarted mid-way: every message reaches it, none stays here" {
	conf sync=batch
	N=10000
	seq "$N" | sed 's/^/crash /' | mq-put -l q >"$T/ids"
	mq-forward q "$URL" "" fcrash 2>"$T/err" 3>&- &
	pid=$!
	# some are confirmed (the local queue shrinks), then the kill
	wait_for 60 local_count_lt q "$N"
	sh "$RABBITMQ_SH" kill "$BROKER"
	left=$(msgs q)
	echo "left in the local queue at the kill: $left of $N"
	# not all: else this test proves nothing (make N larger)
	[ "$left" -gt 0 ]
	sh "$RABBITMQ_SH" restart "$BROKER" 3>&-
	# the forwarder reconnects by itself and finishes
	wait_for 120 local_count_is q 0
	kill -TERM "$pid"
	rc=0
	wait "$pid" || rc=$?
	cat "$T/err"
	[ "$rc" -eq 0 ]
	grep -q "amqp://guest@$AMQP_HOST:$AMQP_PORT.*connection lost" "$T/err"
	# a broker just restarted may pause between pages of messages it
	# reads back from disk: a peek that stops after 500 ms of silence got
	# 3000 of 10000 once on a loaded machine
	peek -i 10000 fcrash >"$T/peeked"
	n=$(wc -l <"$T/peeked")
	echo "in the broker: $n (duplicates allowed)"
	# every id at least once, each with its own body
	paste "$T/ids" <(seq "$N" | sed 's/^/crash /') | sort >"$T/want"
	cut -f1,4 "$T/peeked" | sort -u >"$T/got"
	comm -23 "$T/want" "$T/got" >"$T/missing"
	[ ! -s "$T/missing" ] || { head "$T/missing"; false; }
	# and nothing else
	[ "$(cut -f1 "$T/got" | sort -u | wc -l)" -eq "$N" ]
}

@test "forward: an unroutable message stays here with an attempt counted; exit 1 names NO_ROUTE, the id, exchange and key" {
	id1=$(echo a | mq-put q)
	id2=$(echo b | mq-put q)
	run mq-forward --drain q "$URL" amq.direct "nowhere-$BATS_TEST_NUMBER"
	echo "$output"
	[ "$status" -eq 1 ]
	for id in "$id1" "$id2"; do
		[[ "$output" == *"mq-forward: $id: returned by broker: 312 NO_ROUTE (exchange 'amq.direct', routing key 'nowhere-$BATS_TEST_NUMBER')"* ]]
		# nacked locally: back with backoff, the attempt counted
		f=$(find "$S/q" -type f -name "$id,*")
		[ -n "$f" ]
		[ "$(attempts "$f")" = 1 ]
	done
	[ "$(msgs q)" -eq 2 ]
}

@test "forward: a message returned max_attempts times goes to dead/" {
	conf max_attempts=1
	id=$(echo a | mq-put q)
	run mq-forward --drain q "$URL" amq.direct "nowhere-$BATS_TEST_NUMBER"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"$id: returned by broker: 312 NO_ROUTE"* ]]
	f=$(only q dead)
	[[ "$(basename "$f")" == "$id,"*",rattempts" ]]
}

@test "forward: a message the broker nacks stays here; exit 1, 'nacked by broker'" {
	# a queue of at most one message that rejects publishes beyond that
	bq fnack -m 1
	for b in 1 2 3; do
		echo "$b" | mq-put q >>"$T/ids"
	done
	run mq-forward --drain q "$URL" "" fnack
	echo "$output"
	[ "$status" -eq 1 ]
	[ "$(bcount fnack)" -eq 1 ]
	[ "$(msgs q)" -eq 2 ]
	n=0
	while read -r id; do
		if [[ "$output" == *"mq-forward: $id: nacked by broker"* ]]; then
			n=$((n + 1))
			f=$(find "$S/q" -type f -name "$id,*")
			[ "$(attempts "$f")" = 1 ]
		fi
	done <"$T/ids"
	[ "$n" -eq 2 ]
}

@test "forward: a non-existent exchange with --drain: exit 69 at once, messages intact" {
	echo a | mq-put q >/dev/null
	echo b | mq-put q >/dev/null
	before=$(tree_state "$S/q/ready")
	start=$SECONDS
	run mq-forward --drain q "$URL" "no-such-exchange-$BATS_TEST_NUMBER" x
	echo "$output"
	[ "$status" -eq 69 ]
	[ $((SECONDS - start)) -lt 10 ]
	[[ "$output" == *"404"* ]]
	[[ "$output" == *"no-such-exchange-$BATS_TEST_NUMBER"* ]]
	# nothing was claimed: the same files, no attempt counted
	[ "$(tree_state "$S/q/ready")" = "$before" ]
}

@test "forward: broker down with --drain -t 2: exit 69, messages intact, the url named without its password" {
	echo a | mq-put q >/dev/null
	echo b | mq-put q >/dev/null
	port=$(free_port)
	start=$SECONDS
	MQ_AMQP_PASSWORD=$PASSWORD run mq-forward --drain -t 2 q \
	    "amqp://mqtest@127.0.0.1:$port/vh" "" x
	echo "$output"
	[ "$status" -eq 69 ]
	[ $((SECONDS - start)) -ge 2 ]
	[ $((SECONDS - start)) -lt 15 ]
	[[ "$output" == *"amqp://mqtest@127.0.0.1:$port/vh"* ]]
	[[ "$output" != *"$PASSWORD"* ]]
	# back in ready, no attempt counted
	[ "$(files q ready | wc -l)" -eq 2 ]
	for f in $(files q ready); do
		[ "$(attempts "$f")" = 0 ]
	done
}

@test "forward: a password in a command-line url is refused (64), and not printed" {
	echo a | mq-put q >/dev/null
	before=$(tree_state "$S/q")
	run mq-forward --drain q "amqp://mqtest:$PASSWORD@$AMQP_HOST:$AMQP_PORT" "" x
	echo "$output"
	[ "$status" -eq 64 ]
	[[ "$output" != *"$PASSWORD"* ]]
	[ "$(tree_state "$S/q")" = "$before" ]
}

@test "forward: MQ_AMQP_PASSWORD gives the password; it is never printed" {
	bq fenvpass
	id=$(echo a | mq-put q)
	MQ_AMQP_PASSWORD=$PASSWORD run mq-forward -v --drain q \
	    "amqp://mqtest@$AMQP_HOST:$AMQP_PORT" "" fenvpass
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" != *"$PASSWORD"* ]]
	[ "$(peek fenvpass | cut -f1)" = "$id" ]
}

@test "forward: -P file gives the password (its first line); not in ps nor on stderr" {
	bq fpassfile
	printf '%s\nnot-this-line\n' "$PASSWORD" >"$T/pass"
	chmod 600 "$T/pass"
	id1=$(echo a | mq-put q)
	# no --drain: it stays, to be looked at with ps
	mq-forward -v -P "$T/pass" q "amqp://mqtest@$AMQP_HOST:$AMQP_PORT" "" \
	    fpassfile 2>"$T/err" 3>&- &
	pid=$!
	wait_for 30 bcount_is fpassfile 1
	args=$(ps_args "$pid")
	echo "ps: $args"
	[[ "$args" == *mq-forward* ]]
	[[ "$args" != *"$PASSWORD"* ]]
	! tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF "$PASSWORD"
	kill -TERM "$pid"
	rc=0
	wait "$pid" || rc=$?
	[ "$rc" -eq 0 ]
	cat "$T/err"
	! grep -qF "$PASSWORD" "$T/err"
	grep -q "$id1 forwarded" "$T/err"
}

@test "forward: a wrong password: exit 69 with --drain, a clear error, messages intact" {
	echo a | mq-put q >/dev/null
	before=$(tree_state "$S/q/ready")
	MQ_AMQP_PASSWORD=not-the-password run mq-forward --drain -t 20 q \
	    "amqp://mqtest@$AMQP_HOST:$AMQP_PORT" "" x
	echo "$output"
	[ "$status" -eq 69 ]
	[[ "$output" == *"amqp://mqtest@$AMQP_HOST:$AMQP_PORT"* ]]
	grep -Eiq 'log ?in|ACCESS_REFUSED|auth' <<<"$output"
	[[ "$output" != *not-the-password* ]]
	[ "$(tree_state "$S/q/ready")" = "$before" ]
}

@test "forward: a missing password file: an error naming it, messages intact" {
	echo a | mq-put q >/dev/null
	before=$(tree_state "$S/q")
	run mq-forward --drain -P "$T/no-such-file" q "$URL" "" x
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"$T/no-such-file"* ]]
	[ "$(tree_state "$S/q")" = "$before" ]
}

@test "forward: usage errors exit 64 and touch nothing" {
	echo a | mq-put q >/dev/null
	before=$(tree_state "$S/q")
	for args in "-j 0 q $URL '' x" "-j 65536 q $URL '' x" "-j many q $URL '' x" \
	    "-t soon q $URL '' x" "q http://$AMQP_HOST:$AMQP_PORT '' x" \
	    "q amqp://$AMQP_HOST:port '' x" "q $URL" "q $URL '' x y z" \
	    "-Z q $URL '' x"; do
		eval "set -- $args"
		run mq-forward --drain "$@"
		echo "mq-forward --drain $args: $status: $output"
		[ "$status" -eq 64 ]
	done
	[ "$(tree_state "$S/q")" = "$before" ]
}

@test "forward: config [forward] gives url, exchange, routing_key, window" {
	bq fconf -e amq.direct -r "conf-key-$BATS_TEST_NUMBER"
	cat >"$MQ_CONF" <<-EOF
		[forward]
		url = $URL
		exchange = amq.direct
		routing_key = conf-key-$BATS_TEST_NUMBER
		window = 2
	EOF
	id=$(echo a | mq-put q)
	run mq-forward --drain q
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(peek fconf | cut -f1)" = "$id" ]
}

@test "forward: rate in mq.conf holds it to that rate (an upper bound), shared with mq-work's bucket" {
	bq frate
	conf rate=10/s
	seq 30 | mq-put -l q >/dev/null
	t0=$(date +%s%N)
	run mq-forward --drain q "$URL" "" frate
	t1=$(date +%s%N)
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(msgs q)" -eq 0 ]
	[ "$(peek frate | wc -l)" -eq 30 ]
	# 30 at 10/s, after a burst of 2: no less than 2.8 s (2.5 with slack)
	ms=$(((t1 - t0) / 1000000))
	echo "30 forwarded in $ms ms"
	[ "$ms" -ge 2500 ]
	# the bucket is the queue's: mq-work finds it spent
	seq 5 | mq-put -l q >/dev/null
	conf rate=1/h
	run timed 3 mq-work -e q true
	[ "$status" -eq 124 ]
	[ "$(find "$S/q/ready" -type f | wc -l)" -eq 5 ]
}

@test "forward: the queue's mq.conf [forward] with password_file; the command line overrides it" {
	bq fqconf
	printf '%s\n' "$PASSWORD" >"$T/pass"
	mq-init q
	cat >"$S/q/mq.conf" <<-EOF
		[forward]
		url = amqp://mqtest@$AMQP_HOST:$AMQP_PORT
		exchange = no-such-exchange
		routing_key = fqconf
		password_file = $T/pass
	EOF
	id=$(echo a | mq-put q)
	# the config's exchange does not exist: refused
	run mq-forward --drain q
	echo "$output"
	[ "$status" -eq 69 ]
	[[ "$output" == *no-such-exchange* ]]
	# the operands win; the password still comes from the config
	run mq-forward --drain q "amqp://mqtest@$AMQP_HOST:$AMQP_PORT" "" fqconf
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(peek fqconf | cut -f1)" = "$id" ]
}

@test "forward: no url anywhere: exit 64" {
	echo a | mq-put q >/dev/null
	run mq-forward --drain q
	echo "$output"
	[ "$status" -eq 64 ]
	[[ "$output" == *url* ]]
}

@test "forward: without --drain it waits for new messages and forwards them; SIGTERM: exit 0" {
	bq fwait
	mq-init q
	mq-forward q "$URL" "" fwait 2>"$T/err" 3>&- &
	pid=$!
	id1=$(echo one | mq-put q)
	wait_for 30 bcount_is fwait 1
	wait_for 10 local_count_is q 0
	id2=$(echo two | mq-put q)
	wait_for 30 bcount_is fwait 2
	wait_for 10 local_count_is q 0
	# still there, waiting
	! gone "$pid"
	kill -TERM "$pid"
	rc=0
	wait "$pid" || rc=$?
	cat "$T/err"
	[ "$rc" -eq 0 ]
	peek fwait | cut -f1,4 >"$T/got"
	printf '%s\tone\\n\n%s\ttwo\\n\n' "$id1" "$id2" | diff - "$T/got"
}

# renewed PATH-GLOB D0 - the in-flight file matching PATH-GLOB has a lease
# deadline later than D0
renewed() {
	local f
	f=$(compgen -G "$1") || return 1
	[ "$(deadline "$f")" -gt "$2" ]
}

@test "forward: stopped with messages unconfirmed (broker frozen): leases renewed meanwhile; exit 75, back in ready, no attempt counted" {
	bq ffrozen
	mq-init q
	mq-forward -L 2s q "$URL" "" ffrozen 2>"$T/err" 3>&- &
	pid=$!
	echo first | mq-put q >/dev/null
	wait_for 30 bcount_is ffrozen 1
	wait_for 10 local_count_is q 0
	# the broker stops answering (it gets no confirm out)
	kill -STOP "$(beam_pid)"
	for b in 1 2 3; do
		echo "$b" | mq-put q >>"$T/ids"
	done
	wait_for 30 state_count_is q inflight 3
	# unconfirmed, so the lease (2 s) is renewed every third of it: the
	# deadline moves on, and a consumer finds nothing once the first
	# deadline has passed
	f=$(files q inflight | head -n 1)
	d0=$(deadline "$f")
	glob="$S/q/inflight/$(basename "$f" | cut -d, -f1),*"
	wait_for 10 renewed "$glob" "$d0"
	wait_for 10 now_ge $((d0 + 1))
	run mq-get q
	[ "$status" -eq 1 ]
	state_count_is q inflight 3
	kill -TERM "$pid"
	rc=0
	wait "$pid" || rc=$?
	kill -CONT "$(beam_pid)"
	cat "$T/err"
	[ "$rc" -eq 75 ]
	[ "$(files q ready | wc -l)" -eq 3 ]
	for f in $(files q ready); do
		[ "$(attempts "$f")" = 0 ]
	done
	# the broker may have them too, once thawed: at least once
}

@test "forward: amqps:// with the broker's CA in [forward] cacert: forwarded over TLS" {
	bq ftls
	printf secret | mq-put q >"$T/id"
	# the broker's CA is the rabbitmq user's: a cacert must be the
	# configuration owner's (or root's) to be trusted (mq.conf(5))
	cp "$BROKER_CA" "$T/ca.pem"
	printf '[forward]\ncacert = %s\n' "$T/ca.pem" >"$S/q/mq.conf"
	run --separate-stderr mq-forward --drain -t 10 q \
	    "amqps://guest@localhost:$AMQPS_PORT" "" ftls
	echo "$output $stderr"
	[ "$status" -eq 0 ]
	[ "$(msgs q)" -eq 0 ]
	peek ftls >"$T/peeked"
	[ "$(cut -f1,4 "$T/peeked")" = "$(cat "$T/id")	secret" ]
}

@test "forward: amqps:// to a broker whose certificate is not trusted: exit 69 at once, says why, messages intact" {
	bq ftlsbad
	mq-put q <<<x >/dev/null
	# no cacert: the system's CAs do not know the test CA
	run --separate-stderr mq-forward --drain -t 60 q \
	    "amqps://guest@localhost:$AMQPS_PORT" "" ftlsbad
	echo "$stderr"
	[ "$status" -eq 69 ]
	[[ "$stderr" == *"amqps://guest@localhost:$AMQPS_PORT/%2f: cannot connect: "*"verif"* ]]
	[ "$(msgs q)" -eq 1 ]
	[ "$(bcount ftlsbad)" -eq 0 ]
	# verify = no: the operator's choice, and it goes through
	printf '[forward]\nverify = no\n' >"$S/q/mq.conf"
	run mq-forward --drain -t 10 q "amqps://guest@localhost:$AMQPS_PORT" "" ftlsbad
	[ "$status" -eq 0 ]
	[ "$(bcount ftlsbad)" -eq 1 ]
}

# hdrs FILE - a message file's headers, one name=value a line
hdrs() {
	getfattr --only-values -n user.mq.h "$1" 2>/dev/null | tr '\0' '\n'
}

@test "forward: headers go as the AMQP headers table, bytes exact; the five standard ones as properties only" {
	bq fhdr
	v=$(printf 'caf\303\251 \001\tx=y \377')
	mq-put -H content-type=application/json -H content-encoding=gzip \
	    -H correlation-id=c-42 -H reply-to=replies -H type=order.paid \
	    -H "note=$v" -H empty= -r orders.paid q <<<body
	run mq-forward --drain q "$URL" "" fhdr
	echo "$output"
	[ "$status" -eq 0 ]
	run peek -H fhdr
	echo "$output"
	[ "${lines[0]}" = "P	content-type	application/json" ]
	[ "${lines[1]}" = "P	content-encoding	gzip" ]
	[ "${lines[2]}" = "P	correlation-id	c-42" ]
	[ "${lines[3]}" = "P	reply-to	replies" ]
	[ "${lines[4]}" = "P	type	order.paid" ]
	# mq's own, as before
	[[ "${lines[5]}" == "P	message-id	"* ]]
	[ "${lines[6]}" = "P	app-id	mq" ]
	# the rest in the table as long strings, in put order
	[ "${lines[7]}" = 'H	note	S	caf\xc3\xa9 \x01\tx=y \xff' ]
	[ "${lines[8]}" = "H	empty	S	" ]
	[ "${lines[9]}" = "H	routing-key	S	orders.paid" ]
	[ "${lines[10]}" = "B	body\\n" ]
	[ "${#lines[@]}" -eq 11 ]
}

@test "forward: a consumer not ours (amqp-consume) takes a message with headers" {
	bq fcons
	mq-put -H "x-a=$(printf '\303\244\001')" -H content-type=text/plain q <<<hello
	run mq-forward --drain q "$URL" "" fcons
	[ "$status" -eq 0 ]
	run timeout 20 amqp-consume -u "$URL" -q fcons -c 1 cat
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = hello ]
	[ "$(bcount fcons)" -eq 0 ]
}

@test "forward: -r routes each message by its routing-key header, one without by the given key" {
	bq frk1 -e amq.direct -r orders.paid
	bq frk2 -e amq.direct -r "fallback-$BATS_TEST_NUMBER"
	mq-put -r orders.paid q <<<paid
	mq-put q <<<other
	run mq-forward -r --drain q "$URL" amq.direct "fallback-$BATS_TEST_NUMBER"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(peek frk1 | cut -f4)" = 'paid\n' ]
	[ "$(peek frk2 | cut -f4)" = 'other\n' ]
}

@test "forward: routing_key_header = yes in [forward] is -r" {
	bq frk3 -e amq.direct -r "conf-rk-$BATS_TEST_NUMBER"
	cat >"$MQ_CONF" <<-EOF
		[forward]
		url = $URL
		exchange = amq.direct
		routing_key = nowhere
		routing_key_header = yes
	EOF
	mq-put -r "conf-rk-$BATS_TEST_NUMBER" q <<<x
	run mq-forward --drain q
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(peek frk3 | cut -f4)" = 'x\n' ]
	printf '[forward]\nrouting_key_header = maybe\n' >"$MQ_CONF"
	run mq-forward --drain q "$URL" ""
	[ "$status" -eq 78 ]
}

@test "forward: a message mq-forward must not send is dead-lettered, not retried; the queue goes on (65)" {
	bq fres
	mq-put -H a=1 q <<<first
	# reserved names cannot be put; a foreign writer may still plant one
	f=$(only q ready)
	setfattr -n user.mq.h -v "0x$(printf 'a=1\0message_id=x\0' |
	    od -An -tx1 | tr -d ' \n')" "$f"
	mq-put -H "type=$(head -c 256 /dev/zero | tr '\0' t)" q <<<second
	mq-put -H b=2 q <<<third
	run mq-forward --drain q "$URL" "" fres
	echo "$output"
	[ "$status" -eq 65 ]
	[[ "$output" == *"not forwarded, dead-lettered: header message_id is reserved: message-id is mq's own"* ]]
	[[ "$output" == *"header type: over 255 bytes"* ]]
	[[ "$output" == *"2 messages dead-lettered"* ]]
	[ "$(find "$S/q/dead" -type f -name '*,rrejected' | wc -l)" -eq 2 ]
	[ "$(peek fres | cut -f4)" = 'third\n' ]
}

@test "forward: mq-put refuses the reserved names message-id, timestamp, expiration, app-id (65)" {
	for n in message-id message_id timestamp expiration app.id app-id; do
		run mq-put -H "$n=x" q <<<x
		echo "$output"
		[ "$status" -eq 65 ]
		[[ "$output" == *"header $n: reserved"* ]]
	done
	[ "$(msgs q)" -eq 0 ]
	# not reserved: what mq-recv keeps them as
	mq-put -H amqp-message-id=x -H message-idx=y q <<<x
}
