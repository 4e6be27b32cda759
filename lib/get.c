/*
 * get.c - claiming messages.  The consumer that comes by does the upkeep
 * first (upkeep.c), at least once a second, then claims.
 *
 * Invariants:
 * - A claim is one rename from a ready bucket into inflight/ under a new
 *   name carrying a fresh claim token, so two consumers racing for one
 *   message cannot both win, and a handle from an earlier claim never
 *   names the current one.
 * - The lease deadline is the in-flight file's mtime plus the lease in its
 *   name (,l).  The mtime is set, to now, while the lease lock is held
 *   shared; the reclaimer holds it exclusive, so it never sees a claim
 *   between its rename and its mtime.  A fanned-out copy shares its
 *   mtime with other queues: it is only ever raised (set_deadline).
 * - Claiming reads one bucket (plus the list of buckets), whatever the
 *   backlog.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

/*
 * Load the first non-empty bucket in delivery order into q->drain.names.
 * Returns 1 when one was found, 0 when ready/ is empty.
 */
static int
next_bucket(struct mq_queue *q)
{
	char **v;
	size_t n, i;
	int r = 0, fd;

	free_names(q->drain.names, q->drain.nnames);
	q->drain.names = NULL;
	q->drain.nnames = q->drain.inames = 0;
	if (q->drain.fd != -1)
		close(q->drain.fd);
	q->drain.fd = -1;
	if (list_buckets(q, MQ_READY, &v, &n) == -1)
		return -1;
	/* go on after the bucket last read, in delivery order */
	for (i = 0; q->drain.cursor[0] != '\0' && i < n &&
	    bucket_cmp(v[i], q->drain.cursor) <= 0; i++)
		;
	for (; i < n; i++) {
		strlcpy(q->drain.cursor, v[i], sizeof(q->drain.cursor));
		fd = mq_opendirat(q->sfd[MQ_READY], v[i]);
		if (fd == -1)
			continue;
		if (list_names(fd, ".", &q->drain.names, &q->drain.nnames,
		    LN_SORT | LN_FILES) == -1) {
			close(fd);
			r = -1;
			break;
		}
		if (q->drain.nnames > 0) {
			q->drain.fd = fd;
			r = 1;
			break;
		}
		close(fd);
		drop_bucket(q, MQ_READY, v[i]);
	}
	free_names(v, n);
	return r;
}

/*
 * Claim a run of names of the current bucket, as many as the caller said
 * it wants (mq_get_ahead) up to CLAIM_RUN, under one hold of the lease and
 * queue locks.  Each claim is still its own rename, so racing consumers
 * split a bucket name by name.  Returns the number claimed (0: the next
 * name was not ours or was lost to a race), -1 on error.
 */
