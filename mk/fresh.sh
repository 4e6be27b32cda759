#!/bin/sh
# fresh.sh - a new user's first ten minutes, on a really fresh machine
# (make fresh; needs root): in a Debian 12 minbase root with nothing but
# git and ca-certificates added, as root with the clone in /root, run the
# README's own lines literally, one TAP line a line; then check what
# `make install` left (every tool and man page, completions that bash, zsh
# and fish find with no extra environment) and that a user who is not root
# can run `make demo` from a clone in their home.
#
# Why: this machine, and CI, keep every package anyone ever installed by
# hand, so a green CI can hide a missing install step.  A root built from
# nothing cannot.
#
# What is tested is what is committed: a clone of HEAD (the commit is
# printed), never the working tree.  The steps come from that clone's
# README: its first block fenced as ```sh fresh, each line that is neither
# empty nor only a comment one step, run as written from `cd /root/mq` by
# `bash -l` in a clean environment.  Everything a step prints is shown as
# TAP comments ("# ..."), so that the inner suite's own "ok"/"not ok" lines
# are not counted a second time by .ci/run.
#
# The root is built once by mmdebstrap from this machine's apt sources and
# cached as a tarball in FRESH_CACHE (default /var/cache/mq-fresh), named
# by a hash of everything that goes into it, and built again when that
# tarball is missing (or with FRESH_REBUILD=1).  Each run unpacks a copy in
# a temporary directory under FRESH_TMPDIR (default /var/tmp); on the way
# out, whatever happens, every process running in that root is ended, the
# loop devices backed by its files are detached, everything mounted in it
# is unmounted and the copy is removed.  FRESH_STEP_TIMEOUT (seconds,
# default 1800) bounds each step.
#
# A package mirror that cannot be reached is a TAP skip that says so,
# never a pass.  The exit status is 0 when no TAP line is "not ok".
# shellcheck disable=SC2317 # the functions are called through logged and check
set -u
cd "$(dirname "$0")/.." || exit 1

SUITE=bookworm
VARIANT=minbase
INCLUDE=git,ca-certificates
CACHE=${FRESH_CACHE:-/var/cache/mq-fresh}
STEP_TIMEOUT=${FRESH_STEP_TIMEOUT:-1800}
# the PATH root has after logging in on Debian (/etc/profile sets it too)
ROOT_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
USER_PATH=/usr/local/bin:/usr/bin:/bin
# the user who is not root, and where the clone goes for root
NONROOT=mqfresh
CLONE=/root/mq
# apt's words for a mirror it cannot reach, in its own warning and error
# lines (a missing package or a 404 is not one of them: that is a failure;
# and a test of the bridge may well print "Connection refused")
UNREACHABLE='^[WE]: .*(Temporary failure resolving|Could not resolve|Could not connect|Failed to connect|Unable to connect|Connection timed out|Connection failed|Network is unreachable|No route to host|Connection refused)'
# a skip reason of the inner suite that means a package was missing: "zsh
# is not installed", "mq-forward is not built (librabbitmq missing?)", or
# "no PROGRAM" (one word: "no mandoc", "no script(1)", "no zsh/zpty")
MISSING_PACKAGE='not installed|not built|missing|^no [^ ]+$'

n=0		# TAP lines so far
failed=0	# of which "not ok"
stop=		# why the steps left are skipped
# tap ok|not-ok DESCRIPTION [DIRECTIVE] - the next TAP line
tap() {
	n=$((n + 1))
	t="$n - $2"
	[ -n "${3:-}" ] && t="$t # $3"
	if [ "$1" = ok ]; then
		echo "ok $t"
	else
		echo "not ok $t"
		failed=$((failed + 1))
	fi
}
say() {
	echo "# fresh: $*"
}
# comment - standard input as TAP comments, each line as it comes
comment() {
	sed -u 's/^/# /'
}
# finish - the plan, and the status: 1 if a line was "not ok"
finish() {
	say "total: $(($(date +%s) - t0)) s"
	echo "1..$n"
	[ "$failed" -eq 0 ]
	exit
}
t0=$(date +%s)

if [ "$(id -u)" != 0 ]; then
	tap ok "fresh root" "skip needs root (mmdebstrap, chroot, mount)"
	finish
