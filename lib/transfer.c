/*
 * transfer.c - moving messages to another queue of the spool (mq-mv),
 * with their id, key, group, priority, expiry and headers.
 *
 * Invariants:
 * - A message moves by one rename(2) of its file, from its state in the
 *   source into the destination, through admit(): its group's turn there,
 *   or ready, or delayed by the not-before time in its name.  At every
 *   instant it is in one queue or the other, never both, never neither;
 *   its headers are an attribute of the file and go with it.  The rename
 *   holds the source's queue lock shared, as every move does, so that a
 *   purge or count of the source (exclusive) sees it whole.
 * - A keyed message's key is recorded in the destination, durably and
 *   under the destination's key lock, before the rename, and the lock is
 *   held until the message is there: a keyed put to the destination
 *   meanwhile waits, then finds the key and the message.  A key the
 *   destination knows for another message is a clash and the message
 *   stays.  Once moved, the message has left the source: its key there
 *   gets the deadline every message that leaves gets (key_release).  A
 *   crash between the steps leaves a key live for a message not in its
 *   queue, which mq-fsck ends (key_orphans), never a message lost.
 * - A message that was out in its group in the source (ready, delayed or
 *   held; a dead one is not) lets the group's next go, as one that leaves
 *   does (group_defer), owed from before the rename (group_leaving), so
 *   that mq-fsck does not take the group for stuck and let a second out.  A whole state moved takes the messages waiting
 *   behind it along, in their order, so that a group is not split.
 * - The ids of the destination are listed when a mover begins, and each
 *   moved one is added: a message whose id is there is refused, as two
 *   messages of one id in a queue could not be told apart (a fan-out copy
 *   is the same id in each subscriber).  A mover holds the destination's
 *   mover lock from before the listing to its end, so that two movers into
 *   one queue cannot both find an id missing and both move it there.
 * - The listing is not kept fresh by others: a mover the other way takes
 *   ids out of it, and a put to a topic of the destination adds fan-out
 *   copies.  Either comes with a message that reached its queue after the
 *   listing began (ctime, which a rename sets): the message came back from
 *   the destination, or it is a fan-out copy whose fellow in the
 *   destination came with it.  Such a message has the destination listed
 *   again before it is refused or, for a fan-out copy, moved.  No put to a
 *   topic of the destination is under way during a listing (the topics'
 *   subscription locks, exclusive), and a copy of one under way when it
 *   moves (its body still in the topic's tmp/) is refused: its fellow is
 *   on its way to the destination.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

#define MOVABLE	(1U << MQ_READY | 1U << MQ_DELAYED | 1U << MQ_HELD | \
		    1U << MQ_DEAD)

/*
 * The states mq-mv takes messages from.  Not in flight (its consumer's to
 * settle), done (gone for all but mq-replay, which copies) or prepared
 * (not published: mq-commit's, or its checker's, to say).
 */
int
mq_move_state(int state)
{
	return state >= 0 && state < MQ_NSTATES && (MOVABLE & 1U << state);
}

struct mq_mover {
	struct mq_queue	*dest;
	char		(*ids)[MQ_ID_LEN + 1];	/* open addressing, "" free */
	size_t		 nids, cap;		/* cap a power of 2 */
	int64_t		 listed;	/* when the listing began, in ms */
	struct mq_queue	**topics;	/* the destination's, in name order */
	size_t		 ntopics;
};

/*
 * A rename's ctime comes from the kernel's coarse clock, which may lag
 * the one read for the listing by a tick: a message newer than the
 * listing less this is taken as newer.
 */
#define CTIME_SLACK_MS	1000

static size_t
id_slot(const struct mq_mover *mv, const char *id)
{
	uint64_t h = UINT64_C(14695981039346656037);	/* FNV-1a */
	const char *p;
	size_t i;

	for (p = id; *p != '\0'; p++)
		h = (h ^ (unsigned char)*p) * UINT64_C(1099511628211);
	i = (size_t)h & (mv->cap - 1);
	while (mv->ids[i][0] != '\0' && strcmp(mv->ids[i], id) != 0)
		i = (i + 1) & (mv->cap - 1);
	return i;
}

static int
id_has(const struct mq_mover *mv, const char *id)
{
	return mv->ids[id_slot(mv, id)][0] != '\0';
}

