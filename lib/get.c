/*
 * get.c - claiming messages, and the upkeep that consumers do in passing.
 *
 * There is no daemon: the consumer that comes by promotes delayed messages
 * that are due and returns expired leases to ready (mq_maintain), then
 * claims.
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

/* Delayed messages whose time has come become ready. */
static int
promote(struct mq_queue *q, int64_t now)
{
	char **buckets, **v;
	size_t nb, n, i, j;
	struct mq_name m;
	int64_t t;
	int locked = 0, fd, r = 0;

	if (list_buckets(q, MQ_DELAYED, &buckets, &nb) == -1)
		return -1;
	for (i = 0; i < nb; i++) {
		if (parse_window(buckets[i], &t) == -1 || t > now)
			continue;
		if (!locked && lock_ex(q, LK_PROMOTE) == -1) {
			r = -1;
			break;
		}
		locked = 1;
		if ((fd = mq_opendirat(q->sfd[MQ_DELAYED], buckets[i])) == -1)
			continue;
		if (list_names(fd, ".", &v, &n, LN_SORT | LN_FILES) == 0) {
			for (j = 0; j < n; j++) {
				if (mq_name_parse(v[j], &m) == -1 ||
				    !name_fits(&m, MQ_DELAYED, buckets[i]) ||
				    m.notbefore > now)
					continue;
				if (m.expiry != 0 && m.expiry <= now)
					bury(q, fd, v[j], &m, "expired");
				else
					publish(q, fd, v[j], &m);
			}
			free_names(v, n);
		}
		close(fd);
		/* a window that has passed gets no more messages */
		if (t + DELAY_WINDOW <= now)
			drop_bucket(q, MQ_DELAYED, buckets[i]);
	}
	if (locked)
		unlock(q, LK_PROMOTE);
	free_names(buckets, nb);
	return r;
}

/* Expired leases: back to ready, or dead after max_attempts deliveries. */
static int
reclaim(struct mq_queue *q, int64_t now_ms)
{
	struct mq_name m;
	struct stat st;
	char **v;
	size_t n, i;
	int fd = q->sfd[MQ_INFLIGHT];

	if (lock_ex(q, LK_LEASE) == -1)
		return -1;
	if (list_names(fd, ".", &v, &n, LN_SORT | LN_FILES) == -1) {
		unlock(q, LK_LEASE);
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (mq_name_parse(v[i], &m) == -1 ||
		    !name_fits(&m, MQ_INFLIGHT, NULL) ||
		    fstatat(fd, v[i], &st, AT_SYMLINK_NOFOLLOW) == -1 ||
		    !S_ISREG(st.st_mode))
			continue;
		if (lease_end(&st, &m) > now_ms)
			continue;
		if (q->conf.max_attempts > 0 &&
		    m.attempts >= q->conf.max_attempts)
			bury(q, fd, v[i], &m, "attempts");
		else
			publish(q, fd, v[i], &m);
	}
	unlock(q, LK_LEASE);
	free_names(v, n);
	return 0;
}

int
mq_maintain(struct mq_queue *q)
{
	int64_t now = mq_now_ms();

	if (q->lockerr != 0)
		return 0;	/* read-only: nothing can move */
	if (promote(q, now / 1000) == -1 || reclaim(q, now) == -1)
		return -1;
	/* groups whose message died on the way: their next one is due */
	return group_flush(q);
}

/*
 * Load the first non-empty bucket in delivery order into q->names.
 * Returns 1 when one was found, 0 when ready/ is empty.
 */