fi
# mmdebstrap is a Debian package like any other the project needs
if ! command -v mmdebstrap >/dev/null && command -v apt-get >/dev/null; then
	say "installing mmdebstrap"
	{ DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
	      --no-install-recommends mmdebstrap ||
	  { apt-get update -q &&
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
	        --no-install-recommends mmdebstrap; }; } 2>&1 | comment
fi
if ! command -v mmdebstrap >/dev/null; then
	tap ok "fresh root" "skip mmdebstrap is not installed (a Debian package)"
	finish
fi

# --- what is tested: HEAD of this checkout --------------------------------

src=$(git rev-parse --show-toplevel) &&
    commit=$(git rev-parse HEAD) &&
    gitdir=$(git rev-parse --path-format=absolute --git-common-dir) || {
	tap not-ok "fresh root: git cannot read HEAD of $(pwd)"
	finish
}
branch=$(git symbolic-ref -q --short HEAD || echo "detached HEAD")
say "testing commit $(git log -1 --format='%h %s' HEAD) ($branch) of $src:" \
    "a clone of HEAD, as committed"
if [ -n "$(git status --porcelain --untracked-files=no)" ]; then
	say "the working tree has uncommitted changes: they are not tested"
fi

# --- leaving no trace --------------------------------------------------------

work=$(mktemp -d "${FRESH_TMPDIR:-/var/tmp}/mq-fresh.XXXXXX") || {
	tap not-ok "fresh root: cannot make a temporary directory"
	finish
}
root=$work/root

