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
	[ -n "${TRAP_PID:-}" ] && kill "$TRAP_PID" 2>/dev/null
	shared_teardown
}

@test "multi-user: mq-init -g makes setgid group directories and a shared config" {
	# the queue directory is sticky too (issue 12): members move each
	# other's messages in the state directories, which are not
	[ "$(stat -c '%a %G' "$S/orders")" = "3770 mqshare" ]
	for d in ready delayed inflight dead held prepared tmp; do
		[ "$(stat -c '%a %G' "$S/orders/$d")" = "2770 mqshare" ]
	done
	[ "$(stat -c '%a %G' "$S/orders/lock")" = "660 mqshare" ]
	grep -qx 'mode = 0660' "$S/orders/mq.conf"
	grep -qx 'group = mqshare' "$S/orders/mq.conf"
	# read by the group, written by the owner alone
	[ "$(stat -c '%a %U %G' "$S/orders/mq.conf")" = "640 root mqshare" ]
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

# trap_start - a fake AMQP broker on 127.0.0.1:$TRAP_PORT, of the member's
# in the attack: it logs each connection, and the PLAIN login (user and
# password) of connection.start-ok, to $TRAP_LOG
trap_start() {
	command -v python3 >/dev/null || skip "python3 is not installed"
	[ -x "$MQ_BIN/mq-forward" ] || skip "mq-forward is not built"
	TRAP_LOG=$SHARED/trap.log
	: >"$TRAP_LOG"
	cat >"$SHARED/trap.py" <<-'EOF'
	import os, socket, struct, sys
	log, portfile = sys.argv[1], sys.argv[2]
	s = socket.socket()
	s.bind(("127.0.0.1", 0))
	s.listen(8)
	with open(portfile + ".new", "w") as f:
	    f.write("%d\n" % s.getsockname()[1])
	os.rename(portfile + ".new", portfile)
	def note(line):
	    with open(log, "a") as f:
	        f.write(line + "\n")
	def take(c, n):
	    b = b""
	    while len(b) < n:
	        d = c.recv(n - len(b))
	        if not d:
	            raise EOFError
	        b += d
	    return b
	while True:
	    c, _ = s.accept()
	    try:
	        note("connected")
	        take(c, 8)
	        args = struct.pack(">HHBBI", 10, 10, 0, 9, 0)
	        args += struct.pack(">I", 5) + b"PLAIN" + struct.pack(">I", 5) + b"en_US"
	        c.sendall(struct.pack(">BHI", 1, 0, len(args)) + args + b"\xce")
	        size = struct.unpack(">BHI", take(c, 7))[2]
	        p = take(c, size + 1)
	        i = 4 + 4 + struct.unpack(">I", p[4:8])[0]
	        i += 1 + p[i]
	        n = struct.unpack(">I", p[i:i + 4])[0]
	        note("plain" + p[i + 4:i + 4 + n].decode("latin-1").replace("\0", " "))
	    except Exception:
	        pass
	    finally:
	        c.close()
	EOF
	python3 "$SHARED/trap.py" "$TRAP_LOG" "$SHARED/trap.port" 3>&- &
	TRAP_PID=$!
	wait_for 10 test -s "$SHARED/trap.port"
	TRAP_PORT=$(cat "$SHARED/trap.port")
}

@test "issue 12: a member cannot rename a file over the queue's mq.conf, nor remove it: the queue directory is sticky" {
	printf 'lease = 1m\n' >>"$S/orders/mq.conf"
	cp -p "$S/orders/mq.conf" "$SHARED/before"
	as mqprod sh -c "printf 'lease = 1s\n' >'$S/orders/tmp/mine'"
	run as mqprod mv -f "$S/orders/tmp/mine" "$S/orders/mq.conf"
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"Operation not permitted"* ]]
	run as mqprod rm -f "$S/orders/mq.conf"
	[ "$status" -ne 0 ]
	run as mqcons mv "$S/orders/lock" "$S/orders/tmp/lock"
	[ "$status" -ne 0 ]
	cmp "$SHARED/before" "$S/orders/mq.conf"
	[ "$(stat -c %U "$S/orders/mq.conf")" = root ]
	# and the members still work as before
	id=$(as mqprod sh -c 'echo x | mq-put orders')
	h=$(as mqcons mq-get orders)
	as mqcons mq-ack "$h"
	[ -n "$id" ]
}

