/*
 * move.c - moving a message between states, the one way it is done.
 *
 * Invariants:
 * - A message changes state by one rename(2) that never replaces an
 *   existing file (RENAME_NOREPLACE where the filesystem has it).  At every
 *   instant it has exactly one name.
 * - Every move holds the queue lock shared, so mq-stat and mq-purge,
 *   which take it exclusive, see no message in two states or in none.
 * - These are the bare moves.  What a move means for a message's key and
 *   its ordered group is added one layer up: admit.c for the roads into
 *   ready, retire.c for the roads out of the spool and into dead/.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

#define GONE	1	/* into_bucket: the ready bucket was removed */

/*
 * Rename into state/bucket/name.  The bucket is opened without following
 * symlinks, so a link planted in place of a bucket cannot send a message
 * out of the spool.  A delayed window removed meanwhile is made again.  A
 * ready bucket removed meanwhile is not: it was emptied by consumers and is
 * no longer the tail (they keep the tail), so made again it would only be
 * empty and removable again; GONE tells the caller to take a slot anew, in
 * the tail.  The tail itself, gone (a hand, a foreign consumer), is made
 * again.  ENOENT is returned only when the source itself is gone.
 */
static int
into_bucket(struct mq_queue *q, int fromfd, const char *from, int state,
    const char *bucket, const char *name)
{
	char rel[STATEDIR_MAX];
	int tries, r;

	fmt_statedir(rel, state, bucket);
	for (tries = 0; tries < 8; tries++) {
		/* the bucket of the last move is kept open: runs reuse it */
		if (strcmp(rel, q->mv.rel) != 0 || q->mv.fd == -1) {
			if (q->mv.fd != -1)
				close(q->mv.fd);
			q->mv.rel[0] = '\0';
			q->mv.fd = mq_opendirat(q->sfd[state], bucket);
			if (q->mv.fd == -1 && errno == ENOENT &&
			    state == MQ_READY && !is_tail(q, bucket))
				return GONE;
			if (q->mv.fd == -1) {
				if (errno != ENOENT ||
				    make_dir(q, q->sfd[state], bucket) == -1)
					return -1;
				continue;
			}
			strlcpy(q->mv.rel, rel, sizeof(q->mv.rel));
		}
		r = mq_rename(fromfd, from, q->mv.fd, name);
		/*
		 * A delayed or done bucket has no tail lock to order its
		 * creation before our rename: its parent is synced with our
		 * message.
		 */
		if (r == 0 && state != MQ_READY &&
		    mark_dirty(q, mq_state_name(state)) == -1)
			return -1;
		if (r == 0)
			return mark_dirty(q, rel);
		if (errno != ENOENT ||
		    faccessat(fromfd, from, F_OK, AT_SYMLINK_NOFOLLOW) == -1)
			return -1;
		/* the bucket was removed under us: open (or make) it again */
		close(q->mv.fd);
		q->mv.fd = -1;
		if (state == MQ_READY && !is_tail(q, bucket))
			return GONE;
	}
	errno = EAGAIN;
	return -1;
}

/*
 * Make a message ready (or delayed, when its not-before time is still to
 * come).  The claim token, lease and dead reason go; everything else in
 * the name stays.
 */
int
publish(struct mq_queue *q, int fromfd, const char *from, struct mq_name *m)
{
	char name[MQ_NAME_MAX + 1], bucket[BUCKET_MAX];
	int64_t now = mq_now_ms() / 1000;
	int state, r, tries = 0;

	m->token[0] = '\0';
	m->lease = 0;
	m->reason[0] = '\0';
	if (m->notbefore != 0 && m->notbefore > now) {
		state = MQ_DELAYED;
		fmt_window(bucket, m->notbefore);
	} else {
		state = MQ_READY;
		m->notbefore = 0;
	}
	if (mq_name_format(m, name, sizeof(name)) == -1)
		return -1;
	if (lock_sh(q, LK_QUEUE) == -1)
		return -1;
	do {
		if (state == MQ_READY && reserve(q, m->prio, bucket) == -1)
			r = -1;
		else
			r = into_bucket(q, fromfd, from, state, bucket, name);
		/* the slots left in a removed bucket are no place to go */
		if (r == GONE)
			pub_forget(q, m->prio);
	} while (r == GONE && ++tries < 64);
	unlock(q, LK_QUEUE);
	if (r == GONE) {
		errno = EAGAIN;	/* the tail itself removed 64 times */
		r = -1;
	}
	return r;
}