# mounts_under DIR - the mount points at or below DIR, innermost (longest)
# first, one a line (mountinfo escapes a space as \040)
mounts_under() {
	awk -v r="$1" '{
		m = $5
		gsub(/\\040/, " ", m)
		gsub(/\\011/, "\t", m)
		if (m == r || index(m, r "/") == 1)
			print length(m) "\t" m
	}' /proc/self/mountinfo | sort -rn | cut -f2-
}
# in_root_pids - the processes whose root is the root, or below it (one
# that chrooted further)
in_root_pids() {
	for p in /proc/[0-9]*; do
		r=$(readlink "$p/root" 2>/dev/null) || continue
		case $r in
		"$root" | "$root"/*) echo "${p#/proc/}" ;;
		esac
	done
}
# names PID... - their command names
names() {
	for p; do cat "/proc/$p/comm" 2>/dev/null; done | tr '\n' ' '
}
# loops_under DIR - the loop devices backed by a file below DIR (the
# power-loss torture sets them up); to be asked before anything is
# unmounted, while the backing files' paths still lead through DIR
loops_under() {
	losetup --list --noheadings --raw --output NAME,BACK-FILE 2>/dev/null |
	    while read -r dev file; do
		case $file in
		"$1"/*) echo "$dev" ;;
		esac
	done
}
# end_processes - TERM, then KILL, every process in the root, by PID (a
# test's broker and epmd, a step that timed out)
end_processes() {
	pids=$(in_root_pids)
	[ -n "$pids" ] || return 0
	# shellcheck disable=SC2086
	say "ending what still runs in the root: $(names $pids)"
	# shellcheck disable=SC2086
	kill -TERM $pids 2>/dev/null
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		pids=$(in_root_pids)
		[ -n "$pids" ] || return 0
		sleep 0.5
	done
	# shellcheck disable=SC2086
	kill -KILL $pids 2>/dev/null
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		[ -n "$(in_root_pids)" ] || return 0
		sleep 0.5
	done
	# shellcheck disable=SC2046
	say "still running in the root: $(names $(in_root_pids))"
}
cleanup() {
	if [ -d "$root" ]; then
		loops=$(loops_under "$root")
		end_processes
		# innermost first; what is still busy is detached lazily, as a
		# last resort
		mounts_under "$root" | while IFS= read -r m; do
			umount "$m" 2>/dev/null || umount -l "$m" ||
			    say "cannot unmount $m"
		done
		for l in $loops; do
			losetup -d "$l" && say "detached $l"
		done
	fi
	# never remove files through a mount that is left (the bind of /dev,
	# the checkout)
	if [ -n "$(mounts_under "$work")" ]; then
		say "left $work in place, still mounted: $(mounts_under "$work" |
		    tr '\n' ' ')"
	else
		rm -rf --one-file-system "$work"
	fi
}
trap cleanup EXIT
trap 'say interrupted; exit 130' INT
trap 'say terminated; exit 143' TERM
trap 'say hung up; exit 129' HUP

# logged NAME COMMAND... - COMMAND's output as comments and in
# $work/NAME.log ($log), its status in $rc.  In the background and waited
# for, so that a signal to this script is acted on at once (and the
# cleanup ends what runs in the root), not when the step is done.
logged() {
	log=$work/$1.log
	shift
	{ "$@" 2>&1; echo $? >"$log.rc"; } | tee "$log" | comment &
	wait $!
	rc=$(cat "$log.rc")
}

# --- the root, built once and cached -----------------------------------------

# The sources are this machine's own (a new user's machine has its mirror
# too); mmdebstrap pastes each file into the root's sources.  Of apt's
# configuration, the files that say how to reach them (a proxy, Release
# files older than their Valid-Until) go in as well.
set --
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
    /etc/apt/sources.list.d/*.sources; do
	[ -f "$f" ] && grep -q '^[[:space:]]*[^#[:space:]]' "$f" &&
	    set -- "$@" "$f"
done
conf=$(grep -lEi 'proxy|Check-Valid-Until|Check-Date' \
    /etc/apt/apt.conf.d/* 2>/dev/null | tr '\n' ' ')
conf=${conf% }
# The mirror may serve old Release files (a snapshot), and the clock may
# be ahead of them: the root's apt accepts them too (99mmdebstrap).
recipe="mmdebstrap --variant=$VARIANT --include=$INCLUDE $SUITE, Acquire::Check-Valid-Until and Check-Date false, sources: $*${conf:+, apt.conf.d: $conf}"
key=$({ echo "$recipe"; mmdebstrap --version
	for f in "$@" $conf; do echo "== $f"; cat "$f"; done; } |
    sha256sum | cut -c1-16)
tarball=$CACHE/$SUITE-$VARIANT-$key.tar

mkdir -p "$CACHE" || {
	tap not-ok "fresh root: cannot make $CACHE"
	finish
}
# one build at a time (make fresh in two checkouts at once)
exec 9>"$CACHE/lock"
flock 9
if [ ! -s "$tarball" ] || [ "${FRESH_REBUILD:-}" = 1 ]; then
	say "building the root: $recipe"
	start=$(date +%s)
	# shellcheck disable=SC2086 # $conf: file names, a word each
	logged mmdebstrap mmdebstrap --variant=$VARIANT --format=tar \
	    --include=$INCLUDE \
	    --aptopt='Acquire::Check-Valid-Until "false"' \
	    --aptopt='Acquire::Check-Date "false"' \
	    ${conf:+--customize-hook="copy-in $conf /etc/apt/apt.conf.d"} \
	    "$SUITE" "$tarball.tmp" "$@"
	say "building the root: $(($(date +%s) - start)) s, exit $rc"
	if [ "$rc" != 0 ]; then
		rm -f "$tarball.tmp"
		why=$(grep -E "$UNREACHABLE" "$log" | head -n 1)
		if [ -n "$why" ]; then
			tap ok "fresh root" "skip mirror unreachable: $why"
		else
			tap not-ok "fresh root: mmdebstrap failed (exit $rc)"
		fi
		finish
	fi
	mv "$tarball.tmp" "$tarball"
	# a root of other inputs is of no more use
	for t in "$CACHE/$SUITE-$VARIANT"-*.tar; do
		[ "$t" = "$tarball" ] || rm -f "$t"
	done
fi
exec 9>&-
say "root: $tarball ($(du -m "$tarball" | cut -f1) MB)"

# --- a fresh copy, as a machine would have it ---------------------------------

mkdir "$root" &&
    tar --numeric-owner --xattrs --xattrs-include='*' -xpf "$tarball" \
    -C "$root" || {
	tap not-ok "fresh root: cannot unpack $tarball"
	finish
}
# what the machine's installer (or a container's runtime) writes: the name
# server, and an /etc/hosts, which minbase has not (RabbitMQ must find
# localhost and its own host name)
rm -f "$root/etc/resolv.conf"
cat /etc/resolv.conf >"$root/etc/resolv.conf"
if [ ! -e "$root/etc/hosts" ]; then
	printf '127.0.0.1\tlocalhost\n127.0.1.1\t%s\n::1\tlocalhost ip6-localhost ip6-loopback\n' \
	    "$(hostname)" >"$root/etc/hosts"
fi

# The root is a private mount of its own, and so is every bind into it:
# where / is shared (systemd), a devpts mounted on a bind of a shared /dev
# would otherwise appear on the host's /dev/pts too.
# mount_ro DIR - DIR, read-only, at the same path in the root (so that a
# worktree's .git file still leads to its repository)
mount_ro() {
	mkdir -p "$root$1" &&
	    mount --bind "$1" "$root$1" &&
	    mount --make-private "$root$1" &&
	    mount -o remount,bind,ro "$root$1"
}
mount_all() {
	mount --bind "$root" "$root" && mount --make-private "$root" &&
	mount -t proc proc "$root/proc" &&
	mount -t sysfs sysfs "$root/sys" &&
	mount --bind /dev "$root/dev" && mount --make-private "$root/dev" &&
	mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5 devpts \
	    "$root/dev/pts" &&
	mount -t tmpfs -o mode=1777 tmpfs "$root/dev/shm" &&
	mount -t tmpfs -o mode=0755 tmpfs "$root/run" &&
	mkdir -m 1777 "$root/run/lock" &&
	mount_ro "$src" || return
	case $gitdir in
	"$src"/*) ;;
	*) mount_ro "$gitdir" ;;	# a worktree's repository
	esac
}
logged mount mount_all
if [ "$rc" != 0 ]; then
	tap not-ok "fresh root: cannot mount /proc, /sys, /dev, /run and the checkout"
	finish
fi

# in_root SECONDS COMMAND... - COMMAND as root in the root, in the clean
# environment of a login, nothing on standard input, bounded in time
in_root() {
	secs=$1
	shift
	timeout -k 30 "$secs" chroot "$root" /usr/bin/env -i HOME=/root \
	    PATH="$ROOT_PATH" "$@" </dev/null
}
# as_user SECONDS COMMAND... - the same as the user who is not root
as_user() {
	secs=$1
	shift
	timeout -k 30 "$secs" chroot "$root" /usr/bin/setpriv \
	    --reuid="$NONROOT" --regid="$NONROOT" --init-groups \
	    /usr/bin/env -i HOME="/home/$NONROOT" USER="$NONROOT" \
	    LOGNAME="$NONROOT" PATH="$USER_PATH" "$@" </dev/null
}
# packages - "COUNT KiB": the packages installed in the root, and their
# Installed-Size
packages() {
	dpkg-query --admindir="$root/var/lib/dpkg" -W \
	    -f='${db:Status-Abbrev} ${Installed-Size}\n' 2>/dev/null |
	    awk '$1 == "ii" { n++; s += $2 } END { printf "%d %d\n", n, s }'
}

# The clone, as the README's reader made it.  The checkout belongs to
# whoever owns it out here, and git refuses to clone a repository of
# another user ("dubious ownership") unless its global or system
# configuration says safe.directory (git 2.39 takes no -c for it); with a
# URL the question does not arise.  So the clones, and nothing else, get a
# global configuration that says so.
gitconfig=/run/fresh.gitconfig
printf '[safe]\n\tdirectory = *\n' >"$root$gitconfig"
logged clone in_root 120 env GIT_CONFIG_GLOBAL=$gitconfig \
    git clone "$src" "$CLONE"
got=$(git --git-dir="$root$CLONE/.git" rev-parse HEAD 2>/dev/null)
if [ "$rc" != 0 ] || [ "$got" != "$commit" ]; then
	tap not-ok "fresh root: git clone $src $CLONE (HEAD ${got:-none}, want $commit)"
	finish
fi
# The steps: the lines of the clone's first ```sh fresh block that are
# neither empty nor only a comment.
steps=$work/steps
awk '
/^```/ {
	if (inblock)
		exit
	if ($0 ~ /^```[ \t]*sh[ \t]+fresh[ \t]*$/)
		inblock = 1
	next
}
inblock && $0 !~ /^[ \t]*(#.*)?$/
' "$root$CLONE/README.md" >"$steps"
nsteps=$(wc -l <"$steps")
if [ "$nsteps" -eq 0 ]; then
	tap not-ok "fresh root: README.md has no \`\`\`sh fresh block with a line to run"
	finish
fi
say "$nsteps steps from README.md; at the start $(packages |
    awk '{ printf "%d packages, %d MB", $1, $2 / 1024 }')"

# --- the README's lines -------------------------------------------------------

install_rc=	# the status of the step that is `make install`
i=0
while [ "$i" -lt "$nsteps" ]; do
	i=$((i + 1))
	line=$(sed -n "${i}p" "$steps")
	# its name: the line without its comment (a "#" would start a TAP
	# directive)
	name=$(printf '%s\n' "$line" | sed 's/[[:space:]]*#.*$//')
	if [ -n "$stop" ]; then
		tap ok "$name" "skip $stop"
		continue
	fi
	say "step $i: $line"
	before=$(packages)
	start=$(date +%s)
	logged "step$i" in_root "$STEP_TIMEOUT" /bin/bash -lc "cd $CLONE || exit
$line"
	say "$name: $(($(date +%s) - start)) s, exit $rc"
	[ "$rc" = 124 ] && say "$name: timed out after $STEP_TIMEOUT s"
	echo "$before $(packages)" | awk -v name="$name" '$3 != $1 {
		printf "# fresh: %s: %d packages, %d MB installed; now %d packages, %d MB\n",
		    name, $3 - $1, ($4 - $2) / 1024, $3, $4 / 1024 }'
	why=$(grep -E "$UNREACHABLE" "$log" | head -n 1)
	# the inner suite's tally, failures and skips; a skip for want of a
	# package fails the step ("no test skipped for want of a package")
	ok=yes
	tally=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
	if [ -n "$tally" ]; then
		say "$name: $tally"
		grep '^not ok ' "$log" | sed 's/^/# fresh: failed: /'
		grep -iE '^ok .* # skip' "$log" | sed 's/^/# fresh: skipped: /'
		want=$(grep -iE '^ok .* # skip' "$log" |
		    sed 's/.* # [sS][kK][iI][pP] *//' | grep -cE "$MISSING_PACKAGE")
		if [ "$want" -gt 0 ]; then
			say "$name: $want tests skipped for want of a package"
			ok=
		fi
	fi
	case $name in
	"make install" | "make install "*) install_rc=$rc ;;
	esac
	if [ "$rc" = 0 ] && [ -n "$ok" ]; then
		tap ok "$name"
	elif [ "$rc" != 0 ] && [ -n "$why" ] && [ "$i" -eq 1 ]; then
		# the first apt-get: nothing can be installed at all
		tap ok "fresh root" "skip mirror unreachable: $why"
		finish
	elif [ "$rc" != 0 ] && [ -n "$why" ]; then
		tap ok "$name" "skip mirror unreachable: $why"
	else
		tap not-ok "$name"
		# without the prerequisite line no later line can work: they
		# are skipped; any other line's failure, the next lines are
		# still run (a new user would go on too)
		[ "$i" -eq 1 ] && stop="step 1 failed: $name"
	fi
	# the first build must hold every tool, the bridge's too: make check
	# installs more packages, so what make install finds later cannot
	# show a tool the build left out
	case $name in
	"make demo" | "make demo "* | make | "make all")
		missing=
		for t in $(cd "$root$CLONE/man" && ls -- *.1 | sed 's/\.1$//'); do
			[ -x "$root$CLONE/build/out/bin/$t" ] || missing="$missing $t"
		done
		if [ "$rc" != 0 ]; then
			tap ok "$name built every tool" "skip $name failed"
		elif [ -z "$missing" ]; then
			tap ok "$name built every tool"
		else
			say "$name did not build:$missing"
			tap not-ok "$name built every tool"
		fi
		;;
	esac
	left=$(in_root_pids)
	# shellcheck disable=SC2086
	[ -z "$left" ] || say "$name: left running: $(names $left)"
