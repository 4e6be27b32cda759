/*
 * group.c - ordered groups (mq-put -g): the messages of one group are
 * delivered one at a time, in put order, while other groups go on.
 *
 * A group is busy while QUEUE/groups/HASH/ exists (HASH as for keys, of
 * the group's name): then one of its messages is out, that is ready,
 * delayed, in flight or held.  Its other messages wait in that directory
 * under the names they will be published with; ids grow with every put of
 * a producer, so name order is put order.  When the out message leaves for
 * good (acknowledged, dead, purged) the first waiting one is published,
 * or the directory removed when none waits.  A message returned (nack,
 * expired lease) or held stays out: the next one waits for it.  A dead
 * one is out no more: purging it later releases nothing, nor does purging
 * a waiting one (retire() in retire.c knows which is which).
 *
 * Invariants:
 * - Whether a group is busy and which message goes out next are decided
 *   under the group's lock, a byte of the lock file taken before every
 *   other lock except a key lock.  Moves into and out of groups/ also hold
 *   the queue lock shared, so mq-purge (exclusive) sees them whole.
 * - Code that settles a message while it holds the lease, promote or
 *   queue lock (reclaim, promote, purge, mq-rm, mq-mv) cannot take a group
 *   lock without breaking the lock order: it notes the group and
 *   group_flush releases the next message once those locks are dropped.
 *   From before the out message leaves until then, the group has no
 *   message out and its release is owed: the road holds the group's owed
 *   byte shared (group_leaving), so that mq-fsck, which releases a group
 *   it finds with none out, passes it by (group_owed) instead of letting
 *   a second message out beside the one the flush will release.  A crash
 *   drops the byte with the process: the group is then stuck for mq-fsck.
 * - An ack publishes the next message before it removes the acked one: a
 *   crash in between delivers the acked message again (a duplicate, never
 *   a group stuck for good).  A group noted for a later flush that never
 *   comes (a crash) stays busy until mq-fsck(1) releases it.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

/* groups/, opened (and made, durably, when create is set). */
static int
groups_dir(struct mq_queue *q, int create)
{
	while (q->groups.fd == -1) {
		q->groups.fd = mq_opendirat(q->dfd, L_GROUPS);
		if (q->groups.fd == -1 && (errno != ENOENT || !create ||
		    make_dir(q, q->dfd, L_GROUPS) == -1))
			return -1;
	}
	return q->groups.fd;
}

/*
 * Put a written message (fromfd/from) of a group: published when the group
 * is free (which makes it busy), else left waiting its turn.
 */
int
group_put(struct mq_queue *q, int fromfd, const char *from, struct mq_name *m)
{
	char rel[STATEDIR_MAX], name[MQ_NAME_MAX + 1];
	int gfd, fd, r;

	if (group_lock(q, m->group, F_WRLCK) == -1)
		return -1;
	if ((gfd = groups_dir(q, 1)) == -1) {
		r = -1;
		goto out;
	}
	if (mkdirat(gfd, m->group, 0777) == 0) {
		/* busy from now on, and durably so before its message is out */
		if (own_dirat(&q->conf, gfd, m->group) == -1 ||
		    (q->conf.sync != MQ_SYNC_NONE && fsync(gfd) == -1))
			r = -1;
		else
			r = publish(q, fromfd, from, m);
		goto out;
	}
	if (errno != EEXIST) {
		r = -1;
		goto out;
	}
	if ((fd = mq_opendirat(gfd, m->group)) == -1) {
		r = -1;
		goto out;
	}
	/* named as it will be published: no token, no dead reason */
	m->token[0] = '\0';
	m->lease = 0;
	m->reason[0] = '\0';
	if ((r = mq_name_format(m, name, sizeof(name))) == 0 &&
	    (r = lock_sh(q, LK_QUEUE)) == 0) {
		r = mq_rename(fromfd, from, fd, name);
		unlock(q, LK_QUEUE);
	}
	close(fd);
	fmt_groupdir(rel, m->group);
	if (r == 0)
		r = mark_dirty(q, rel);
out:
	group_lock(q, m->group, F_UNLCK);
	return r;
}

/*
 * The out message of a group has left: publish the next one, or free the
 * group.  The caller holds the group lock.
 */
int
group_next(struct mq_queue *q, const char *hash)
{
	struct mq_name m;
	char **v;
	size_t n, i;
	int gfd, fd, r = 0;

	if ((gfd = groups_dir(q, 0)) == -1)
		return errno == ENOENT ? 0 : -1;
	if ((fd = mq_opendirat(gfd, hash)) == -1)
		return errno == ENOENT ? 0 : -1;
	if (list_names(fd, ".", &v, &n, LN_SORT | LN_FILES) == -1) {
		close(fd);
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (mq_name_parse(v[i], &m) == -1 ||
		    !name_fits(&m, MQ_READY, NULL) || strcmp(m.group, hash) != 0)
			continue;	/* not ours: left alone */
		r = publish(q, fd, v[i], &m);
		if (r == 0 || errno != ENOENT)
			break;
	}
	if (i == n) {
		/* none waits: the group is free (junk keeps it busy) */
		if (unlinkat(gfd, hash, AT_REMOVEDIR) == 0)
			r = mark_dirty(q, L_GROUPS);
		else if (errno != ENOTEMPTY && errno != ENOENT)
			r = -1;
	}
	free_names(v, n);
	close(fd);
	return r;
}

