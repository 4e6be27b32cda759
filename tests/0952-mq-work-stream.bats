#!/usr/bin/env bats
# mq-work -s: one command kept running, fed a stream of messages.

bats_require_minimum_version 1.5.0
load test_helper

ROOT=$(cd "$BATS_TEST_DIRNAME/.." && pwd)

settled() {
	[ "$(find "$S/$1"/*/ -type f -name '*,*' | wc -l)" -eq "${2:-0}" ]
}

# man_example FIRST - the literal block of mq-work(1) whose first line is
# FIRST, as the page prints it (its escapes \e and \& undone)
man_example() {
	awk -v first="$1" '
		/^\.Bd -literal/ { inblk = 1; n = 0; keep = 0; next }
		/^\.Ed/ { inblk = 0; keep = 0; next }
		inblk && ++n == 1 && $0 == first { keep = 1 }
		keep { print }
	' "$ROOT/man/mq-work.1" | sed 's/\\e/\\/g; s/\\&//g'
}

# consumer [N] - writes $T/consume, a consumer in Python that records each frame (line and body,
# repr) in $T/frames and acks it; $1 says how many to take before exiting
consumer() {
	cat >"$BATS_TEST_TMPDIR/consume" <<'EOF'
#!/usr/bin/env python3
import os, sys
inp, n, limit = sys.stdin.buffer, 0, int(sys.argv[1]) if len(sys.argv) > 1 else -1
log = open(os.environ["T"] + "/frames", "a")
for line in inp:
    id, attempt, size = line.split()[:3]
    body = inp.read(int(size))
    assert inp.read(1) == b"\n"
    log.write("%r %r\n" % (line, body)); log.flush()
    print("ack", id.decode(), flush=True)
    n += 1
    if n == limit:
        os.kill(os.getpid(), 9)
log.write("eof\n")
EOF
	chmod +x "$BATS_TEST_TMPDIR/consume"
}

@test "stream: the frames, byte for byte: binary bodies with newlines and NUL bytes, an empty body" {
	export T=$BATS_TEST_TMPDIR
	a=$(printf 'a\nb\0c\n' | mq-put q)
	b=$(printf '' | mq-put q)
	c=$(printf '\n\n' | mq-put q)
	consumer
	mq-work -e -s q sh -c 'tee "$0/raw" | "$0/consume"' "$T"
	{
		printf '%s 1 6\na\nb\0c\n\n' "$a"
		printf '%s 1 0\n\n' "$b"
		printf '%s 1 2\n\n\n\n' "$c"
	} | cmp - "$T/raw"
	[ "$(msgs q)" -eq 0 ]
	grep -qx eof "$T/frames"
}

@test "stream: the sh and Python consumers of mq-work(1), run as printed, each under 15 lines" {
	export T=$BATS_TEST_TMPDIR
	man_example '#!/bin/sh' >"$T/consume.sh"
	man_example '#!/usr/bin/env python3' >"$T/consume.py"
	chmod +x "$T/consume.sh" "$T/consume.py"
	# one test a line: bats does not fail a test on the first of a && list
	[ "$(wc -l <"$T/consume.sh")" -lt 15 ]
	[ "$(wc -l <"$T/consume.sh")" -gt 5 ]
	[ "$(wc -l <"$T/consume.py")" -lt 15 ]
	[ "$(wc -l <"$T/consume.py")" -gt 5 ]
	# the sh one runs process(1): here a stub that fails on "fail", and
	# talks on its standard output, which must not reach the answers
	mkdir "$T/bin"
	cat >"$T/bin/process" <<EOF
#!/bin/sh
echo processing
cat >"$T/last"
[ "\$(cat "$T/last")" != fail ] || exit 1
cat "$T/last" >>"$T/bodies"
echo >>"$T/bodies"
EOF
	chmod +x "$T/bin/process"
	printf 'x\0y\nz' | mq-put q >/dev/null
	printf '' | mq-put q >/dev/null
	printf 'fail' | mq-put q >/dev/null
	PATH=$T/bin:$PATH run --separate-stderr mq-work -e -s q "$T/consume.sh"
	echo "$stderr"
	[ "$status" -eq 0 ]
	[[ "$stderr" != *"bad answer"* ]]
	[[ "$stderr" == *processing* ]]
	printf 'x\0y\nz\n\n' | cmp - "$T/bodies"
	# the failed one: nacked for 10 s
	f=$(only q delayed)
	[ "$(cat "$f")" = fail ]
	[ "$(field n "$f")" -ge $(($(date +%s) + 5)) ]
	mq-purge -s delayed q
	# (bats keeps what its run printed up to a NUL byte: none here)
	printf 'x\ny' | mq-put q >/dev/null
	printf '' | mq-put q >/dev/null
	run --separate-stderr mq-work -e -s -j 2 q "$T/consume.py"
	[ "$status" -eq 0 ]
	[ "$(msgs q)" -eq 0 ]
	[ "$(printf '%s\n' "$stderr" | grep -v '^$' | sort | tr '\n' ' ')" = "x y " ]
}

