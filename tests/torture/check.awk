# check.awk - the accounting of a torture or power-loss run, from the logs
# of lib.sh (records described there) and these:
#   kill R PID COMM                   the killer sent SIGKILL to PID
#   wexit work INST RC                mq-work instance INST exited RC
#   spool STATE ID ATTEMPT P SEQ OK|BAD END   a message left in the spool
#                                     (STATE dead-REASON for dead ones)
#   tmp NAME SIZE                     a file left in tmp/
# and the standard error of each mq-work -v, in files named w.INST.err.
#
# -v mode=torture (default): a message is a pair "P SEQ".  After the run
# and the drain, each message whose put returned 0 must have been processed
# or still be in the spool (lost), every body read must be the one its
# producer wrote (corrupt), and a message must be acked at most once and
# be in the spool only if it was never acked; a message processed more
# than once needs a delivery that did not end in an ack: its mq-ack or
# mq-work was killed, its job was killed (nacked) or its lease ran out
# (unexplained otherwise).
#
# -v mode=powerloss: the logs of the producers and of the consumer before
# the cut, and of the drain of the recovered spool.  Each acknowledged
# message must come out of the drain, byte for byte, unless the consumer
# processed it before the cut (its mq-ack may have been under way); a
# message acked before the cut that comes out again is counted
# (reappeared), as is one that comes out twice (doubled, an error).
#
# Prints "name value" lines; the caller formats them.
function key(p, s) { return p " " s }

# the message an id stands for, or ""
function idkey(id) {
	if (id in putid)
		return putid[id]
	if (id in seenid)
		return seenid[id]
	return ""
}

function settle(id, inst, what) {
	nset++
	sid[nset] = id
	sinst[nset] = inst
	swhat[nset] = what
}

function bad(what) {
	unexplained++
	if (nbad++ < 20)
		print "error " what
}

FILENAME ~ /(^|\/)w\.[^\/]*\.err$/ {
	# mq-work -v: "mq-work: ID acked", "mq-work: ID: lease lost"
	inst = FILENAME
	sub(/^(.*\/)?w\./, "", inst)
	sub(/\.err$/, "", inst)
	if (NF == 3 && $3 ~ /^(acked|nacked|dead)$/)
		settle($2, inst, $3)
	else if ($0 ~ /: lease lost$/) {
		id = $2
		sub(/:$/, "", id)
		settle(id, inst, "lost")
	} else {
		werr++
		print "error mq-work " inst ": " $0
	}
	next
}
$1 == "put" && NF == 4 {
	k = key($2, $3)
	if (!(k in acked_put))
		nacked_put++
	acked_put[k] = 1
	putid[$4] = k
	next
}
$1 == "putfail" {
	putfails++
	putfail_msgs += $5
	if ($4 != 137)
		bad("mq-put exit " $4)
	next
}
$1 == "proc" && NF == 9 && $9 == "END" {
	n++
	pkind[n] = $2; pinst[n] = $3; pid[n] = $4; patt[n] = $5
	pp[n] = $6; ps[n] = $7; pok[n] = $8
	if ($6 != "-")
		seenid[$4] = key($6, $7)
	next
}
$1 == "proc" { torn++; next }	# a job killed while it logged
$1 == "ack" { nack++; aid[nack] = $4; akind[nack] = $2; next }
$1 == "ackfail" {
	nfail++; fid[nfail] = $4; frc[nfail] = $5
	if ($5 != 1 && $5 != 137)
		bad("mq-ack exit " $5 " for " $4)
	next
}
$1 == "getfail" {
	if ($4 != 137)
		bad("mq-get exit " $4)
	next
}
$1 == "wexit" {
	wrc[$3] = $4
	# 143: the SIGTERM that stops a round came before mq-work had set
	# its handler, so before it claimed anything (a loaded machine)
	if ($4 != 0 && $4 != 137 && $4 != 143)
		bad("mq-work " $3 " exit " $4)
	next
}
$1 == "spool" && NF == 8 {
	ns++; sstate[ns] = $2; spid[ns] = $3; satt[ns] = $4
	spp[ns] = $5; sps[ns] = $6; sok[ns] = $7
	if ($5 != "-")
		seenid[$3] = key($5, $6)
	next
}
$1 == "badbody" {
	if (nbadbody++ < 5)
		print "error body of " $4 ": " $5 " bytes, its name says " $6
	next
}
$1 == "kill" {
	kills++
	killed[$4]++
	killround[$2] = 1
	next
}
$1 == "tmp" { debris++; debris_bytes += $3; tmpid[$2] = 1; next }
{ bad("unknown record: " $0) }

