#!/usr/bin/env bats
# mq-recv: an AMQP broker's queue into a local queue; acks only after the
# durable put; the message-id is the put's dedup key.  One private broker
# for the file (mk/rabbitmq.sh); messages are published to it with
# tests/amqp-peek, which shares no code with the tool.

bats_require_minimum_version 1.5.0
load test_helper
load bridge_helper

setup_file() {
	# one broker for the file, and some tests kill or freeze it
	export BATS_NO_PARALLELIZE_WITHIN_FILE=true
	bridge_setup_file
	[ -z "$BRIDGE_SKIP" ] || return 0
	# the reconnect test's queue, long before its kill: a durable queue
	# declared just before a SIGKILL may not survive it
	bq rcrash
}

teardown_file() {
	bridge_teardown_file
}

# key_of STRING - the ,k field a put with -k STRING gets
key_of() {
	printf '%s' "$1" | sha256sum | cut -c1-32
}

# the one message file of QUEUE (any state) whose key is that of STRING
by_key() {
	find "$S/$1" -type f -name "*,k$(key_of "$2")*" -path "*/ready/*"
}

@test "recv: round trip into a second spool (-d): bodies, priorities, message-ids as keys" {
	bq rrt
	S2=$T/spool2
	mq-init -d "$S2" q
	printf 'r1\t0\t-\tplain\nr2\t5\t-\ttab\\there\nr3\t9\t-\t\\x00\\xff\\\\bin\\n\n' |
	    publish rrt
	run mq-recv -v --drain -d "$S2" "$URL" rrt q
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(bcount rrt)" -eq 0 ]
	[ "$(find "$S2/q" -type f -name '*,*' | wc -l)" -eq 3 ]
	S=$S2
	f=$(by_key q r1)
	[ "$(field p "$f")" = 0 ]
	[ "$(cat "$f")" = plain ]
	f=$(by_key q r2)
	[ "$(field p "$f")" = 5 ]
	printf 'tab\there' | cmp - "$f"
	f=$(by_key q r3)
	[ "$(field p "$f")" = 9 ]
	printf '\0\377\\bin\n' | cmp - "$f"
	# -v: message-id -> local id
	[[ "$output" == *"mq-recv: r1 -> $(basename "$(by_key q r1)" | cut -d, -f1)"* ]]
	# nothing in the default spool
	[ ! -e "$MQ_SPOOL/q" ]
}

@test "recv: MQ_SPOOL names the spool" {
	bq rspool
	S2=$T/other
	MQ_SPOOL=$S2 mq-init q
	printf 's1\t-\t-\tbody\n' | publish rspool
	MQ_SPOOL=$S2 run mq-recv --drain "$URL" rspool q
	[ "$status" -eq 0 ]
	S=$S2
	[ "$(cat "$(by_key q s1)")" = body ]
}

@test "recv: the same message-id twice (a redelivery) is put once" {
	bq rdup
	mq-init q
	printf 'dup-1\t-\t-\tfirst\ndup-1\t-\t-\tsecond\n' | publish rdup
	run mq-recv -v --drain "$URL" rdup q
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(msgs q)" -eq 1 ]
	[ "$(cat "$(by_key q dup-1)")" = first ]
	id=$(basename "$(by_key q dup-1)" | cut -d, -f1)
	[[ "$output" == *"mq-recv: dup-1 -> $id"* ]]
	[[ "$output" == *"mq-recv: dup-1: duplicate of $id"* ]]
	[ "$(bcount rdup)" -eq 0 ]
	# and again later, by another run: still one
	printf 'dup-1\t-\t-\tthird\n' | publish rdup
	run mq-recv --drain "$URL" rdup q
	[ "$status" -eq 0 ]
	[ "$(msgs q)" -eq 1 ]
	[ "$(bcount rdup)" -eq 0 ]
}

