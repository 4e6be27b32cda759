#!/usr/bin/env bats
# The tools, their man pages and their shell completions agree.
load test_helper
bats_require_minimum_version 1.5.0

ROOT=$(cd "$BATS_TEST_DIRNAME/.." && pwd)

# tools - the tools, one per cmd/mq-*.c
tools() {
	local f
	for f in "$ROOT"/cmd/mq-*.c; do
		f=${f##*/}
		echo "${f%.c}"
	done
}

# letters TOOL - the option letters of TOOL's usage line (TOOL -h): each
# letter of "[-0l]", "[-d dir]", "[-D delay | -A time]", "-s state"
letters() {
	"$1" -h 2>&1 | grep -o '\(^\|[[ |]\)-[0-9A-Za-z]\+' |
	    sed 's/^[[ |]*-//' | fold -w1 | sort -u
}

# completions TOOL - what the bash completion offers after "TOOL -"
completions() {
	(
		# shellcheck source=/dev/null
		source "$ROOT/completions/mq.bash"
		COMP_WORDS=("$1" -)
		COMP_CWORD=1
		COMPREPLY=()
		_mq "$1" - "$1"
		printf '%s\n' "${COMPREPLY[@]}"
	)
}

@test "meta: there are tools, and each has a binary" {
	[ "$(tools | wc -l)" -ge 10 ]
	for t in $(tools); do
		[ -x "$MQ_BIN/$t" ] || {
			echo "no binary $MQ_BIN/$t"
			return 1
		}
	done
}

@test "meta: mandoc -Tlint -Wwarning man/* prints nothing" {
	command -v mandoc >/dev/null || skip "no mandoc"
	compgen -G "$ROOT/man/*.[1-9]" >/dev/null || skip "no man pages yet"
	cd "$ROOT"
	run mandoc -Tlint -Wwarning man/*
	echo "$output"
	[ -z "$output" ]
}

@test "meta: every tool has a man page man/TOOL.1" {
	missing=
	for t in $(tools); do
		[ -f "$ROOT/man/$t.1" ] || missing="$missing $t.1"
	done
	echo "missing:$missing"
	[ -z "$missing" ]
}

@test "meta: the usage lines are parsed (sanity check of this test)" {
	[ "$(letters mq-put | tr -d '\n')" = "$(printf '%s\n' 0 A D H P T d g k l p r | sort -u | tr -d '\n')" ]
	[ "$(letters mq-purge | tr -d '\n')" = ds ]
	[ "$(letters mq-ack | tr -d '\n')" = d ]
}

@test "meta: every option letter of a usage line is documented as Fl x" {
	bad=
	for t in $(tools); do
		page=$ROOT/man/$t.1
		[ -f "$page" ] || continue # reported by the test above
		for x in $(letters "$t"); do
			grep -Eq "(^|[[:space:].])Fl $x([[:space:]]|$)" "$page" ||
			    bad="$bad $t:-$x"
		done
	done
	echo "undocumented:$bad"
	[ -z "$bad" ]
}

@test "meta: every man page documents -h and -V" {
	bad=
	for t in $(tools); do
		page=$ROOT/man/$t.1
		[ -f "$page" ] || continue
		for x in h V; do
			grep -Eq "^\.It Fl $x([[:space:]]|$)" "$page" || bad="$bad $t:-$x"
		done
	done
	echo "undocumented:$bad"
	[ -z "$bad" ]
}

@test "meta: completions/mq.bash is registered for every tool" {
	line=$(grep '^complete ' "$ROOT/completions/mq.bash")
	for t in $(tools); do
		[[ " $line " == *" $t "* ]] || {
			echo "not completed: $t"
			return 1
		}
	done
}

@test "meta: every option letter of a usage line is offered by completions/mq.bash" {
	bad=
	for t in $(tools); do
		offered=$(completions "$t")
		for x in $(letters "$t") h V; do
			grep -qx -- "-$x" <<<"$offered" || bad="$bad $t:-$x"
		done
		# and nothing the tool does not take
		for o in $offered; do
			[[ $o == --* ]] && continue	# long forms of letters
			x=${o#-}
			[ "$x" = h ] || [ "$x" = V ] || letters "$t" | grep -qx -- "$x" ||
			    bad="$bad $t:extra$o"
		done
	done
	echo "mismatch:$bad"
	[ -z "$bad" ]
}

# longopts TOOL - whether TOOL takes long options (its page has Fl \-word)
longopts() {
	grep -q 'Fl \\-[a-z]' "$ROOT/man/$1.1"
}

@test "meta: the tools checked include the bridge (sanity check of this test)" {
	tools | grep -qx mq-forward
	tools | grep -qx mq-recv
	longopts mq-work
	longopts mq-forward
	longopts mq-recv
	! longopts mq-get
}

@test "issue 11: -h printed the usage on stderr and exited 64: now stdout and 0, for every tool" {
	for t in $(tools); do
		run --separate-stderr "$t" -h
		[ "$status" -eq 0 ] || {
			echo "$t -h: status $status"
			return 1
		}
		[[ "$output" == "usage: $t "* ]] || {
			echo "$t -h: stdout: $output"
			return 1
		}
		[ -z "$stderr" ] || {
			echo "$t -h: stderr: $stderr"
			return 1
		}
	done
}

@test "issue 11: --help is -h for every tool that takes long options" {
	for t in $(tools); do
		longopts "$t" || continue
		h=$("$t" -h)
		run --separate-stderr "$t" --help
		[ "$status" -eq 0 ] && [ "$output" = "$h" ] && [ -z "$stderr" ] || {
			echo "$t --help: status $status, stdout: $output, stderr: $stderr"
			return 1
		}
	done
}

@test "issue 11: -h to a full or closed stdout fails with a message, for every tool" {
	for t in $(tools); do
		for to in '>/dev/full' '>&-'; do
			run --separate-stderr bash -c "\"\$1\" -h $to" - "$t"
			[ "$status" -eq 74 ] && [[ "$stderr" == "$t: stdout: "* ]] || {
				echo "$t -h $to: status $status, stderr: $stderr"
				return 1
			}
		done
	done
}

@test "meta: every tool exits 64 with its usage on stderr, nothing on stdout, on an unknown option" {
	for t in $(tools); do
		for bad in -Y -@; do
			run --separate-stderr "$t" "$bad"
			[ "$status" -eq 64 ] && [ -z "$output" ] &&
			    [[ "$stderr" == *"usage: $t "* ]] || {
				echo "$t $bad: status $status, stdout: $output, stderr: $stderr"
				return 1
			}
			# the same usage text as -h prints
			u=$(sed -n '/^usage: /,$p' <<<"$stderr")
			[ "$u" = "$("$t" -h)" ] || {
				echo "$t $bad: usage differs from -h: $u"
				return 1
			}
		done
	done
}

@test "meta: every tool prints TOOL 0.1.0 on -V and exits 0" {
	for t in $(tools); do
		run --separate-stderr "$t" -V
		[ "$status" -eq 0 ] || {
			echo "$t -V: status $status"
			return 1
		}
		[ "$output" = "$t 0.1.0" ]
		[ -z "$stderr" ]
	done
}

@test "meta: -V to a full stdout fails with a message, for every tool" {
	for t in $(tools); do
		run --separate-stderr bash -c '"$1" -V >/dev/full' - "$t"
		[ "$status" -eq 74 ] && [[ "$stderr" == "$t: stdout: "* ]] || {
			echo "$t -V >/dev/full: status $status, stderr: $stderr"
			return 1
		}
	done
}

@test "meta: every tool takes -d DIR" {
	for t in $(tools); do
		letters "$t" | grep -qx d || {
			echo "$t: no -d"
			return 1
		}
	done
}

@test "meta: make install puts tools, pages and completions under DESTDIR" {
	root=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
	d=$BATS_TEST_TMPDIR/dest
	run make -s -C "$root" install O="$(dirname "$MQ_BIN")" DESTDIR="$d" PREFIX=/usr
	[ "$status" -eq 0 ]
	for t in "$root"/cmd/mq-*.c; do
		t=$(basename "$t" .c)
		[ -x "$d/usr/bin/$t" ]
		[ -f "$d/usr/share/man/man1/$t.1" ]
		[ -f "$d/usr/share/bash-completion/completions/$t" ]
		[ -f "$d/usr/share/fish/vendor_completions.d/$t.fish" ]
	done
	[ -f "$d/usr/share/man/man7/mq.7" ]
	[ -f "$d/usr/share/man/man5/mq.conf.5" ]
	[ -f "$d/usr/share/zsh/site-functions/_mq" ]
	# the installed tools work
	echo hi | MQ_SPOOL=$BATS_TEST_TMPDIR/s "$d/usr/bin/mq-put" q
	h=$(MQ_SPOOL=$BATS_TEST_TMPDIR/s "$d/usr/bin/mq-get" q)
	[ "$(cat "$h")" = hi ]
}

@test "meta: make install under /usr/local makes fish find the completions, under /usr it needs nothing" {
	command -v fish >/dev/null || skip "fish is not installed"
	root=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
	d=$BATS_TEST_TMPDIR/dest
	run make -s -C "$root" install O="$(dirname "$MQ_BIN")" DESTDIR="$d/usr" PREFIX=/usr
	[ "$status" -eq 0 ]
	[ ! -e "$d/usr/etc/fish" ]
	run make -s -C "$root" install O="$(dirname "$MQ_BIN")" DESTDIR="$d/local" PREFIX=/usr/local
	[ "$status" -eq 0 ]
	f=$d/local/etc/fish/conf.d/mq.fish
	grep -q '^set -l d /usr/local/share/fish/vendor_completions.d$' "$f"
	# the snippet, pointed at the DESTDIR copy, is what makes fish find
	# them: without it fish completes no option of mq-put
	sed "s|^set -l d /usr/local|set -l d $d/local/usr/local|" "$f" >"$d/mq.fish"
	run env -i HOME="$d" PATH="$d/local/usr/local/bin:/usr/bin:/bin" fish -c 'complete -C "mq-put -"'
	[[ "$output" != *"-k	"* ]]
	run env -i HOME="$d" PATH="$d/local/usr/local/bin:/usr/bin:/bin" fish -c \
	    'source $argv[1]; complete -C "mq-put -"' "$d/mq.fish"
	[ "$status" -eq 0 ]
	[[ "$output" == *"-k	"* ]]
	# fish's own completions stay behind the user's and ahead of ours
	run env -i HOME="$d" PATH="$d/local/usr/local/bin:/usr/bin:/bin" fish -c \
	    'source $argv[1]; source $argv[1]; string join \n -- $fish_complete_path' "$d/mq.fish"
	[ "$(printf '%s\n' "$output" | grep -c vendor_completions.d)" -ge 1 ]
	[ "$(printf '%s\n' "$output" | grep -cx "$d/local/usr/local/share/fish/vendor_completions.d")" -eq 1 ]
	[ "$(printf '%s\n' "$output" | grep -n "$d/local/usr/local" | cut -d: -f1)" -lt \
	    "$(printf '%s\n' "$output" | grep -nx '/usr/share/fish/completions' | cut -d: -f1)" ]
}

@test "meta: the demo runs in a spool of its own and ships the fixed order" {
	root=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
	export MQ_SPOOL=$BATS_TEST_TMPDIR/default TMPDIR=$BATS_TEST_TMPDIR
	run env MQ_BIN="$MQ_BIN" sh "$root/mk/demo.sh"
	[ "$status" -eq 0 ]
	# nothing in the spool a user would otherwise see
	[ ! -e "$MQ_SPOOL" ]
	spool=$(printf '%s\n' "$output" | sed -n "s|^== the demo's spool: \([^ ]*\) .*|\1|p")
	[ -d "$spool/orders" ]
	[[ "$spool" == "$BATS_TEST_TMPDIR"/mq-demo.*/spool ]]
	# every order shipped once, order 902 only after the fix
	[ "$(printf '%s\n' "$output" | grep -c ': shipped order ')" -eq 30 ]
	for n in $(seq 1 27) 900 901 902; do
		[ "$(printf '%s\n' "$output" | grep -c ": shipped order $n\$")" -eq 1 ]
	done
	[ "$(printf '%s\n' "$output" | grep -c ': order 902: no article 4711$')" -eq 5 ]
	printf '%s\n' "$output" | sed -n '/^== the fix/,$p' | grep -q 'shipped order 902$'
	[ "$(printf '%s\n' "$output" | tail -n 2 | head -n 1)" = \
	    "orders       0       0        0      0      0      0        0      -          0" ]
	[ -z "$(find "$spool/orders" -type f ! -name lock)" ]
}

