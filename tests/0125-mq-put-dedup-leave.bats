#!/usr/bin/env bats
# mq-put -k: one rule for a message leaving for good.  Whatever removes a
# message from the spool (ack, purge of any state, the purge of the
# messages waiting their group's turn, expiry then the purge of the dead,
# mq-fsck) starts its key's dedup deadline, for a plain message, one of an
# ordered group and a fan-out copy alike (mq(7), Idempotent producers).
load test_helper
bats_require_minimum_version 1.5.0

# queues V NAME - the queues of variant V named after NAME: where its
# messages lie (a fan-out's are its subscribers)
queues() {
	case $1 in
	fanout*) echo "$2.1 $2.2" ;;
	*) echo "$2" ;;
	esac
}

# mk V NAME WINDOW - make the queues of variant V, dedup_window WINDOW
mk() {
	local q
	case $1 in
	fanout*) mq-sub "$2" "$2.1" "$2.2" ;;
	*) mq-init "$2" ;;
	esac
	for q in $(queues "$1" "$2"); do
		echo "dedup_window = $3" >"$S/$q/mq.conf"
	done
}

# put V NAME ARGS... - an empty message of variant V with ARGS: in group G
# for group and fanout-g (a topic's copies then wait their turn in each
# subscriber); its id
put() {
	local v=$1 n=$2
	shift 2
	case $v in
	group | fanout-g) set -- -g G "$@" ;;
	esac
	mq-put "$@" "$n" </dev/null
}

# keyed QUEUE - the messages of QUEUE carrying key K (quarantine/ aside)
keyed() {
	find "$S/$1" -path "$S/$1/quarantine" -prune -o -type f \
	    -name "*,k$(hash K)*" -print | wc -l | tr -d ' '
}

# put_in V NAME - a put with key K (its id in $new) has put a message in
# every queue of the variant.  A fan-out's copies may get the old id: a
# subscriber whose key is still known a moment longer than another's lends
# its id to the copy the other gets (mq(7), Fan-out).
put_in() {
	local q
	new=$(put "$1" "$2" -k K)
	for q in $(queues "$1" "$2"); do
		[ "$(keyed "$q")" -ge 1 ] || return 1
	done
}

# the roads: road_R QUEUE makes the message of key K leave QUEUE by road R;
# before_R V NAME, if there is one, puts what must come before it, and
# PUT_R holds the options its put needs
road_ack() {
	mq-ack "$(mq-get "$1")"
}
road_ready() {
	mq-purge -s ready "$1"
}
# shellcheck disable=SC2034 # read by walk, as ${!opts}
PUT_delayed="-D 1h"
road_delayed() {
	mq-purge -s delayed "$1"
}
road_inflight() {
	mq-get "$1" >/dev/null
	mq-purge -s inflight "$1"
}
road_held() {
	mq-hold "$(only "$1" ready)" >/dev/null
	mq-purge -s held "$1"
}
# (max_attempts = 1: a nack buries)
road_dead() {
	mq-nack "$(mq-get "$1")"
	only "$1" dead >/dev/null
	# a dead message is still in the spool: its key is live
	[ "$(stat -c %Y "$(key_file "$1" K)")" -eq "$LIVE" ]
	mq-purge -s dead "$1"
}
# expiry dead-letters: the message leaves when the dead are purged
# shellcheck disable=SC2034
PUT_expiry="-T 1s"
road_expiry() {
	wait_for 10 now_ge "$(field x "$(only "$1" ready)")"
	run mq-get "$1"
	[ "$status" -eq 1 ]
	[ "$(field r "$(only "$1" dead)")" = expired ]
	[ "$(stat -c %Y "$(key_file "$1" K)")" -eq "$LIVE" ]
	mq-purge -s dead "$1"
}
# mq-fsck quarantines a message cut short (its ,s size is not the file's)
road_fsck_cut() {
	local f
	f=$(only "$1" ready)
	rm -f "$f"
	echo cut short >"$f"
	mq-fsck "$1" >/dev/null || true
	[ -n "$(ls "$S/$1/quarantine")" ]
}
# a message removed by hand: mq-fsck finds its key live and alone
road_fsck_gone() {
	rm -f "$(only "$1" ready)"
	mq-fsck "$1" >/dev/null || true
}
# the purge of ready takes the messages waiting their group's turn: the
# keyed one waits behind the group's out message, ready, delayed, in
# flight or held
before_waiting_ready() {
	put "$1" "$2" >/dev/null
}
road_waiting_ready() {
	[ "$(keyed "$1")" -eq 1 ]
	[ -n "$(ls "$S/$1/groups/"*/)" ]
	mq-purge -s ready "$1"
}
before_waiting_delayed() {
	put "$1" "$2" -D 1h >/dev/null
}
road_waiting_delayed() {
	road_waiting_ready "$1"
	only "$1" delayed >/dev/null
}
before_waiting_inflight() {
	put "$1" "$2" >/dev/null
}
road_waiting_inflight() {
	mq-get "$1" >/dev/null
	road_waiting_ready "$1"
	only "$1" inflight >/dev/null
}
before_waiting_held() {
	put "$1" "$2" >/dev/null
}
road_waiting_held() {
	mq-hold "$(only "$1" ready)" >/dev/null
	road_waiting_ready "$1"
	only "$1" held >/dev/null
}

