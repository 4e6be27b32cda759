#!/usr/bin/env bats
# retain: an ack keeps the message in done/ (mq(7) Retention), every road
# of an ack alike; mq-ls, mq-stat, mq-purge, mq-rm and mq-fsck on done/;
# what is past retain or over retain_bytes dropped.
load test_helper
bats_require_minimum_version 1.5.0

# done_rec QUEUE COUNT BYTES OLDEST - write the done record of the lock
# file as mq(7) Locks spells it (64 bytes at offset 416)
done_rec() {
	printf 'd %012d %016d %010d%21s\n' "$2" "$3" "$4" "" |
	    dd of="$S/$1/lock" bs=1 seek=416 conv=notrunc status=none
}

# age_done PATH T - move a done message to the window of ack time T, as
# if it had been acked then; prints its new path
age_done() {
	local q b n
	q=${1%/done/*}
	b=$(($2 - $2 % 60))
	n=$(basename "$1" | sed "s/,d[0-9]*\$/,d$2/")
	mkdir -p "$q/done/$b"
	mv "$1" "$q/done/$b/$n"
	echo "$q/done/$b/$n"
}

done_count() {
	mq-stat -j "$1" | sed 's/.*"done":\([0-9]*\).*/\1/'
}

@test "retain: without it an ack deletes, and no done/ is made" {
	mq-put q <<<x >/dev/null
	mq-ack "$(mq-get q)"
	[ ! -e "$S/q/done" ]
	[ "$(msgs q)" -eq 0 ]
}

@test "retain: an ack moves the message to done/T with its ack time, size and group, without key or lease" {
	conf retain=1h
	mq-put -k K -g G -T 1h q <<<hello >/dev/null
	h=$(mq-get q)
	t0=$(date +%s)
	mq-ack "$h"
	d=$(only q done)
	n=$(basename "$d")
	[ "$(field d "$d")" -ge "$t0" ]
	[ "$(basename "$(dirname "$d")")" -eq $(($(field d "$d") - $(field d "$d") % 60)) ]
	[ "$(field s "$d")" -eq 6 ]
	[ "$(field g "$d")" = "$(hash G)" ]
	[ "$(field a "$d")" -eq 1 ]
	[[ "$n" != *,k* ]]
	[[ "$n" != *,x* ]]
	[[ "$n" != *,t* ]]
	[ "$(cat "$d")" = hello ]
	run mq-ls -s done q
	[ "$output" = "$d" ]
	run mq-show "$d"
	[[ "$output" == *"state: done"* ]]
	[[ "$output" == *"acked: $(date -u -d "@$(field d "$d")" +%FT%TZ)"* ]]
	# done messages have left the queue: mq-ls lists them only when asked
	run mq-ls q
	[ -z "$output" ]
}

@test "retain: every road of an ack keeps: mq-ack of a batch, mq-work, -b and -s" {
	conf retain=1h
	seq 5 | mq-put -l q >/dev/null
	mq-get -n 2 q | mq-ack
	mq-work -e -n 1 q true
	[ "$(files q done | wc -l)" -eq 3 ]
	mq-work -e -b 1 -n 1 q true
	[ "$(files q done | wc -l)" -eq 4 ]
	cat >"$BATS_TEST_TMPDIR/c" <<'EOF'
#!/bin/sh
while read -r id a s; do head -c "$s" >/dev/null; head -c 1 >/dev/null; echo "ack $id"; done
EOF
	chmod +x "$BATS_TEST_TMPDIR/c"
	mq-work -e -s q "$BATS_TEST_TMPDIR/c"
	[ "$(files q done | wc -l)" -eq 5 ]
	[ "$(done_count q)" -eq 5 ]
}

@test "retain: mq-stat counts done in the table, -j and -P, bytes apart" {
	conf retain=1h
	printf 'ab\ncde\n' | mq-put -l q >/dev/null
	mq-get -n 2 q | mq-ack
	mq-put q <<<z >/dev/null
	run mq-stat q
	[ "$(printf '%s\n' "$output" | tr -s ' ' | cut -d' ' -f1-8)" = "$(printf 'QUEUE READY DELAYED INFLIGHT DEAD HELD DONE PREPARED\nq 1 0 0 0 0 2 0')" ]
	run mq-stat -j q
	[[ "$output" == *'"held":0,"done":2,'* ]]
	[[ "$output" == *'"bytes":2,"done_bytes":5,'* ]]
	run mq-stat -P q
	[[ "$output" == *'mq_messages{queue="q",state="done"} 2'* ]]
	[[ "$output" == *'mq_done_bytes{queue="q"} 5'* ]]
}

@test "retain: mq-stat reads the done record, it does not count done/" {
	conf retain=1h
	mq-put q <<<x >/dev/null
	mq-ack "$(mq-get q)"
	done_rec q 1000000 5000000 "$(($(date +%s) / 60 * 60))"
	[ "$(done_count q)" -eq 1000000 ]
	# mq-fsck counts again
	run mq-fsck q
	[ "$(done_count q)" -eq 1 ]
}

@test "retain: for dedup a done message is gone: its key's window starts at the ack" {
	conf retain=1h dedup_window=0
	id=$(mq-put -k K q <<<one)
	mq-ack "$(mq-get q)"
	id2=$(mq-put -k K q <<<two)
	[ "$id" != "$id2" ]
	[ "$(files q ready | wc -l)" -eq 1 ]
}

@test "retain: an ack of a grouped message lets the group's next go, as without retain" {
	conf retain=1h
	mq-put -g G q <<<1 >/dev/null
	mq-put -g G q <<<2 >/dev/null
	mq-ack "$(mq-get q)"
	h=$(mq-get q)
	[ "$(cat "$h")" = 2 ]
}

@test "retain: over retain_bytes an ack drops the oldest done messages" {
	conf retain=1h retain_bytes=5
	printf 'aaa\nbbb\nccc\n' | mq-put -l q >/dev/null
	for i in 1 2 3; do mq-ack "$(mq-get q)"; done
	[ "$(files q done | wc -l)" -eq 1 ]
	[ "$(done_count q)" -eq 1 ]
}

@test "retain: a window past retain is dropped by the next ack, and by a put" {
	conf retain=1h
	seq 3 | mq-put -l q >/dev/null
	mq-ack "$(mq-get q)"
	old=$(($(date +%s) - 7200))
	d=$(age_done "$(only q done)" "$old")
	done_rec q 1 2 $((old - old % 60))
	mq-ack "$(mq-get q)"
	[ ! -e "$d" ]
	[ ! -e "$(dirname "$d")" ]
	[ "$(files q done | wc -l)" -eq 1 ]
	[ "$(done_count q)" -eq 1 ]
	d=$(age_done "$(only q done)" "$old")
	done_rec q 1 2 $((old - old % 60))
	mq-put q <<<x >/dev/null
	[ ! -e "$d" ]
	[ "$(done_count q)" -eq 0 ]
}

@test "retain: mq-fsck drops what is past retain and writes the record anew" {
	conf retain=1h
	seq 2 | mq-put -l q >/dev/null
	mq-get -n 2 q | mq-ack
	old=$(($(date +%s) - 86400))
	d=$(age_done "$(files q done | head -n 1)" "$old")
	printf 'garbage' | dd of="$S/q/lock" bs=1 seek=416 conv=notrunc status=none
	run mq-fsck q
	[[ "$output" == *" dropped=1" ]]
	[ ! -e "$d" ]
	[ "$(files q done | wc -l)" -eq 1 ]
	[ "$(done_count q)" -eq 1 ]
}

@test "retain: set back to 0, acks delete again and mq-fsck drops what was kept" {
	conf retain=1h
	seq 2 | mq-put -l q >/dev/null
	mq-ack "$(mq-get q)"
	conf retain=0
	mq-ack "$(mq-get q)"
	[ "$(files q done | wc -l)" -eq 1 ]
	d=$(age_done "$(only q done)" $(($(date +%s) - 120)))
	run mq-fsck q
	[ ! -e "$d" ]
}

@test "retain: mq-purge -s done empties done/, mq-rm deletes one by its path" {
	conf retain=1h
	seq 3 | mq-put -l q >/dev/null
	mq-get -n 3 q | mq-ack
	mq-ls -s done q | head -n 1 | mq-rm
	[ "$(done_count q)" -eq 2 ]
	[ "$(files q done | wc -l)" -eq 2 ]
	run mq-purge -s done q
	[ "$status" -eq 0 ]
	[ "$(done_count q)" -eq 0 ]
	[ -z "$(files q done)" ]
}

@test "retain: a planted symlink, FIFO or directory in done/, or a bucket of a bad name, is no message" {
	conf retain=1h
	mq-put q <<<x >/dev/null
	mq-ack "$(mq-get q)"
	d=$(only q done)
	b=$(dirname "$d")
	t=$(field d "$d")
	ln -s /etc/passwd "$b/1700000000.000000.aaaaaaaa,p4,a1,s3,d$t"
	mkfifo "$b/1700000000.000000.bbbbbbbb,p4,a1,s3,d$t"
	mkdir "$b/1700000000.000000.cccccccc,p4,a1,s3,d$t"
	mkdir "$S/q/done/99x"
	cp "$d" "$S/q/done/99x/"
	mkdir "$S/q/done/0000000060"
	cp "$d" "$S/q/done/0000000060/"
	run mq-ls -s done q
	[ "$output" = "$d" ]
	for f in "$b/1700000000.000000.aaaaaaaa,p4,a1,s3,d$t" \
	    "$b/1700000000.000000.bbbbbbbb,p4,a1,s3,d$t" \
	    "$S/q/done/99x/$(basename "$d")" \
	    "$S/q/done/0000000060/$(basename "$d")"; do
		run mq-rm "$f"
		[ "$status" -eq 65 ]
	done
	[ -L "$b/1700000000.000000.aaaaaaaa,p4,a1,s3,d$t" ]
	[ -p "$b/1700000000.000000.bbbbbbbb,p4,a1,s3,d$t" ]
	run timeout 10 mq-fsck q
	[ "$status" -eq 1 ]
	[ ! -e "$S/q/done/99x" ]
	[ ! -e "$b/1700000000.000000.bbbbbbbb,p4,a1,s3,d$t" ]
	[ -n "$(ls "$S/q/quarantine")" ]
	[ "$(done_count q)" -eq 1 ]
	[ -e "$d" ]
}

@test "retain: retain and retain_bytes in mq.conf are checked" {
	mq-init q
	conf retain=soon
	run mq-stat q
	[ "$status" -eq 78 ]
	[[ "$output" == *"retain: bad duration: soon"* ]]
	conf retain_bytes=-1
	run mq-stat q
	[ "$status" -eq 78 ]
	conf retain=7d retain_bytes=10G
	run mq-stat q
	[ "$status" -eq 0 ]
}

@test "retain: a symlink or a file planted as done/ fails only the acks that would keep" {
	mq-put q <<<x >/dev/null
	mq-put q <<<y >/dev/null
	ln -s /tmp "$S/q/done"
	run mq-stat -j q
	[ "$status" -eq 0 ]
	[[ "$output" == *'"ready":2,'* ]]
	mq-ack "$(mq-get q)"
	conf retain=1h
	h=$(mq-get q)
	run mq-ack "$h"
	[ "$status" -ne 0 ]
	[ -e "$h" ]
	rm "$S/q/done"
	mq-ack "$h"
	[ "$(files q done | wc -l)" -eq 1 ]
}

@test "retain: acks racing in several processes: the record counts every kept message once" {
	conf retain=1h
	seq 300 | mq-put -l q >/dev/null
	mq-work -e -j 4 q true &
	mq-work -e -j 4 q true &
	while mq-get -n 7 q >"$BATS_TEST_TMPDIR/h"; do mq-ack <"$BATS_TEST_TMPDIR/h"; done
	wait
	[ "$(files q done | wc -l)" -eq 300 ]
	[ "$(done_count q)" -eq 300 ]
	run mq-fsck q
	[ "$(done_count q)" -eq 300 ]
}
