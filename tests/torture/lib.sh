# lib.sh - what the torture and power-loss harnesses share: message bodies
# that can be checked byte for byte, and the producer and consumer loops.
#
# A message is named by its producer P and sequence number SEQ.  Its body is
# the line "P SEQ LEN|" followed by filler up to LEN bytes in all, both
# derived from P and SEQ alone: anyone can rebuild the body a message must
# have, so a truncated, torn, swapped or foreign body is caught.  Most
# bodies are 24 to 323 bytes; one in eight is 4 to 12 KB, a few blocks.
#
# Logs are lines of words, one file per writer (see README.md):
#   put P SEQ ID                 mq-put exited 0 (or printed ID, -l streams)
#   putfail P SEQ RC N           mq-put exited RC with N messages to put
#   proc KIND INST ID ATTEMPT P SEQ OK|BAD END   a consumer read a message
#   ack KIND INST ID             mq-ack exited 0 for it
#   ackfail KIND INST ID RC      mq-ack exited RC for it
#   badbody KIND INST ID LEN SIZE   the body read was LEN bytes, and
#                                its name said SIZE
export LC_ALL=C

# the filler every body is cut from, 64 * 210 bytes
printf -v TT_FILL \
    'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-_%.0s' {1..210}

# tt_isolate SCRIPT ARG... - run SCRIPT again, where that can be had (as
# root), as the init of a PID namespace of its own: it then reaps the
# orphans of the processes it kills, and nothing outside is in its sight;
# and as the leader of a session of its own, whose id is then in TT_SID
tt_isolate() {
	local -a st
	if [ -z "${TT_ISOLATED:-}" ]; then
		export TT_ISOLATED=1
		if [ "$(id -u)" = 0 ] &&
		    unshare -pf --mount-proc true 2>/dev/null; then
			exec unshare -pf --mount-proc --kill-child "$@"
		fi
	fi
	read -r -a st </proc/$$/stat
	[ "${st[5]}" = $$ ] || exec setsid -w "$@"
	TT_SID=$$
}