static int
claim_run(struct mq_queue *q, int64_t lease_ms)
{
	struct mq_name m;
	const char *from;
	size_t k;
	int64_t now;
	long long bytes = 0;
	int r = 0;

	k = q->drain.ahead > 1 ? q->drain.ahead : 1;
	if (k > CLAIM_RUN)
		k = CLAIM_RUN;
	if (lock_sh(q, LK_LEASE) == -1)
		return -1;
	if (lock_sh(q, LK_QUEUE) == -1) {
		unlock(q, LK_LEASE);
		return -1;
	}
	now = mq_now_ms() / 1000;
	q->drain.nrun = q->drain.irun = 0;
	while (q->drain.nrun < k && q->drain.inames < q->drain.nnames) {
		from = q->drain.names[q->drain.inames];
		/* list_names gave regular files only: no symlink is claimed */
		if (mq_name_parse(from, &m) == -1 ||
		    !name_fits(&m, MQ_READY, q->drain.cursor)) {
			q->drain.inames++;	/* not ours to deliver */
			continue;
		}
		/* burying takes the queue lock itself: end the run first */
		if (m.expiry != 0 && m.expiry <= now)
			break;
		q->drain.inames++;
		/* a name holds no more: count on would make it no name */
		if (m.attempts < ATTEMPTS_MAX)
			m.attempts++;
		m.lease = lease_ms;
		new_token(m.token);
		if (mq_name_format(&m, q->drain.run[q->drain.nrun],
		    sizeof(q->drain.run[q->drain.nrun])) == -1) {
			r = -1;
			break;
		}
		if (mq_rename(q->drain.fd, from, q->sfd[MQ_INFLIGHT],
		    q->drain.run[q->drain.nrun]) == -1) {
			if (errno == ENOENT)
				continue;	/* another consumer won */
			r = -1;
			break;
		}
		/*
		 * The lease starts now: the deadline is the file's mtime
		 * plus the lease in its name.  Setting the mtime to now
		 * needs only write permission, not ownership, so members
		 * of a spool's group can claim each other's messages.
		 */
		if (set_deadline(q, q->sfd[MQ_INFLIGHT], q->drain.run[q->drain.nrun],
		    &m, NULL) == -1) {
			/*
			 * A claim without its deadline is no claim: give the
			 * message back under its old name (the attempt not
			 * counted) and fail, rather than hand out fewer than
			 * were taken.  If it cannot go back, the next reclaim
			 * returns it (its old time is long past); either way
			 * the error is reported, now or, after the run
			 * claimed so far, by the next call.
			 */
			q->drain.claimerr = errno;
			if (mq_rename(q->sfd[MQ_INFLIGHT], q->drain.run[q->drain.nrun],
			    q->drain.fd, from) == 0)
				q->drain.inames--;	/* the next pass meets it again */
			errno = q->drain.claimerr;
			r = -1;
			break;
		}
		q->drain.nrun++;
		if (m.size > 0)
			bytes += m.size;
	}
	/* under the queue lock, as the renames: a recount sees both or none */
	if (q->drain.nrun > 0)
		backlog_sub(q, (long long)q->drain.nrun, bytes);
	unlock(q, LK_QUEUE);
	unlock(q, LK_LEASE);
	if (r == 0 && q->drain.nrun == 0 && q->drain.inames < q->drain.nnames &&
	    mq_name_parse(q->drain.names[q->drain.inames], &m) == 0 &&
	    name_fits(&m, MQ_READY, q->drain.cursor) && m.expiry != 0 &&
	    m.expiry <= now) {
		/* the run stopped at an expired message */
		if (bury_now(q, q->drain.fd, q->drain.names[q->drain.inames++],
		    &m, "expired") == 0)
			backlog_out(q, &m);
	}
	if (r == -1 && q->drain.nrun == 0) {
		q->drain.claimerr = 0;	/* reported here */
		return -1;
	}
	return (int)q->drain.nrun;
}

void
mq_get_ahead(struct mq_queue *q, size_t n)
{
	q->drain.ahead = n;
}

/*
 * Claim the next message.  Returns 1 and its handle, 0 when the queue has
 * nothing ready, -1 on error.
 */
int
mq_get(struct mq_queue *q, int64_t lease_ms, char *handle, size_t len)
{
	int r;

	if (upkeep_due(q) == -1)
		return -1;
	/*
	 * Buckets are read in passes, each bucket once per pass, so that
	 * names nobody can claim (junk, races lost) cannot keep us here: a
	 * pass that claims nothing ends the search.
	 */
	/* a failed claim ended the last run: its error, now the run is out */
	if (q->drain.irun == q->drain.nrun && q->drain.claimerr != 0) {
		errno = q->drain.claimerr;
		q->drain.claimerr = 0;
		return -1;
	}
	if (q->drain.irun == q->drain.nrun && mq_paused(q))
		return 0;
	while (q->drain.irun == q->drain.nrun) {
		while (q->drain.irun == q->drain.nrun && q->drain.inames < q->drain.nnames) {
			if ((r = claim_run(q, lease_ms)) == -1)
				return -1;
			q->drain.passclaims += r;
		}
		if (q->drain.irun < q->drain.nrun)
			break;
		if ((r = next_bucket(q)) == -1)
			return -1;
		if (r == 0) {
			/* the next call (after a wait, say) starts a new pass */
			q->drain.cursor[0] = '\0';
			if (q->drain.passclaims == 0)
				return 0;
			q->drain.passclaims = 0;
		}
	}
	if (q->drain.ahead > 0)
		q->drain.ahead--;
	if (fmt_handle(handle, len, q->path, MQ_INFLIGHT, NULL,
	    q->drain.run[q->drain.irun++]) == -1)
		return -1;
	return 1;
}

void
drain_close(struct drain *d)
{
	close_fd(&d->fd);
	free_names(d->names, d->nnames);
	d->names = NULL;
	d->nnames = d->inames = 0;
}
