#!/usr/bin/env bats
# Half messages under SIGKILL, with sqlite3 as the arbiter (mq(7) Half
# messages): producers prepare, commit their database row, then commit
# the message; checkers (mq-resolve) write a tombstone unless the row is
# there.  Producers and resolvers are killed at random between any two
# steps; then the resolvers run undisturbed until nothing is prepared.
# Every message must be committed exactly when its row exists, and none
# twice.
load test_helper

N=${PREP_TORTURE_N:-200}
# as 1400-torture.bats: LeakSanitizer's ptrace of a process dying among
# SIGKILLs can hang; leaks are the other files' to find
if [ "${MQ_SANITIZE:-}" = 1 ]; then
	export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
fi

setup_file() {
	command -v sqlite3 >/dev/null || skip "no sqlite3 (mk/deps.sh test)"
}

# the producer and the checker of mq(7), a random pause between steps;
# sqlite3 waits for the database's lock (.timeout) instead of failing
write_scripts() {
	cat >"$BATS_TEST_TMPDIR/produce" <<'SH'
#!/bin/sh
o=$1 db=$2
nap() { sleep "0.0$(od -An -N1 -tu1 /dev/urandom | tr -d ' ' | cut -c1)"; }
h=$(printf 'order %s\n' "$o" | mq-put -P -k "paid-$o" -H order-id="$o" orders) || exit
nap
if sqlite3 -bail -cmd '.timeout 10000' "$db" "BEGIN IMMEDIATE;
    INSERT INTO paid VALUES ('$o', 'row'); COMMIT;" 2>/dev/null
then nap; mq-commit "$h" 2>/dev/null
else nap; mq-rm "$h" 2>/dev/null
fi
exit 0
SH
	cat >"$BATS_TEST_TMPDIR/check" <<'SH'
#!/bin/sh
o=$MQ_H_order_id
s=$(sqlite3 -bail -cmd '.timeout 10000' "$DB" "BEGIN IMMEDIATE;
    INSERT OR IGNORE INTO paid VALUES ('$o', 'tombstone');
    SELECT state FROM paid WHERE id = '$o'; COMMIT;" 2>/dev/null) || exit 2
case $s in
row) exit 0 ;;
tombstone) exit 1 ;;
esac
exit 2
SH
	chmod +x "$BATS_TEST_TMPDIR/produce" "$BATS_TEST_TMPDIR/check"
}

# rnd N - a random number from 0 to N-1
rnd() {
	echo $((RANDOM % $1))
}

@test "torture: prepare, database, commit: committed exactly when the row exists, under SIGKILL of producers and checkers" {
	export DB=$BATS_TEST_TMPDIR/shop.db
	sqlite3 "$DB" "CREATE TABLE paid (id TEXT PRIMARY KEY, state TEXT);"
	conf prepare_timeout=300ms prepare_max=1000
	mq-init orders
	write_scripts
	# resolvers watching, each killed (with its checker, if one runs)
	# after a random while and started again, until the producers end
	: >"$BATS_TEST_TMPDIR/producing"
	(
		while [ -e "$BATS_TEST_TMPDIR/producing" ]; do
			setsid mq-resolve -w orders -- "$BATS_TEST_TMPDIR/check" &
			r=$!
			sleep "0.$(rnd 6)"
			for c in $(pgrep -P "$r"); do
				kill -KILL "$c" 2>/dev/null || true
			done
			kill -KILL "$r" 2>/dev/null || true
			wait "$r" 2>/dev/null || true
		done
	) &
	killer=$!
	# producers four at a time, a third of them killed at a random step
	for i in $(seq "$N"); do
		setsid "$BATS_TEST_TMPDIR/produce" "$i" "$DB" &
		p=$!
		if [ "$(rnd 3)" -eq 0 ]; then
			( sleep "0.0$(rnd 10)"; kill -KILL -- "-$p" 2>/dev/null ) &
		fi
		if [ $((i % 4)) -eq 0 ]; then
			wait "$p" 2>/dev/null || true
		fi
	done
	sleep 1
	rm "$BATS_TEST_TMPDIR/producing"
	wait "$killer"
	# what was not killed finishes: producers, orphaned checkers
	wait
	sleep 0.5
	# the checkers settle every message left prepared
	for i in $(seq 100); do
		[ -z "$(files orders prepared)" ] && break
		sleep 0.3
		mq-resolve orders -- "$BATS_TEST_TMPDIR/check"
	done
	[ -z "$(files orders prepared)" ]
	[ -z "$(files orders dead)" ]
	# committed messages, by order: none twice
	committed=$BATS_TEST_TMPDIR/committed rows=$BATS_TEST_TMPDIR/rows
	files orders ready | while read -r f; do cat "$f"; done |
	    sed 's/^order //' | sort >"$committed"
	[ -z "$(uniq -d "$committed")" ]
	sqlite3 "$DB" "SELECT id FROM paid WHERE state = 'row';" | sort >"$rows"
	diff "$rows" "$committed"
	[ "$(sqlite3 "$DB" "SELECT count(*) FROM paid")" -le "$N" ]
	echo "# rows $(wc -l <"$rows"), tombstones $(sqlite3 "$DB" "SELECT count(*) FROM paid WHERE state = 'tombstone'")" >&3
}