@test "issue 12: a member's mq.conf planted in a queue without the sticky bit is refused (78), and root's mq-forward sends no password" {
	trap_start
	echo admin-s3cret >"$SHARED/admin.pass"
	chmod 0600 "$SHARED/admin.pass"
	# the admin's forwarding, to a broker that is not listening
	printf '[forward]\nurl = amqp://fwd@127.0.0.1:1/\nexchange = x\npassword_file = %s\n' \
	    "$SHARED/admin.pass" >>"$S/orders/mq.conf"
	as mqprod sh -c 'echo order | mq-put orders' >/dev/null
	# as a group queue made by an older mq-init -g: no sticky bit
	chmod -t "$S/orders"
	as mqprod sh -c "printf '[forward]\nurl = amqp://fwd@127.0.0.1:$TRAP_PORT/\nexchange = x\npassword_file = %s\n' '$SHARED/admin.pass' >'$S/orders/tmp/evil'"
	as mqprod mv -f "$S/orders/tmp/evil" "$S/orders/mq.conf"
	run --separate-stderr mq-forward --drain -t 2s orders
	echo "status $status stderr <$stderr> trap <$(cat "$TRAP_LOG")>"
	[ "$status" -eq 78 ]
	[[ "$stderr" == *"$S/orders/mq.conf: owned by mqprod (uid $(id -u mqprod)), not by root"* ]]
	# nothing reached the member's listener
	[ ! -s "$TRAP_LOG" ]
	# no tool of root's or of a member's takes it either
	run mq-stat orders
	[ "$status" -eq 78 ]
	run as mqcons mq-get orders
	[ "$status" -eq 78 ]
	[ "$(find "$S/orders/ready" -type f | wc -l)" -eq 1 ]
}

@test "issue 12: a queue owner's password_file = /etc/shadow is refused by root's mq-forward; the owner's own file is read" {
	trap_start
	[ -r /etc/shadow ] || skip "no /etc/shadow"
	# a queue of a member's, in a spool of theirs, forwarded by root
	A=$SHARED/aspool
	mkdir -m 0755 "$A"
	chown mqprod "$A"
	as mqprod mq-init -d "$A" q
	as mqprod sh -c "echo x | mq-put -d '$A' q" >/dev/null
	as mqprod sh -c "printf '[forward]\nurl = amqp://x@127.0.0.1:$TRAP_PORT/\nexchange = x\npassword_file = /etc/shadow\n' >'$A/q/mq.conf'"
	run --separate-stderr mq-forward -d "$A" --drain -t 2s q
	echo "status $status stderr <$stderr> trap <$(cat "$TRAP_LOG")>"
	[ "$status" -eq 78 ]
	[[ "$stderr" == *"password file /etc/shadow: owned by root (uid 0), not by mqprod (uid $(id -u mqprod)), whose configuration names it"* ]]
	[ ! -s "$TRAP_LOG" ]
	# a file of another member's: refused the same way
	echo theirs >"$SHARED/cons.pass"
	chown mqcons "$SHARED/cons.pass"
	as mqprod sed -i "s,/etc/shadow,$SHARED/cons.pass," "$A/q/mq.conf"
	run --separate-stderr mq-forward -d "$A" --drain -t 2s q
	[ "$status" -eq 78 ]
	[[ "$stderr" == *"owned by mqcons"* ]]
	[ ! -s "$TRAP_LOG" ]
	# the owner's own file is read for them: the listener hears it
	as mqprod sh -c "echo own-pass >'$A/pass' && chmod 0600 '$A/pass'"
	as mqprod sed -i "s,$SHARED/cons.pass,$A/pass," "$A/q/mq.conf"
	run --separate-stderr mq-forward -d "$A" --drain -t 2s q
	echo "status $status stderr <$stderr> trap <$(cat "$TRAP_LOG")>"
	[ "$status" -eq 69 ]
	grep -qx 'plain x own-pass' "$TRAP_LOG"
	! grep -q 'root:' "$TRAP_LOG"
}

@test "issue 12: a cacert that is not the configuration owner's is refused (78) before connecting" {
	trap_start
	echo ca >"$SHARED/ca.pem"
	chown mqcons "$SHARED/ca.pem"
	printf '[forward]\nurl = amqps://x@127.0.0.1:%s/\nexchange = x\ncacert = %s\n' \
	    "$TRAP_PORT" "$SHARED/ca.pem" >>"$S/orders/mq.conf"
	mq-put orders <<<x >/dev/null
	run --separate-stderr mq-forward --drain -t 2s orders
	echo "status $status stderr <$stderr>"
	[ "$status" -eq 78 ]
	[[ "$stderr" == *"cacert $SHARED/ca.pem: owned by mqcons"*", not by root"* ]]
	[ ! -s "$TRAP_LOG" ]
	# group-writable, though root's: anyone in the group could add a CA
	chown root:mqshare "$SHARED/ca.pem"
	chmod 0664 "$SHARED/ca.pem"
	run --separate-stderr mq-forward --drain -t 2s orders
	[ "$status" -eq 78 ]
	[[ "$stderr" == *"cacert $SHARED/ca.pem: writable by its group"* ]]
}