@test "stream: a bad or unknown answer line is an error naming it, escaped, and settles nothing" {
	mq-put q <<<one >/dev/null
	T=$BATS_TEST_TMPDIR
	run --separate-stderr mq-work -e -s q sh -c '
		read -r id att n; head -c $((n + 1)) >/dev/null
		printf "hello\nack\nack nosuch\nack %s extra\nnack %s soon\n\033]0;x\n" "$id" "$id"
		printf "\nack  %s\nack %s \ndead %s x\nack %s\n" "$id" "$id" "$id" "$id"
		touch "$0/answered"
		while read -r l; do :; done' "$T"
	[ "$status" -eq 0 ]
	echo "$stderr"
	[[ "$stderr" == *'bad answer "hello": not ack, nack or dead'* ]]
	[[ "$stderr" == *'bad answer "ack": no message id'* ]]
	[[ "$stderr" == *'bad answer "ack nosuch": no such message unsettled'* ]]
	[[ "$stderr" == *'extra": more words than ack ID'* ]]
	[[ "$stderr" == *'soon": bad delay'* ]]
	[[ "$stderr" == *'bad answer "\033]0;x": not ack, nack or dead'* ]]
	[[ "$stderr" == *'bad answer "": an empty line'* ]]
	[[ "$stderr" == *'bad answer "ack  '*'": an empty word: words are one space apart'* ]]
	[[ "$stderr" == *' ": an empty word: words are one space apart'* ]]
	[[ "$stderr" == *' x": more words than dead ID'* ]]
	[ "$(printf '%s\n' "$stderr" | wc -l)" -eq 10 ]
	# only the last, good line settled it: acked, not nacked
	[ "$(msgs q)" -eq 0 ]
}

@test "stream: an answer with one word too many is malformed, named as such, whatever its words (was: 'nack ID 10s 1' a bad delay)" {
	mq-put q <<<one >/dev/null
	run --separate-stderr mq-work -e -s q sh -c '
		read -r id att n; head -c $((n + 1)) >/dev/null
		printf "nack %s 10s 1\nnack %s 10s\n" "$id" "$id"
		while read -r l; do :; done'
	echo "$stderr"
	[ "$status" -eq 0 ]
	[[ "$stderr" == *'bad answer "nack '*' 10s 1": more words than nack ID [delay]'* ]]
	[ "$(printf '%s\n' "$stderr" | wc -l)" -eq 1 ]
	# settled by the good line alone: delayed by its 10 s
	[ "$(count "$S/q/delayed")" -eq 1 ]
}

