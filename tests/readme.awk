# readme.awk - split README.md into what tests/0010-readme.bats runs and
# compares (see there for the marking convention).  Run as
#	awk -v P=DIR -f readme.awk README.md
# into an empty DIR; it writes there:
#	errors		one line per block that is not marked, or marked
#			with an unknown tag, or not closed, or not fenced
#	sections	"S<tab>title" of each "## " section with runnable
#			blocks, S counting sections from 1
#	sS.script	section S's runnable blocks as one bash script, to
#			run after a header that defines __readme_step and
#			$__readme_out
#	sS.NNN.cmd	console command NNN of section S: its README line,
#			then its text
#	sS.NNN.exp	the output the README shows for it
#	syntax.K	each "sh norun" and "sh fresh" block, for bash -n
#	crontab		"LINE<tab>TEXT" of each line of a crontab block,
#			its opening fence included
# The awk is plain POSIX awk (Debian's default is mawk).

function err(msg) {
	print "README.md:" NR ": " msg > (P "/errors")
}

function script(s) {
	if (!(s in runnable))
		runnable[s] = 1
	return P "/s" s ".script"
}

# flush: write the pending console command into the section's script
function flush() {
	if (cmd == "")
		return
	f = script(sec)
	print "__readme_step " cmdline > f
	print "{ " cmd > f
	print "} >\"$__readme_out/s" sec "." num "\" 2>&1; " \
	    "echo $? >\"$__readme_out/s" sec "." num ".rc\"" > f
	cmd = ""
}

BEGIN {
	sec = 0
	inblk = 0
	nblk = 0
	nfresh = 0
	nsyn = 0
	printf "" > (P "/errors")
	printf "" > (P "/sections")
	printf "" > (P "/crontab")
}

{
	# the line before this one, for indented code blocks
	prev = cur
	cur = $0
}

!inblk && /^## / {
	sec++
	title[sec] = substr($0, 4)
	next
}

# blocks this test would not see: fences that are indented or of tildes,
# and code blocks made by indenting after an empty line
!inblk && (/^[ \t]+```/ || /^[ \t]*~~~/) {
	err("a fence that is indented or of ~~~: use ``` at the start of the line")
	next
}

!inblk && /^(    |\t)/ && prev ~ /^[ \t]*$/ {
	err("a code block made by indenting: use a marked ``` fence")
}

!inblk && /^```/ {
	info = substr($0, 4)
	sub(/[ \t]+$/, "", info)
	inblk = 1
	start = NR
	nblk++
	kind = info
	if (info == "") {
		err("a block without a tag (console, sh, sh norun, sh fresh, text or crontab)")
		kind = "bad"
	} else if (info != "console" && info != "sh" && info != "sh norun" &&
	    info != "sh fresh" && info != "text" && info != "crontab") {
		err("a block marked \"" info "\", not console, sh, sh norun, sh fresh, text or crontab")
		kind = "bad"
	}
	if (kind == "sh fresh") {
		nfresh++
		if (nblk != 1)
			err("the sh fresh block is not the first block")
	}
	if (kind == "sh") {
		f = script(sec)
		print "__readme_step " NR > f
		print "set -e" > f
	}
	if (kind == "sh norun" || kind == "sh fresh") {
		nsyn++
		syn = P "/syntax." nsyn
		print "# README.md:" NR ": " info > syn
	}
	if (kind == "crontab")
		print NR "\t" $0 > (P "/crontab")
	cmd = ""
	havecmd = 0
	cont = 0
	next
}

inblk && /^```[ \t]*$/ {
	if (kind == "console")
		flush()
	if (kind == "sh")
		print "set +e" > script(sec)
	if (kind == "sh norun" || kind == "sh fresh")
		close(syn)
	if (kind == "console" && !havecmd)
		err("a console block without a command")
	inblk = 0
	next
}

inblk && kind == "console" {
	if (cont) {
		cmd = cmd "\n" $0
		printf "\n%s", $0 > cmdf
		cont = /\\$/
		next
	}
	if (/^\$ /) {
		flush()
		if (expf != "")
			close(expf)
		if (cmdf != "")
			close(cmdf)
		n[sec]++
		num = sprintf("%03d", n[sec])
		cmdline = NR
		cmd = substr($0, 3)
		cmdf = P "/s" sec "." num ".cmd"
		expf = P "/s" sec "." num ".exp"
		printf "%d\n%s", NR, cmd > cmdf
		printf "" > expf
		havecmd = 1
		cont = /\\$/
		next
	}
	if (!havecmd) {
		err("output before the first command of a console block")
		next
	}
	print > expf
	next
}

inblk && kind == "sh" {
	print > script(sec)
	next
}

inblk && (kind == "sh norun" || kind == "sh fresh") {
	print > syn
	next
}

inblk && kind == "crontab" {
	print NR "\t" $0 > (P "/crontab")
	next
}

END {
	if (inblk)
		err("the block from line " start " is not closed")
	if (nfresh != 1)
		err(nfresh " sh fresh blocks, not 1")
	for (s = 1; s <= sec; s++)
		if (s in runnable)
			print s "\t" title[s] > (P "/sections")
}