done

# --- what make install left ---------------------------------------------------

# every tool (each has its page in section 1) and every man page
tools=$(cd "$root$CLONE/man" && ls -- *.1 | sed 's/\.1$//' | tr '\n' ' ')
if [ -n "$stop" ]; then
	skip="skip $stop"
elif [ -z "$install_rc" ]; then
	skip="skip README.md has no make install line"
elif [ "$install_rc" != 0 ]; then
	skip="skip make install failed"
else
	skip=
fi
# check DESCRIPTION COMMAND... - a TAP line for COMMAND, its output as
# comments
check() {
	desc=$1
	shift
	if [ -n "$skip" ]; then
		tap ok "$desc" "$skip"
		return
	fi
	logged "check$((n + 1))" "$@"
	if [ "$rc" = 0 ]; then tap ok "$desc"; else tap not-ok "$desc"; fi
}

installed_tools() {
	r=0
	for t in $tools; do
		[ -x "$root/usr/local/bin/$t" ] && continue
		echo "missing: /usr/local/bin/$t"
		r=1
	done
	return $r
}
# shellcheck disable=SC2086
check "make install installed every tool ($(echo $tools | wc -w))" \
    installed_tools

installed_man() {
	r=0
	for p in "$root$CLONE"/man/*.[1-9]; do
		p=${p##*/}
		f=/usr/local/share/man/man${p##*.}/$p
		[ -f "$root$f" ] && continue
		echo "missing: $f"
		r=1
	done
	return $r
}
check "make install installed every man page ($(ls "$root$CLONE"/man/*.[1-9] |
    wc -l))" installed_man

