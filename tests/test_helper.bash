# test_helper.bash - every test gets its own spool and config, and runs the
# build tree's binaries ($MQ_BIN overrides, to test an installed copy).
MQ_BIN=${MQ_BIN:-$(cd "$BATS_TEST_DIRNAME/.." && pwd)/build/out/bin}
PATH=$MQ_BIN:$PATH

setup() {
	export MQ_SPOOL=$BATS_TEST_TMPDIR/spool
	export MQ_CONF=$BATS_TEST_TMPDIR/mq.conf
	: >"$MQ_CONF"
	S=$MQ_SPOOL
}

# conf KEY=VALUE... - write the global config
conf() {
	printf '%s\n' "$@" | sed 's/=/ = /' >"$MQ_CONF"
}

# count DIR - number of files below DIR
count() {
	find "$1" -type f | wc -l | tr -d ' '
}

# wait_for SECONDS COMMAND... - poll until COMMAND succeeds
wait_for() {
	local end=$((SECONDS + $1))
	shift
	until "$@"; do
		[ "$SECONDS" -lt "$end" ] || return 1
		sleep 0.05
	done
}
