#!/bin/sh
# deps.sh build|test|fuzz - install what building (testing, fuzzing) mq
# needs and is missing, for the compiler in $CC and with sanitizers if
# $SANITIZE is 1 (make fuzz: clang, ASan, UBSan and libFuzzer):
# with apt-get when run as root on Debian; otherwise say what to install
# and stop.
set -eu
pkgs=""
need() {	# need TEST PACKAGE
	if ! eval "$1" >/dev/null 2>&1; then pkgs="$pkgs $2"; fi
}
case ${CC:-cc} in
*clang*)
	need "command -v ${CC}" clang
	# clang's sanitizer runtimes are packaged apart on Debian 12
	[ "${SANITIZE:-}" = 1 ] &&
	    need 'test -e "$(clang -print-file-name=libclang_rt.asan-x86_64.a)"' \
	    libclang-rt-14-dev
	;;
*)	need "command -v ${CC:-cc}" gcc ;;
esac
# the C library's headers: only a Recommends of gcc, which is not installed
need 'test -f /usr/include/stdio.h' libc6-dev
need 'command -v make' make
need 'command -v pkg-config' pkg-config
need 'pkg-config --exists libbsd-overlay' libbsd-dev
need 'pkg-config --exists inih' libinih-dev
need 'pkg-config --exists libmd' libmd-dev
# the bridge to AMQP brokers (mq-forward, mq-recv) is part of every build
need 'pkg-config --exists librabbitmq' librabbitmq-dev
# libFuzzer comes with the sanitizer runtimes
[ "${1:-build}" = fuzz ] &&
    need 'test -e "$(clang -print-file-name=libclang_rt.fuzzer-x86_64.a)"' \
    libclang-rt-14-dev
if [ "${1:-build}" = test ]; then
	need 'command -v bats' bats
	# bats --jobs (tests/run with BATS_JOBS) runs files through GNU parallel
	# (moreutils has a parallel of its own, which bats cannot use)
	need 'parallel --version | grep -q "GNU parallel"' parallel
	need 'command -v mandoc' mandoc
	need 'command -v python3' python3
	# a foreign reader of a message's headers (getfattr)
	need 'command -v getfattr' attr
	need 'command -v faketime' faketime
	need 'command -v valgrind' valgrind
	# the half messages' torture: the database as the arbiter
	need 'command -v sqlite3' sqlite3
	# the torture (tests/torture): pgrep, setsid; as root, for power
	# loss, losetup and mkfs.ext4 (in /sbin, which users may not search)
	need 'command -v pgrep' procps
	need 'command -v setsid' util-linux
	need 'command -v losetup || test -x /sbin/losetup' mount
	need 'command -v mkfs.ext4 || test -x /sbin/mkfs.ext4' e2fsprogs
	# the AMQP bridge's tests: a private broker (mk/rabbitmq.sh) and
	# amqp-declare-queue
	need 'test -x /usr/lib/rabbitmq/bin/rabbitmq-server' rabbitmq-server
	need 'command -v amqp-declare-queue' amqp-tools
	# the broker's TLS certificates
	need 'command -v openssl' openssl
	need 'command -v ss || test -x /sbin/ss' iproute2
	# the completions' tests, for each shell they are written for; tests
	# run tools as other users (runuser, setpriv: util-linux)
	need 'command -v zsh' zsh
	need 'command -v fish' fish
	need 'test -f /usr/share/bash-completion/bash_completion' bash-completion
fi
[ -z "$pkgs" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
	echo "deps: installing$pkgs" >&2
	# Installing a service must not start it (rabbitmq-server would
	# listen on every interface): a policy-rc.d that says 101 ("action
	# forbidden") while apt-get runs, unless there is one already, which
	# is left as it is.
	policy=/usr/sbin/policy-rc.d
	if [ ! -e "$policy" ] && [ ! -L "$policy" ]; then
		printf '#!/bin/sh\n# mq mk/deps.sh: start no service while installing\nexit 101\n' \
		    >"$policy"
		chmod 0755 "$policy"
		trap 'rm -f "$policy"' EXIT
		trap 'exit 130' INT
		trap 'exit 143' TERM
		trap 'exit 129' HUP
	fi
	# Recommends are not needed to build or test (gcc's would bring
	# libc-devtools, and with it libgd3, x265 and fontconfig)
	install="apt-get install -y -q --no-install-recommends $pkgs"
	DEBIAN_FRONTEND=noninteractive $install >&2 ||
	{ apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive $install >&2; }
	exit 0
fi
echo "deps: missing packages:$pkgs; as root: apt-get install --no-install-recommends$pkgs" >&2
exit 1
