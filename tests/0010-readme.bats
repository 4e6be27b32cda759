#!/usr/bin/env bats
# The README's examples, tested as written: a README that drifts from the
# tools fails here.
#
# The first word of a fence's info string says what a block is (GitHub
# shows it as the language, so a reader does not mind it):
#   console   runnable: a line starting with "$ " is a command; the lines
#             after it, up to the next "$ " line, are its output, compared
#             with what it prints (standard output and error) and it must
#             exit 0 (a command that fails shows it, "...; echo $?")
#   sh        a runnable script whose output the README does not show: it
#             runs under set -e, and must get to its end
#   sh norun  shell that cannot run in a test (a service, a broker): only
#             parsed, with bash -n
#   sh fresh  the README's first lines, run by make fresh (mk/fresh.sh) on
#             a fresh root; here only parsed, and it must be the first block
#   crontab   crontab lines: checked to be crontab lines, not run
#   text      anything else (a diagram, a layout, output of a long run)
# A block with no tag, or another, fails; so does a section with runnable
# blocks and no test of its own below.
#
# Each "## " section's runnable blocks run in order in one bash (state
# carries from block to block), in a spool of their own ($MQ_SPOOL, with an
# empty $MQ_CONF, as in every test), and then all sections in order in one
# spool and one shell, as a reader following the README top to bottom.
# The shell's current directory holds the files the examples read
# (order-1042.json, invoice-1042.pdf, reminder.eml) and, first in PATH, a
# stub of the one program they run that is not mq's: process (reads its
# input and succeeds).  Compared exactly, except what varies from run to
# run: the spool's path (the README shows root's, /var/spool/mq), message
# ids (numbered by first appearance in a section, so an id the README shows
# twice must be printed twice), the claim tokens of handles, and the OLDEST
# column of mq-stat's tables.
load test_helper
bats_require_minimum_version 1.5.0

ROOT=$(cd "$BATS_TEST_DIRNAME/.." && pwd)

# split README DIR - README cut into the pieces of readme.awk
split() {
	mkdir -p "$2"
	awk -v P="$2" -f "$BATS_TEST_DIRNAME/readme.awk" "$1"
}

# workdir DIR - the README shell's current directory: the files the
# examples read, and bin/ with the stubs
workdir() {
	mkdir -p "$1/bin"
	printf '{"order": 1042, "paid": true}\n' >"$1/order-1042.json"
	printf '%%PDF-1.4\n%% invoice 1042\n' >"$1/invoice-1042.pdf"
	printf 'Subject: your order\n\nWe will call you back.\n' >"$1/reminder.eml"
	printf '#!/bin/sh\nexec cat >/dev/null\n' >"$1/bin/process"
	chmod +x "$1/bin/process"
}

# run_sections P OUT WORK S... - run the scripts of sections S..., one
# after another, in one bash in WORK; each console command's output and
# status go to OUT; the status is the shell's
run_sections() {
	local p=$1 out=$2 work=$3 s
	shift 3
	{
		printf '__readme_out=%q\n' "$out"
		# shellcheck disable=SC2016
		echo '__readme_step() { echo "$1" >"$__readme_out/step"; }'
		for s; do
			cat "$p/s$s.script"
		done
	} >"$out/script.bash"
	(
		cd "$work" || exit
		PATH=$work/bin:$PATH timeout -k 5 60 \
		    bash --noprofile --norc "$out/script.bash" </dev/null
	) >"$out/log" 2>&1
}