# tt_body P SEQ - the body of message P SEQ, in $BODY
tt_body() {
	local h=$((($2 * 7919 + $1 * 104729) % 1009)) len head
	if ((h % 8 == 0)); then
		len=$((4000 + h * 8))
	else
		len=$((24 + h % 300))
	fi
	head="$1 $2 $len|"
	BODY=$head${TT_FILL:$((($2 * 7 + $1) % 61)):$((len - ${#head}))}
}

# tt_check FILE [SIZE] - read a message body from FILE; set TT_LEN (its
# size), TT_P, TT_SEQ (- when the body does not say) and TT_OK (OK when the
# body is exactly the one its header names, SIZE bytes long when SIZE is
# given, and the message's headers are the ones tt_producer put, else
# BAD).  The headers are TT_HDRS when it is set (a command of mq-work has
# them in its environment), else read from FILE.
tt_check() {
	local b= h
	IFS= read -r -d '' b <"$1"
	TT_LEN=${#b} TT_P=- TT_SEQ=- TT_OK=BAD
	[[ $b =~ ^([0-9]{1,9})\ ([0-9]{1,9})\ [0-9]+\| ]] || return 0
	TT_P=${BASH_REMATCH[1]} TT_SEQ=${BASH_REMATCH[2]}
	tt_body "$TT_P" "$TT_SEQ"
	[ "$b" = "$BODY" ] || return 0
	[ -z "${2:-}" ] || [ "$2" = "${#b}" ] || return 0
	if [ -n "${TT_HDRS+x}" ]; then
		h=$TT_HDRS
	else
		h=$(getfattr --only-values -n user.mq.h "$1" 2>/dev/null |
		    tr '\0' ' ')
	fi
	[ "$h" = "tt-p=$TT_P tt-kind=producer " ] || return 0
	TT_OK=OK
}

# tt_field F NAME - the value of field F of a message file name, in $FIELD
tt_field() {
	FIELD=
	[[ ,${2#*,}, =~ ,$1([^,]*), ]] && FIELD=${BASH_REMATCH[1]}
	:
}

# tt_producer P LOG STOP [DELAY] - put the messages P 0, P 1, ... one per
# mq-put, or 1 to 8 per mq-put -l, each with the headers tt-p=P and
# tt-kind=producer, until the file STOP exists; a third of the single puts
# are delayed by DELAY when it is given.  Logs put after
# an exit status of 0 only.
tt_producer() {
	local p=$1 log=$2 stop=$3 delay=${4:-} seq=0 n i rc out
	local f=$TT_WORK/body.$p
	local -a ids args
	RANDOM=$((TT_SEED * 1000 + p))
	while [ ! -e "$stop" ]; do
		args=()
		if ((RANDOM % 2)); then
			n=1
			tt_body "$p" "$seq"
			printf '%s' "$BODY" >"$f"
			[ -n "$delay" ] && ((RANDOM % 3 == 0)) && args=(-D "$delay")
			out=$(mq-put "${args[@]}" -H "tt-p=$p" -H tt-kind=producer \
			    q "$f" 2>>"$log.err")
		else
			n=$((1 + RANDOM % 8))
			for ((i = 0; i < n; i++)); do
				tt_body "$p" $((seq + i))
				printf '%s\n' "$BODY"
			done >"$f"
			out=$(mq-put -l -H "tt-p=$p" -H tt-kind=producer q \
			    <"$f" 2>>"$log.err")
		fi
		rc=$?
		if [ "$rc" -eq 0 ]; then
			mapfile -t ids <<<"$out"
			for ((i = 0; i < n; i++)); do
				echo "put $p $((seq + i)) ${ids[i]}"
			done >>"$log"
		else
			echo "putfail $p $seq $rc $n" >>"$log"
		fi
		seq=$((seq + n))
	done
}

# tt_consume KIND INST LOG HANDLE... - check each claimed message, log it
# as processed, ack them all in one mq-ack and log the outcome
tt_consume() {
	local kind=$1 inst=$2 log=$3 h id rc
	shift 3
	for h; do
		id=${h##*/}
		tt_field s "$id"
		tt_check "$h" "$FIELD"
		[ "$TT_OK" = OK ] ||
		    echo "badbody $kind $inst ${id%%,*} $TT_LEN ${FIELD:--}"
		tt_field a "$id"
		echo "proc $kind $inst ${id%%,*} $FIELD $TT_P $TT_SEQ $TT_OK END"
	done >>"$log"
	mq-ack "$@" 2>>"$log.err"
	rc=$?
	for h; do
		id=${h##*/}
		if [ "$rc" -eq 0 ]; then
			echo "ack $kind $inst ${id%%,*}"
		else
			echo "ackfail $kind $inst ${id%%,*} $rc"
		fi
	done >>"$log"
}

# tt_consumer INST LOG STOP LEASE - claim 1 to 5 messages at a time with
# mq-get (waiting up to 100 ms for them) and consume them, until the file
# STOP exists
tt_consumer() {
	local inst=$1 log=$2 stop=$3 lease=$4 out rc
	local -a hs
	while [ ! -e "$stop" ]; do
		out=$(mq-get -n $((1 + RANDOM % 5)) -t 100ms -L "$lease" q \
		    2>>"$log.err")
		rc=$?
		if [ "$rc" -eq 1 ]; then
			continue
		elif [ "$rc" -ne 0 ]; then
			echo "getfail plain $inst $rc" >>"$log"
			continue
		fi
		mapfile -t hs <<<"$out"
		tt_consume plain "$inst" "$log" "${hs[@]}"
	done
}

# tt_drain LOG WAIT - the recovery pass: claim and consume everything, with
# the real tools, until nothing came for WAIT (leases run out and delayed
# messages fall due meanwhile)
tt_drain() {
	local log=$1 wait=$2 out
	local -a hs
	while out=$(mq-get -n 100 -t "$wait" q 2>>"$log.err"); do
		mapfile -t hs <<<"$out"
		tt_consume drain drain "$log" "${hs[@]}"
	done
}

# tt_scan QUEUEDIR - a record for each message file left in QUEUEDIR
# ("spool STATE ID ATTEMPTS P SEQ OK|BAD END", STATE dead-REASON for dead
# ones) and for each file in tmp/ ("tmp NAME SIZE")
tt_scan() {
	local q=$1 s f n a
	for s in ready delayed inflight dead held groups; do
		[ -d "$q/$s" ] || continue
		find "$q/$s" -type f | while read -r f; do
			n=${f##*/}
			tt_field s "$n"
			tt_check "$f" "$FIELD"
			tt_field a "$n"
			a=${FIELD:-0}
			# dead ones by their reason: dead-rejected, ...
			tt_field r "$n"
			echo "spool $s${FIELD:+-$FIELD} ${n%%,*} $a $TT_P $TT_SEQ $TT_OK END"
		done
	done
	find "$q/tmp" -type f -printf 'tmp %f %s\n'
}