static int
id_add(struct mq_mover *mv, const char *id)
{
	char (*old)[MQ_ID_LEN + 1] = mv->ids;
	size_t i, n = mv->cap;

	/* at most half full, so a probe ends soon */
	if (2 * (mv->nids + 1) > mv->cap) {
		if ((mv->ids = calloc(2 * n, sizeof(*mv->ids))) == NULL) {
			mv->ids = old;
			return -1;
		}
		mv->cap = 2 * n;
		for (i = 0; i < n; i++)
			if (old[i][0] != '\0')
				memcpy(mv->ids[id_slot(mv, old[i])], old[i],
				    sizeof(old[i]));
		free(old);
	}
	i = id_slot(mv, id);
	if (mv->ids[i][0] == '\0') {
		strlcpy(mv->ids[i], id, sizeof(mv->ids[i]));
		mv->nids++;
	}
	return 0;
}

static int
list1(struct mq_queue *q, int dirfd, const char *name, const char *path,
    const struct mq_name *m, void *arg)
{
	(void)q;
	(void)dirfd;
	(void)name;
	(void)path;
	return id_add(arg, m->id);
}

static int
listwaiting1(struct mq_queue *q, int fd, const char *name,
    const struct mq_name *m, void *arg)
{
	(void)q;
	(void)fd;
	(void)name;
	return id_add(arg, m->id);
}

/*
 * The topics dest subscribes to, opened, in name order: a fan-out copy
 * moved into dest may have a fellow there.
 */
static int
open_topics(struct mq_mover *mv)
{
	struct mq_queue *t;
	struct mq_conferr ce;	/* a topic's mq.conf is its puts' affair */
	char spool[PATH_MAX], **v;
	size_t n, i;
	int r = 0;

	if (topics_of(mv->dest, &v, &n) == -1)
		return -1;
	spool_of(mv->dest, spool, sizeof(spool));
	if (n > 0 && (mv->topics = calloc(n, sizeof(*mv->topics))) == NULL)
		r = -1;
	for (i = 0; i < n && r == 0; i++) {
		if ((t = mq_queue_open(spool, v[i], 0, &ce)) == NULL)
			r = -1;
		else
			mv->topics[mv->ntopics++] = t;
	}
	free_names(v, n);
	return r;
}

/*
 * List the ids of dest afresh, under its queue lock held exclusive, so
 * that none is missed as it moves between states, and its topics'
 * subscription locks, so that no fan-out into it is half done.
 */
static int
list_ids(struct mq_mover *mv)
{
	struct mq_queue *dest = mv->dest;
	size_t i, nt;
	int state, r = 0, saved;

	memset(mv->ids, 0, mv->cap * sizeof(*mv->ids));
	mv->nids = 0;
	for (nt = 0; nt < mv->ntopics && r == 0; nt++)
		r = lock_ex(mv->topics[nt], LK_SUBS);
	if (r == 0) {
		mv->listed = mq_now_ms();
		r = lock_ex(dest, LK_QUEUE);
	}
	/*
	 * Not done/: a done message is gone for all but mq-replay, whose
	 * copies take new ids, and done/ may hold a long past, not to be read
	 * under the queue lock (mq-stat never lists it either).
	 */
	for (state = 0; state < MQ_NSTATES && r == 0; state++)
		if (state != MQ_DONE)
			r = walk_state(dest, state, list1, mv);
	if (r == 0)
		r = group_each_waiting(dest, 0, listwaiting1, mv);
	saved = errno;
	unlock(dest, LK_QUEUE);
	for (i = 0; i < nt; i++)
		unlock(mv->topics[i], LK_SUBS);
	errno = saved;
	return r;
}

/*
 * A mover into dest: a topic holds no messages (its puts go to its
 * subscribers), so it is none.
 */
struct mq_mover *
mq_move_begin(struct mq_queue *dest)
{
	struct mq_mover *mv;
	int saved;

	if (no_topic(dest) == -1)
		return NULL;
	if ((mv = calloc(1, sizeof(*mv))) == NULL)
		return NULL;
	mv->dest = dest;
	mv->cap = 1024;
	if ((mv->ids = calloc(mv->cap, sizeof(*mv->ids))) == NULL) {
		free(mv);
		return NULL;
	}
	/* taken first and alone: a mover waits for it holding nothing */
	if (lock_ex(dest, LK_MOVER) == -1 || open_topics(mv) == -1 ||
	    list_ids(mv) == -1) {
		saved = errno;
		mq_move_end(mv);
		errno = saved;
		return NULL;
	}
	return mv;
}

/*
 * Whether dest holds the id of the message dirfd/name of src (1), as far
 * as can be known: a message newer than the listing has it made again
 * first (see the top of the file).
 */
