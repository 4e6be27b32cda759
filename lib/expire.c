/*
 * expire.c - dropping done messages (done.c) that are past retain, or
 * over retain_bytes, oldest window first.
 *
 * Invariants:
 * - A window done/T goes once all of it is past retain: T + DONE_WINDOW
 *   <= now - retain, so no message is dropped before it was kept retain,
 *   and none is kept much longer than retain + DONE_WINDOW while acks or
 *   puts come by.  Over retain_bytes, the oldest windows go first, their
 *   messages in the order of the directory, until the bytes are under.
 * - Acks and puts drop a step at a time: at most DROP_STEP messages and
 *   DROP_STEP windows looked for, one read of the record when nothing is
 *   due, so that neither ever scans done/.  mq-fsck drops all that is due.
 * - One dropper at a time (the drop lock, taken only if free); it holds
 *   the queue lock shared while it removes, as every move does, and each
 *   message leaves through retire(), which keeps the record.
 * - Only names that fit done/ and their window, regular files, are
 *   dropped; anything else is mq-fsck's (quarantine/), and a window that
 *   holds nothing else is passed by.  Drops are not synced: one lost in a
 *   crash is dropped again.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

/* Whether window t is to go: past retain, or the bytes over retain_bytes. */
static int
past_retain(const struct mq_conf *c, int64_t t, int64_t now)
{
	return t + DONE_WINDOW <= now - ceil_s(c->retain_ms);
}

static int
due(const struct mq_conf *c, const struct donerec *d, int64_t t,
    int64_t now)
{
	if (past_retain(c, t, now))
		return 1;
	return c->retain_bytes > 0 && d->bytes > c->retain_bytes;
}

/*
 * Drop up to max messages of one window (fd, bucket t).  Returns the
 * number dropped, and in *left whether the window may hold more of them
 * or anything that is no message of it.
 */
static long
drop_window(struct mq_queue *q, int fd, const char *bucket, int64_t t,
    long max, struct donerec *d, int64_t now, int *left)
{
	struct dirent *e;
	struct mq_name m;
	struct stat st;
	DIR *dp;
	long k = 0;
	int dfd;

	*left = 1;
	if ((dfd = dup(fd)) == -1)
		return -1;
	if ((dp = fdopendir(dfd)) == NULL) {
		close(dfd);
		return -1;
	}
	*left = 0;
	while (k < max && (e = readdir(dp)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (mq_name_parse(e->d_name, &m) == -1 ||
		    !name_fits(&m, MQ_DONE, bucket) ||
		    fstatat(fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1 ||
		    !S_ISREG(st.st_mode) || !linked_ok(&m, &st)) {
			*left = 1;	/* no message: mq-fsck's */
			continue;
		}
		if (!due(&q->conf, d, t, now)) {
			*left = 1;
			break;
		}
		if (retire(q, fd, e->d_name, &m, 0) == -1) {
			if (errno != ENOENT)
				*left = 1;
			continue;
		}
		d->count--;
		d->bytes -= m.size;
		k++;
	}
	if (k == max)
		*left = 1;
	closedir(dp);
	return k;
}

/*
 * Drop what is due, at most max messages (-1: all, and every window
 * looked for): the number in *n.
 */
int
expire_done(struct mq_queue *q, long max, long long *n)
{
	char bucket[BUCKET_MAX];
	struct donerec d;
	int64_t now = mq_now_ms() / 1000, t;
	long k, probes = 0, limit = max < 0 ? LONG_MAX : max;
	int fd, left, r = 0;

	*n = 0;
	if (q->lockerr != 0)
		return 0;	/* read-only: nothing can go */
	if (q->sfd[MQ_DONE] == -1) {
		/* made by another process since we opened the queue? */
		if ((fd = mq_opendirat(q->dfd, mq_state_name(MQ_DONE))) == -1)
			return errno == ENOENT ? 0 : -1;
		q->sfd[MQ_DONE] = fd;
	}
	if (done_read(q, &d) == -1)
		return -1;
	if (d.oldest == 0 || !due(&q->conf, &d, d.oldest, now))
		return 0;	/* the one read when nothing is due */
	if (trylk(q, LK_DROP, 1, F_WRLCK) == -1)
		return errno == EAGAIN || errno == EACCES ? 0 : -1;
	if (lock_sh(q, LK_QUEUE) == -1) {
		unlock(q, LK_DROP);
		return -1;
	}
	while (*n < limit && probes < limit) {
		if ((r = done_read(q, &d)) == -1)
			break;
		t = d.oldest;
		if (t == 0 || !due(&q->conf, &d, t, now))
			break;
		fmt_donewindow(bucket, t);
		if ((fd = mq_opendirat(q->sfd[MQ_DONE], bucket)) == -1) {
			if (errno != ENOENT) {
				r = -1;
				break;
			}
			probes++;
			/*
			 * No window left up to now: what the record still
			 * counts was lost to a crash (mq-fsck counts again).
			 */
			if (t + DONE_WINDOW > now) {
				d.count = d.bytes = d.oldest = 0;
				r = done_set(q, &d);
				break;
			}
			r = done_advance(q, t, t + DONE_WINDOW);
			continue;
		}
		k = drop_window(q, fd, bucket, t, limit - (long)*n, &d, now,
		    &left);
		close(fd);
		if (k == -1) {
			r = -1;
			break;
		}
		*n += k;
		if (!left) {
			/* emptied: gone, unless an ack came in meanwhile */
			probes++;
			drop_bucket(q, MQ_DONE, bucket);
			if (faccessat(q->sfd[MQ_DONE], bucket, F_OK,
			    AT_SYMLINK_NOFOLLOW) == 0)
				continue;
			r = done_advance(q, t, t + DONE_WINDOW);
		} else if (k == 0) {
			/* only what is no message left (mq-fsck's): pass by */
			probes++;
			if (!past_retain(&q->conf, t, now))
				break;	/* over the bytes, and nothing to drop */
			r = done_advance(q, t, t + DONE_WINDOW);
		}
	}
	unlock(q, LK_QUEUE);
	unlock(q, LK_DROP);
	return r;
}

/* The bounded step of an ack or a put: errors are the next step's. */
void
expire_step(struct mq_queue *q)
{
	long long n;

	if (q->conf.retain_ms > 0)
		expire_done(q, DROP_STEP, &n);
}