static int
next_bucket(struct mq_queue *q)
{
	char **v;
	size_t n, i;
	int r = 0, fd;

	free_names(q->names, q->nnames);
	q->names = NULL;
	q->nnames = q->inames = 0;
	if (q->bucketfd != -1)
		close(q->bucketfd);
	q->bucketfd = -1;
	if (list_buckets(q, MQ_READY, &v, &n) == -1)
		return -1;
	/* go on after the bucket last read, in delivery order */
	for (i = 0; q->cursor[0] != '\0' && i < n &&
	    bucket_cmp(v[i], q->cursor) <= 0; i++)
		;
	for (; i < n; i++) {
		strlcpy(q->cursor, v[i], sizeof(q->cursor));
		fd = mq_opendirat(q->sfd[MQ_READY], v[i]);
		if (fd == -1)
			continue;
		if (list_names(fd, ".", &q->names, &q->nnames,
		    LN_SORT | LN_FILES) == -1) {
			close(fd);
			r = -1;
			break;
		}
		if (q->nnames > 0) {
			q->bucketfd = fd;
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
 * Claim tokens come from a pool filled a few hundred bytes at a time: each
 * arc4random_buf call costs a getpid (its fork check), which was one of
 * the seven system calls of a claim.  A child forked with a half-used pool
 * repeats tokens, which is harmless: a name also carries the id and the
 * attempt count, and one message is claimed by one rename at a time.
 */
static void
new_token(char *tok)
{
	static const char al[] =
	    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
	static unsigned char pool[32 * TOKEN_LEN];
	static size_t used = sizeof(pool);
	size_t i;

	if (used + TOKEN_LEN > sizeof(pool)) {
		arc4random_buf(pool, sizeof(pool));
		used = 0;
	}
	for (i = 0; i < TOKEN_LEN; i++)
		tok[i] = al[pool[used + i] % 62];
	explicit_bzero(pool + used, TOKEN_LEN);
	used += TOKEN_LEN;
	tok[TOKEN_LEN] = '\0';
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
	int r = 0;

	k = q->ahead > 1 ? q->ahead : 1;
	if (k > CLAIM_RUN)
		k = CLAIM_RUN;
	if (lock_sh(q, LK_LEASE) == -1)
		return -1;
	if (lock_sh(q, LK_QUEUE) == -1) {
		unlock(q, LK_LEASE);
		return -1;
	}
	now = mq_now_ms() / 1000;
	q->nrun = q->irun = 0;
	while (q->nrun < k && q->inames < q->nnames) {
		from = q->names[q->inames];
		/* list_names gave regular files only: no symlink is claimed */
		if (mq_name_parse(from, &m) == -1 ||
		    !name_fits(&m, MQ_READY, q->cursor)) {
			q->inames++;	/* not ours to deliver */
			continue;
		}
		/* burying takes the queue lock itself: end the run first */
		if (m.expiry != 0 && m.expiry <= now)
			break;
		q->inames++;
		/* a name holds no more: count on would make it no name */
		if (m.attempts < ATTEMPTS_MAX)
			m.attempts++;
		m.lease = lease_ms;
		new_token(m.token);
		if (mq_name_format(&m, q->run[q->nrun],
		    sizeof(q->run[q->nrun])) == -1) {
			r = -1;
			break;
		}
		if (mq_rename(q->bucketfd, from, q->sfd[MQ_INFLIGHT],
		    q->run[q->nrun]) == -1) {
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
		if (set_deadline(q, q->sfd[MQ_INFLIGHT], q->run[q->nrun],
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
			q->claimerr = errno;
			if (mq_rename(q->sfd[MQ_INFLIGHT], q->run[q->nrun],
			    q->bucketfd, from) == 0)
				q->inames--;	/* the next pass meets it again */
			errno = q->claimerr;
			r = -1;
			break;
		}
		q->nrun++;
	}
	unlock(q, LK_QUEUE);
	unlock(q, LK_LEASE);
	if (r == 0 && q->nrun == 0 && q->inames < q->nnames &&
	    mq_name_parse(q->names[q->inames], &m) == 0 &&
	    name_fits(&m, MQ_READY, q->cursor) && m.expiry != 0 &&
	    m.expiry <= now) {
		/* the run stopped at an expired message */
		bury(q, q->bucketfd, q->names[q->inames++], &m, "expired");
		group_flush(q);
	}
	if (r == -1 && q->nrun == 0) {
		q->claimerr = 0;	/* reported here */
		return -1;
	}
	return (int)q->nrun;
}

void
mq_get_ahead(struct mq_queue *q, size_t n)
{
	q->ahead = n;
}

/*
 * Claim the next message.  Returns 1 and its handle, 0 when the queue has
 * nothing ready, -1 on error.
 */
int
mq_get(struct mq_queue *q, int64_t lease_ms, char *handle, size_t len)
{
	int64_t now = mq_now_ms();
	int r;

	/*
	 * Upkeep once per call of a one-shot tool, and at least once a
	 * second in a consumer that never runs dry (mq-work with a backlog
	 * must still promote its own retries and reclaim dead workers').
	 */
	if (q->maintained == 0 || now - q->maintained >= 1000 ||
	    now < q->maintained) {
		if (mq_maintain(q) == -1)
			return -1;
		q->maintained = now;
	}
	/*
	 * Buckets are read in passes, each bucket once per pass, so that
	 * names nobody can claim (junk, races lost) cannot keep us here: a
	 * pass that claims nothing ends the search.
	 */
	/* a failed claim ended the last run: its error, now the run is out */
	if (q->irun == q->nrun && q->claimerr != 0) {
		errno = q->claimerr;
		q->claimerr = 0;
		return -1;
	}
	if (q->irun == q->nrun && mq_paused(q))
		return 0;
	while (q->irun == q->nrun) {
		while (q->irun == q->nrun && q->inames < q->nnames) {
			if ((r = claim_run(q, lease_ms)) == -1)
				return -1;
			q->passclaims += r;
		}
		if (q->irun < q->nrun)
			break;
		if ((r = next_bucket(q)) == -1)
			return -1;
		if (r == 0) {
			/* the next call (after a wait, say) starts a new pass */
			q->cursor[0] = '\0';
			if (q->passclaims == 0)
				return 0;
			q->passclaims = 0;
		}
	}
	if (q->ahead > 0)
		q->ahead--;
	if ((size_t)snprintf(handle, len, "%s/inflight/%s", q->path,
	    q->run[q->irun++]) >= len) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 1;
}
