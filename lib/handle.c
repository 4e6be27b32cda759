/*
 * handle.c - acting on one message named by its handle: ack, nack,
 * unclaim, reject, touch, kick, hold, release, and opening it to read.
 * What a handle may name, and how it is checked, is session.c's.
 *
 * Invariants:
 * - A handle whose in-flight file is gone (acked, reclaimed, claimed again)
 *   fails with ESTALE and changes nothing: a new claim has a new token, so
 *   its name differs from every older handle.
 * - A touch holds the lease lock shared, so the reclaimer never returns a
 *   message to ready on a deadline it has just seen being extended.  It
 *   never lowers the deadline of a fan-out copy (set_deadline).
 * - An ack removes its message through retire() (retire.c), which starts
 *   the dedup window of its key, as every road out of the spool does, or
 *   with retain keeps it in done/; a run of acks counts what it kept
 *   before it drops the queue lock (ack_unlock), and then drops a step
 *   of what has expired there (expire.c).
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

#define ACK_RUN		64	/* acks per hold of the queue lock */


/*
 * The end of a hold of the queue lock by acks: what they kept in done/
 * (retain) is counted in the done record first, once for the run, while
 * the lock still keeps mq-stat from counting in between (done.c).
 */
static void
ack_unlock(struct mq_queue *q)
{
	done_flush(q);
	unlock(q, LK_QUEUE);
}

/*
 * Ack a message of an ordered group: under the group's lock, and the lease
 * lock so that the reclaimer cannot take it back meanwhile, the next one
 * of the group is published first, then this one removed (see group.c).
 */
static int
ack_grouped(struct target *t)
{
	struct mq_queue *q = t->q;
	int r = -1;

	if (group_lock(q, t->m.group, F_WRLCK) == -1)
		return -1;
	if (lock_sh(q, LK_LEASE) == -1)
		goto out;
	if (faccessat(t->fd, t->name, F_OK, AT_SYMLINK_NOFOLLOW) == -1)
		errno = errno == ENOENT ? ESTALE : errno;
	else if (group_next(q, t->m.group) == 0 && lock_sh(q, LK_QUEUE) == 0) {
		/* its next is out already: retire() has no group to free */
		r = retire(q, t->fd, t->name, &t->m, RT_ACK);
		ack_unlock(q);
		if (r == -1 && errno == ENOENT)
			errno = ESTALE;
	}
	unlock(q, LK_LEASE);
out:
	group_lock(q, t->m.group, F_UNLCK);
	if (r == 0)
		expire_step(q);
	return r == 0 ? mark_dirty(q, t->rel) : -1;
}

int
mq_ack(struct mq_session *s, const char *handle)
{
	struct target t;
	int r;

	if (resolve(s, handle, 1U << MQ_INFLIGHT, &t) == -1)
		return -1;
	if (t.m.group[0] != '\0')
		return ack_grouped(&t);
	if (lock_sh(t.q, LK_QUEUE) == -1)
		return -1;
	r = retire(t.q, t.fd, t.name, &t.m, RT_OUT | RT_ACK);
	ack_unlock(t.q);
	if (r == -1)
		return errno == ENOENT ? (errno = ESTALE, -1) : -1;
	expire_step(t.q);
	return mark_dirty(t.q, t.rel);
}

/*
 * Ack n handles; errs[i] is the outcome of handles[i], 0 or what mq_ack
 * would have failed with.  Ungrouped messages of one queue that come in a
 * row, as mq-get prints them, are retired under one hold of the queue
 * lock, up to ACK_RUN of them: a run of acks takes the lock once, as a run
 * of claims does (get.c).  The hold never spans anything but the acks of
 * the run: a handle of a grouped message (whose group lock comes before
 * the queue lock), or one whose queue must be looked up or opened
 * (resolve_cached), ends it, and it ends before the call returns, so a
 * caller never holds it while it reads more handles.
 */