/*
 * Rename into a flat state directory (dead/, held/); name receives the
 * new file name.  The claim token and lease go, the rest of the name
 * stays.
 */
static int
into_flat(struct mq_queue *q, int fromfd, const char *from, int state,
    struct mq_name *m, char *name)
{
	int r;

	m->token[0] = '\0';
	m->lease = 0;
	if (mq_name_format(m, name, MQ_NAME_MAX + 1) == -1)
		return -1;
	if (lock_sh(q, LK_QUEUE) == -1)
		return -1;
	r = mq_rename(fromfd, from, q->sfd[state], name);
	unlock(q, LK_QUEUE);
	if (r == 0)
		r = mark_dirty(q, mq_state_name(state));
	return r;
}

/*
 * Into dead/, with the reason in its name.  Bare: bury (retire.c) is the
 * road that also lets the message's group go on.
 */
int
entomb(struct mq_queue *q, int fromfd, const char *from, struct mq_name *m,
    const char *reason)
{
	char name[MQ_NAME_MAX + 1];

	strlcpy(m->reason, reason, sizeof(m->reason));
	return into_flat(q, fromfd, from, MQ_DEAD, m, name);
}

/*
 * Hold a message: out of every path of delivery, since no consumer, nor
 * the reclaimer or the promoter, looks into held/.  Attempts, expiry and
 * not-before stay in the name for its release.
 */
int
hold(struct mq_queue *q, int fromfd, const char *from, struct mq_name *m,
    char *heldname)
{
	if (state_dir(q, MQ_HELD) == -1)
		return -1;
	m->reason[0] = '\0';
	return into_flat(q, fromfd, from, MQ_HELD, m, heldname);
}

/*
 * Into prepared/ (mq-put -P; a checker's ask counted, in ,a; an unresolved
 * message kicked back): never delivered, until a commit admits it.  Its
 * mtime becomes now first, as prepare_timeout counts from the last thing
 * that happened to it: a crash in between only delays the next ask.
 * Not-before, expiry, key and group stay in the name for the commit.
 */
int
prepare(struct mq_queue *q, int fromfd, const char *from, struct mq_name *m,
    char *name)
{
	if (state_dir(q, MQ_PREPARED) == -1)
		return -1;
	if (utimensat(fromfd, from, NULL, AT_SYMLINK_NOFOLLOW) == -1 &&
	    errno != EPERM && errno != EACCES)
		return -1;	/* another's file: asked again sooner, no harm */
	m->reason[0] = '\0';
	return into_flat(q, fromfd, from, MQ_PREPARED, m, name);
}

/* Back to ready, or delayed, from a flat state directory. */
static int
requeue(struct mq_queue *q, int state, const char *from, struct mq_name *m)
{
	if (publish(q, q->sfd[state], from, m) == -1)
		return -1;
	return mark_dirty(q, mq_state_name(state));
}

/*
 * A released message goes on where it was held: attempts and expiry
 * count on (an expired one is buried by the next claim that meets it),
 * and a not-before time still to come sends it to delayed/.
 */
int
unhold(struct mq_queue *q, const char *from, struct mq_name *m)
{
	return requeue(q, MQ_HELD, from, m);
}

/*
 * Into done/T, the window of its ack time (m->done), under the name given
 * (done.c formats it).  The caller holds the queue lock shared, as every
 * move does, and has made done/ (state_dir).
 */
int
keep(struct mq_queue *q, int fromfd, const char *from, const char *name,
    int64_t acked)
{
	char bucket[BUCKET_MAX];

	fmt_donewindow(bucket, acked);
	return into_bucket(q, fromfd, from, MQ_DONE, bucket, name);
}

void
mv_close(struct mv *p)
{
	close_fd(&p->fd);
}