# walk ROAD VARIANT... - for each variant, a message put with key K leaves
# by ROAD, in queues with dedup_window 1h and in queues with 1s.  With 1h
# the key is still known: a put with K prints the old id and puts nothing,
# and the key file's deadline is no longer 2100 but still to come.  With
# 1s, once the window has passed, a put with K puts its message in every
# queue of the variant (with a new id but for a fan-out, see put_in).  All
# the puts come first, so that a road that waits (expiry) waits once.
walk() {
	local road=$1 v q t n opts
	declare -A old
	shift
	opts=PUT_$road
	for v; do
		for n in "$v-1h" "$v-1s"; do
			mk "$v" "$n" "${n##*-}"
			if declare -F "before_$road" >/dev/null; then
				"before_$road" "$v" "$n"
			fi
			# shellcheck disable=SC2086 # options, split
			old[$n]=$(put "$v" "$n" -k K ${!opts:-})
		done
	done
	for v; do
		for n in "$v-1h" "$v-1s"; do
			for q in $(queues "$v" "$n"); do
				echo "# $road: $q" >&2
				"road_$road" "$q"
			done
		done
	done
	for v; do
		n=$v-1h
		echo "# $road, $v, within the window" >&2
		run put "$v" "$n" -k K
		[ "$status" -eq 0 ]
		[ "$output" = "${old[$n]}" ]
		for q in $(queues "$v" "$n"); do
			[ "$(keyed "$q")" -eq 0 ]
			t=$(stat -c %Y "$(key_file "$q" K)")
			[ "$t" -lt "$LIVE" ]
			[ "$t" -ge "$(date +%s)" ]
		done
	done
	for v; do
		n=$v-1s
		echo "# $road, $v, after the window" >&2
		wait_for 10 put_in "$v" "$n"
		case $v in
		fanout*) ;;
		*) [ "$new" != "${old[$n]}" ] ;;
		esac
		for q in $(queues "$v" "$n"); do
			[ "$(keyed "$q")" -eq 1 ]
			[ -n "$(find "$S/$q" -type f -name "$new,*")" ]
		done
	done
}

# waits_behind STATE - after walk of a waiting road: in the 1s queues the
# group's out message is still STATE, and the message of the keyed put
# after the window waits its turn behind it (purging what waits freed
# nothing)
waits_behind() {
	local q
	for q in group-1s fanout-g-1s.1 fanout-g-1s.2; do
		only "$q" "$1" >/dev/null
		[ -n "$(find "$S/$q/groups" -type f -name "*,k$(hash K)*")" ]
	done
}

setup() {
	export MQ_SPOOL=$BATS_TEST_TMPDIR/spool
	export MQ_CONF=$BATS_TEST_TMPDIR/mq.conf
	echo "max_attempts = 1" >"$MQ_CONF"
	S=$MQ_SPOOL
}

@test "leave: ack starts the key's deadline (plain, group, fan-out copy)" {
	walk ack plain group fanout fanout-g
}

@test "leave: mq-purge -s ready starts the key's deadline" {
	walk ready plain group fanout fanout-g
}

@test "leave: mq-purge -s delayed starts the key's deadline" {
	walk delayed plain group fanout fanout-g
}

@test "leave: mq-purge -s inflight starts the key's deadline" {
	walk inflight plain group fanout fanout-g
}

@test "leave: mq-purge -s held starts the key's deadline" {
	walk held plain group fanout fanout-g
}

@test "leave: a dead message keeps its key; mq-purge -s dead starts its deadline" {
	walk dead plain group fanout fanout-g
}

@test "leave: an expired message is dead, its key kept; purged, its deadline starts" {
	walk expiry plain group fanout fanout-g
}

@test "leave: mq-fsck quarantines a message cut short: its key's deadline starts" {
	walk fsck_cut plain group fanout fanout-g
}

@test "leave: mq-fsck finds a message removed by hand: its key's deadline starts" {
	walk fsck_gone plain group fanout fanout-g
}

@test "leave: a keyed put after a purge of its group's waiting room is not swallowed (issue 12, defect 7)" {
	walk waiting_ready group fanout-g
}

@test "leave: the purge of a group's waiting room, its out message delayed" {
	walk waiting_delayed group fanout-g
	waits_behind delayed
}

@test "leave: the purge of a group's waiting room, its out message in flight (issue 12, defect 7)" {
	walk waiting_inflight group fanout-g
	waits_behind inflight
}

@test "leave: the purge of a group's waiting room, its out message held" {
	walk waiting_held group fanout-g
	waits_behind held
}

@test "leave: purging a dead message of a group releases nothing: its group went on when it died" {
	for b in 1 2 3; do
		mq-put -g G q <<<"$b" >/dev/null
	done
	mq-nack "$(mq-get q)"
	[ "$(cat "$(only q dead)")" = 1 ]
	[ "$(cat "$(only q ready)")" = 2 ]
	mq-purge -s dead q
	# 2 is out: 3 still waits for it
	[ "$(cat "$(only q ready)")" = 2 ]
	[ "$(find "$S/q/groups" -type f | wc -l)" -eq 1 ]
	mq-ack "$(mq-get q)"
	[ "$(cat "$(only q ready)")" = 3 ]
}

@test "leave: mq-fsck leaves the key of a message waiting its group's turn known" {
	mk group q 1h
	mq-put -g G q </dev/null >/dev/null
	id=$(mq-put -g G -k K q </dev/null)
	run mq-fsck q
	[ "$status" -eq 0 ]
	[[ "$output" == *" keys=0 dropped=0" ]]
	[ "$(stat -c %Y "$(key_file q K)")" -eq "$LIVE" ]
	[ "$(mq-put -g G -k K q </dev/null)" = "$id" ]
}