int
mq_ack_many(struct mq_session *s, const char *const *handles, size_t n,
    int *errs)
{
	struct mq_queue *held = NULL;
	struct target t;
	size_t i, run = 0;
	int r, bad = 0;

	for (i = 0; i < n; i++) {
		if (held != NULL && (run == ACK_RUN ||
		    !resolve_cached(s, handles[i]))) {
			ack_unlock(held);
			held = NULL;
		}
		if (resolve(s, handles[i], 1U << MQ_INFLIGHT, &t) == -1)
			r = -1;
		else if (t.m.group[0] != '\0') {
			if (held != NULL)
				ack_unlock(held);
			held = NULL;
			r = ack_grouped(&t);
		} else {
			if (held != NULL && held != t.q) {
				ack_unlock(held);
				held = NULL;
			}
			if (held == NULL && (r = lock_sh(t.q, LK_QUEUE)) == 0) {
				held = t.q;
				run = 0;
			}
			if (held != NULL) {
				run++;
				r = retire(t.q, t.fd, t.name, &t.m,
				    RT_OUT | RT_ACK);
				if (r == -1 && errno == ENOENT)
					errno = ESTALE;
				if (r == 0)
					r = mark_dirty(t.q, t.rel);
			}
		}
		errs[i] = r == 0 ? 0 : errno;
		bad |= r != 0;
	}
	if (held != NULL) {
		ack_unlock(held);
		/* the drop of expired done messages, once a call, unlocked */
		expire_step(held);
	}
	return bad ? -1 : 0;
}

int
mq_nack(struct mq_session *s, const char *handle, int64_t delay_ms)
{
	struct target t;
	struct mq_queue *q;
	int r;

	if (resolve(s, handle, 1U << MQ_INFLIGHT, &t) == -1)
		return -1;
	q = t.q;
	if (delay_ms < 0)
		delay_ms = backoff(&q->conf, t.m.attempts);
	if (q->conf.max_attempts > 0 &&
	    t.m.attempts >= q->conf.max_attempts) {
		r = bury_now(q, t.fd, t.name, &t.m, "attempts");
	} else {
		t.m.notbefore = delay_ms > 0 ?
		    ceil_s(mq_now_ms() + delay_ms) : 0;
		r = back(q, t.fd, t.name, &t.m);
	}
	if (r == -1 && errno == ENOENT)
		errno = ESTALE;
	if (r == 0)
		r = mark_dirty(q, t.rel);
	return r;
}

/*
 * Back to ready at once, the claim's attempt undone: the message was never
 * tried (mq-forward lost its broker before the confirm came), so it must
 * not move a step closer to dead/.
 */
int
mq_unclaim(struct mq_session *s, const char *handle)
{
	struct target t;
	int r;

	if (resolve(s, handle, 1U << MQ_INFLIGHT, &t) == -1)
		return -1;
	if (t.m.attempts > 0)
		t.m.attempts--;
	t.m.notbefore = 0;
	if ((r = back(t.q, t.fd, t.name, &t.m)) == -1 && errno == ENOENT)
		errno = ESTALE;
	if (r == 0)
		r = mark_dirty(t.q, t.rel);
	return r;
}

/* Straight to dead/, whatever the attempts: the consumer says it never will. */
int
mq_reject(struct mq_session *s, const char *handle)
{
	struct target t;
	int r;

	if (resolve(s, handle, 1U << MQ_INFLIGHT, &t) == -1)
		return -1;
	/* bury_now would make a failed flush's ENOENT a lost lease */
	if ((r = bury(t.q, t.fd, t.name, &t.m, "rejected")) == -1 &&
	    errno == ENOENT)
		errno = ESTALE;
	if (group_flush(t.q) == -1 && r == 0)
		r = -1;
	if (r == 0)
		r = mark_dirty(t.q, t.rel);
	return r;
}

int
mq_touch(struct mq_session *s, const char *handle, int64_t lease_ms)
{
	struct timespec ts[2];
	struct target t;
	int64_t dl;
	int r;

	if (resolve(s, handle, 1U << MQ_INFLIGHT, &t) == -1)
		return -1;
	if (lease_ms <= 0)
		lease_ms = t.m.lease > 0 ? t.m.lease : t.q->conf.lease_ms;
	if (lock_sh(t.q, LK_LEASE) == -1)
		return -1;
	if (lease_ms == t.m.lease) {
		/* the claim's own lease, from now: write permission will do */
		r = set_deadline(t.q, t.fd, t.name, &t.m, NULL);
	} else {
		/* another length: an mtime that ends it then (owner only) */
		dl = mq_now_ms() + lease_ms - t.m.lease;
		ts[0].tv_sec = ts[1].tv_sec = dl / 1000;
		ts[0].tv_nsec = ts[1].tv_nsec = (dl % 1000) * 1000000;
		r = set_deadline(t.q, t.fd, t.name, &t.m, ts);
	}
	unlock(t.q, LK_LEASE);
	if (r == -1 && errno == ENOENT)
		errno = ESTALE;
	return r;
}