# The completions, as each shell finds them by itself: bash through
# bash-completion's loader in a login shell (/etc/profile.d loads it), zsh
# through compinit and its fpath, fish through its vendor directories.
bash_finds() {
	# shellcheck disable=SC2016,SC2086
	in_root 60 /bin/bash -lic '
	if ! type _completion_loader >/dev/null 2>&1; then
		echo "no _completion_loader in a login shell: bash-completion is not installed"
		exit 1
	fi
	r=0
	for t; do
		_completion_loader "$t" >/dev/null 2>&1
		complete -p "$t" 2>/dev/null || { echo "$t: no completion"; r=1; }
	done
	exit $r' bash $tools >"$work/bash.out" 2>&1
	r=$?
	# an interactive bash without a terminal says so: no news
	grep -v -e 'cannot set terminal process group' -e 'no job control' \
	    "$work/bash.out"
	return $r
}
check "bash finds the completions of every tool" bash_finds

zsh_finds() {
	[ -x "$root/usr/bin/zsh" ] || { echo "zsh is not installed"; return 1; }
	# shellcheck disable=SC2016,SC2086
	in_root 60 zsh -fc 'autoload -Uz compinit && compinit || exit
	r=0
	for t; do
		if [[ -n $_comps[$t] ]]; then
			print -r -- "$t: $_comps[$t]"
		else
			print -r -- "$t: no completion"
			r=1
		fi
	done
	exit $r' zsh $tools
}
check "zsh finds the completions of every tool" zsh_finds