# transcript P OUT S exp|act - section S's console commands, each after
# its README line, followed by the output the README shows (exp) or that
# it printed (act), with a note when that has no final newline, when the
# command did not exit 0, or was not run
transcript() {
	local c k f rc
	for c in "$1/s$3".*.cmd; do
		[ -e "$c" ] || continue
		k=${c%.cmd}
		printf 'README.md:%s: $ %s\n' "$(head -n 1 "$c")" "$(tail -n +2 "$c")"
		if [ "$4" = exp ]; then
			cat "$k.exp"
			continue
		fi
		f=$2/${k##*/}
		if [ ! -e "$f.rc" ]; then
			echo "[not run]"
			continue
		fi
		cat "$f"
		if [ -s "$f" ] && [ -n "$(tail -c 1 "$f")" ]; then
			printf '\n[no newline at the end]\n'
		fi
		rc=$(cat "$f.rc")
		[ "$rc" = 0 ] || echo "[exit status $rc]"
	done
}

# mask SPOOL - make alike what varies from run to run (see the top)
mask() {
	SPOOL=$1 perl -pe '
		s/\Q$ENV{SPOOL}\E/\/var\/spool\/mq/g if length $ENV{SPOOL};
		s/\b(\d{10}\.\d{6}\.[A-Za-z0-9]{8})\b/"<id" . ($id{$1} ||= ++$n) . ">"/ge;
		s/(<id\d+>(?:,[a-z][0-9a-z]*)*),t[A-Za-z0-9]{6,16}(?![A-Za-z0-9,])/$1,t<token>/g;
		s/^(\S+(?: +\d+){5,})( +\d+[smhd])(?= )/$1 . (" " x (length($2) - 5)) . "<age>"/e;
	'
}

# check P S... - run sections S... of the README split into P, in order in
# one shell and the current spool, and compare what they print with what
# the README shows
check() {
	local p=$1 out=$BATS_TEST_TMPDIR/out work=$BATS_TEST_TMPDIR/work s t
	local rc=0
	shift
	mkdir -p "$out"
	workdir "$work"
	run_sections "$p" "$out" "$work" "$@" || {
		rc=$?
		echo "the README's shell stopped (status $rc) at README.md:$(cat "$out/step" 2>/dev/null), saying:"
		cat "$out/log"
		rc=1
	}
	for s; do
		t=$(awk -F '\t' -v s="$s" '$1 == s { print $2 }' "$p/sections")
		transcript "$p" "$out" "$s" exp | mask "" >"$out/s$s.exp"
		transcript "$p" "$out" "$s" act | mask "$MQ_SPOOL" >"$out/s$s.act"
		diff -u --label "README.md, $t" --label "what the tools printed" \
		    "$out/s$s.exp" "$out/s$s.act" || rc=1
	done
	return "$rc"
}

# section TITLE [README] - test one section of README (default: ours)
section() {
	local p=$BATS_TEST_TMPDIR/readme s
	split "${2:-$ROOT/README.md}" "$p"
	s=$(awk -F '\t' -v t="$1" '$2 == t { print $1 }' "$p/sections")
	[ -n "$s" ] || {
		echo "README.md has no section \"$1\" with runnable blocks"
		return 1
	}
	check "$p" "$s"
}

# table README - each synopsis of README's tool table (the one headed
# "| tool | does |"), one a line
table() {
	perl -ne '
		$in = 1, next if /^\| tool \| does \|$/;
		$in = 0 unless /^\|/;
		next unless $in && /^\| `mq-/;
		s/\\\|/\001/g;
		my $cell = (split /\|/)[1];
		while ($cell =~ /`([^`]+)`/g) {
			(my $s = $1) =~ s/\001/|/g;
			print "$s\n";
		}
	' "$1"
}

# check_table README - every tool has one synopsis in the table, and it is
# its usage (TOOL -h) without [-d dir], which the text after the table
# explains; -h prints on standard error or output, either is taken
check_table() {
	local t syn u bad= seen
	seen=$(table "$1" | awk '{ print $1 }' | sort)
	for t in "$ROOT"/cmd/mq-*.c; do
		t=$(basename "$t" .c)
		[ "$(grep -cx -- "$t" <<<"$seen")" -eq 1 ] ||
		    bad="$bad
$t: $(grep -cx -- "$t" <<<"$seen") rows in the table, not 1"
	done
	while read -r syn; do
		t=${syn%% *}
		[ -f "$ROOT/cmd/$t.c" ] || {
			bad="$bad
$t: in the table, no such tool"
			continue
		}
		u=$("$t" -h 2>&1 | sed '1s/^usage: //' | tr -s ' \t\n' '   ' |
		    sed 's/ $//; s/ \[-d dir\]//')
		[ "$syn" = "$u" ] || bad="$bad
the table: $syn
$t -h:     $u"
	done < <(table "$1")
	[ -z "$bad" ] || {
		echo "$bad"
		return 1
	}
}

@test "readme: every code block is marked with a known tag, and closed" {
	split "$ROOT/README.md" "$BATS_TEST_TMPDIR/p"
	run cat "$BATS_TEST_TMPDIR/p/errors"
	echo "$output"
	[ -z "$output" ]
}

@test "readme: every section with runnable blocks has a test here" {
	split "$ROOT/README.md" "$BATS_TEST_TMPDIR/p"
	cut -f 2 "$BATS_TEST_TMPDIR/p/sections" | sort >"$BATS_TEST_TMPDIR/readme"
	sed -n 's/^[[:space:]]*section "\([^"]*\)"$/\1/p' \
	    "$BATS_TEST_DIRNAME/0010-readme.bats" | sort >"$BATS_TEST_TMPDIR/here"
	diff -u --label README.md --label tests "$BATS_TEST_TMPDIR/readme" \
	    "$BATS_TEST_TMPDIR/here"
}

@test "readme: A tour" {
	section "A tour"
}

@test "readme: Workers, waiting, pausing" {
	section "Workers, waiting, pausing"
}

@test "readme: A bounded queue: the flash sale" {
	section "A bounded queue: the flash sale"
}

@test "readme: Ordered groups" {
	section "Ordered groups"
}

@test "readme: Monitoring" {
	section "Monitoring"
}

@test "readme: Idempotent producers" {
	section "Idempotent producers"
}

@test "readme: Replay after a bad deploy" {
	section "Replay after a bad deploy"
}

@test "readme: Fan-out" {
	section "Fan-out"
}

@test "readme: Headers and request/reply" {
	section "Headers and request/reply"
}

@test "readme: every section in order in one spool and one shell, as a reader follows it" {
	local p=$BATS_TEST_TMPDIR/p
	split "$ROOT/README.md" "$p"
	# shellcheck disable=SC2046
	check "$p" $(cut -f 1 "$p/sections")
}

@test "readme: the sh norun and sh fresh blocks parse as shell" {
	local f bad=
	split "$ROOT/README.md" "$BATS_TEST_TMPDIR/p"
	for f in "$BATS_TEST_TMPDIR/p"/syntax.*; do
		bash -n "$f" 2>&1 || bad="$bad $(head -n 1 "$f")"
	done
	echo "$bad"
	[ -z "$bad" ]
}

@test "readme: crontab blocks are crontab lines, with the tools in cron's PATH" {
	split "$ROOT/README.md" "$BATS_TEST_TMPDIR/p"
	run awk -F '\t' '
		$2 ~ /^```/ { path = 0; n++; next }
		$2 ~ /^[ \t]*(#|$)/ { next }
		$2 ~ /^[A-Za-z_][A-Za-z_0-9]*[ \t]*=/ {
			if ($2 ~ /^PATH[ \t]*=/ && $2 ~ /[=:]\/usr\/local\/bin(:|$)/)
				path = 1
			next
		}
		{
			nf = split($2, w, /[ \t]+/)
			for (i = 1; i <= 5; i++)
				if (i > nf || w[i] !~ /^[0-9*\/,-]+$/) {
					print "README.md:" $1 ": not five time fields and a command"
					next
				}
			if ($2 ~ /(^|[^\\])%/)
				print "README.md:" $1 ": an unescaped %, which cron makes a newline"
			if ($2 ~ /(^|[^a-z])mq-/ && !path)
				print "README.md:" $1 ": mq tools, with no PATH=...:/usr/local/bin before (cron has /usr/bin:/bin)"
		}
		END { if (n == 0) print "no crontab block (sanity check of this test)" }
	' "$BATS_TEST_TMPDIR/p/crontab"
	echo "$output"
	[ -z "$output" ]
}

@test "readme: the tool table gives each tool's usage, less [-d dir]" {
	check_table "$ROOT/README.md"
}

# the checks above can fail

@test "readme: a drifted README fails (sanity check of this test)" {
	local r=$BATS_TEST_TMPDIR/README.md
	# an output line
	sed 's/^customer 43: created$/customer 44: created/' "$ROOT/README.md" >"$r"
	! cmp -s "$r" "$ROOT/README.md"
	run section "Ordered groups" "$r"
	echo "$output"
	[ "$status" -ne 0 ]
	[[ $output == *"-customer 44: created"* ]]
	# the same id shown for a retry that printed another one
	awk '/^\$ mq-put -k order-1042 orders/ && ++n == 2 { print; getline
	    print "1795488699.000000.Zz9Zz9Zz"; next } { print }' \
	    "$ROOT/README.md" >"$r"
	! cmp -s "$r" "$ROOT/README.md"
	run section "Idempotent producers" "$r"
	echo "$output"
	[ "$status" -ne 0 ]
	[[ $output == *"-<id2>"*"+<id1>"* ]]
	# a command that fails without saying so
	sed 's/^\$ mq-ack <claimed$/$ mq-ack <claimed-nowhere/' "$ROOT/README.md" >"$r"
	! cmp -s "$r" "$ROOT/README.md"
	run section "Ordered groups" "$r"
	echo "$output"
	[ "$status" -ne 0 ]
	[[ $output == *"[exit status "* ]]
	# an sh block that fails
	sed 's/| mq-put -l orders$/| mq-put -Y -l orders/' \
	    "$ROOT/README.md" >"$r"
	! cmp -s "$r" "$ROOT/README.md"
	run section "A tour" "$r"
	echo "$output"
	[ "$status" -ne 0 ]
	[[ $output == *"stopped (status 64)"* ]]
}

@test "readme: an unmarked or unfenced block, or a drifted tool table, fails (sanity check of this test)" {
	local r=$BATS_TEST_TMPDIR/README.md
	{
		cat "$ROOT/README.md"
		printf '\n```\nls\n```\n\n```shell\nls\n```\n\n    ls\n'
	} >"$r"
	split "$r" "$BATS_TEST_TMPDIR/p"
	cat "$BATS_TEST_TMPDIR/p/errors"
	[ "$(wc -l <"$BATS_TEST_TMPDIR/p/errors")" -eq 3 ]
	sed 's/^| `mq-work \[-esv\]/| `mq-work [-e]/' "$ROOT/README.md" >"$r"
	! cmp -s "$r" "$ROOT/README.md"
	run check_table "$r"
	echo "$output"
	[ "$status" -ne 0 ]
	[[ $output == *"the table: mq-work [-e]"* ]]
}