@test "stream: a command that never answers: leases renewed, then the answer timeout restarts it" {
	conf backoff=0
	head -c 1000000 /dev/zero | mq-put q >/dev/null
	T=$BATS_TEST_TMPDIR
	# it does not even read: the megabyte cannot be written, and mq-work
	# must not block on it
	mq-work -s -L 1 -t 4s -k 1s q sh -c 'echo $$ >>"$0/starts"; exec sleep 600' "$T" 2>"$T/err" &
	w=$!
	wait_for 10 exists "$T/starts"
	sleep 2.5
	# two and a half leases: it would have been reclaimed without renewal
	run mq-get q
	[ "$status" -eq 1 ]
	wait_for 20 grep -q 'no answer in 4000 ms' "$T/err"
	# the message went back, its attempt counted; then it is delivered
	# again to a new command
	wait_for 20 bash -c "[ \$(wc -l <'$T/starts') -ge 2 ]"
	wait_for 10 bash -c "[ \$(find '$S/q/inflight' -type f | wc -l) -eq 1 ]"
	kill -TERM "$w"
	st=0
	wait "$w" || st=$?
	echo "status $st"
	cat "$T/err"
	[ "$st" -eq 75 ]
	for p in $(cat "$T/starts"); do
		! kill -0 "$p" 2>/dev/null
	done
	# returned at once after the kill, nothing in flight; the second
	# command never read its frame (still in the pipe): unclaimed, so
	# only the timed-out delivery counts, a1
	[[ "$(only q ready)" == *,a1,* ]]
}

@test "stream: SIGTERM waits for the answers and closes the input; -k then kills a command that stays" {
	seq 2 | mq-put -l q >/dev/null
	T=$BATS_TEST_TMPDIR
	mq-work -s -k 1s q sh -c '
		while read -r id att n; do
			head -c $((n + 1)) >/dev/null
			until [ -e "$0/go" ]; do sleep 0.05; done
			echo "ack $id"
		done
		touch "$0/eof"
		exec sleep 600' "$T" &
	w=$!
	wait_for 10 bash -c "[ \$(find '$S/q/inflight' -type f | wc -l) -eq 2 ]"
	kill -TERM "$w"
	sleep 0.5
	kill -0 "$w"
	touch "$T/go"
	wait_for 10 exists "$T/eof"
	st=0
	wait "$w" || st=$?
	[ "$st" -eq 75 ]
	[ "$(msgs q)" -eq 0 ]
}

@test "stream: a command killed mid-stream loses nothing: the unanswered come back, it is restarted" {
	export T=$BATS_TEST_TMPDIR
	consumer
	seq 10 | mq-put -l q >/dev/null
	# the first command dies (SIGKILL) after acking 3 of what it was sent
	run --separate-stderr mq-work -e -s -b 4 q sh -c '
		if [ -e "$0/killed" ]; then exec "$0/consume"; fi
		touch "$0/killed"; exec "$0/consume" 3' "$T"
	[ "$status" -eq 0 ]
	echo "$stderr"
	[[ "$stderr" == *"killed by signal 9, "* ]]
	[ "$(msgs q)" -eq 0 ]
	# every body, each acked once, in all
	sed -n "s/.* b'\([0-9]*\)'$/\1/p" "$T/frames" | sort -n | uniq -c >"$T/count"
	cat "$T/count"
	[ "$(awk '$1 == 1' "$T/count" | wc -l)" -eq 10 ]
	# the one sent and not answered: attempt 2; those not sent: still 1
	grep -qF " 2 1\\n'" "$T/frames"
}

@test "stream: a message that kills its command costs the messages queued behind it no attempt (their frames, unread in the pipe, are unclaimed)" {
	conf max_attempts=3 backoff=0
	export T=$BATS_TEST_TMPDIR
	echo poison | mq-put q >/dev/null
	seq 3 | mq-put -l q >/dev/null
	# reads one frame at a time (bash reads a pipe byte by byte, head -c
	# no more than asked): the frames behind the poison stay in the pipe
	run --separate-stderr mq-work -e -s -b 4 q sh -c '
		while read -r id att n; do
			body=$(head -c "$n"); head -c 1 >/dev/null
			[ "$body" = poison ] && exit 3
			echo "ack $id"
		done'
	echo "$stderr"
	[ "$status" -eq 0 ]
	# the poison died of its three attempts; the others were acked, and
	# no attempt of theirs was spent on the poison's crashes
	f=$(only q dead)
	[[ "$(basename "$f")" == *",a3,"*",rattempts" ]]
	[ "$(cat "$f")" = poison ]
	[ "$(msgs q)" -eq 1 ]
	[[ "$stderr" == *"exited 3, 4 messages returned"* ]]
}

