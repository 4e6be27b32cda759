/*
 * dedup.c - the keyed put (mq-put -k): a message is published only if its
 * key is not known, decided and recorded under the key's lock (key.c), so
 * of concurrent producers with one key exactly one publishes; a duplicate
 * hands back the id of the message put with the key and leaves nothing
 * behind.  The key names the body before it is published, so a put that
 * dies in between is finished by the next holder of the key lock
 * (recover.c).
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

/*
 * Make a written body's name in tmp/ durable, before a key may name it: a
 * crash must not take it away.  Only sync=full and none come here (batch
 * decides its keys at the group's commit), and full wrote the body with
 * an fsync already.
 */
static int
tmp_durable(struct mq_queue *q)
{
	return q->conf.sync == MQ_SYNC_NONE ? 0 : fsync(q->tmpfd);
}

/*
 * The keyed put's one decision, made under the key's lock.  A known key
 * makes m a duplicate: 1, with the id the key names in orig; if the put of
 * that id died before publishing, it is finished first, unless ours says
 * the id is one of this commit's own.  An unknown key is recorded naming
 * m, under the name m is about to be published with: 0.  With dosync the
 * body's name in tmp/ is made durable first (a crash must not take away
 * what a key names) and the record itself; without, the caller's syncfs
 * does both.  -1 on error.
 */
static int
decide(struct mq_putter *p, const struct mq_name *m,
    int (*ours)(const char *, void *), void *arg, char orig[MQ_ID_LEN + 1],
    int dosync)
{
	struct mq_queue *q = p->q;
	char origname[MQ_NAME_MAX + 1], name[MQ_NAME_MAX + 1];
	char rec[MQ_NAME_MAX + 1];
	struct mq_name pm;
	int r;

	if ((r = key_lookup(q, m->key, orig, origname)) == 1) {
		if ((ours == NULL || !ours(orig, arg)) &&
		    key_finish(q, orig, origname) == -1)
			return -1;
		/*
		 * Put as prepared and still there: it may yet be rolled
		 * back, so this put is refused, not swallowed (key.c).
		 */
		if (keyname_prepared(origname) != NULL &&
		    (r = find_id(q, MQ_PREPARED, orig, &pm, name)) != 0) {
			if (r == 1)
				errno = MQ_EPREPARED;
			return -1;
		}
		return 1;
	}
	if (r == -1 || (dosync && tmp_durable(q) == -1) ||
	    mq_name_format(m, name, sizeof(name)) == -1)
		return -1;
	fmt_keyname(rec, sizeof(rec), p->o.prepare ? MQ_PREPARED : MQ_READY,
	    name);
	if (key_record(q, m->key, m->id, rec, dosync) == -1)
		return -1;
	return 0;
}

/*
 * Publish a written message unless its key is known, and record the key.
 * The body was read first, without the lock: a slow writer must not hold
 * up other producers of the key, and a duplicate's writer gets no SIGPIPE.
 * The lock is held from the lookup until the key file names the message,
 * so of concurrent producers with one key exactly one publishes.
 */
int
put_keyed(struct mq_putter *p, struct mq_name *m)
{
	struct mq_queue *q = p->q;
	char orig[MQ_ID_LEN + 1];
	int locked, r, saved;

	/* a topic's subscribers each decide by their own keys */
	if ((r = fanout_begin(p->fan)) > 0 && p->o.prepare) {
		fanout_end(p->fan);
		unlinkat(q->tmpfd, m->id, 0);
		errno = MQ_EISTOPIC;
		return -1;
	}
	if (r != 0) {
		p->pend[p->npend++] = *m;
		r = r > 0 ? fan_commit(p) : drop(p);
		fanout_end(p->fan);
		return r;
	}
	locked = key_lock(q, m->key, F_WRLCK) == 0;
	r = locked ? decide(p, m, NULL, NULL, orig, 1) : -1;
	if (r == 0) {
		p->pend[p->npend++] = *m;
		/* published before the key's lock goes */
		if ((r = commit(p)) == -1) {
			saved = errno;
			key_forget(q, m->key, m->id);
			errno = saved;
		}
	} else {
		/* known, or we cannot tell: the body goes */
		saved = errno;
		unlinkat(q->tmpfd, m->id, 0);
		if (r == 1)
			emit(p, orig);
		errno = saved;
	}
	saved = errno;
	if (locked)
		key_lock(q, m->key, F_UNLCK);
	fanout_end(p->fan);
	if (r == 0)
		key_sweep(q, m->key);
	errno = saved;
	return r;
}

