/*
 * lease.c - leases: the deadline of a claim, the token that makes each
 * claim's name new, and the backoff of a returned message.
 *
 * The lease deadline of an in-flight message is its file's mtime plus the
 * lease in its name (,l).  The mtime is set when claimed or touched; a
 * fanned-out copy shares its inode with other queues, so its mtime is only
 * ever raised (set_deadline).
 */
#include <sys/types.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

/*
 * When the lease of an in-flight file ends, in epoch ms: its mtime (set
 * when claimed or touched) plus the lease in its name.  A name without a
 * lease, as older versions wrote, has its deadline as its mtime.
 */
int64_t
lease_end(const struct stat *st, const struct mq_name *m)
{
	return (int64_t)st->st_mtim.tv_sec * 1000 +
	    st->st_mtim.tv_nsec / 1000000 + m->lease;
}

/*
 * Set the mtime of an in-flight message to ts (NULL: now).  The copies of
 * a fanned-out message share one mtime, so for them it is only raised,
 * never lowered: a subscriber's claim or touch may lengthen another's
 * lease, never shorten it.  The flock(2) of the file makes the look and
 * the change one step, so that two subscribers claiming at once cannot
 * both see an old time and the later write lower the earlier one.
 *
 * A copy is sealed (read-only, see seal), so only its owner may set its
 * time at all, "now" included.  A member of the spool's group claiming or
 * touching another member's copy gives it a copy of its own instead
 * (replace_own): an inode of this queue alone, with the time wanted.  The
 * name keeps its ",f"; a copy with one link is an ordinary file of its
 * queue (linked_ok), and the other subscribers' copies keep theirs.
 */
int
set_deadline(struct mq_queue *q, int dirfd, const char *name,
    const struct mq_name *m, const struct timespec ts[2])
{
	struct timespec now, at[2];
	struct stat st;
	int fd, r, saved, isnow = ts == NULL;

	if (!m->fanout)
		return utimensat(dirfd, name, ts, AT_SYMLINK_NOFOLLOW);
	/* O_NONBLOCK kept: flock and futimens do not look at it */
	if ((fd = mq_openat(dirfd, name, O_RDONLY | O_NONBLOCK, 0)) == -1)
		return -1;
	while ((r = flock(fd, LOCK_EX)) == -1 && errno == EINTR)
		;
	if (isnow) {
		clock_gettime(CLOCK_REALTIME, &now);
		at[0] = at[1] = now;
		ts = at;
	}
	if (r == 0)
		r = fstat(fd, &st);
	if (r == 0 && (st.st_mtim.tv_sec < ts[1].tv_sec ||
	    (st.st_mtim.tv_sec == ts[1].tv_sec &&
	    st.st_mtim.tv_nsec < ts[1].tv_nsec))) {
		/* "now" needs only write permission; a time, ownership */
		r = futimens(fd, isnow ? NULL : ts);
		if (r == -1 && (errno == EPERM || errno == EACCES) &&
		    st.st_uid != geteuid())
			r = replace_own(q, dirfd, name, fd, ts, 0555, 0);
	}
	saved = errno;
	close(fd);	/* and with it the flock */
	errno = saved;
	return r;
}

/* Exponential backoff: backoff * 2^(attempts-1), capped. */
int64_t
backoff(const struct mq_conf *c, int attempts)
{
	int64_t d = c->backoff_ms;
	int i;

	for (i = 1; i < attempts && d < c->backoff_max_ms; i++)
		d *= 2;
	return d < c->backoff_max_ms ? d : c->backoff_max_ms;
}

/*
 * Claim tokens come from a pool filled a few hundred bytes at a time: each
 * arc4random_buf call costs a getpid (its fork check), which was one of
 * the seven system calls of a claim.  A child forked with a half-used pool
 * repeats tokens, which is harmless: a name also carries the id and the
 * attempt count, and one message is claimed by one rename at a time.
 */
void
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