@test "issue 12: a global config (MQ_CONF) of another user's is refused, even by root; the user's own is taken" {
	cp "$MQ_CONF" "$SHARED/prod.conf"
	chown mqprod "$SHARED/prod.conf"
	MQ_CONF=$SHARED/prod.conf run --separate-stderr mq-stat orders
	echo "status $status stdout <$output> stderr <$stderr>"
	[ "$status" -eq 78 ]
	[ -z "$output" ]
	[[ "$stderr" == *"$SHARED/prod.conf: owned by mqprod (uid $(id -u mqprod)), not by root"* ]]
	run as mqcons env MQ_CONF="$SHARED/prod.conf" mq-stat orders
	[ "$status" -eq 78 ]
	[[ "$output" == *"not by mqcons"*" or root"* ]]
	as mqprod env MQ_CONF="$SHARED/prod.conf" mq-stat orders >/dev/null
	# root's is everyone's
	as mqcons mq-stat orders >/dev/null
}

@test "issue 12: a member cannot resume another member's pause; the one who paused, the owner and root can" {
	as mqprod mq-pause orders
	run as mqcons mq-resume orders
	echo "$output"
	[ "$status" -eq 77 ]
	[[ "$output" == *"orders: cannot resume: Operation not permitted"* ]]
	[ -e "$S/orders/paused" ]
	# a second pause is no pause of one's own
	as mqcons mq-pause orders
	[ "$(stat -c %U "$S/orders/paused")" = mqprod ]
	as mqprod mq-resume orders
	[ ! -e "$S/orders/paused" ]
	as mqcons mq-pause orders
	mq-resume orders
	[ ! -e "$S/orders/paused" ]
}

@test "issue 12: mq-init -g by a member is refused and leaves mq.conf as it was; by root it makes an older queue sticky" {
	cp -p "$S/orders/mq.conf" "$SHARED/before"
	run as mqcons mq-init -g mqshare -m 0666 orders
	echo "$output"
	[ "$status" -eq 77 ]
	[[ "$output" == *"orders: cannot share: Operation not permitted"* ]]
	cmp "$SHARED/before" "$S/orders/mq.conf"
	[ "$(stat -c '%a %U' "$S/orders/mq.conf")" = "640 root" ]
	[ -z "$(ls -A "$S/orders/tmp")" ]
	# a queue shared by an older mq: no sticky bit, mq.conf 0644
	chmod -t "$S/orders"
	chmod 0644 "$S/orders/mq.conf"
	mq-init -g mqshare orders
	[ "$(stat -c %a "$S/orders")" = 3770 ]
	[ "$(stat -c %a "$S/orders/mq.conf")" = 640 ]
}

@test "issue 12: mq-init -g gives no group a file linked into the queue from outside (a hard link a member made)" {
	echo private >"$SHARED/secret"
	chmod 0600 "$SHARED/secret"
	mkdir -p "$S/orders/ready/4.0000000001"
	# as a member could where fs.protected_hardlinks is 0
	ln "$SHARED/secret" "$S/orders/ready/4.0000000001/1795000000.000001.AAAAAAAA,p4,a0"
	as mqprod sh -c 'echo x | mq-put orders' >/dev/null
	mq-init -g mqshare orders
	[ "$(stat -c '%a %U %G' "$SHARED/secret")" = "600 root root" ]
	# the member's own message did get the group's mode
	[ "$(find "$S/orders/ready" -type f -user mqprod -perm 0660 | wc -l)" -eq 1 ]
}

@test "issue 12: a group-writable mq.conf (an older queue's, or a hand's) is refused with how to fix it" {
	chmod g+w "$S/orders/mq.conf"
	run --separate-stderr mq-get orders
	echo "status $status stderr <$stderr>"
	[ "$status" -eq 78 ]
	[ "$stderr" = "mq-get: $S/orders/mq.conf: writable by its group: check it, then chmod g-w" ]
	chmod g-w "$S/orders/mq.conf"
	run mq-get orders
	[ "$status" -eq 1 ]
}

@test "issue 12: an outsider's mq-stat prints nothing on stdout when its one queue fails (was: the table header)" {
	run --separate-stderr as mqout mq-stat orders
	echo "status $status stdout <$output> stderr <$stderr>"
	[ "$status" -eq 77 ]
	[ -z "$output" ]
	run --separate-stderr as mqout mq-stat -P orders
	[ "$status" -eq 77 ]
	[ -z "$output" ]
	# among several, the ones it can count are printed, the status is the failure's
	mq-init pub
	run --separate-stderr as mqout mq-stat orders pub
	echo "status $status stdout <$output> stderr <$stderr>"
	[ "$status" -eq 77 ]
	[ "${#lines[@]}" -eq 2 ]
	[[ "${lines[1]}" == "pub "* ]]
	[[ "$stderr" == *"orders: Permission denied"* ]]
}