fish_finds() {
	[ -x "$root/usr/bin/fish" ] || { echo "fish is not installed"; return 1; }
	# shellcheck disable=SC2016,SC2086
	in_root 60 fish -c 'set r 0
	for t in $argv
		set opts (complete -C "$t -")
		if test (count $opts) -gt 0
			echo "$t: "(count $opts)" options"
		else
			echo "$t: no completion"
			set r 1
		end
	end
	exit $r' $tools
}
check "fish finds the completions of every tool" fish_finds

# --- a user who is not root ---------------------------------------------------

# By now the build's packages are installed; the user clones into their
# home and runs make demo.
nonroot_demo() {
	in_root 60 useradd -m -s /bin/bash "$NONROOT" || return
	as_user 600 /bin/bash -lc "cd &&
	    GIT_CONFIG_GLOBAL=$gitconfig git clone -q $src mq &&
	    cd mq && make demo"
}
if [ -n "$stop" ]; then
	tap ok "make demo as a user who is not root" "skip $stop"
else
	say "as $NONROOT: git clone $src ~/mq && cd ~/mq && make demo"
	start=$(date +%s)
	logged nonroot nonroot_demo
	say "make demo as $NONROOT: $(($(date +%s) - start)) s, exit $rc"
	if [ "$rc" = 0 ]; then
		tap ok "make demo as a user who is not root"
	else
		tap not-ok "make demo as a user who is not root"
	fi
fi
finish