@test "stream: a slow command that answers is not timed out: -t counts from its last answer, not from the claim" {
	export T=$BATS_TEST_TMPDIR
	seq 8 | mq-put -l q >/dev/null
	# 8 messages at 0.5 s each: the last waits 4 s from its claim, more
	# than -t 3s, but the command answers every 0.5 s
	run --separate-stderr mq-work -e -s -b 8 -t 3s q sh -c '
		echo x >>"$0/starts"
		while read -r id att n; do
			head -c "$n" >/dev/null; head -c 1 >/dev/null
			sleep 0.5; echo "ack $id"
		done' "$T"
	echo "$stderr"
	[ "$status" -eq 0 ]
	[[ "$stderr" != *"no answer"* ]]
	[ "$(wc -l <"$T/starts")" -eq 1 ]
	[ "$(msgs q)" -eq 0 ]
}

@test "stream: a command that cannot be started again leaves nothing in flight behind it (127, all back)" {
	T=$BATS_TEST_TMPDIR
	printf '#!/bin/sh\nrm -f "$0"\nexit 1\n' >"$T/once"
	chmod +x "$T/once"
	seq 10 | mq-put -l q >/dev/null
	run -127 --separate-stderr mq-work -s -L 1h -b 4 q "$T/once"
	echo "$stderr"
	[ "$status" -eq 127 ]
	[ -z "$(find "$S/q/inflight" -type f)" ]
	[ "$(msgs q)" -eq 10 ]
}

@test "stream: a command that floods its output with junk does not hold the loop: leases are still renewed" {
	T=$BATS_TEST_TMPDIR
	echo a | mq-put q >/dev/null
	# yes(1) writes faster than mq-work can refuse its lines
	mq-work -s -L 1 -t 1h -k 1s q yes 2>/dev/null &
	w=$!
	wait_for 10 bash -c "[ -n \"\$(find '$S/q/inflight' -type f)\" ]"
	sleep 3
	# three leases: it would have been reclaimed without renewal
	run mq-get q
	kill -TERM "$w"
	wait "$w" || true
	[ "$status" -eq 1 ]
}

@test "stream: --drain closes the input, and -k kills a command that stays after it (75), as after a signal" {
	echo a | mq-put q >/dev/null
	SECONDS=0
	run --separate-stderr mq-work -e -s -k 1s q sh -c '
		read -r id att n; head -c $((n + 1)) >/dev/null; echo "ack $id"
		exec sleep 60'
	echo "$stderr, after $SECONDS s"
	[ "$status" -eq 75 ]
	[ "$SECONDS" -lt 30 ]
	[ "$(msgs q)" -eq 0 ]
}

@test "stream: mq-work killed with SIGKILL: the command goes, the messages come back after their lease" {
	seq 3 | mq-put -l q >/dev/null
	T=$BATS_TEST_TMPDIR
	# a lease long enough for the steps below on a loaded machine
	mq-work -s -L 8 q sh -c 'echo $$ >"$0/pid"; exec sleep 600' "$T" &
	w=$!
	wait_for 10 exists "$T/pid"
	wait_for 10 bash -c "[ \$(find '$S/q/inflight' -type f | wc -l) -eq 3 ]"
	kill -KILL "$w"
	wait "$w" || true
	wait_for 10 bash -c "! kill -0 $(cat "$T/pid") 2>/dev/null"
	run mq-get q
	[ "$status" -eq 1 ]
	# the three were claimed one after another: their leases end so too
	got=
	wait_for 30 collect3
	[ "$(printf '%s' "$got" | grep -c .)" -eq 3 ]
}

# collect3 - claim what has come back into $got; true once it holds three
collect3() {
	local x
	x=$(mq-get -n 3 q) && got+="$x"$'\n'
	[ "$(printf '%s' "$got" | grep -c .)" -ge 3 ]
}

