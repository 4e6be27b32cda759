#!/usr/bin/env bats
# mq.conf: /etc/mq.conf (here $MQ_CONF), then SPOOL/QUEUE/mq.conf.
load test_helper
bats_require_minimum_version 1.5.0

# conf_error FILE LINE CMD... - CMD fails with 78 and one line on stderr
# naming FILE:LINE: and a reason; nothing on stdout
conf_error() {
	local file=$1 line=$2
	shift 2
	run --separate-stderr "$@"
	echo "status $status stdout <$output> stderr <$stderr>"
	[ "$status" -eq 78 ]
	[ -z "$output" ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ "$stderr" == *"$file:$line: "?* ]]
	# and not some other line
	[[ "$stderr" != *"$file:$line"[0-9]* ]]
}

# conf_error_file FILE CMD... - CMD fails with 78 and one line on stderr
# naming FILE and a reason, as a whole (no line); nothing on stdout
conf_error_file() {
	local file=$1
	shift
	run --separate-stderr "$@"
	echo "status $status stdout <$output> stderr <$stderr>"
	[ "$status" -eq 78 ]
	[ -z "$output" ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ "$stderr" == *": $file: "?* ]]
}

# ok_put - mq-put accepts the configuration and puts one (empty) message
ok_put() {
	run --separate-stderr mq-put q </dev/null
	echo "status $status stdout <$output> stderr <$stderr>"
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	[[ "$output" =~ ^[0-9]{10}\.[0-9]{6}\.[0-9A-Za-z]{8}$ ]]
}

@test "config: an empty file, comments and blank lines are fine" {
	ok_put
	printf '# comment\n; comment too\n\n   \n\t\n# lease = abc\n' >"$MQ_CONF"
	ok_put
}

@test "config: every key with a valid value is accepted" {
	conf lease=30s max_attempts=5 backoff=1s backoff_max=1h sync=full \
	    max_size=64M ttl=0 mode=0640 group=0 bucket_size=1024 \
	    dedup_window=5m prepare_timeout=1m prepare_max=15
	ok_put
	# without blanks around = too
	printf 'lease=5m\nmax_attempts=0\nbackoff=0\nbackoff_max=0\nsync=none\n' >"$MQ_CONF"
	ok_put
}

@test "config: valid values of every key" {
	for kv in \
	    lease=1 lease=3ms lease=500ms lease=90s lease=2m lease=3h lease=1d \
	    lease=1h30m lease=1d2h3m4s5ms \
	    max_attempts=0 max_attempts=1 max_attempts=1000 \
	    backoff=0 backoff=250ms backoff=2s backoff=1m30s \
	    backoff_max=0 backoff_max=10m backoff_max=1d \
	    sync=full sync=batch sync=none \
	    max_size=0 max_size=1 max_size=1024 max_size=1K max_size=1k \
	    max_size=64M max_size=1m max_size=1G max_size=2g \
	    ttl=0 ttl=60 ttl=1h ttl=7d \
	    dedup_window=0 dedup_window=500ms dedup_window=2s dedup_window=1d \
	    prepare_timeout=1 prepare_timeout=30s prepare_timeout=1d \
	    prepare_max=1 prepare_max=15 prepare_max=1000000 \
	    mode=0640 mode=0600 mode=0644 mode=0666 mode=640 mode=0 mode=0777 \
	    group=0 group=root "group=$(id -gn)" "group=$(id -g)" \
	    bucket_size=1 bucket_size=1024 bucket_size=1000000; do
		conf "$kv"
		ok_put || {
			echo "rejected: $kv"
			return 1
		}
	done
}