# raw_opens DIR - the calls in DIR/lib/*.c and DIR/cmd/*.c that open a file
# by name without lib/open.c, as FILE:CODE (the line, trimmed), comments
# left out; "mq_openat(" and "fdopen(" are not among them
raw_opens() {
	(
		cd "$1" &&
		    grep -HE '(^|[^A-Za-z0-9_])(open|openat|openat2|open64|openat64|fopen|freopen|creat|opendir)[[:space:]]*\(' \
		    lib/*.c cmd/*.c
	) | grep -v '^lib/open\.c:' |
	    sed 's/^\([^:]*\):[[:space:]]*/\1:/' |
	    grep -vE '^[^:]*:(/?\*|//)' || true
}

# The opens that do not go through lib/open.c, each with why: none of
# them names a file of the spool.
OPEN_ALLOWED='cmd/mq-put.c:if ((fd = open(argv[i], O_RDONLY | O_CLOEXEC)) == -1) {
cmd/amqp.c:} else if ((fd = open(file, O_RDONLY | O_CLOEXEC)) == -1)
cmd/tool.c:if (fd == -1 && (fd = open("/dev/null", flags | O_CLOEXEC)) == -1)'
# - mq-put's FILE operands: the user's own input, which may be a pipe
#   (mq-put q <(cmd)) or reached through a link;
# - amqp.c, -P FILE on the command line: the user's own password file,
#   which may be a pipe too (-P <(pass show amqp)); a password_file named
#   by a configuration goes through mq_openat;
# - tool.c: /dev/null, the standard input of mq-work's batch commands and
#   mq-resolve's checkers (mq_openat opens regular files only).