struct ours {
	struct mq_putter	 *p;
	char			(*dup)[MQ_ID_LEN + 1];
	size_t			  n;		/* the messages decided so far */
};

/* Whether id is that of a message of this group commit, not a duplicate. */
static int
ours(const char *id, void *arg)
{
	struct ours *o = arg;
	size_t k;

	for (k = 0; k < o->n; k++)
		if (o->dup[k][0] == '\0' && strcmp(o->p->pend[k].id, id) == 0)
			return 1;
	return 0;
}

/*
 * A group commit with keys (sync=batch): one syncfs makes the bodies
 * durable, the keys are looked up and recorded under their locks (all
 * taken at once, in order), a second syncfs makes the records durable,
 * then the new messages are published as any group.  A message whose key
 * is known, in the spool or earlier in this group, is not published: the
 * id of the one put with the key is reported in its place.
 */
int
keyed_commit(struct mq_putter *p)
{
	struct mq_queue *q = p->q;
	char (*dup)[MQ_ID_LEN + 1], orig[MQ_ID_LEN + 1];
	struct ours o;
	size_t i, k, n = p->npend, nnew = 0;
	int r = 0, saved;

	if ((dup = calloc(n, sizeof(*dup))) == NULL)
		return drop(p);
	if (syncfs(q->tmpfd) == -1 ||
	    key_lock_all(q, p->pend, n, F_WRLCK) == -1) {
		free(dup);
		return drop(p);
	}
	o.p = p;
	o.dup = dup;
	for (i = 0; i < n && r == 0; i++) {
		if (p->pend[i].key[0] == '\0')
			continue;
		o.n = i;
		if ((r = decide(p, &p->pend[i], ours, &o, orig, 0)) == 1) {
			strlcpy(dup[i], orig, sizeof(dup[i]));
			unlinkat(q->tmpfd, p->pend[i].id, 0);
			r = 0;
		}
	}
	if (r == 0 && q->conf.sync != MQ_SYNC_NONE && syncfs(q->tmpfd) == -1)
		r = -1;
	/* publish the new ones, in order */
	for (i = 0; i < n && r == 0; i++) {
		if (dup[i][0] != '\0')
			continue;
		pub_ahead(q, n - i);
		if ((r = release(p, &p->pend[i])) == 0)
			nnew = i + 1;
	}
	pub_ahead(q, 0);
	saved = errno;
	if (r == -1) {
		/* what was not published goes, with its key record */
		for (k = nnew; k < n; k++) {
			if (dup[k][0] != '\0')
				continue;
			if (p->pend[k].key[0] != '\0')
				key_forget(q, p->pend[k].key, p->pend[k].id);
			unlinkat(q->tmpfd, p->pend[k].id, 0);
		}
		n = nnew;
	}
	/* report what made it, once durable; visible but not durable: none */
	if (mq_sync_dirs(q) == -1) {
		if (r == 0)
			saved = errno;
		r = -1;
		n = 0;
	}
	key_lock_all(q, p->pend, p->npend, F_UNLCK);
	for (i = 0; i < n; i++)
		emit(p, dup[i][0] != '\0' ? dup[i] : p->pend[i].id);
	for (i = 0; i < p->npend; i++)
		if (p->pend[i].key[0] != '\0') {
			key_sweep(q, p->pend[i].key);
			break;
		}
	p->npend = p->nkeyed = 0;
	free(dup);
	errno = saved;
	return r;
}