@test "config: the values take effect" {
	conf lease=2h ttl=1h mode=0600 bucket_size=2 max_size=10
	id=$(mq-put q <<<'123456789')
	f=$(find "$S/q/ready" -type f)
	[[ "$f" == *"/$id,p4,a0,s10,x"* ]]
	x=${f##*,x}
	now=$(date +%s)
	[ "$x" -ge $((now + 3600 - 5)) ] && [ "$x" -le $((now + 3600 + 5)) ]
	[ "$(stat -c %a "$f")" = 600 ]
	run mq-put q <<<'1234567890'
	[ "$status" -eq 65 ]
	mq-put q <<<'a' >/dev/null
	mq-put q <<<'b' >/dev/null
	[ "$(find "$S/q/ready" -mindepth 1 -type d | wc -l)" -eq 2 ]
	h=$(mq-get q)
	dl=$(deadline "$h")
	[ "$dl" -ge $((now + 7200 - 5)) ] && [ "$dl" -le $((now + 7200 + 5)) ]
}

@test "config: unknown key exits 78 naming the line" {
	printf 'lease = 1s\n# comment\nleese = 2s\nsync = full\n' >"$MQ_CONF"
	conf_error "$MQ_CONF" 3 mq-put q
	[[ "$stderr" == *leese* ]]
}

@test "config: lease = abc" {
	printf '# first\n\nlease = abc\n' >"$MQ_CONF"
	conf_error "$MQ_CONF" 3 mq-put q
}

@test "config: sync = maybe" {
	printf 'lease = 1s\nsync = maybe\n' >"$MQ_CONF"
	conf_error "$MQ_CONF" 2 mq-put q
}

@test "config: max_attempts = -1" {
	printf 'max_attempts = -1\n' >"$MQ_CONF"
	conf_error "$MQ_CONF" 1 mq-put q
}

@test "config: max_size = 12Q" {
	printf 'sync = none\nmax_attempts = 3\nttl = 0\nmax_size = 12Q\n' >"$MQ_CONF"
	conf_error "$MQ_CONF" 4 mq-put q
}

@test "config: mode = 999" {
	printf '\n\nmode = 999\n' >"$MQ_CONF"
	conf_error "$MQ_CONF" 3 mq-put q
}

@test "config: other bad values exit 78 naming the line" {
	for kv in 'lease = ' 'lease = -5s' 'lease = 5x' 'lease = 1.5s' \
	    'backoff = abc' 'backoff_max = 1y' 'ttl = -1' \
	    'ttl = forever' 'max_attempts = abc' 'max_attempts = 1.5' \
	    'max_attempts = 5x' 'max_attempts = ' 'sync = FULL' 'sync = ' \
	    'max_size = -1' 'max_size = 1KB' 'max_size = K' 'max_size = 1T' \
	    'mode = 8' 'mode = 0o640' 'mode = rw-r-----' 'mode = 0x1a4' \
	    'mode = ' 'group = no-such-group-mq' 'bucket_size = 0' \
	    'bucket_size = 1000001' 'bucket_size = -1' 'dedup_window = -1s' \
	    'dedup_window = 5 m' 'dedup_window = ' 'prepare_timeout = 0' \
	    'prepare_timeout = -1s' 'prepare_timeout = ' 'prepare_max = 0' \
	    'prepare_max = 1000001' 'prepare_max = x'; do
		printf '# bad value on line 2\n%s\n' "$kv" >"$MQ_CONF"
		conf_error "$MQ_CONF" 2 mq-put q || {
			echo "accepted: $kv"
			return 1
		}
	done
}

@test "config: rate takes N, N/s, N/m, N/h (N from 1 to 1000000), and 0 for no limit" {
	for kv in rate=1 rate=5 rate=5/s rate=5/m rate=5/h rate=0 \
	    rate=1000000 rate=1000000/s rate=1/h; do
		conf "$kv"
		ok_put || {
			echo "rejected: $kv"
			return 1
		}
	done
}

@test "config: a bad rate exits 78 naming the file and line, in the global file and the queue's" {
	for kv in 'rate = ' 'rate = -1' 'rate = 0/s' 'rate = 5/d' 'rate = x' \
	    'rate = 5/' 'rate = /s' 'rate = 1000001' 'rate = 1.5/s' \
	    'rate = +5' 'rate = 5 /s' 'rate = 5/S' 'rate = 5/sec'; do
		printf '# bad value on line 2\n%s\n' "$kv" >"$MQ_CONF"
		conf_error "$MQ_CONF" 2 mq-put q || {
			echo "accepted: $kv"
			return 1
		}
	done
	: >"$MQ_CONF"
	mq-init q
	printf 'lease = 1m\nbackoff = 1s\nrate = 5/d\n' >"$S/q/mq.conf"
	conf_error "$S/q/mq.conf" 3 mq-work -e q true
	[[ "$stderr" == *"rate"*"5/d"* ]]
}

@test "issue 12: lease = 1ms or 2ms, on which mq-work renewed every 0 ms at 100% CPU, is refused like -L" {
	mq-put q <<<x >/dev/null
	for l in 1ms 2ms; do
		printf '# leases\nlease = %s\n' "$l" >"$MQ_CONF"
		conf_error "$MQ_CONF" 2 mq-get q
		[[ "$stderr" == *"lease: bad lease, 3ms or more: $l" ]]
		conf_error "$MQ_CONF" 2 timeout 10 mq-work -n 1 q sleep 1
		: >"$MQ_CONF"
		printf 'lease = %s\n' "$l" >"$S/q/mq.conf"
		conf_error "$S/q/mq.conf" 1 timeout 10 mq-work -n 1 q sleep 1
		rm "$S/q/mq.conf"
		# the same floor on the command line, for every tool that takes -L
		for t in mq-get mq-work mq-forward; do
			[ -x "$MQ_BIN/$t" ] || continue
			run "$t" -L "$l" q true
			[ "$status" -eq 64 ]
			[[ "$output" == *"$l: bad lease"* ]]
		done
		run mq-touch -L "$l" "$S/q/inflight/x"
		[ "$status" -eq 64 ]
	done
	[ "$(count "$S/q/ready")" -eq 1 ]
	printf 'lease = 3ms\n' >"$MQ_CONF"
	h=$(mq-get q)
	[[ "$h" == *",l3,"* ]]
}

@test "issue 12: group = 99999999, a gid no group has, is refused naming the line" {
	! getent group 99999999 >/dev/null
	printf 'mode = 0660\ngroup = 99999999\n' >"$MQ_CONF"
	conf_error "$MQ_CONF" 2 mq-put q
	[[ "$stderr" == *"group: no such group: 99999999" ]]
	[ ! -e "$S/q" ]
	run mq-init -g 99999999 q
	[ "$status" -eq 64 ]
	[ ! -e "$S/q" ]
}

@test "issue 12: a group- or world-writable configuration is refused, naming the file and the fix" {
	mq-init q
	mq-put q <<<x >/dev/null
	chmod g+w "$MQ_CONF"
	conf_error_file "$MQ_CONF" mq-get q
	[[ "$stderr" == *": $MQ_CONF: writable by its group: check it, then chmod g-w" ]]
	chmod g-w,o+w "$MQ_CONF"
	conf_error_file "$MQ_CONF" mq-stat q
	[[ "$stderr" == *": $MQ_CONF: writable by everyone: check it, then chmod go-w" ]]
	chmod o-w "$MQ_CONF"
	printf 'lease = 1h\n' >"$S/q/mq.conf"
	chmod 0664 "$S/q/mq.conf"
	conf_error_file "$S/q/mq.conf" mq-ls q
	[[ "$stderr" == *"writable by its group"* ]]
	chmod 0644 "$S/q/mq.conf"
	[ "$(mq-ls q | wc -l)" -eq 1 ]
}

@test "issue 12: a configuration with a second hard link is refused: another name could make it" {
	mq-init q
	printf 'lease = 1h\n' >"$S/q/mq.conf"
	ln "$S/q/mq.conf" "$BATS_TEST_TMPDIR/other-name"
	conf_error_file "$S/q/mq.conf" mq-get q
	[[ "$stderr" == *"has 2 hard links"* ]]
	rm "$BATS_TEST_TMPDIR/other-name"
	run mq-get q
	[ "$status" -eq 1 ]
	ln "$MQ_CONF" "$BATS_TEST_TMPDIR/other-name"
	conf_error_file "$MQ_CONF" mq-get q
}

@test "config: a section header is an error naming its line" {
	printf 'lease = 1s\n[queue]\nsync = none\n' >"$MQ_CONF"
	conf_error "$MQ_CONF" 2 mq-put q
}

@test "config: a section header with no key after it is an error" {
	printf 'lease = 1s\n[queue]\n' >"$MQ_CONF"
	conf_error "$MQ_CONF" 2 mq-put q
	printf '[]\n' >"$MQ_CONF"
	conf_error "$MQ_CONF" 1 mq-put q
}

@test "config: [forward] and [recv] sections are accepted with their keys" {
	cat >"$MQ_CONF" <<-'EOF'
	lease = 1s
	[forward]
	url = amqp://mq@broker.example:5672/prod
	exchange = orders
	routing_key = paid
	window = 128
	password_file = /etc/mq/amqp.pass
	cacert = /etc/ssl/certs/ca.pem
	verify = no
	[ recv ]   # spaces and a comment
	url = amqps://mq@broker.example/prod
	queue = orders.incoming
	prefetch = 256
	password_file = /etc/mq/amqp.pass
	verify = yes
	EOF
	ok_put
	printf '[forward]\nexchange = ""\n' >"$MQ_CONF"
	ok_put
}

@test "config: bad keys and values in [forward] and [recv] name their line" {
	local kv cmd
	mq-init q
	for kv in 'url = http://x/' 'window = 0' 'window = 65536' 'verify = maybe' \
	    'queue = q' 'prefetch = 5' 'lease = 1s' 'url =' 'exchange ='; do
		printf '# a comment\n[forward]\n%s\n' "$kv" >"$MQ_CONF"
		for cmd in mq-forward mq-recv; do
			conf_error "$MQ_CONF" 3 $cmd q || {
				echo "$cmd accepted in [forward]: $kv"
				return 1
			}
		done
	done
	for kv in 'exchange = x' 'routing_key = k' 'window = 5' 'prefetch = 0' \
	    'url = amqpx://h'; do
		printf '[recv]\n%s\n' "$kv" >"$MQ_CONF"
		for cmd in mq-recv mq-forward; do
			conf_error "$MQ_CONF" 2 $cmd q || {
				echo "$cmd accepted in [recv]: $kv"
				return 1
			}
		done
	done
}

@test "issue 13: only mq-forward and mq-recv read [forward] and [recv]: mq-put takes a bad key there, they refuse it (78) naming file and line" {
	local cmd
	mq-init q
	printf 'lease = 1s\n[forward]\nwindow = 0\n' >"$S/q/mq.conf"
	ok_put
	mq-get q >/dev/null
	mq-stat q >/dev/null
	for cmd in mq-forward mq-recv; do
		conf_error "$S/q/mq.conf" 3 $cmd q
		[ "$stderr" = "$cmd: $S/q/mq.conf:3: window: value too small" ]
	done
	printf '[recv]\nurl = amqp://h/\nprefech = 5\n' >"$MQ_CONF"
	ok_put
	conf_error "$MQ_CONF" 3 mq-recv q
	[ "$stderr" = "mq-recv: $MQ_CONF:3: unknown key in [recv]: prefech" ]
	# a section no tool has is refused by every tool, as before
	printf '[forwards]\nwindow = 5\n' >"$MQ_CONF"
	conf_error "$MQ_CONF" 1 mq-put q
	conf_error "$MQ_CONF" 1 mq-forward q
}

@test "config: a section other than [forward] and [recv] names its line" {
	printf '[forward]\nwindow = 5\n[forwards]\n' >"$MQ_CONF"
	conf_error "$MQ_CONF" 3 mq-put q
	printf '[forward] x\n' >"$MQ_CONF"
	conf_error "$MQ_CONF" 1 mq-put q
}

@test "config: a line without = is an error" {
	printf 'lease = 1s\n\n# ok\nsync none\n' >"$MQ_CONF"
	conf_error "$MQ_CONF" 4 mq-put q
	printf 'lease\n' >"$MQ_CONF"
	conf_error "$MQ_CONF" 1 mq-put q
}

@test "config: binary garbage is an error naming the line" {
	printf 'lease = 1s\n\x7fELF\x02\x01\x01\xff\xfe\xfd\x80\x81\n' >"$MQ_CONF"
	conf_error "$MQ_CONF" 2 mq-put q
	head -c 600 /bin/sh >"$MQ_CONF"
	conf_error "$MQ_CONF" 1 mq-put q
}

@test "config: binary garbage with NUL bytes is an error naming the line" {
	printf 'lease = 1s\n\x00\x01\x02\xff\xfe garbage\nsync = none\n' >"$MQ_CONF"
	conf_error "$MQ_CONF" 2 mq-put q
}

@test "config: a NUL byte inside a line is an error, not a truncation" {
	printf 'lease = 1s\nmax_attempts = 1\x00junk\n' >"$MQ_CONF"
	conf_error "$MQ_CONF" 2 mq-put q
}

@test "config: a long comment line is fine, line numbers stay right" {
	{
		printf '# %0300d\n' 0
		printf 'lease = 1s\n'
	} >"$MQ_CONF"
	ok_put
	{
		printf '# %0300d\n' 0
		printf 'lease = 1s\n'
		printf 'bogus = 1\n'
	} >"$MQ_CONF"
	conf_error "$MQ_CONF" 3 mq-put q
	[[ "$stderr" == *bogus* ]]
}

@test "config: the first error is reported" {
	printf 'lease = 1s\nsync = maybe\nbogus = 2\n[x]\n' >"$MQ_CONF"
	conf_error "$MQ_CONF" 2 mq-put q
}

@test "config: every tool reports a bad config with 78" {
	conf lease=1h
	mq-put q <<<'x' >/dev/null
	mq-put q <<<'y' >/dev/null
	mq-put q <<<'z' >/dev/null
	h1=$(mq-get q)
	h2=$(mq-get q)
	h3=$(mq-get q)
	printf 'lease = 1h\nbogus = 1\n' >"$MQ_CONF"
	conf_error "$MQ_CONF" 2 mq-put q
	conf_error "$MQ_CONF" 2 mq-get q
	conf_error "$MQ_CONF" 2 mq-ack "$h1"
	conf_error "$MQ_CONF" 2 mq-nack "$h2"
	conf_error "$MQ_CONF" 2 mq-touch "$h3"
	conf_error "$MQ_CONF" 2 mq-ls q
	conf_error "$MQ_CONF" 2 mq-kick q
	conf_error "$MQ_CONF" 2 mq-purge -s dead q
	conf_error "$MQ_CONF" 2 mq-init q
	conf_error "$MQ_CONF" 2 mq-init newq
	run --separate-stderr mq-stat q
	[ "$status" -eq 78 ]
	[[ "$stderr" == *"$MQ_CONF:2: "?* ]]
	# nothing moved
	[ -f "$h1" ] && [ -f "$h2" ] && [ -f "$h3" ]
	[ "$(count "$S/q/inflight")" -eq 3 ]
	[ "$(count "$S/q/ready")" -eq 0 ]
}

@test "config: MQ_CONF naming a missing file exits 78 naming it" {
	export MQ_CONF=$BATS_TEST_TMPDIR/nosuch.conf
	run --separate-stderr mq-put q <<<'x'
	[ "$status" -eq 78 ]
	[ -z "$output" ]
	[[ "$stderr" == *"$MQ_CONF"* ]]
	[ ! -e "$S/q/ready" ] || [ "$(count "$S/q/ready")" -eq 0 ]
	# a queue made while the configuration was fine
	MQ_CONF= mq-init q2
	for cmd in "mq-get q2" "mq-ls q2" "mq-stat -j q2" "mq-init q2" \
	    "mq-purge -s ready q2" "mq-kick q2"; do
		run --separate-stderr $cmd
		echo "$cmd: $status $stderr"
		[ "$status" -eq 78 ]
		[[ "$stderr" == *"$MQ_CONF"* ]]
	done
}

@test "config: MQ_CONF naming a directory exits 78" {
	export MQ_CONF=$BATS_TEST_TMPDIR
	run mq-put q <<<'x'
	[ "$status" -eq 78 ]
}

@test "config: the queue's mq.conf overrides the global one" {
	conf max_attempts=5 lease=1h backoff=0
	mq-init strict lax
	printf 'max_attempts = 1\n' >"$S/strict/mq.conf"
	for q in strict lax; do
		mq-put "$q" <<<'x' >/dev/null
		mq-nack "$(mq-get "$q")"
	done
	[ "$(count "$S/strict/dead")" -eq 1 ]
	[ "$(count "$S/strict/ready")" -eq 0 ]
	[ "$(count "$S/lax/dead")" -eq 0 ]
	[ "$(count "$S/lax/ready")" -eq 1 ]
	# the other keys still come from the global file
	h=$(mq-get lax)
	dl=$(deadline "$h")
	[ "$dl" -gt $(($(date +%s) + 3500)) ]
}

@test "config: the queue's mq.conf can loosen the global one" {
	conf max_attempts=1 backoff=0
	mq-init q
	printf '# unlimited here\nmax_attempts = 0\n' >"$S/q/mq.conf"
	mq-put q <<<'x' >/dev/null
	for i in 1 2 3; do
		h=$(mq-get q)
		[[ "$h" == *",a$i,"* ]]
		mq-nack "$h"
	done
	[ "$(count "$S/q/dead")" -eq 0 ]
	[ "$(count "$S/q/ready")" -eq 1 ]
}

@test "config: an error in the queue's mq.conf names that file and line" {
	mq-init q other
	printf 'lease = 1s\n\nmax_size = 12Q\n' >"$S/q/mq.conf"
	conf_error "$S/q/mq.conf" 3 mq-put q
	conf_error "$S/q/mq.conf" 3 mq-get q
	conf_error "$S/q/mq.conf" 3 mq-ls q
	# other queues are not affected
	run mq-put other <<<'x'
	[ "$status" -eq 0 ]
	[ "$(count "$S/q/ready")" -eq 0 ]
}

@test "config: a global error is reported before the queue's file is read" {
	mq-init q
	printf 'bogus = 1\n' >"$MQ_CONF"
	printf 'lease = 1s\nsync = maybe\n' >"$S/q/mq.conf"
	conf_error "$MQ_CONF" 1 mq-put q
}