END {
	# deliveries: which message each was, and whether it was intact
	for (i = 1; i <= n; i++) {
		k = pp[i] == "-" ? "" : key(pp[i], ps[i])
		if (pid[i] in putid) {
			if (k != "" && k != putid[pid[i]])
				pok[i] = "BAD"	# another message's body
			k = putid[pid[i]]
		}
		if (pok[i] != "OK") {
			corrupt++
			if (nbad++ < 20)
				print "error corrupt: " pkind[i] " " pid[i] " (" pp[i] " " ps[i] ")"
		}
		if (k == "")
			continue
		seen[k] = 1
		if (patt[i] > maxatt[k])
			maxatt[k] = patt[i]
		if (pkind[i] == "drain")
			drained[k]++
		else
			live[k]++
		if (pkind[i] == "work")
			wproc[pinst[i] SUBSEP k]++
		deliveries++
	}
	for (i = 1; i <= ns; i++) {
		k = spp[i] == "-" ? idkey(spid[i]) : key(spp[i], sps[i])
		if (sok[i] != "OK" || (spid[i] in putid && putid[spid[i]] != k)) {
			corrupt++
			print "error corrupt: " sstate[i] " " spid[i]
		}
		if (k == "")
			continue
		seen[k] = 1
		left[k]++
		leftstate[sstate[i]]++
		if (satt[i] > maxatt[k])
			maxatt[k] = satt[i]
		if (sstate[i] !~ /^dead/)
			stuck++
	}
	for (i = 1; i <= nack; i++)
		if ((k = idkey(aid[i])) != "") {
			acks[k]++
			if (akind[i] != "drain")
				liveacks[k]++
		}
	for (i = 1; i <= nfail; i++)
		if ((k = idkey(fid[i])) != "") {
			interrupted[k]++
			if (frc[i] == 137) {
				killedack[k]++
				bykill[k]++
			} else
				bylease[k]++
		}
	for (i = 1; i <= nset; i++) {
		if ((k = idkey(sid[i])) == "")
			continue
		settled[sinst[i] SUBSEP k]++
		if (swhat[i] == "acked")
			acks[k]++
		else if (swhat[i] == "nacked") {
			interrupted[k]++
			bykill[k]++
		} else if (swhat[i] == "lost") {
			interrupted[k]++
			bylease[k]++
		}
	}
	# a processed job of a killed mq-work may have been acked or not
	for (ik in wproc) {
		split(ik, x, SUBSEP)
		u = wproc[ik] - settled[ik]
		if (u <= 0)
			continue
		if (wrc[x[1]] == 137) {
			interrupted[x[2]] += u
			killedack[x[2]] += u
			bykill[x[2]] += u
		} else
			bad("mq-work " x[1] " did not settle " x[2])
	}
	for (k in acked_put)
		seen[k] = 1
	# a body left in tmp/ must not be the twin of a published message,
	# and is one of a killed mq-put
	for (id in tmpid)
		if (idkey(id) != "")
			bad("tmp/" id " was also published")
	if (mode != "powerloss" && debris > putfail_msgs)
		bad(debris " files in tmp/, from killed puts of " putfail_msgs)
	for (r in killround)
		killrounds++
	for (k in seen) {
		messages++
		if (maxatt[k] > 1)
			redelivered++
		if (mode == "powerloss") {
			if (k in acked_put && live[k])
				liveacked++
			# processed before the cut: its ack may have been under
			# way, and have reached the disk
			if (k in acked_put && !drained[k] && !live[k])
				lostkey[k] = 1
			if (liveacks[k] && drained[k])
				reappeared++
			if (drained[k] > 1)
				bad("doubled: " k " drained " drained[k] " times")
			if (drained[k] && !(k in acked_put))
				unacknowledged++
			continue
		}
		p = live[k] + drained[k]
		if (!(k in acked_put))
			unacknowledged++
		if (k in acked_put && p == 0 && !left[k])
			lostkey[k] = 1
		if (acks[k] + left[k] > 1)
			bad("acked " acks[k] + 0 " times, left " left[k] + 0 ": " k)
		if (p > 0 && acks[k] + left[k] == 0 && !killedack[k])
			bad("vanished without an ack: " k)
		if (p > 1) {
			duplicates++
			if (p - 1 > interrupted[k])
				bad("processed " p " times, " interrupted[k] + 0 \
				    " interrupted: " k)
			else if (bylease[k] && !bykill[k])
				dup_lease++
			else
				dup_kill++
		}
	}
	for (k in lostkey)
		if (lost++ < 20)
			print "error lost: " k
	for (c in killed)
		killedby = killedby (killedby == "" ? "" : ", ") c " " killed[c]
	for (s in leftstate)
		leftby = leftby (leftby == "" ? "" : ", ") s " " leftstate[s]
	print "messages " messages + 0
	print "acknowledged " nacked_put + 0
	print "putfails " putfails + 0
	print "putfail_msgs " putfail_msgs + 0
	print "deliveries " deliveries + 0
	print "lost " lost + 0
	print "corrupt " corrupt + 0
	print "unexplained " unexplained + 0
	print "redelivered " redelivered + 0
	print "duplicates " duplicates + 0
	print "dup_kill " dup_kill + 0
	print "dup_lease " dup_lease + 0
	print "reappeared " reappeared + 0
	print "liveacked " liveacked + 0
	print "unacknowledged " unacknowledged + 0
	print "kills " kills + 0
	print "killrounds " killrounds + 0
	print "killed " (killedby == "" ? "none" : killedby)
	print "left " (leftby == "" ? "none" : leftby)
	print "stuck " stuck + 0
	print "torn_logs " torn + 0
	print "debris " debris + 0
	print "debris_bytes " debris_bytes + 0
	print "werr " werr + 0
}