/* resolve, for mq-kick: a path of queue's (NULL: any) in one of states */
static int
resolve_of(struct mq_session *s, const char *queue, const char *path,
    unsigned states, struct target *t)
{
	if (resolve(s, path, states, t) == -1)
		return -1;
	if (queue != NULL && strcmp(queue, t->q->name) != 0) {
		target_close(t);
		errno = MQ_EHANDLE;
		return -1;
	}
	return 0;
}

int
mq_kick(struct mq_session *s, const char *queue, const char *path)
{
	struct target t;
	int r;

	if (resolve_of(s, queue, path, 1U << MQ_DEAD, &t) == -1)
		return -1;
	/* no binding took it: the bindings of now decide where it goes */
	if (strcmp(t.m.reason, R_UNROUTABLE) == 0 &&
	    (r = fanout_revive(t.q, t.name, &t.m)) != 1)
		return r;
	return revive(t.q, t.name, &t.m);
}

/*
 * Hold a ready, delayed or in-flight message.  It takes the queue lock
 * shared, like every move; a claim, promote or reclaim racing for the
 * same file loses or wins by the one rename.
 */
int
mq_hold(struct mq_session *s, const char *handle, char *held, size_t len)
{
	char name[MQ_NAME_MAX + 1];
	struct target t;
	int r;

	if (resolve(s, handle, 1U << MQ_READY | 1U << MQ_DELAYED |
	    1U << MQ_INFLIGHT, &t) == -1)
		return -1;
	r = hold(t.q, t.fd, t.name, &t.m, name);
	/* held ones are not counted in the backlog */
	if (r == 0 && t.state != MQ_INFLIGHT)
		backlog_out(t.q, &t.m);
	if (r == -1 && errno == ENOENT &&
	    faccessat(t.fd, t.name, F_OK, AT_SYMLINK_NOFOLLOW) == -1)
		errno = gone(t.state);
	if (r == 0)
		r = mark_dirty(t.q, t.rel);
	if (r == 0)
		r = fmt_handle(held, len, t.q->path, MQ_HELD, NULL, name);
	target_close(&t);
	return r;
}

int
mq_release(struct mq_session *s, const char *handle)
{
	struct target t;
	int r;

	if (resolve(s, handle, 1U << MQ_HELD, &t) == -1)
		return -1;
	/* held ones are not counted: a release takes room, or is refused */
	if (room(t.q, &t.m) == -1)
		return -1;
	r = unhold(t.q, t.name, &t.m);
	if (r == -1) {
		int saved = errno == ENOENT ? MQ_EMOVED : errno;

		backlog_out(t.q, &t.m);
		errno = saved;
	}
	return r;
}

/*
 * Open a message of any state to read it.  resolve() looked at the name
 * without following it; the open looks again (no link followed, no
 * blocking, a regular file), and the twin check is made on what was
 * opened, so that nothing swapped in between the two is read.
 */
int
mq_open_message(struct mq_session *s, const char *path,
    struct mq_message *msg)
{
	struct target t;
	struct stat st;
	int fd;

	if (resolve(s, path, (1U << MQ_NSTATES) - 1, &t) == -1) {
		/* gone() says ENOENT of dead/ for mq-kick's sake */
		if (errno == ENOENT)
			errno = MQ_EMOVED;
		return -1;
	}
	fd = mq_openat_stat(t.fd, t.name, O_RDONLY, 0, &st);
	if (fd == -1 && errno == ENOENT)
		errno = t.state == MQ_INFLIGHT ? ESTALE : MQ_EMOVED;
	else if (fd != -1 && !linked_ok(&t.m, &st)) {
		close(fd);
		fd = -1;
		errno = MQ_EHANDLE;
	}
	if (fd != -1) {
		strlcpy(msg->queue, t.q->name, sizeof(msg->queue));
		msg->state = t.state;
		msg->name = t.m;
		msg->size = (int64_t)st.st_size;
		msg->lease_end = t.state == MQ_INFLIGHT ?
		    lease_end(&st, &t.m) : 0;
	}
	target_close(&t);
	return fd;
}

/*
 * The end of a move of one resolved message, made under a lock now
 * dropped (r its result): a file gone is a message gone from that state;
 * the groups a message that left let go on; its directory to sync.
 */