static int
holds(struct mq_mover *mv, int dirfd, const char *name,
    const struct mq_name *m)
{
	struct stat st;
	int64_t ct;
	size_t i;

	if (m->fanout)
		for (i = 0; i < mv->ntopics; i++)
			if (faccessat(mv->topics[i]->tmpfd, m->id, F_OK,
			    AT_SYMLINK_NOFOLLOW) == 0)
				return 1;
	if (!id_has(mv, m->id) && !(m->fanout && mv->ntopics > 0))
		return 0;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == -1)
		return -1;	/* ENOENT: gone meanwhile */
	ct = (int64_t)st.st_ctim.tv_sec * 1000 + st.st_ctim.tv_nsec / 1000000;
	if (ct >= mv->listed - CTIME_SLACK_MS && list_ids(mv) == -1)
		return -1;
	return id_has(mv, m->id);
}

/* what a queue's backlog counts (max_length): waiting ones count as ready */
#define COUNTED(state)	((state) == MQ_READY || (state) == MQ_DELAYED)

/*
 * Move the message dirfd/name of src to the mover's queue; out: it was
 * out in its group; counted: src's backlog counts it (ready, delayed,
 * waiting its group's turn), and leaves it once it is gone.  ENOENT: it
 * left where it was meanwhile.
 */
static int
move1(struct mq_mover *mv, struct mq_queue *src, int dirfd,
    const char *name, const struct mq_name *m0, int out, int counted)
{
	struct mq_queue *dest = mv->dest;
	struct mq_name m = *m0;
	char id[MQ_ID_LEN + 1];
	int k = 0, r, saved, gone = 0, roomed = 0, entered = 0;

	if ((r = holds(mv, dirfd, name, &m)) != 0) {
		if (r == 1)
			errno = MQ_EIDCLASH;
		return -1;
	}
	if (m.key[0] != '\0') {
		if (key_lock(dest, m.key, F_WRLCK) == -1)
			return -1;
		/*
		 * One of this id is what a move that died after recording
		 * it left, perhaps given its deadline by mq-fsck since:
		 * recorded again, live.
		 */
		if ((k = key_lookup(dest, m.key, id, NULL)) == 1 &&
		    strcmp(id, m.id) != 0) {
			errno = MQ_EKEYCLASH;
			k = -1;
		}
		if (k == -1 || key_record(dest, m.key, m.id, NULL, 1) == -1) {
			r = -1;
			goto out;
		}
	}
	/* a fresh start there, as a new put; dead or held is the source's */
	m.attempts = 0;
	m.reason[0] = '\0';
	/*
	 * Room in dest first: its recount takes dest's queue lock exclusive,
	 * never to be waited for holding src's (two movers both ways would
	 * wait for each other for good).
	 */
	if ((r = room(dest, &m)) == 0)
		roomed = 1;
	/* the group's next is owed from before its out message leaves */
	if (r == -1 || (out && m0->group[0] != '\0' &&
	    group_leaving(src, m0->group) == -1))
		r = -1;
	else if ((r = lock_sh(src, LK_QUEUE)) == 0) {
		entered = 1;
		if ((r = enter(dest, dirfd, name, &m)) == 0)
			gone = 1;
		else if (errno != ENOENT) {
			saved = errno;
			gone = faccessat(dirfd, name, F_OK,
			    AT_SYMLINK_NOFOLLOW) == -1;
			errno = saved;
		}
		/* in dest now (a failed sync after the rename is no undo) */
		if (gone) {
			saved = errno;
			if (counted)
				backlog_out(src, m0);
			if (key_release(src, m0) == -1 || (out &&
			    m0->group[0] != '\0' &&
			    group_defer(src, m0->group) == -1))
				r = -1;
			else
				errno = saved;
		}
		unlock(src, LK_QUEUE);
	}
	/* enter() gives back the room it was given; not entered, we do */
	if (roomed && !entered)
		backlog_out(dest, &m);
	/*
	 * Not moved (ENOENT: another took it first): take back our record.
	 * One that was there before (k == 1) we made live again: it gets a
	 * deadline, as a message that left, never stays live for good with
	 * no message of its id in dest (a keyed put there would be swallowed).
	 */
	if (!gone && k >= 0 && m.key[0] != '\0') {
		saved = errno;
		if (k == 0)
			key_forget(dest, m.key, m.id);
		else
			key_release(dest, &m);
		errno = saved;
	}
out:
	if (m.key[0] != '\0') {
		saved = errno;
		key_lock(dest, m.key, F_UNLCK);
		errno = saved;
	}
	if (gone && id_add(mv, m.id) == -1)
		r = -1;
	return r;
}

/*
 * Move one message named by its path (mq-mv dest path): any state but in
 * flight, which is its consumer's to settle.
 */
