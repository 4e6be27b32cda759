/*
 * done.c - retained messages (retain in mq.conf(5)): what an ack keeps in
 * done/ instead of removing it, and the done record that counts them.
 *
 * Invariants:
 * - A done message lies in done/T, T the first second of the DONE_WINDOW
 *   window of its ack time, under its name with the ack time (,d) and
 *   the size (,s) and nothing of its delivery (no key, expiry, due time,
 *   reason, lease or token): for dedup and for its ordered group it has
 *   left the queue, as an ack without retain leaves it.
 * - The done record (LK_DONEREC in the lock file, mq(7) Locks) counts
 *   done/, so that mq-stat never reads it: COUNT messages of BYTES bytes,
 *   and OLDEST, the window of the oldest bucket that may hold any (0: none
 *   known), where the dropping of what expired starts (expire.c).  It is
 *   changed under the done lock, by whoever holds the queue lock shared
 *   and has just moved messages into done/ (a run of acks, counted once
 *   before the lock is dropped: done_flush) or one out of it; so under
 *   the queue lock held exclusive it matches done/, but for a process
 *   killed between its moves and its record (then mq-fsck counts again).
 * - A record never written reads as zeros; one that does not parse is
 *   taken as zeros, OLDEST the first bucket of done/, until mq-fsck.
 */
#include <sys/types.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

/* The first window in done/, for a record that was lost; 0: none. */
static int64_t
first_window(struct mq_queue *q)
{
	char **v;
	size_t n;
	int64_t t = 0;

	if (q->sfd[MQ_DONE] == -1 || list_buckets(q, MQ_DONE, &v, &n) == -1)
		return 0;
	if (n > 0)
		parse_window(v[0], &t);
	free_names(v, n);
	return t;
}

/* The record as it is; no lock (see above for who may rely on it). */
int
done_read(struct mq_queue *q, struct donerec *d)
{
	char rec[LK_DONELEN + 1];
	long long c, b, o;
	ssize_t n;

	memset(d, 0, sizeof(*d));
	if ((n = pread(q->lockfd, rec, LK_DONELEN, LK_DONEREC)) == -1)
		return -1;
	if (n == 0 || (rec[0] == '\0' && n == LK_DONELEN))
		return 0;	/* never written */
	rec[n] = '\0';
	if (n != LK_DONELEN || sscanf(rec, "d %lld %lld %lld", &c, &b,
	    &o) != 3 || c < 0 || b < 0 || o < 0 || o > MQ_TIME_MAX) {
		d->oldest = first_window(q);
		return 0;
	}
	d->count = c;
	d->bytes = b;
	d->oldest = o;
	return 0;
}

static int
done_write(struct mq_queue *q, const struct donerec *d)
{
	char rec[LK_DONELEN];

	/* fixed width, as the tail records */
	snprintf(rec, sizeof(rec), "d %012lld %016lld %010lld", d->count,
	    d->bytes, (long long)d->oldest);
	return record_put(q, LK_DONEREC, LK_DONELEN, rec);
}

/*
 * Change the record under the done lock.  With set, it becomes *d; else
 * d's count and bytes are added, and d's oldest, if earlier, is the
 * oldest (a bucket just made, maybe by a clock stepped back).  With
 * from, a dropper's view: the oldest becomes d's if it still is from.
 */
static int
done_change(struct mq_queue *q, const struct donerec *d, int set,
    int64_t from)
{
	struct donerec r;
	int rv;

	if (lock_ex(q, LK_DONE) == -1)
		return -1;
	if ((rv = done_read(q, &r)) == 0) {
		if (set)
			r = *d;
		else if (from != 0) {
			if (r.oldest == from)
				r.oldest = d->oldest;
		} else {
			r.count += d->count;
			r.bytes += d->bytes;
			if (d->oldest != 0 && (r.oldest == 0 ||
			    d->oldest < r.oldest))
				r.oldest = d->oldest;
		}
		/* a count that a crash left short never goes below none */
		if (r.count < 0 || r.bytes < 0)
			r.count = r.bytes = 0;
		rv = done_write(q, &r);
	}
	unlock(q, LK_DONE);
	return rv;
}

/* n messages of bytes in all came into done/ (negative: went), at window t */
int
done_add(struct mq_queue *q, long long n, long long bytes, int64_t t)
{
	struct donerec d = { n, bytes, t };

	return done_change(q, &d, 0, 0);
}

/* The oldest window is no longer from but next (0: none left). */
int
done_advance(struct mq_queue *q, int64_t from, int64_t next)
{
	struct donerec d = { 0, 0, next };

	return done_change(q, &d, 0, from);
}

/* What a count of done/ found (mq-fsck), or none (mq-purge). */
int
done_set(struct mq_queue *q, const struct donerec *d)
{
	return done_change(q, d, 1, 0);
}

/*
 * An acked message into done/ (retire.c, for an ack with retain set): its
 * name with the ack time, and its size, from the file when a foreign
 * producer left it out (the record goes by it); what only delivery needs
 * goes.  Call holding the queue lock shared.
 */
int
done_keep(struct mq_queue *q, int fromfd, const char *from,
    const struct mq_name *m)
{
	char name[MQ_NAME_MAX + 1];
	struct mq_name d = *m;
	struct stat st;

	if (state_dir(q, MQ_DONE) == -1)
		return -1;
	if (d.size < 0) {
		if (fstatat(fromfd, from, &st, AT_SYMLINK_NOFOLLOW) == -1)
			return -1;
		d.size = (int64_t)st.st_size;
	}
	d.done = mq_now_ms() / 1000;
	d.expiry = d.notbefore = d.lease = 0;
	d.key[0] = d.reason[0] = d.token[0] = '\0';
	if (mq_name_format(&d, name, sizeof(name)) == -1 ||
	    keep(q, fromfd, from, name, d.done) == -1)
		return -1;
	/* counted at the end of the run of acks (done_flush) */
	q->donerun.count++;
	q->donerun.bytes += d.size;
	if (q->donerun.oldest == 0 ||
	    d.done - d.done % DONE_WINDOW < q->donerun.oldest)
		q->donerun.oldest = d.done - d.done % DONE_WINDOW;
	return 0;
}

/*
 * Count what done_keep kept into the record, once for a run of acks
 * under one hold of the queue lock: call before that lock is dropped.
 * The messages are done whatever the record says (a failed write, a
 * crash before it): mq-fsck counts again.
 */
void
done_flush(struct mq_queue *q)
{
	if (q->donerun.count == 0)
		return;
	done_change(q, &q->donerun, 0, 0);
	memset(&q->donerun, 0, sizeof(q->donerun));
}