int
moved(struct target *t, int r)
{
	int saved;

	if (r == -1 && errno == ENOENT)
		errno = gone(t->state);
	/* refused too: a release owed from before the refusal is dropped */
	saved = errno;
	if (group_flush(t->q) == -1 && r == 0)
		r = -1;
	else if (r == -1)
		errno = saved;
	if (r == 0)
		r = mark_dirty(t->q, t->rel);
	target_close(t);
	return r;
}

/*
 * Roll back a prepared message: under its key's lock, so that a put with
 * the key sees it either prepared (and is refused) or gone with its key
 * (and puts anew); out of prepared/ by one rename, which a commit racing
 * for it wins or loses, then away through withdraw (retire.c).
 */
static int
rollback(struct target *t)
{
	int keyed = t->m.key[0] != '\0', r;

	if (keyed && key_lock(t->q, t->m.key, F_WRLCK) == -1)
		return -1;
	if ((r = lock_sh(t->q, LK_QUEUE)) == 0) {
		r = mq_rename(t->fd, t->name, t->q->tmpfd, t->name);
		unlock(t->q, LK_QUEUE);
	}
	if (r == 0)
		r = withdraw(t->q, t->q->tmpfd, t->name, &t->m);
	if (keyed)
		key_lock(t->q, t->m.key, F_UNLCK);
	return r;
}

/*
 * Delete one message that is not in flight (mq-rm): it leaves through
 * retire(), as a purged one does; in flight it is its consumer's to
 * settle.  Under the queue lock shared, like every move, it first takes
 * the file out of its state by one rename, into tmp/, which a claim racing
 * for it wins or loses: only then is the key touched.  (retire() straight
 * from the state would start the key's window, lose the file to a claim,
 * and set the key back to live, after the claimant's ack may have started
 * its window: a key live for good, its message gone.)  A crash after the
 * rename leaves a file in tmp/, which mq-fsck removes, and a live key of
 * a message that is gone, which it ends.
 */
int
mq_rm(struct mq_session *s, const char *path)
{
	struct target t;
	int r;

	if (resolve(s, path, 1U << MQ_READY | 1U << MQ_DELAYED |
	    1U << MQ_HELD | 1U << MQ_DEAD | 1U << MQ_DONE | 1U << MQ_PREPARED,
	    &t) == -1)
		return -1;
	if (t.state == MQ_PREPARED)
		return moved(&t, rollback(&t));
	if ((r = lock_sh(t.q, LK_QUEUE)) == 0) {
		r = mq_rename(t.fd, t.name, t.q->tmpfd, t.name);
		/* out in its group unless dead or done: then its next is due */
		if (r == 0)
			r = retire(t.q, t.q->tmpfd, t.name, &t.m,
			    t.state != MQ_DEAD && t.state != MQ_DONE ?
			    RT_OUT : 0);
		unlock(t.q, LK_QUEUE);
	}
	if (r == 0 && (t.state == MQ_READY || t.state == MQ_DELAYED))
		backlog_out(t.q, &t.m);
	return moved(&t, r);
}

/* One delayed message ready now (mq-kick -s delayed; see hasten). */
int
mq_kick_delayed_one(struct mq_session *s, const char *queue,
    const char *path)
{
	struct target t;
	int r;

	if (resolve_of(s, queue, path, 1U << MQ_DELAYED, &t) == -1)
		return -1;
	if ((r = lock_ex(t.q, LK_PROMOTE)) == 0) {
		r = hasten(t.q, t.fd, t.name, &t.m);
		unlock(t.q, LK_PROMOTE);
	}
	return moved(&t, r);
}

/*
 * Commit a prepared message: admit() takes it where a put would have,
 * its group's turn taken now, not when it was prepared.  ,a counted a
 * checker's asks: it starts its deliveries at 0.  A checker's ask renames
 * it meanwhile (resolve.c): the handle is resolved again, by its id.
 */
int
mq_commit(struct mq_session *s, const char *path)
{
	struct target t;
	int r, tries = 0;

	do {
		if (resolve(s, path, 1U << MQ_PREPARED, &t) == -1)
			return errno == MQ_EMOVED ? (errno = MQ_EGONE, -1) : -1;
		t.m.attempts = 0;
		r = admit(t.q, t.fd, t.name, &t.m);
		if (r == -1 && errno == ENOENT && ++tries < 8) {
			target_close(&t);
			continue;
		}
		break;
	} while (1);
	if ((r = moved(&t, r)) == -1 && errno == MQ_EMOVED)
		errno = MQ_EGONE;
	return r;
}
