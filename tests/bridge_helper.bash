# bridge_helper.bash - for the tests of mq-forward and mq-recv (after
# test_helper): one private RabbitMQ broker per file (mk/rabbitmq.sh, bound
# to 127.0.0.1 on free ports), started by setup_file and stopped by
# teardown_file, and tests/amqp-peek, an AMQP client that shares no code
# with the tools under test, to look into the broker and publish to it.
ROOT=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
MQ_TEST_BIN=${MQ_TEST_BIN:-$MQ_BIN/../test}
PEEK=$MQ_TEST_BIN/amqp-peek
RABBITMQ_SH=$ROOT/mk/rabbitmq.sh
# a broker user with a password, for the password tests
PASSWORD=Pa55-w0rd-xyzzy

# bridge_missing - why the bridge cannot be tested here, or nothing
bridge_missing() {
	local t
	for t in mq-forward mq-recv; do
		if [ ! -x "$MQ_BIN/$t" ]; then
			echo "$t is not built (librabbitmq missing?)"
			return
		fi
	done
	if [ ! -x "$PEEK" ]; then
		echo "no $PEEK (make test-bins)"
		return
	fi
	if [ ! -x /usr/lib/rabbitmq/bin/rabbitmq-server ]; then
		echo "rabbitmq-server is not installed"
		return
	fi
	if ! command -v amqp-declare-queue >/dev/null; then
		echo "amqp-tools is not installed"
		return
	fi
}

bridge_setup_file() {
	BRIDGE_SKIP=$(bridge_missing)
	export BRIDGE_SKIP
	[ -z "$BRIDGE_SKIP" ] || return 0
	# not below the run's own directory: the rabbitmq user must get in
	BROKER=$(mktemp -d /var/tmp/mq-bats-rabbitmq.XXXXXX)
	chmod 0755 "$BROKER"
	export BROKER
	# fd 3 closed: bats waits for whoever holds it
	sh "$RABBITMQ_SH" start "$BROKER" 3>&-
	# shellcheck source=/dev/null
	. "$BROKER/env"
	export AMQP_HOST AMQP_PORT AMQPS_PORT BROKER_CA BROKER_BEAM_PID
	export URL=amqp://guest@$AMQP_HOST:$AMQP_PORT
	broker -q add_user mqtest "$PASSWORD" >/dev/null
	broker -q set_permissions -p / mqtest '.*' '.*' '.*' >/dev/null
}

bridge_teardown_file() {
	[ -n "${BROKER:-}" ] || return 0
	# a test that stopped the broker (SIGSTOP) and failed
	kill -CONT "$(beam_pid)" 2>/dev/null || true
	# its state goes with it: no need for a graceful shutdown (3-4 s)
	sh "$RABBITMQ_SH" kill "$BROKER" 3>&- || true
	sh "$RABBITMQ_SH" stop "$BROKER" 3>&-
	rm -rf "$BROKER"
}

# every test: skip when the bridge is missing
bridge_setup() {
	[ -z "$BRIDGE_SKIP" ] || skip "$BRIDGE_SKIP"
}

# broker ARGS... - rabbitmqctl against this file's broker
broker() {
	sh "$RABBITMQ_SH" ctl "$BROKER" "$@"
}

# the broker's beam PID now (a restart changes it)
beam_pid() {
	sed -n 's/^BROKER_BEAM_PID=//p' "$BROKER/env"
}

# bq NAME [-m max-length] [-e exchange [-r key]] - declare a durable broker
# queue (bound to an exchange); each test uses names of its own
bq() {
	local q=$1
	shift
	"$PEEK" -d "$@" "$AMQP_HOST" "$AMQP_PORT" "$q"
}

# bcount NAME - the ready messages of a broker queue
bcount() {
	"$PEEK" -c "$AMQP_HOST" "$AMQP_PORT" "$1"
}

# bcount_is NAME N - for wait_for
bcount_is() {
	[ "$(bcount "$1")" = "$2" ]
}

# bcount_ge NAME N
bcount_ge() {
	local n
	n=$(bcount "$1") && [ "$n" -ge "$2" ]
}

# peek [OPTIONS] NAME - take every message of a broker queue, one line each
# (amqp-peek: id TAB delivery-mode TAB priority TAB body)
peek() {
	local a=("$@")
	local q=${a[-1]}
	unset 'a[-1]'
	"$PEEK" -i 500 "${a[@]}" "$AMQP_HOST" "$AMQP_PORT" "$q"
}

# publish [-e exchange] KEY - publish the lines of stdin (id TAB priority
# TAB expiration TAB body; "-" for none) with confirms
publish() {
	local a=("$@")
	local k=${a[-1]}
	unset 'a[-1]'
	"$PEEK" -p "${a[@]}" "$AMQP_HOST" "$AMQP_PORT" "$k"
}

# local_count QUEUE - the messages of QUEUE in the spool $S (any state)
local_count() {
	msgs "$1"
}

# local_count_is QUEUE N
local_count_is() {
	[ "$(msgs "$1")" -eq "$2" ]
}

# local_count_lt QUEUE N
local_count_lt() {
	[ "$(msgs "$1")" -lt "$2" ]
}

# gone PID - the process has exited
gone() {
	! kill -0 "$1" 2>/dev/null
}

# free_port - a TCP port nothing listens on
free_port() {
	local p
	for p in $(shuf -i 30000-32000 -n 50); do
		if [ -z "$(ss -Htan "sport = :$p")" ]; then
			echo "$p"
			return
		fi
	done
	return 1
}

# ps_args PID - the command line of PID as ps(1) shows it
ps_args() {
	ps -o args= -p "$1"
}

# every test gets test_helper's setup and teardown, and: skipped when the
# bridge is missing; never leaves the broker stopped (SIGSTOP)
eval "mq_$(declare -f setup)"
eval "mq_$(declare -f teardown)"
setup() {
	mq_setup
	bridge_setup
	T=$BATS_TEST_TMPDIR
}
teardown() {
	if [ -n "${BROKER:-}" ]; then
		kill -CONT "$(beam_pid)" 2>/dev/null || true
	fi
	mq_teardown
}

# attempts PATH - the attempts counted in a message's name (0 when absent)
attempts() {
	local a
	a=$(field a "$1")
	echo "${a:-0}"
}

# state_count_is QUEUE STATE N - N message files in one state
state_count_is() {
	[ "$(find "$S/$1/$2" -type f 2>/dev/null | wc -l)" -eq "$3" ]
}
