# multiuser_helper.bash - for the tests with real users (after
# test_helper): the group mqshare with its members mqprod and mqcons, the
# outsider mqout, the tools where they can run them, a spool every one of
# them can reach, and "as" to run a tool as one of them.

# users_setup_file - make the users (once: they outlive the run) and the
# tools they run, in $OBIN
users_setup_file() {
	[ "$(id -u)" -eq 0 ] || return 0
	getent group mqshare >/dev/null || groupadd mqshare
	for u in mqprod mqcons; do
		id "$u" >/dev/null 2>&1 || useradd -M -N -g mqshare -s /bin/sh "$u"
	done
	id mqout >/dev/null 2>&1 || useradd -M -N -s /bin/sh mqout
	OTHERS=$(mktemp -d /var/tmp/mq-bin.XXXXXX)
	OBIN=$(others_bin "$OTHERS")
	export OTHERS OBIN
}

users_teardown_file() {
	[ -n "${OTHERS:-}" ] && rm -rf "$OTHERS"
}

# shared_setup - skip unless root with runuser; else a spool $S in
# $SHARED that every user can reach, and a queue "orders" shared with the
# group mqshare (mq-init -g)
shared_setup() {
	[ "$(id -u)" -eq 0 ] || skip "needs root to create users (useradd) and switch to them"
	command -v runuser >/dev/null || skip "runuser is not installed"
	# not under the test's own directory: that one is private (0700)
	SHARED=$(mktemp -d /var/tmp/mq-shared.XXXXXX)
	chmod 0755 "$SHARED"
	export MQ_SPOOL=$SHARED/spool
	export MQ_CONF=$SHARED/mq.conf
	: >"$MQ_CONF"
	chmod 0644 "$MQ_CONF"
	S=$MQ_SPOOL
	mkdir -m 0755 "$S"
	mq-init -g mqshare orders
}

shared_teardown() {
	[ -n "${SHARED:-}" ] && rm -rf "$SHARED"
}

# as USER CMD... - run CMD as USER with the test's spool and tools
as() {
	local u=$1
	shift
	runuser -u "$u" -- env PATH="$OBIN:$PATH" MQ_SPOOL="$MQ_SPOOL" \
	    MQ_CONF="$MQ_CONF" "$@"
}