@test "multi-user: under the sticky queue directory members still hold, release, key, group, subscribe and repair each other's messages" {
	mq-init -g mqshare news
	k=$(as mqprod sh -c 'echo a | mq-put -k K1 orders')
	as mqprod sh -c 'echo b | mq-put -g G orders; echo c | mq-put -g G orders' >/dev/null
	# keys/ and groups/ are mqprod's: mqcons uses them all the same
	[ "$(as mqcons sh -c 'echo a | mq-put -k K1 orders')" = "$k" ]
	as mqcons sh -c 'echo e | mq-put -k K2 orders' >/dev/null
	as mqcons mq-fsck orders >/dev/null
	h=$(as mqcons mq-get orders)
	as mqcons mq-hold "$h" >/dev/null
	as mqprod mq-release -a orders >/dev/null
	as mqcons mq-sub news orders
	# put by the producer: the consumer claims another's fan-out copy
	as mqprod sh -c 'echo d | mq-put news' >/dev/null
	as mqprod mq-sub -r news orders
	as mqcons mq-get -n 10 orders >"$SHARED/h"
	grep -q ',f' "$SHARED/h"
	# and acks them all, the keyed ones of mqprod's included
	as mqcons mq-ack <"$SHARED/h"
	h=$(as mqprod mq-get orders)
	as mqprod mq-ack "$h"
	[ "$(find "$S/orders" -type f -name '*,*' | wc -l)" -eq 0 ]
	for d in keys groups held news/subs; do
		[ -d "$S/orders/$d" ] || [ -d "$S/$d" ]
	done
}

@test "issue 12: a member acks another member's keyed message; the key's deadline starts" {
	echo 'dedup_window = 1h' >>"$S/orders/mq.conf"
	id=$(as mqprod sh -c 'echo a | mq-put -k K1 orders')
	h=$(as mqcons mq-get orders)
	run as mqcons mq-ack "$h"
	echo "$output"
	[ "$status" -eq 0 ]
	[ ! -e "$h" ]
	[ "$(find "$S/orders" -type f -name '*,*' | wc -l)" -eq 0 ]
	# known for the window: a put with the key within it is swallowed
	k=$(key_file orders K1)
	now=$(date +%s)
	[ "$(stat -c %Y "$k")" -gt "$now" ]
	[ "$(stat -c %Y "$k")" -lt "$LIVE" ]
	[ "$(as mqprod sh -c 'echo a | mq-put -k K1 orders')" = "$id" ]
	[ "$(find "$S/orders" -type f -name '*,*' | wc -l)" -eq 0 ]
	# the record is the member's own now, with the group's mode; no garbage
	[ "$(stat -c '%U %G' "$k")" = "mqcons mqshare" ]
	[ -z "$(ls -A "$S/orders/tmp")" ]
}

@test "issue 12: a member claims another member's fan-out copies: mq-get -n prints every handle it claimed" {
	mq-init -g mqshare news
	mq-init -g mqshare other
	as mqcons mq-sub news orders other
	# one of the consumer's own first: the claim of the next ones failed
	# after it, and mq-get exited 0 having printed it alone
	as mqcons sh -c 'echo d0 | mq-put news' >/dev/null
	as mqprod sh -c 'echo d1 | mq-put news; echo d2 | mq-put news' >/dev/null
	run --separate-stderr as mqcons mq-get -n 10 orders
	echo "status $status out <$output> err <$stderr>"
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 3 ]
	[ "$(find "$S/orders/inflight" -type f | wc -l)" -eq 3 ]
	for h in "${lines[@]}"; do
		[[ "$h" == *,f* ]]
		[ -e "$h" ]
		# the lease runs from now
		[ "$(deadline "$h")" -gt "$(date +%s)" ]
	done
	[ "$(as mqcons cat "${lines[1]}")" = d1 ]
	printf '%s\n' "${lines[@]}" | as mqcons mq-ack
	[ "$(find "$S/orders" -type f -name '*,*' | wc -l)" -eq 0 ]
	# the other subscriber's copies are untouched and still its own
	[ "$(find "$S/other/ready" -type f | wc -l)" -eq 3 ]
	[ "$(find "$S/other/ready" -type f -user mqprod | wc -l)" -eq 2 ]
	[ -z "$(ls -A "$S/orders/tmp")" ]
}