int
mq_move(struct mq_mover *mv, struct mq_session *s, const char *path)
{
	struct target t;

	if (resolve(s, path, MOVABLE, &t) == -1)
		return -1;
	if (strcmp(t.q->name, mv->dest->name) == 0) {
		target_close(&t);
		errno = MQ_ESAMEQ;
		return -1;
	}
	return moved(&t, move1(mv, t.q, t.fd, t.name, &t.m,
	    t.state != MQ_DEAD, COUNTED(t.state)));
}

struct allarg {
	struct mq_mover	*mv;
	int		 state;
	long long	 n;
	int		 kept;		/* errno of a message refused, or 0 */
	char		**groups;	/* whose out message moved */
	size_t		 ngroups, capgroups;
	char		 rel[STATEDIR_MAX];
};

/* A refusal keeps one message and goes on; a message gone is none. */
static int
refused(struct allarg *a)
{
	if (errno == ENOENT)
		return 0;
	if (errno != MQ_EIDCLASH && errno != MQ_EKEYCLASH)
		return -1;
	a->kept = errno;
	return 1;
}

static int
all1(struct mq_queue *q, int dirfd, const char *name, const char *path,
    const struct mq_name *m, void *arg)
{
	struct allarg *a = arg;
	char dir[PATH_MAX];
	int out = a->state != MQ_DEAD;

	if (move1(a->mv, q, dirfd, name, m, out, COUNTED(a->state)) == -1)
		return refused(a) == -1 ? -1 : 0;
	a->n++;
	if (out && m->group[0] != '\0' && names_push(&a->groups,
	    &a->ngroups, &a->capgroups, m->group) == -1)
		return -1;
	/* the directory the message was in: state/ or state/bucket */
	strlcpy(dir, path + strlen(q->path) + 1, sizeof(dir));
	*strrchr(dir, '/') = '\0';
	return mark_dirty(q, dir);
}

/*
 * A message waiting behind one that moved: it follows, in its turn.  One
 * refused stops its group, so that those behind it do not pass it.
 */
static int
waiting1(struct mq_queue *q, int fd, const char *name,
    const struct mq_name *m, void *arg)
{
	struct allarg *a = arg;

	if (move1(a->mv, q, fd, name, m, 0, 1) == -1)
		return refused(a);
	a->n++;
	return mark_dirty(q, a->rel);
}

/*
 * Move every message of a state of src (mq-mv -a).  Those refused stay,
 * and the others go: MQ_EIDCLASH or MQ_EKEYCLASH at the end says so.
 */
int
mq_move_all(struct mq_mover *mv, struct mq_queue *src, int state,
    long long *n)
{
	struct allarg a;
	size_t i;
	int r, saved;

	*n = 0;
	if (!mq_move_state(state)) {
		errno = EINVAL;
		return -1;
	}
	if (strcmp(src->name, mv->dest->name) == 0) {
		errno = MQ_ESAMEQ;
		return -1;
	}
	memset(&a, 0, sizeof(a));
	a.mv = mv;
	a.state = state;
	r = walk_state(src, state, all1, &a);
	for (i = 0; i < a.ngroups && r != -1; i++) {
		fmt_groupdir(a.rel, a.groups[i]);
		r = group_waiting(src, a.groups[i], 0, waiting1, &a);
	}
	free_names(a.groups, a.ngroups);
	*n = a.n;
	/* groups whose out message left: the next, if one stayed, is due */
	if (group_flush(src) == -1)
		r = -1;
	if (r != -1 && a.n > 0 && (state == MQ_READY || state == MQ_DELAYED))
		r = drop_empty_buckets(src, state);
	/*
	 * Moved is durable before it is said to be, also when a refusal or
	 * an error ended the run: those moved are gone from src for good.
	 */
	saved = errno;
	if (mq_sync_dirs(mv->dest) == -1 || mq_sync_dirs(src) == -1) {
		if (r != -1)
			saved = errno;
		r = -1;
	}
	errno = saved;
	if (r != -1 && a.kept != 0) {
		errno = a.kept;
		r = -1;
	}
	return r == -1 ? -1 : 0;
}

/* The end of a mover: what it moved into its queue made durable. */
int
mq_move_end(struct mq_mover *mv)
{
	int r;

	size_t i;
	int saved;

	if (mv == NULL)
		return 0;
	r = mq_sync_dirs(mv->dest);
	saved = errno;
	unlock(mv->dest, LK_MOVER);
	for (i = 0; i < mv->ntopics; i++)
		mq_queue_close(mv->topics[i]);
	free(mv->topics);
	free(mv->ids);
	free(mv);
	errno = saved;
	return r;
}