@test "stream: --drain closes the command's input once all is settled, and waits for it" {
	export T=$BATS_TEST_TMPDIR
	consumer
	seq 200 | mq-put -l q >/dev/null
	run mq-work -e -s -j 2 q sh -c 'exec "$0/consume"; ' "$T"
	[ "$status" -eq 0 ]
	[ "$(grep -cx eof "$T/frames")" -eq 2 ]
	sed -n "s/.* b'\([0-9]*\)'$/\1/p" "$T/frames" | sort -n | cmp - <(seq 200)
	[ "$(msgs q)" -eq 0 ]
}

@test "stream: -n counts messages; -b bounds the unsettled per command" {
	export T=$BATS_TEST_TMPDIR
	seq 10 | mq-put -l q >/dev/null
	# answers only once it has three: with -b 2 it never gets them
	mq-work -s -b 2 -t 3s -n 5 q sh -c '
		while read -r id att n; do
			head -c $((n + 1)) >/dev/null
			echo "$id" >>"$0/got"
			[ $(wc -l <"$0/got") -lt 3 ] || exit 1
		done' "$T" 2>/dev/null &
	w=$!
	sleep 1
	[ "$(count "$S/q/inflight")" -eq 2 ]
	[ ! -e "$T/got" ] || [ "$(wc -l <"$T/got")" -le 2 ]
	kill -KILL "$w"
	mq-kick -a q 2>/dev/null || true
	rm -f "$T/got"
	find "$S/q/inflight" -type f -delete
	find "$S/q" -type f -name '*,*' -delete
	seq 10 | mq-put -l q >/dev/null
	consumer
	mq-work -s -n 5 q "$T/consume"
	[ "$(grep -c "^b'" "$T/frames")" -eq 5 ]
	[ "$(count "$S/q/ready")" -eq 5 ]
	grep -qx eof "$T/frames"
}

@test "stream: -t and -b are checked" {
	mq-init q
	run mq-work -e -s -t 0 q true
	[ "$status" -eq 64 ]
	run mq-work -e -s -t soon q true
	[ "$status" -eq 64 ]
	mq-put q <<<x >/dev/null
	run -127 --separate-stderr mq-work -e -s q /nonexistent/cmd
	[ "$(count "$S/q/ready")" -eq 1 ]
}

@test "stream: headers are the frame's name=value fields, in put order, values %XX-encoded" {
	T=$BATS_TEST_TMPDIR
	mq-put -H content-type=text/plain -H 'v=a b=c%d' -H $'u=caf\303\251\nx' -H e= q <<<body
	mq-work -s --drain q sh -c 'IFS= read -r l; printf "%s\n" "$l" >"$0/line"; head -c 6 >/dev/null; set -- $l; echo "ack $1"; cat >/dev/null' "$T"
	read -r id att bytes rest <"$T/line"
	[ "$att" = 1 ] && [ "$bytes" = 5 ]
	[ "$rest" = "content-type=text/plain v=a%20b%3Dc%25d u=caf%C3%A9%0Ax e=" ]
	[ "$(msgs q)" -eq 0 ]
}

@test "stream: a message whose headers no reader can trust goes to dead/, never framed" {
	T=$BATS_TEST_TMPDIR
	mq-put -H a=1 q <<<x
	setfattr -n user.mq.h -v 'a=1' "$(files q ready)"	# no NUL at the end
	mq-put q <<<y
	run --separate-stderr mq-work -s --drain q sh -c 'while IFS= read -r l; do set -- $l; head -c $(($3 + 1)) >/dev/null; echo "$l" >>"$0/lines"; echo "ack $1"; done' "$T"
	[ "$status" -eq 0 ]
	[[ "$stderr" == *"cannot read headers"* ]]
	[ "$(wc -l <"$T/lines")" -eq 1 ]
	[ "$(count "$S/q/dead")" -eq 1 ]
	[ "$(msgs q)" -eq 1 ]
}

@test "stream: an error (out of descriptors, 75) winds down within -k, not the answer timeout: input closed, commands killed, every message back" {
	seq 100 | mq-put -l q >/dev/null
	SECONDS=0
	# 40 slots need more descriptors than 48: a start fails (EMFILE), and
	# the commands started read everything and never answer nor exit
	run --separate-stderr bash -c 'ulimit -n 48
		exec mq-work -e -s -j 40 -t 30s -k 1s q sh -c "cat >/dev/null; exec sleep 600"'
	printf '%s\n' "$stderr" | grep -v 'cannot renew' | head -n 20
	echo "status $status after $SECONDS s"
	[ "$status" -eq 75 ]
	[ "$SECONDS" -lt 15 ]
	[[ "$stderr" == *"Too many open files"* ]]
	[ "$(count "$S/q/inflight")" -eq 0 ]
	[ "$(count "$S/q/ready")" -eq 100 ]
	# read and unanswered: attempt counted, no backoff; never sent: none
	[ -z "$(find "$S/q/ready" -type f -name '*,a[2-9]*')" ]
	[ -n "$(find "$S/q/ready" -type f -name '*,a1,*')" ]
}

@test "stream: a command that closes its input: the messages it never read are unclaimed at once (no attempt), not when it exits" {
	export T=$BATS_TEST_TMPDIR
	seq 10 | mq-put -l q >/dev/null
	# reads one frame, closes its input, acks, and stays until told
	mq-work -e -s -b 4 q sh -c '
		read -r id att n; head -c $((n + 1)) >/dev/null
		exec <&-
		echo "$att" >>"$0/atts"
		echo "ack $id"
		until [ -e "$0/go" ]; do sleep 0.05; done' "$T" 2>"$T/err" &
	w=$!
	# one acked; the three in the pipe and the one claimed after: back
	ok=0
	wait_for 10 bash -c "[ \$(find '$S/q/inflight' -type f | wc -l) -eq 0 ] &&
	    [ \$(find '$S/q/ready' -type f | wc -l) -eq 9 ]" && ok=1
	touch "$T/go"
	wait "$w"
	cat "$T/err"
	[ "$ok" -eq 1 ]
	[ "$(msgs q)" -eq 0 ]
	# no attempt was counted for what it never read
	[ "$(sort -u "$T/atts")" = 1 ]
	[ "$(wc -l <"$T/atts")" -eq 10 ]
}

@test "stream: every message a stuck command read goes back with backoff at the answer timeout, not the oldest alone" {
	conf backoff=1h
	seq 3 | mq-put -l q >/dev/null
	run --separate-stderr mq-work -s -n 3 -t 2s -k 1s q sh -c 'exec cat >/dev/null'
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ "$(count "$S/q/delayed")" -eq 3 ]
	[ -z "$(find "$S/q/delayed" -type f ! -name '*,a1,*')" ]
	[ "$(printf '%s\n' "$stderr" | grep -c 'no answer in 2000 ms')" -eq 3 ]
}

@test "stream: a late second answer cannot settle a redelivery: a nacked message goes to another command, and the first one's duplicate is 'answered twice'" {
	export T=$BATS_TEST_TMPDIR
	echo x | mq-put q >/dev/null
	# the first delivery: nack 0, then a second answer a second later
	run --separate-stderr mq-work -e -s q sh -c '
		while read -r id att n; do
			head -c $((n + 1)) >/dev/null
			echo "$$ $att" >>"$0/log"
			if [ "$att" = 1 ]; then
				echo "nack $id 0"; sleep 1; echo "ack $id"
			else
				echo "ack $id"
			fi
		done' "$T"
	echo "$stderr"
	cat "$T/log"
	[ "$status" -eq 0 ]
	[ "$(msgs q)" -eq 0 ]
	[[ "$stderr" == *'bad answer "ack '*'": answered twice'* ]]
	[[ "$stderr" != *"no such message"* ]]
	# the redelivery went to a new command, which read and acked it
	[ "$(wc -l <"$T/log")" -eq 2 ]
	[ "$(cut -d' ' -f2 "$T/log" | tr '\n' ' ')" = "1 2 " ]
	[ "$(cut -d' ' -f1 "$T/log" | sort -u | wc -l)" -eq 2 ]
}