/* Forget the groups noted. */
static void
groups_forget(struct groups *g)
{
	free_names(g->defer, g->ndefer);
	g->defer = NULL;
	g->ndefer = g->capdefer = 0;
}

/*
 * The out message of a group is about to leave without its group lock:
 * its release is owed until group_flush.  One that then does not leave
 * keeps the byte until the flush, or the queue's close: mq-fsck only
 * waits longer to release a group that is stuck.
 */
int
group_leaving(struct mq_queue *q, const char *hash)
{
	if (owed_lock(q, hash, F_RDLCK) == -1)
		return -1;
	q->groups.owed = 1;
	return 0;
}

/* Note a group whose out message left while other locks were held. */
int
group_defer(struct mq_queue *q, const char *hash)
{
	return names_push(&q->groups.defer, &q->groups.ndefer,
	    &q->groups.capdefer, hash);
}

/*
 * Whether another's release of the group's next is owed (call holding the
 * group lock, under which such a release is made).  The byte is shared by
 * groups whose hashes meet modulo LK_NGROUPS: a yes can be another group's.
 */
int
group_owed(struct mq_queue *q, const char *hash)
{
	if (owed_lock_try(q, hash) == 0)
		return owed_lock(q, hash, F_UNLCK) == -1 ? -1 : 0;
	return errno == EAGAIN || errno == EACCES ? 1 : -1;
}

/* Release the next message of every group noted; no other lock is held. */
int
group_flush(struct mq_queue *q)
{
	size_t i;
	int r = 0, saved = 0;

	for (i = 0; i < q->groups.ndefer; i++) {
		if (group_lock(q, q->groups.defer[i], F_WRLCK) == -1 ||
		    group_next(q, q->groups.defer[i]) == -1) {
			if (saved == 0)
				saved = errno;
			r = -1;
		}
		group_lock(q, q->groups.defer[i], F_UNLCK);
	}
	groups_forget(&q->groups);
	if (q->groups.owed) {
		owed_unlock_all(q);
		q->groups.owed = 0;
	}
	if (r == -1)
		errno = saved;
	return r;
}

/*
 * Call fn on every message waiting in the group of hash, in put order
 * (name order: junk is passed over); fn returns 0 to go on.  The group's
 * directory is marked changed when mark is set.
 */
int
group_waiting(struct mq_queue *q, const char *hash, int mark,
    int (*fn)(struct mq_queue *, int fd, const char *name,
    const struct mq_name *, void *),
    void *arg)
{
	struct mq_name m;
	char **v, rel[STATEDIR_MAX];
	size_t n, j;
	int gfd, fd, r = 0;

	if ((gfd = groups_dir(q, 0)) == -1)
		return errno == ENOENT ? 0 : -1;
	if ((fd = mq_opendirat(gfd, hash)) == -1)
		return 0;
	if (list_names(fd, ".", &v, &n, LN_SORT | LN_FILES) == 0) {
		for (j = 0; j < n && r == 0; j++)
			if (mq_name_parse(v[j], &m) == 0 &&
			    name_fits(&m, MQ_READY, NULL))
				r = fn(q, fd, v[j], &m, arg);
		free_names(v, n);
	}
	close(fd);
	fmt_groupdir(rel, hash);
	if (r == 0 && mark && mark_dirty(q, rel) == -1)
		r = -1;
	return r;
}

/* group_waiting of every group. */
int
group_each_waiting(struct mq_queue *q, int mark,
    int (*fn)(struct mq_queue *, int fd, const char *name,
    const struct mq_name *, void *),
    void *arg)
{
	char **g;
	size_t ng, i;
	int gfd, r = 0;

	if ((gfd = groups_dir(q, 0)) == -1)
		return errno == ENOENT ? 0 : -1;
	if (list_names(gfd, ".", &g, &ng, LN_DIRS) == -1)
		return -1;
	for (i = 0; i < ng && r == 0; i++)
		r = group_waiting(q, g[i], mark, fn, arg);
	free_names(g, ng);
	return r;
}

struct tally {
	long long	*count, *bytes;
};

static int
count1(struct mq_queue *q, int fd, const char *name, const struct mq_name *m,
    void *arg)
{
	struct tally *t = arg;

	(void)q;
	(void)fd;
	(void)name;
	(*t->count)++;
	if (m->size > 0)
		*t->bytes += m->size;
	return 0;
}

/* Messages waiting for their group's turn, and their bytes (for mq-stat). */
int
group_count(struct mq_queue *q, long long *count, long long *bytes)
{
	struct tally t = { count, bytes };

	return group_each_waiting(q, 0, count1, &t);
}

void
groups_close(struct groups *g)
{
	close_fd(&g->fd);
	groups_forget(g);
}