@test "recv: messages without message-id are each put" {
	bq rnoid
	mq-init q
	printf -- '-\t-\t-\tsame\n-\t-\t-\tsame\n-\t-\t-\tsame\n' | publish rnoid
	run mq-recv --drain "$URL" rnoid q
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(msgs q)" -eq 3 ]
	[ "$(bcount rnoid)" -eq 0 ]
}

@test "recv: a priority above 9 becomes 9; expiration (ms) becomes the ttl" {
	bq rprio
	mq-init q
	printf 'p1\t200\t-\thigh\np2\t3\t60000\tshort-lived\n' | publish rprio
	now=$(date +%s)
	run mq-recv --drain "$URL" rprio q
	echo "$output"
	[ "$status" -eq 0 ]
	f=$(by_key q p1)
	[ "$(field p "$f")" = 9 ]
	[ -z "$(field x "$f")" ]
	f=$(by_key q p2)
	echo "$f"
	[ "$(field p "$f")" = 3 ]
	x=$(field x "$f")
	# 60 s from now, give or take the test's own time
	[ "$x" -ge $((now + 55)) ]
	[ "$x" -le $((now + 70)) ]
}

@test "recv: mq-forward -> broker -> mq-recv: the same bodies, the mq ids as keys" {
	bq rpipe
	conf sync=batch
	seq 500 | sed 's/^/pipe /' | mq-put -l q >"$T/ids"
	run mq-forward --drain q "$URL" "" rpipe
	[ "$status" -eq 0 ]
	S2=$T/spool2
	mq-init -d "$S2" q
	run mq-recv --drain -d "$S2" "$URL" rpipe q
	[ "$status" -eq 0 ]
	[ "$(find "$S2/q" -type f -name '*,*' | wc -l)" -eq 500 ]
	# key TAB body, wanted and got
	python3 -c 'import hashlib, sys
for i, line in enumerate(open(sys.argv[1]), 1):
    print("%s\tpipe %d" % (hashlib.sha256(line.strip().encode()).hexdigest()[:32], i))' \
	    "$T/ids" | sort >"$T/want"
	for f in "$S2"/q/ready/*/*; do
		k=${f##*,k}
		printf '%s\t%s\n' "${k%%,*}" "$(<"$f")"
	done | sort >"$T/got"
	diff "$T/want" "$T/got"
	# a redelivery of what mq-forward sent (same message-id): no duplicate
	printf '%s\t-\t-\tagain\n' "$(head -n 1 "$T/ids")" | publish rpipe
	run mq-recv --drain -d "$S2" "$URL" rpipe q
	[ "$status" -eq 0 ]
	[ "$(find "$S2/q" -type f -name '*,*' | wc -l)" -eq 500 ]
}

@test "recv: a put that fails (read-only spool) leaves the message in the broker; exit with the put's status" {
	bq rro
	mq-init q
	ro_spool
	run mq-put -d "$RO" q <<<probe
	want=$status
	[ "$want" -ne 0 ]
	printf 'ro-1\t-\t-\ta\nro-2\t-\t-\tb\n' | publish rro
	run mq-recv --drain -d "$RO" "$URL" rro q
	echo "$output"
	[ "$status" -eq "$want" ]
	[[ "$output" == *"cannot put"* ]]
	[ "$(msgs q)" -eq 0 ]
	# given back to the broker: it requeues what was not acked
	wait_for 10 bcount_is rro 2
	# and once the spool takes puts, they come
	run mq-recv --drain "$URL" rro q
	[ "$status" -eq 0 ]
	[ "$(msgs q)" -eq 2 ]
}

@test "recv: a put that fails (max_size) leaves the message in the broker; exit with the put's status" {
	bq rbig
	mq-init q
	printf 'max_size = 16\n' >"$S/q/mq.conf"
	body=$(printf 'x%.0s' $(seq 100))
	run mq-put q <<<"$body"
	want=$status
	[ "$want" -ne 0 ]
	printf 'big-1\t-\t-\t%s\n' "$body" | publish rbig
	run mq-recv --drain "$URL" rbig q
	echo "$output"
	[ "$status" -eq "$want" ]
	[ "$(msgs q)" -eq 0 ]
	wait_for 10 bcount_is rbig 1
}

@test "recv: -n max: exits after max messages, the rest stays in the broker" {
	bq rmax
	mq-init q
	for i in 1 2 3 4 5; do
		printf 'n-%s\t-\t-\t%s\n' "$i" "$i"
	done | publish rmax
	run mq-recv -n 3 "$URL" rmax q
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(msgs q)" -eq 3 ]
	wait_for 10 bcount_is rmax 2
}

@test "recv: a missing broker queue with --drain: exit 69, it is named" {
	mq-init q
	start=$SECONDS
	run mq-recv --drain "$URL" "no-such-queue-$BATS_TEST_NUMBER" q
	echo "$output"
	[ "$status" -eq 69 ]
	[ $((SECONDS - start)) -lt 10 ]
	[[ "$output" == *"no-such-queue-$BATS_TEST_NUMBER"* ]]
	[[ "$output" == *404* ]]
}

@test "recv: broker down with --drain -t 2: exit 69, the url named without its password" {
	mq-init q
	port=$(free_port)
	start=$SECONDS
	MQ_AMQP_PASSWORD=$PASSWORD run mq-recv --drain -t 2 \
	    "amqp://mqtest@127.0.0.1:$port/vh" x q
	echo "$output"
	[ "$status" -eq 69 ]
	[ $((SECONDS - start)) -ge 2 ]
	[ $((SECONDS - start)) -lt 15 ]
	[[ "$output" == *"amqp://mqtest@127.0.0.1:$port/vh"* ]]
	[[ "$output" != *"$PASSWORD"* ]]
	[ "$(msgs q)" -eq 0 ]
}

@test "recv: a password in a command-line url is refused (64), and not printed" {
	bq rpwurl
	mq-init q
	printf 'pw-1\t-\t-\ta\n' | publish rpwurl
	run mq-recv --drain "amqp://mqtest:$PASSWORD@$AMQP_HOST:$AMQP_PORT" rpwurl q
	echo "$output"
	[ "$status" -eq 64 ]
	[[ "$output" != *"$PASSWORD"* ]]
	[ "$(msgs q)" -eq 0 ]
	[ "$(bcount rpwurl)" -eq 1 ]
}

@test "recv: MQ_AMQP_PASSWORD gives the password" {
	bq renvpass
	mq-init q
	printf 'e-1\t-\t-\ta\n' | publish renvpass
	MQ_AMQP_PASSWORD=$PASSWORD run mq-recv -v --drain \
	    "amqp://mqtest@$AMQP_HOST:$AMQP_PORT" renvpass q
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" != *"$PASSWORD"* ]]
	[ "$(msgs q)" -eq 1 ]
}

@test "recv: -P file gives the password; not in ps nor on stderr" {
	bq rpassfile
	mq-init q
	printf '%s\n' "$PASSWORD" >"$T/pass"
	chmod 600 "$T/pass"
	mq-recv -v -P "$T/pass" "amqp://mqtest@$AMQP_HOST:$AMQP_PORT" rpassfile q \
	    2>"$T/err" 3>&- &
	pid=$!
	printf 'f-1\t-\t-\ta\n' | publish rpassfile
	wait_for 30 local_count_is q 1
	args=$(ps_args "$pid")
	echo "ps: $args"
	[[ "$args" == *mq-recv* ]]
	[[ "$args" != *"$PASSWORD"* ]]
	kill -TERM "$pid"
	rc=0
	wait "$pid" || rc=$?
	cat "$T/err"
	[ "$rc" -eq 0 ]
	! grep -qF "$PASSWORD" "$T/err"
	wait_for 10 bcount_is rpassfile 0
}

@test "recv: a wrong password: exit 69 with --drain, a clear error" {
	mq-init q
	MQ_AMQP_PASSWORD=not-the-password run mq-recv --drain -t 20 \
	    "amqp://mqtest@$AMQP_HOST:$AMQP_PORT" x q
	echo "$output"
	[ "$status" -eq 69 ]
	[[ "$output" == *"amqp://mqtest@$AMQP_HOST:$AMQP_PORT"* ]]
	grep -Eiq 'log ?in|ACCESS_REFUSED|auth' <<<"$output"
	[[ "$output" != *not-the-password* ]]
}

@test "recv: usage errors exit 64" {
	mq-init q
	for args in "-p 0 $URL x q" "-p 65536 $URL x q" "-p lots $URL x q" \
	    "-n many $URL x q" "-t soon $URL x q" "http://$AMQP_HOST:$AMQP_PORT x q" \
	    "amqp://$AMQP_HOST:port x q" "$URL x" "$URL x q extra" "-Z $URL x q"; do
		eval "set -- $args"
		run mq-recv --drain "$@"
		echo "mq-recv --drain $args: $status: $output"
		[ "$status" -eq 64 ]
	done
	[ "$(msgs q)" -eq 0 ]
}

@test "recv: config [recv] gives url, queue, prefetch" {
	bq rconf
	mq-init q
	cat >"$MQ_CONF" <<-EOF
		[recv]
		url = $URL
		queue = rconf
		prefetch = 2
	EOF
	for i in 1 2 3 4 5; do
		printf 'c-%s\t-\t-\t%s\n' "$i" "$i"
	done | publish rconf
	run mq-recv --drain q
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(msgs q)" -eq 5 ]
	[ "$(bcount rconf)" -eq 0 ]
}

@test "recv: the queue's mq.conf [recv] with password_file; the command line overrides it" {
	bq rqconf
	mq-init q
	printf '%s\n' "$PASSWORD" >"$T/pass"
	cat >"$S/q/mq.conf" <<-EOF
		[recv]
		url = amqp://mqtest@$AMQP_HOST:$AMQP_PORT
		queue = no-such-queue
		password_file = $T/pass
	EOF
	printf 'qc-1\t-\t-\ta\n' | publish rqconf
	run mq-recv --drain q
	echo "$output"
	[ "$status" -eq 69 ]
	[[ "$output" == *no-such-queue* ]]
	run mq-recv --drain "amqp://mqtest@$AMQP_HOST:$AMQP_PORT" rqconf q
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(msgs q)" -eq 1 ]
}

@test "recv: no url anywhere: exit 64" {
	mq-init q
	run mq-recv --drain q
	echo "$output"
	[ "$status" -eq 64 ]
	[[ "$output" == *url* ]]
}

@test "recv: without --drain it waits for messages; SIGTERM: exit 0" {
	bq rwait
	mq-init q
	mq-recv "$URL" rwait q 2>"$T/err" 3>&- &
	pid=$!
	printf 'w-1\t-\t-\tone\n' | publish rwait
	wait_for 30 local_count_is q 1
	printf 'w-2\t-\t-\ttwo\n' | publish rwait
	wait_for 30 local_count_is q 2
	! gone "$pid"
	kill -TERM "$pid"
	rc=0
	wait "$pid" || rc=$?
	cat "$T/err"
	[ "$rc" -eq 0 ]
	[ "$(cat "$(by_key q w-2)")" = two ]
	wait_for 10 bcount_is rwait 0
}

@test "recv: the broker killed (SIGKILL) and restarted: it reconnects, nothing lost, nothing twice" {
	mq-init q
	mq-recv "$URL" rcrash q 2>"$T/err" 3>&- &
	pid=$!
	for i in $(seq 100); do
		printf 'k-%s\t-\t-\tbefore %s\n' "$i" "$i"
	done | publish rcrash
	wait_for 30 local_count_is q 100
	sh "$RABBITMQ_SH" kill "$BROKER"
	sh "$RABBITMQ_SH" restart "$BROKER" 3>&-
	# published again, partly the same message-ids: a redelivery
	for i in $(seq 51 200); do
		printf 'k-%s\t-\t-\tafter %s\n' "$i" "$i"
	done | publish rcrash
	wait_for 120 local_count_is q 200
	wait_for 30 bcount_is rcrash 0
	kill -TERM "$pid"
	rc=0
	wait "$pid" || rc=$?
	cat "$T/err"
	[ "$rc" -eq 0 ]
	[ "$(msgs q)" -eq 200 ]
	[ "$(cat "$(by_key q k-60)")" = "before 60" ]
	[ "$(cat "$(by_key q k-160)")" = "after 160" ]
	grep -q "amqp://guest@$AMQP_HOST:$AMQP_PORT.*connected" "$T/err"
}

@test "recv: sync = batch: one group commit with keys drops the repeats within it and across runs" {
	bq rbatch
	mq-init q
	echo 'sync = batch' >"$S/q/mq.conf"
	printf 'a\t-\t-\tA\nb\t-\t-\tB\na\t-\t-\tA2\nc\t-\t-\tC\nb\t-\t-\tB2\n' | publish rbatch
	run mq-recv -v --drain "$URL" rbatch q
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(msgs q)" -eq 3 ]
	[ "$(cat "$(by_key q a)")" = A ]
	[ "$(cat "$(by_key q b)")" = B ]
	[ "$(cat "$(by_key q c)")" = C ]
	# the repeat reports the first one's id
	ida=$(basename "$(by_key q a)" | cut -d, -f1)
	[ "$(grep -c "mq-recv: a -> $ida" <<<"$output")" -eq 2 ]
	printf 'c\t-\t-\tC2\nd\t-\t-\tD\n' | publish rbatch
	run mq-recv --drain "$URL" rbatch q
	[ "$status" -eq 0 ]
	[ "$(msgs q)" -eq 4 ]
	[ "$(bcount rbatch)" -eq 0 ]
}

@test "recv: amqps:// with the broker's CA in [recv] cacert" {
	bq rtls
	mq-init q
	printf 'tls-1\t-\t-\tover tls\n' | publish rtls
	# the broker's CA is the rabbitmq user's: a cacert must be the
	# configuration owner's (or root's) to be trusted (mq.conf(5))
	cp "$BROKER_CA" "$T/ca.pem"
	printf '[recv]\ncacert = %s\n' "$T/ca.pem" >"$S/q/mq.conf"
	run mq-recv --drain -t 10 "amqps://guest@localhost:$AMQPS_PORT" rtls q
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(cat "$(by_key q tls-1)")" = "over tls" ]
	[ "$(bcount rtls)" -eq 0 ]
}

# hdrs FILE - a message file's headers, one name=value a line
hdrs() {
	getfattr --only-values -n user.mq.h "$1" 2>/dev/null | tr '\0' '\n'
}

@test "recv: a publisher not ours (amqp-publish): properties and headers become mq headers, non-ASCII exact" {
	bq rfor
	mq-init q
	amqp-publish -u "$URL" -r rfor -p -C text/plain -E utf-8 -t replies \
	    -H "note: $(printf 'caf\303\251 \342\202\254')" -H "x-n: 1 2" -b hello
	run mq-recv --drain "$URL" rfor q
	echo "$output"
	[ "$status" -eq 0 ]
	f=$(only q ready)
	[ "$(cat "$f")" = hello ]
	run hdrs "$f"
	echo "$output"
	[ "$output" = "$(printf '%s\n' content-type=text/plain \
	    content-encoding=utf-8 reply-to=replies routing-key=rfor \
	    "note=$(printf 'caf\303\251 \342\202\254')" 'x-n=1 2')" ]
}

@test "recv: typed values become bytes by the documented rule; x-death as JSON" {
	bq rtyp
	mq-init q
	printf '%s\n' 'P	correlation-id	c\x01d' 'P	message-id	m-1' \
	    'P	type	t' 'P	app-id	app' 'P	expiration	60000' \
	    'H	s	S	\xc3\xa4\x01b' 'H	x	x	\x00\xffab' 'H	t	t	1' \
	    'H	f	t	0' 'H	i8	b	-5' 'H	u8	B	250' 'H	i16	s	-300' \
	    'H	u16	u	60000' 'H	i32	I	-70000' 'H	u32	i	4000000000' \
	    'H	i64	l	-9000000000' 'H	u64	L	18000000000000000000' \
	    'H	f32	f	1.5' 'H	f64	d	0.1' 'H	dec	D	2:12345' \
	    'H	dec0	D	3:5' 'H	ts	T	1700000000' 'H	v	V	-' \
	    'H	arr	A	-' 'H	x-death	F	-' 'B	body' |
	    "$PEEK" -T "$AMQP_HOST" "$AMQP_PORT" rtyp
	run mq-recv --drain "$URL" rtyp q
	echo "$output"
	[ "$status" -eq 0 ]
	f=$(only q ready)
	hdrs "$f" >"$T/got"
	cat -A "$T/got"
	{
		printf 'correlation-id=c\001d\ntype=t\namqp-message-id=m-1\n'
		printf 'amqp-expiration=60000\namqp-app-id=app\nrouting-key=rtyp\n'
		printf 's=\303\244\001b\nx=AP9hYg==\nt=true\nf=false\ni8=-5\n'
		printf 'u8=250\ni16=-300\nu16=60000\ni32=-70000\nu32=4000000000\n'
		printf 'i64=-9000000000\nu64=18000000000000000000\nf32=1.5\n'
		printf 'f64=0.10000000000000001\ndec=123.45\ndec0=0.005\n'
		printf 'ts=1700000000\nv=\narr=["a",1,true]\n'
		printf 'x-death=[{"count":1,"reason":"rejected","queue":"q\\"1",'
		printf '"time":1700000000,"routing-keys":["orders.paid"]}]\n'
	} | diff - "$T/got"
	# the key is the message-id, as before
	[ "$(field k "$f")" = "$(printf m-1 | sha256sum | cut -c1-32)" ]
}

@test "recv: headers mq cannot hold are dead-lettered (,rheaders) with amqp-error, never dropped; names taken renamed; the rest go on (65)" {
	bq rbad
	mq-init q
	big=$(head -c 3100 /dev/zero | tr '\0' v)
	printf '%s\n' 'H	a b	S	1' 'H	ok	S	yes' 'B	badname' |
	    "$PEEK" -T "$AMQP_HOST" "$AMQP_PORT" rbad
	printf '%s\n' 'H	n	S	a\x00b' 'B	nul' | "$PEEK" -T "$AMQP_HOST" "$AMQP_PORT" rbad
	printf '%s\n' "H	big	S	$big" 'B	big' | "$PEEK" -T "$AMQP_HOST" "$AMQP_PORT" rbad
	printf '%s\n' 'H	a-b	S	1' 'H	a_b	S	2' 'B	fold' |
	    "$PEEK" -T "$AMQP_HOST" "$AMQP_PORT" rbad
	printf '%s\n' 'P	message-id	good' 'H	ok	S	1' 'B	good' |
	    "$PEEK" -T "$AMQP_HOST" "$AMQP_PORT" rbad
	run mq-recv --drain "$URL" rbad q
	echo "$output"
	[ "$status" -eq 65 ]
	[[ "$output" == *"dead-lettered: header name a b: outside the grammar"* ]]
	[[ "$output" == *"dead-lettered: header n: a NUL in its value"* ]]
	[[ "$output" == *"dead-lettered: headers: over the 3072 bytes"* ]]
	[[ "$output" == *"q: 3 messages dead-lettered"* ]]
	[ "$(bcount rbad)" -eq 0 ]
	[ "$(find "$S/q/dead" -type f -name '*,rheaders' | wc -l)" -eq 3 ]
	for f in "$S"/q/dead/*; do
		b=$(cat "$f")
		hdrs "$f" >"$T/h"
		cat "$T/h"
		case $b in
		badname) grep -qx 'ok=yes' "$T/h"
			grep -q '^amqp-error=header name a b' "$T/h" ;;
		nul) grep -q '^amqp-error=header n: a NUL' "$T/h" ;;
		big) grep -q '^amqp-error=headers: over' "$T/h" ;;
		*) false ;;
		esac
	done
	# one taken once '-' and '.' are '_': renamed, not dropped
	for f in $(files q ready); do
		[ "$(cat "$f")" = fold ] || continue
		[ "$(hdrs "$f")" = "$(printf 'routing-key=rbad\na-b=1\namqp-h-a_b=2')" ]
	done
	[ "$(find "$S/q/ready" -type f | wc -l)" -eq 2 ]
	# kicked, it is a message like any other
	mq-kick q
	[ "$(find "$S/q/ready" -type f | wc -l)" -eq 5 ]
}

@test "recv: a table entry whose name a property took keeps its own value as amqp-h-NAME" {
	bq rcol
	mq-init q
	amqp-publish -u "$URL" -r rcol -C text/plain -H 'content-type: other' \
	    -H 'routing-key: rcol' -H 'amqp-app-id: old' -b x
	run mq-recv --drain "$URL" rcol q
	echo "$output"
	[ "$status" -eq 0 ]
	run hdrs "$(only q ready)"
	echo "$output"
	[ "$output" = "$(printf '%s\n' content-type=text/plain routing-key=rcol \
	    amqp-h-content-type=other amqp-app-id=old)" ]
}

@test "bridge: a round trip carries the headers: mq-forward, then mq-recv into another queue" {
	bq rround
	mq-init in
	v=$(printf '\303\251\001=\t')
	mq-put -H "v=$v" -H correlation-id=c-1 -H reply-to=r -H type=t \
	    -H content-type=a/b -H content-encoding=e -r k.1 out <<<x
	id=$(basename "$(only out ready)" | cut -d, -f1)
	run mq-forward --drain out "$URL" "" rround
	[ "$status" -eq 0 ]
	run mq-recv --drain "$URL" rround in
	[ "$status" -eq 0 ]
	f=$(only in ready)
	hdrs "$f" >"$T/got"
	cat "$T/got"
	grep -qx "v=$v" "$T/got"
	grep -qx 'k=x' "$T/got" && false
	for h in correlation-id=c-1 reply-to=r type=t content-type=a/b \
	    content-encoding=e amqp-message-id="$id" amqp-app-id=mq \
	    routing-key=rround amqp-h-routing-key=k.1; do
		grep -qx "$h" "$T/got"
	done
	grep -q '^amqp-timestamp=[0-9]*$' "$T/got"
	# and on, to the broker again: what mq-recv kept is no reserved name
	run mq-forward --drain in "$URL" "" rround
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "bridge: request/reply across the broker: correlation-id and reply-to go there and back" {
	bq rreq
	bq rrep
	mq-init inbox replies
	# the server side: requests from the broker into a local queue, a
	# worker per message answering to its reply-to, through the broker
	mq-put -H reply-to=rrep -H correlation-id=c-77 requests <<<'2+3'
	run mq-forward --drain requests "$URL" "" rreq
	[ "$status" -eq 0 ]
	run mq-recv --drain "$URL" rreq inbox
	[ "$status" -eq 0 ]
	run mq-work --drain inbox -- sh -c \
	    'echo "$(($(cat)))" | mq-put -H "correlation-id=$MQ_H_correlation_id" "out-$MQ_H_reply_to" >/dev/null'
	echo "$output"
	[ "$status" -eq 0 ]
	run mq-forward --drain out-rrep "$URL" "" rrep
	[ "$status" -eq 0 ]
	# the client side: replies from the broker into its reply queue
	mq-recv --drain "$URL" rrep replies
	h=$(mq-get -w -t 5 replies)
	[ "$(cat "$h")" = 5 ]
	hdrs "$h" | grep -qx correlation-id=c-77
	mq-ack "$h"
}

@test "recv: one group commit of several routing keys into a topic routes each message by its own key" {
	bq rmix -e amq.topic -r '#'
	mq-sub -b 'order.*' shop billing
	mq-sub -b 'stock.#' shop warehouse
	mq-sub shop audit
	echo 'sync = batch' >"$S/shop/mq.conf"
	for k in order.paid stock.in order.refunded stock.out.eu order.paid; do
		printf '%s-%s\t-\t-\t%s\n' "$k" "$RANDOM" "$k" | publish -e amq.topic "$k"
	done
	run mq-recv --drain -p 64 "$URL" rmix shop
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(bcount rmix)" -eq 0 ]
	bodies() { for f in $(files "$1" ready); do cat "$f"; echo; done | sort | paste -sd ' '; }
	[ "$(bodies billing)" = "order.paid order.paid order.refunded" ]
	[ "$(bodies warehouse)" = "stock.in stock.out.eu" ]
	[ "$(msgs audit)" -eq 5 ]
	[ "$(msgs shop)" -eq 0 ]
}

@test "recv: a repeat followed by new messages in one group commit into a topic: the new ones are put (were thrown away, and acked to the broker)" {
	bq rdup
	mq-sub shop audit
	echo 'sync = batch' >"$S/shop/mq.conf"
	printf 'k1\t-\t-\tfirst\n' | publish rdup
	mq-recv --drain "$URL" rdup shop
	printf 'k1\t-\t-\tagain\nk2\t-\t-\tsecond\nk3\t-\t-\tthird\n' | publish rdup
	run mq-recv -v --drain -p 64 "$URL" rdup shop
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(bcount rdup)" -eq 0 ]
	[ "$(msgs audit)" -eq 3 ]
	[ "$(for f in $(files audit ready); do cat "$f"; echo; done | sort | paste -sd ' ')" = "first second third" ]
}

# drain_local QUEUE - ack every message of QUEUE that can be claimed now,
# and print their bodies, a line each
drain_local() {
	local h
	while h=$(mq-get "$1"); do
		cat "$h"
		echo
		mq-ack "$h"
	done
}

@test "recv: a full queue (max_length): it waits for room, never exits, never drops" {
	bq rfull
	mq-init q
	printf 'max_length = 3\n' >"$S/q/mq.conf"
	for i in $(seq 10); do
		printf 'f-%s\t-\t-\tbody %s\n' "$i" "$i"
	done | publish rfull
	mq-recv "$URL" rfull q 2>"$T/err" 3>&- &
	pid=$!
	wait_for 30 local_count_is q 3
	wait_for 30 grep -q "q: queue full: waiting for room" "$T/err"
	# it waits: the broker keeps the rest, the queue stays at its limit
	! gone "$pid"
	[ "$(local_count q)" -eq 3 ]
	wait_for 30 bcount_is rfull 7
	[ "$(find "$S/q/dead" -type f | wc -l)" -eq 0 ]
	# room made by a consumer: the rest comes, three at a time at most
	: >"$T/got"
	end=$((SECONDS + 120))
	while [ "$(sort -u "$T/got" | grep -c .)" -lt 10 ] && [ "$SECONDS" -lt "$end" ]; do
		drain_local q >>"$T/got"
		[ "$(find "$S/q/ready" "$S/q/delayed" -type f | wc -l)" -le 3 ]
		sleep 0.2
	done
	! gone "$pid"
	kill -TERM "$pid"
	rc=0
	wait "$pid" || rc=$?
	cat "$T/err"
	[ "$rc" -eq 0 ]
	[ "$(sort -u "$T/got" | grep -c .)" -eq 10 ]
	[ "$(bcount rfull)" -eq 0 ]
	[ "$(find "$S/q/dead" -type f | wc -l)" -eq 0 ]
}