@test "issue 12: every open of a file in lib/ and cmd/ goes through lib/open.c, but an allowed few" {
	got=$(raw_opens "$ROOT")
	bad=$(printf '%s\n' "$got" | grep -vxF "$OPEN_ALLOWED" || true)
	[ -z "$bad" ] || {
		echo "opens that bypass mq_openat/mq_opendirat (lib/open.c):"
		echo "$bad"
		return 1
	}
	# and the list names nothing that is gone
	while IFS= read -r a; do
		printf '%s\n' "$got" | grep -qxF "$a" || {
			echo "allowed, but no longer there: $a"
			return 1
		}
	done <<<"$OPEN_ALLOWED"
}

@test "issue 12: a raw openat added to lib/ or cmd/ is caught (sanity check of the test above)" {
	d=$BATS_TEST_TMPDIR/src
	mkdir "$d"
	cp -R "$ROOT/lib" "$ROOT/cmd" "$d/"
	[ -z "$(raw_opens "$d" | grep -vxF "$OPEN_ALLOWED")" ]
	printf '\nint\nx(int d)\n{\n\treturn openat(d, "mq.conf", O_RDONLY);\n}\n' >>"$d/lib/put.c"
	printf '\t\tfd = open(handle, O_RDONLY);\n' >>"$d/cmd/mq-work.c"
	printf '\tf = fopen(path, "r");\n' >>"$d/lib/conf.c"
	run raw_opens "$d"
	bad=$(printf '%s\n' "$output" | grep -vxF "$OPEN_ALLOWED")
	echo "$bad"
	[ "$(printf '%s\n' "$bad" | wc -l)" -eq 3 ]
	[[ "$bad" == *'lib/put.c:return openat(d, "mq.conf", O_RDONLY);'* ]]
	[[ "$bad" == *'cmd/mq-work.c:fd = open(handle, O_RDONLY);'* ]]
	[[ "$bad" == *'lib/conf.c:f = fopen(path, "r");'* ]]
}

