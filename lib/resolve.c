/*
 * resolve.c - prepared messages whose producer went quiet, offered to a
 * checker (mq-resolve).
 *
 * Invariants:
 * - A prepared message is overdue when its mtime is prepare_timeout or
 *   more ago.  The mtime is set when it is prepared, and again each time
 *   a checker is asked and has no answer (prepare, move.c), so a message
 *   is asked about once per prepare_timeout at most.
 * - Its name's ,a counts those unanswered asks; the prepare_max-th sends
 *   it to dead/ as unresolved (entomb: it never had a turn in a group, so
 *   none goes on).  mq-kick brings it back to prepared/ (revive, admit.c).
 * - One checker at a time per message: the asker holds the message's ask
 *   lock (lock.c) from before it looks again until it has acted on the
 *   answer, and looks again under it, so a second resolver that listed
 *   the message before the first acted finds it committed, gone or no
 *   longer overdue, never asks twice.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

struct mq_ask {
	struct mq_queue	*q;
	char		 hash[MQ_KEY_HEX + 1];	/* of the id: its ask lock */
	char		 id[MQ_ID_LEN + 1];
	char		 name[MQ_NAME_MAX + 1];	/* as listed, most likely now */
};

struct overdue {
	char		**v;
	size_t		  n, cap;
	int64_t		  before;	/* ms: an mtime before this is due */
	int64_t		  next;		/* ms: the earliest mtime not due */
};

/* 1 if due, 0 if not (or gone), -1; *mt the mtime */
static int
due(int dirfd, const char *name, int64_t before, int64_t *mt)
{
	struct stat st;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == -1)
		return errno == ENOENT ? 0 : -1;
	*mt = mtime_ms(&st);
	return S_ISREG(st.st_mode) && *mt <= before;
}

static int
overdue1(struct mq_queue *q, int dirfd, const char *name, const char *path,
    const struct mq_name *m, void *arg)
{
	struct overdue *o = arg;
	int64_t mt = INT64_MAX;
	int r;

	(void)q;
	(void)m;
	if ((r = due(dirfd, name, o->before, &mt)) == 0 && mt < o->next)
		o->next = mt;
	if (r <= 0)
		return r;
	return names_push(&o->v, &o->n, &o->cap, path);
}

int
mq_overdue(struct mq_queue *q, char ***v, size_t *n, int64_t *next)
{
	struct overdue o = { NULL, 0, 0, 0, INT64_MAX };

	o.before = mq_now_ms() - q->conf.prepare_timeout_ms;
	if (walk_state(q, MQ_PREPARED, overdue1, &o) == -1) {
		free_names(o.v, o.n);
		return -1;
	}
	*v = o.v;
	*n = o.n;
	/* a message not yet there comes due prepare_timeout from now at best */
	*next = o.next == INT64_MAX ? q->conf.prepare_timeout_ms :
	    o.next - o.before;
	if (*next < 1)
		*next = 1;
	return 0;
}

/*
 * Where the message of an ask is now, if still prepared and overdue: 1
 * and its name, 0 if not, -1.
 */
static int
now_at(struct mq_ask *a, struct mq_name *m, char name[MQ_NAME_MAX + 1])
{
	struct mq_queue *q = a->q;
	int64_t before = mq_now_ms() - q->conf.prepare_timeout_ms, mt;
	int r;

	/* as listed, most often; else renamed meanwhile (a scan) */
	if ((r = due(q->sfd[MQ_PREPARED], a->name, before, &mt)) != 0)
		return r;
	if ((r = find_id(q, MQ_PREPARED, a->id, m, name)) != 1)
		return r;
	return due(q->sfd[MQ_PREPARED], name, before, &mt);
}

struct mq_ask *
mq_ask(struct mq_queue *q, const char *handle)
{
	char name[MQ_NAME_MAX + 1];
	struct mq_name m;
	struct mq_ask *a;
	int r;

	if (mq_handle_name(handle, &m) == -1) {
		errno = MQ_EHANDLE;
		return NULL;
	}
	if ((a = calloc(1, sizeof(*a))) == NULL)
		return NULL;
	a->q = q;
	strlcpy(a->id, m.id, sizeof(a->id));
	strlcpy(a->name, strrchr(handle, '/') != NULL ?
	    strrchr(handle, '/') + 1 : handle, sizeof(a->name));
	key_hash(a->id, a->hash);
	if (ask_lock(q, a->hash, F_WRLCK) == -1) {
		free(a);
		if (errno == EAGAIN || errno == EACCES)
			errno = EBUSY;
		return NULL;
	}
	if ((r = now_at(a, &m, name)) != 1) {
		mq_ask_end(a);
		errno = r == 0 ? MQ_EGONE : errno;
		return NULL;
	}
	return a;
}

int
mq_unresolved(struct mq_queue *q, struct mq_ask *a)
{
	char name[MQ_NAME_MAX + 1], to[MQ_NAME_MAX + 1];
	struct mq_name m;
	int r;

	if ((r = find_id(q, MQ_PREPARED, a->id, &m, name)) != 1) {
		if (r == 0)
			errno = MQ_EGONE;	/* committed or rolled back */
		return -1;
	}
	if (m.attempts < ATTEMPTS_MAX)
		m.attempts++;
	if (m.attempts >= q->conf.prepare_max)
		r = entomb(q, q->sfd[MQ_PREPARED], name, &m, R_UNRESOLVED);
	else
		r = prepare(q, q->sfd[MQ_PREPARED], name, &m, to);
	if (r == 0)
		r = mark_dirty(q, mq_state_name(MQ_PREPARED));
	if (r == 0)
		r = mq_sync_dirs(q);
	if (r == -1)
		return errno == ENOENT ? (errno = MQ_EGONE, -1) : -1;
	return m.reason[0] != '\0';
}

void
mq_ask_end(struct mq_ask *a)
{
	if (a == NULL)
		return;
	ask_lock(a->q, a->hash, F_UNLCK);
	free(a);
}
