#!/bin/sh
# rabbitmq.sh start|stop|kill|restart|ctl DIR [ARGS...] - a private RabbitMQ
# broker for the tests and the benchmark of mq-forward and mq-recv: bound to
# 127.0.0.1 only (AMQP, Erlang distribution and its own epmd), on free ports
# chosen per start, every byte of its state in DIR.
#
#   start DIR     start a broker in DIR (made if missing; with root, DIR and
#                 its parents must be searchable by the rabbitmq user, so not
#                 under /root), wait until it takes connections, and write
#                 DIR/env for callers to source:
#                     AMQP_HOST AMQP_PORT AMQP_URL AMQPS_PORT (TLS, with
#                     a CA of its own: BROKER_CA) BROKER_DIR BROKER_NODE
#                     BROKER_DIST_PORT BROKER_EPMD_PORT BROKER_BEAM_PID
#                     BROKER_EPMD_PID
#   stop DIR      shut the broker down, then its epmd; nothing is left running
#                 or listening; the state stays in DIR (remove DIR yourself)
#   kill DIR      SIGKILL the broker (the beam PID recorded at start, nothing
#                 else) and wait until it is gone; epmd stays
#   restart DIR   start again after a kill (or stop): same ports, same state
#   ctl DIR ARGS  rabbitmqctl ARGS against this broker
#
# As root the broker runs as the rabbitmq user.  Environment:
# RABBITMQ_START_TIMEOUT (seconds, default 90), RABBITMQ_SBIN (default
# /usr/lib/rabbitmq/bin).
set -u

SBIN=${RABBITMQ_SBIN:-/usr/lib/rabbitmq/bin}
START_TIMEOUT=${RABBITMQ_START_TIMEOUT:-90}
me="rabbitmq.sh"

die() {
	echo "$me: $*" >&2
	exit 1
}

usage() {
	echo "usage: $me start|stop|kill|restart DIR | $me ctl DIR ARGS..." >&2
	exit 64
}

