/*
 * retire.c - the roads out: a message leaves the spool for good (retire),
 * or goes to dead/ (bury).  What leaving means for its key and its
 * ordered group is kept here, once, so that no road can forget a part of
 * it.
 */
#include <sys/types.h>

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

/*
 * A message leaves the spool for good: the one way it is done, whatever
 * the road (an ack, a purge of any state, the purge of the messages
 * waiting their group's turn, mq-rm, the drop of a done message).
 * - Its key stays known for dedup_window from now (key_release, key.c).
 *   The deadline is set before the unlink, so that a crash in between
 *   leaves a message delivered again, never a key known for good; it is
 *   set back if the unlink fails.
 * - An ack (RT_ACK) of a queue with retain moves it into done/ instead
 *   (done.c): gone for its key and its group all the same, kept for
 *   replay.  A done message that goes leaves the done record.
 * - If it was its group's out message (RT_OUT), the group's next is due:
 *   it is noted, and group_flush releases it once the caller has dropped
 *   its locks, owed from before the unlink (group_leaving, group.c).  Not
 *   so for a dead message, whose group went on when it died, nor for one
 *   waiting in groups/, which was never out, nor a done one; nor for an
 *   ack, which releases the next itself, before the unlink.
 * Call with the queue lock held, shared or exclusive.
 */
int
retire(struct mq_queue *q, int fromfd, const char *from,
    const struct mq_name *m, int how)
{
	int k, r, saved;

	if ((how & RT_OUT) && m->group[0] != '\0' &&
	    group_leaving(q, m->group) == -1)
		return -1;
	if ((k = key_release(q, m)) == -1)
		return -1;
	if ((how & RT_ACK) && q->conf.retain_ms > 0)
		r = done_keep(q, fromfd, from, m);
	else if ((r = unlinkat(fromfd, from, 0)) == 0 && m->done != 0)
		done_add(q, -1, -m->size, 0);
	if (r == -1) {
		saved = errno;
		if (k == 1)
			key_keep(q, m);
		errno = saved;
		return -1;
	}
	return (how & RT_OUT) && m->group[0] != '\0' ?
	    group_defer(q, m->group) : 0;
}

/*
 * A prepared message rolled back (mq-rm) leaves the spool by this road:
 * it was never published, so its key is forgotten at once, not kept for
 * dedup_window as retire() keeps a delivered one's, and a retry of its
 * put is not swallowed; no group ever gave it a turn.  The caller has
 * taken it out of prepared/ into tmp/ first (mq_rm): a crash after that
 * leaves a live key whose message is gone, with a prepared/ record, which
 * mq-fsck forgets as this would have (key_orphans).  Call with its key
 * lock held.
 */
int
withdraw(struct mq_queue *q, int fromfd, const char *from,
    const struct mq_name *m)
{
	if (m->key[0] != '\0' && key_forget(q, m->key, m->id) == -1)
		return -1;
	return unlinkat(fromfd, from, 0);
}

/*
 * Dead-letter a message, with the reason in its name.  Dead is gone for
 * its group: the next may go (group.c).  The group is noted, for callers
 * that hold the lease, promote or queue lock and flush once they have
 * dropped them (the upkeep); bury_now is for callers that hold none.
 */
int
bury(struct mq_queue *q, int fromfd, const char *from, struct mq_name *m,
    const char *reason)
{
	if (m->group[0] != '\0' && group_leaving(q, m->group) == -1)
		return -1;
	if (entomb(q, fromfd, from, m, reason) == -1)
		return -1;
	return m->group[0] != '\0' ? group_defer(q, m->group) : 0;
}

/* bury, and the group's next released at once; call holding no lock. */
int
bury_now(struct mq_queue *q, int fromfd, const char *from,
    struct mq_name *m, const char *reason)
{
	int r, saved;

	r = bury(q, fromfd, from, m, reason);
	saved = errno;
	if (group_flush(q) == -1 && r == 0)
		return -1;
	errno = saved;
	return r;
}