# issue 13: lib/ by layers (lib/README), read from the objects' symbols
layer_objs() {
	objs=$(dirname "$MQ_BIN")/lib
	[ -e "$objs/queue.o" ] || skip "no objects of lib/ beside $MQ_BIN"
}

@test "issue 13: no file of lib/ calls a file of a layer above its own (lib/README, mk/layers.sh)" {
	layer_objs
	run sh "$ROOT/mk/layers.sh" "$objs"
	echo "$output"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
}

@test "issue 13: a call up a layer, or a file in no layer, is caught (sanity check of the test above)" {
	layer_objs
	# the layers upside down: every call between files is a call up
	awk '/^layer [0-9]+:/ { $2 = (4 - $2) ":" } { print }' \
	    "$ROOT/lib/README" >"$BATS_TEST_TMPDIR/README"
	LAYERS_README=$BATS_TEST_TMPDIR/README run sh "$ROOT/mk/layers.sh" "$objs"
	[ "$status" -eq 1 ]
	[[ "$output" == *"putter (layer 0) calls admit of admit (layer 1)"* ]]
	grep -v '^layer 2:' "$ROOT/lib/README" >"$BATS_TEST_TMPDIR/README"
	LAYERS_README=$BATS_TEST_TMPDIR/README run sh "$ROOT/mk/layers.sh" "$objs"
	[ "$status" -eq 1 ]
	[[ "$output" == *"move: in no layer of lib/README"* ]]
}

@test "issue 13: the layout is spelled in lib/layout.c alone: no other file of lib/ names a state or entry" {
	bad=$(grep -nE '"(ready|delayed|inflight|dead|held|keys|groups|subs|quarantine|tmp|lock|paused|mq\.conf)[/"]|%s/(inflight|held|ready|delayed|dead)/' \
	    "$ROOT"/lib/*.c | grep -v "^$ROOT/lib/layout.c:" |
	    grep -vE '^[^:]+:[0-9]+:\s*(/?\*|//)' || true)
	[ -z "$bad" ] || { echo "$bad"; return 1; }
}

@test "meta: tests/README.md names every bats file, and only files that exist; test names are unique" {
	cd "$ROOT/tests"
	bad=
	for f in *.bats; do
		grep -qF "\`$f\`" README.md || bad="$bad unmapped:$f"
	done
	for f in $(grep -o '`[0-9]\{4\}-[^`]*\.bats`' README.md | tr -d '`' | sort -u); do
		[ -f "$f" ] || bad="$bad gone:$f"
	done
	dup=$(grep -h '^@test ' ./*.bats | sort | uniq -d)
	echo "README.md:$bad"
	echo "names twice: $dup"
	[ -z "$bad" ] && [ -z "$dup" ]
}