[ $# -ge 2 ] || usage
cmd=$1
D=$2
shift 2

# --- helpers -------------------------------------------------------------

# alive PID - the process exists and is not a zombie (PID 1 of a container
# may never reap the detached broker)
alive() {
	[ -n "$1" ] && [ -r "/proc/$1/stat" ] || return 1
	# the state is the first field after "(comm)"
	st=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)
	[ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

# is_ours PID COMM NEEDLE - PID is alive, runs COMM and has NEEDLE in its
# command line (a guard against a recycled PID)
is_ours() {
	alive "$1" || return 1
	[ "$(cat "/proc/$1/comm" 2>/dev/null)" = "$2" ] || return 1
	tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -qF -- "$3"
}

# wait_gone SECONDS PID - until PID is gone; fails after SECONDS
wait_gone() {
	n=$(($1 * 10))
	while alive "$2"; do
		n=$((n - 1))
		[ "$n" -gt 0 ] || return 1
		sleep 0.1
	done
}

# listening PORT - something listens on TCP PORT
listening() {
	[ -n "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]
}

# port_free PORT - no TCP socket at all uses PORT
port_free() {
	[ -z "$(ss -Htan "sport = :$1" 2>/dev/null)" ]
}

# rand N - a random number in 0..N-1
rand() {
	r=$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')
	echo $((r % $1))
}

# as_broker CMD... - run CMD as the broker's user, with its HOME (the Erlang
# cookie) and its environment file, in its directory
as_broker() {
	if [ "$(id -u)" = 0 ]; then
		(cd "$R" && exec setpriv --reuid=rabbitmq --regid=rabbitmq \
		    --init-groups env HOME="$R" RABBITMQ_CONF_ENV_FILE="$R/rabbitmq-env.conf" \
		    ERL_CRASH_DUMP="$R/erl_crash.dump" "$@")
	else
		(cd "$R" && exec env HOME="$R" \
		    RABBITMQ_CONF_ENV_FILE="$R/rabbitmq-env.conf" \
		    ERL_CRASH_DUMP="$R/erl_crash.dump" "$@")
	fi
}

ctl() {
	as_broker "$SBIN/rabbitmqctl" "$@"
}

load_env() {
	[ -f "$D/env" ] || die "$D: no broker here (no $D/env; run: $me start $D)"
	# shellcheck source=/dev/null
	. "$D/env"
	R=$BROKER_DIR/rabbit
}

# set_env KEY VALUE - replace one line of DIR/env
set_env() {
	sed "s|^$1=.*|$1=$2|" "$D/env" >"$D/env.tmp" && mv "$D/env.tmp" "$D/env"
}

# log_tail - the end of the broker's logs, for an error message
log_tail() {
	for f in "$R"/log/*.log "$R"/log/*.log.1 "$D/epmd.log"; do
		[ -s "$f" ] || continue
		echo "--- $f (last lines)" >&2
		tail -n 15 "$f" >&2
	done
}

# not_loopback - print the listening sockets of our processes that are
# not bound to 127.0.0.1
not_loopback() {
	ss -Hltnp 2>/dev/null | while read -r _ _ _ local _ users; do
		case $users in
		*"pid=$BROKER_BEAM_PID,"* | *"pid=$BROKER_EPMD_PID,"*)
			case $local in
			127.0.0.1:* | "[::1]":*) ;;
			*) echo "$local $users" ;;
			esac
			;;
		esac
	done
}

start_epmd() {
	# epmd -daemon forks, leaves the session and closes every descriptor
	# (bats waits for whoever holds its fd 3; parallel starts wait for our
	# lock on fd 9); no shell of ours stays around as its parent
	as_broker epmd -daemon -port "$BROKER_EPMD_PORT" -address 127.0.0.1 \
	    </dev/null >>"$D/epmd.log" 2>&1 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&- ||
	    die "epmd -daemon failed (see $D/epmd.log)"
	n=100
	until listening "$BROKER_EPMD_PORT"; do
		n=$((n - 1))
		[ "$n" -gt 0 ] || { log_tail; die "epmd did not listen on 127.0.0.1:$BROKER_EPMD_PORT within 10 s"; }
		sleep 0.1
	done
	# the PID that listens there (ours: the port was free a moment ago)
	pid=$(ss -Hltnp "sport = :$BROKER_EPMD_PORT" | sed -n 's/.*"epmd",pid=\([0-9]*\),.*/\1/p' | head -n 1)
	[ -n "$pid" ] || die "cannot find the PID of epmd on port $BROKER_EPMD_PORT"
	set_env BROKER_EPMD_PID "$pid"
	BROKER_EPMD_PID=$pid
}

# start_beam - start the broker on the ports of DIR/env, wait for it, record
# its PID
start_beam() {
	rm -f "$R/node.pid"
	as_broker "$SBIN/rabbitmq-server" -detached \
	    </dev/null >>"$D/start.log" 2>&1 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&- ||
	    { log_tail; die "rabbitmq-server -detached failed (see $D/start.log)"; }
	# "rabbitmqctl wait" returns once the pid file is there and the rabbit
	# application runs; a relative pid path would hang it
	ok=0
	if as_broker timeout "$START_TIMEOUT" "$SBIN/rabbitmqctl" -q wait \
	    --timeout "$START_TIMEOUT" "$R/node.pid" >>"$D/start.log" 2>&1; then
		ok=1
	fi
	pid=$(cat "$R/node.pid" 2>/dev/null)
	if [ "$ok" = 1 ] && ! listening "$AMQP_PORT"; then
		ok=0
		echo "$me: the broker runs but does not listen on $AMQP_HOST:$AMQP_PORT" >&2
	fi
	if [ "$ok" != 1 ]; then
		log_tail
		if [ -n "$pid" ] && is_ours "$pid" beam.smp "-home $R "; then
			kill -KILL "$pid" 2>/dev/null
			wait_gone 10 "$pid"
		fi
		rm -f "$R/node.pid"
		return 1
	fi
	is_ours "$pid" beam.smp "-home $R " ||
	    die "PID $pid of $R/node.pid is not our broker"
	set_env BROKER_BEAM_PID "$pid"
	BROKER_BEAM_PID=$pid
	bad=$(not_loopback)
	if [ -n "$bad" ]; then
		echo "$me: the broker listens beyond loopback, stopping it:" >&2
		echo "$bad" >&2
		do_stop
		exit 1
	fi
}

do_stop() {
	rc=0
	if alive "$BROKER_BEAM_PID"; then
		if ! is_ours "$BROKER_BEAM_PID" beam.smp "-home $R "; then
			echo "$me: PID $BROKER_BEAM_PID is no longer our broker; not signalled" >&2
		else
			ctl -q shutdown --timeout 60 >>"$D/stop.log" 2>&1 ||
			    echo "$me: rabbitmqctl shutdown failed (see $D/stop.log); sending SIGTERM" >&2
			if alive "$BROKER_BEAM_PID"; then
				kill -TERM "$BROKER_BEAM_PID" 2>/dev/null
				if ! wait_gone 20 "$BROKER_BEAM_PID"; then
					echo "$me: broker still there after SIGTERM; SIGKILL" >&2
					kill -KILL "$BROKER_BEAM_PID" 2>/dev/null
					wait_gone 10 "$BROKER_BEAM_PID" || { echo "$me: PID $BROKER_BEAM_PID does not die" >&2; rc=1; }
				fi
			fi
		fi
	fi
	if alive "$BROKER_EPMD_PID"; then
		if is_ours "$BROKER_EPMD_PID" epmd "$BROKER_EPMD_PORT"; then
			# -kill refuses while nodes are registered: SIGTERM then
			epmd -port "$BROKER_EPMD_PORT" -kill >/dev/null 2>&1 ||
			    kill -TERM "$BROKER_EPMD_PID" 2>/dev/null
			wait_gone 10 "$BROKER_EPMD_PID" || {
				kill -KILL "$BROKER_EPMD_PID" 2>/dev/null
				wait_gone 5 "$BROKER_EPMD_PID"
			} || { echo "$me: epmd PID $BROKER_EPMD_PID does not die" >&2; rc=1; }
		else
			echo "$me: PID $BROKER_EPMD_PID is no longer our epmd; not signalled" >&2
		fi
	fi
	rm -f "$R/node.pid"
	for p in "$AMQP_PORT" "$BROKER_DIST_PORT" "$BROKER_EPMD_PORT"; do
		if listening "$p"; then
			echo "$me: port $p still listening after stop:" >&2
			ss -Hltnp "sport = :$p" >&2
			rc=1
		fi
	done
	return $rc
}

# --- commands ------------------------------------------------------------

case $cmd in
start)
	for c in setsid epmd ss od timeout; do
		command -v "$c" >/dev/null 2>&1 || die "$c not found"
	done
	[ -x "$SBIN/rabbitmq-server" ] ||
	    die "no $SBIN/rabbitmq-server (apt-get install rabbitmq-server)"
	mkdir -p "$D" || die "cannot make $D"
	D=$(cd "$D" && pwd -P) || die "cannot enter $D"
	if [ -f "$D/env" ]; then
		# shellcheck source=/dev/null
		. "$D/env"
		alive "${BROKER_BEAM_PID:-}" && die "$D: a broker runs there already (PID $BROKER_BEAM_PID)"
		alive "${BROKER_EPMD_PID:-}" && die "$D: its epmd still runs (PID $BROKER_EPMD_PID): $me stop $D first"
	fi
	R=$D/rabbit
	rm -rf "$R"
	mkdir -p "$R/log" "$R/mnesia" || die "cannot make $R"
	if [ "$(id -u)" = 0 ]; then
		id rabbitmq >/dev/null 2>&1 || die "no user rabbitmq"
		chown -R rabbitmq: "$R" || die "cannot chown $R"
		setpriv --reuid=rabbitmq --regid=rabbitmq --init-groups \
		    test -w "$R" -a -x "$R" ||
		    die "$D: the rabbitmq user cannot get there (its parents must be searchable: not under /root, not in a 0700 directory)"
	fi
	# a private cookie
	od -An -N16 -tx1 /dev/urandom | tr -d ' \n' | tr a-f A-F >"$R/.erlang.cookie"
	chmod 0400 "$R/.erlang.cookie"
	[ "$(id -u)" = 0 ] && chown rabbitmq: "$R/.erlang.cookie"

	# Ports: AMQP in 20000..29999, distribution = AMQP + 20000, epmd =
	# AMQP - 10000; all three free.  Picking and binding are one step
	# under a lock shared by every caller, so parallel starts do not
	# pick the same ports.
	lock=/tmp/mq-rabbitmq-ports.lock
	# opened for reading: flock(1) needs no more, and any user can open
	# a file another made in /tmp that way (not so with O_CREAT)
	[ -e "$lock" ] || (umask 0 && : >>"$lock") 2>/dev/null
	if command -v flock >/dev/null 2>&1 && [ -r "$lock" ]; then
		exec 9<"$lock"
		flock -w 180 9 || die "timed out waiting for $lock (held by another start)"
	else
		echo "$me: cannot lock $lock: starting without it" >&2
	fi
	tries=0
	while :; do
		tries=$((tries + 1))
		[ "$tries" -le 200 ] || die "found no free ports"
		p=$((20000 + $(rand 10000)))
		port_free "$p" && port_free $((p + 1)) &&
		    port_free $((p + 20000)) && port_free $((p - 10000)) && break
	done
	node=mq$p@localhost
	# TLS on AMQP + 1 (amqps://), with a CA of its own: CA.pem verifies
	# the broker's certificate, made for localhost and 127.0.0.1
	tls=$R/tls
	mkdir -p "$tls"
	(
		cd "$tls" || exit 1
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
		    -nodes -keyout ca.key -out ca.pem -days 7 \
		    -subj "/CN=mq test CA" &&
		openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
		    -nodes -keyout server.key -out server.csr \
		    -subj "/CN=localhost" &&
		printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >ext &&
		openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key \
		    -CAcreateserial -out server.pem -days 7 -extfile ext
	) >"$D/tls.log" 2>&1 || die "cannot make the TLS certificates (see $D/tls.log)"
	[ "$(id -u)" = 0 ] && chown -R rabbitmq: "$tls"
	cat >"$R/rabbitmq.conf" <<-EOF
		listeners.tcp.default = 127.0.0.1:$p
		distribution.listener.interface = 127.0.0.1
		distribution.listener.port_range.min = $((p + 20000))
		distribution.listener.port_range.max = $((p + 20000))
		log.console = false
		log.file.level = info
		listeners.ssl.default = 127.0.0.1:$((p + 1))
		ssl_options.cacertfile = $tls/ca.pem
		ssl_options.certfile = $tls/server.pem
		ssl_options.keyfile = $tls/server.key
		ssl_options.verify = verify_none
		ssl_options.fail_if_no_peer_cert = false
	EOF
	echo '[].' >"$R/enabled_plugins"
	cat >"$R/rabbitmq-env.conf" <<-EOF
		NODENAME=$node
		NODE_IP_ADDRESS=127.0.0.1
		NODE_PORT=$p
		DIST_PORT=$((p + 20000))
		ERL_EPMD_PORT=$((p - 10000))
		ERL_EPMD_ADDRESS=127.0.0.1
		CTL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
		CONFIG_FILE=$R/rabbitmq.conf
		CONFIG_FILES=$R/conf.d
		ADVANCED_CONFIG_FILE=$R/advanced.config
		MNESIA_BASE=$R/mnesia
		LOG_BASE=$R/log
		ENABLED_PLUGINS_FILE=$R/enabled_plugins
		PID_FILE=$R/node.pid
	EOF
	[ "$(id -u)" = 0 ] && chown rabbitmq: "$R"/*.conf "$R/enabled_plugins"
	cat >"$D/env" <<-EOF
		AMQP_HOST=127.0.0.1
		AMQP_PORT=$p
		AMQP_URL=amqp://guest@127.0.0.1:$p
		AMQPS_PORT=$((p + 1))
		BROKER_CA=$tls/ca.pem
		BROKER_DIR=$D
		BROKER_NODE=$node
		BROKER_DIST_PORT=$((p + 20000))
		BROKER_EPMD_PORT=$((p - 10000))
		BROKER_BEAM_PID=
		BROKER_EPMD_PID=
	EOF
	: >"$D/start.log"
	: >"$D/epmd.log"
	load_env
	start_epmd
	if ! start_beam; then
		do_stop
		die "the broker did not start within ${START_TIMEOUT}s (logs in $R/log, $D/start.log)"
	fi
	exec 9>&-	# the ports are bound: let the next start pick
	;;
stop)
	load_env
	do_stop || exit 1
	;;
kill)
	load_env
	alive "$BROKER_BEAM_PID" || die "no broker runs in $D"
	is_ours "$BROKER_BEAM_PID" beam.smp "-home $R " ||
	    die "PID $BROKER_BEAM_PID is not our broker; not signalled"
	kill -KILL "$BROKER_BEAM_PID" || die "cannot kill PID $BROKER_BEAM_PID"
	wait_gone 30 "$BROKER_BEAM_PID" || die "PID $BROKER_BEAM_PID still there 30 s after SIGKILL"
	n=300
	while listening "$AMQP_PORT"; do
		n=$((n - 1))
		[ "$n" -gt 0 ] || die "port $AMQP_PORT still listening after the kill"
		sleep 0.1
	done
	;;
restart)
	load_env
	alive "$BROKER_BEAM_PID" && die "the broker still runs (PID $BROKER_BEAM_PID): $me kill or stop it first"
	for p in "$AMQP_PORT" "$BROKER_DIST_PORT"; do
		listening "$p" && die "port $p is taken: cannot restart on it"
	done
	alive "$BROKER_EPMD_PID" || start_epmd
	if ! start_beam; then
		die "the broker did not start again within ${START_TIMEOUT}s (logs in $R/log, $D/start.log)"
	fi
	;;
ctl)
	load_env
	ctl "$@"
	;;
*)
	usage
	;;
esac
