/*
 * fanout.c - topics: one put delivered to every subscriber queue.
 *
 * A queue is a topic while its subs/ holds files named after queues, its
 * subscribers.  A put to a topic writes the body once, in the topic's
 * tmp/, hard-links it into each subscriber's tmp/ (or copies it there where
 * no link can be made) and publishes it in each as a message of that queue,
 * under that queue's own rules; then the body leaves the topic's tmp/.  The
 * topic keeps no message.
 *
 * Invariants:
 * - The subscribers of a message are those in subs/ when it is published:
 *   a put holds the topic's subscription lock shared from reading subs/
 *   until the message is durable in every subscriber, and mq-sub changes
 *   subs/ only with that lock exclusive.  So once mq-sub returns, every
 *   message published later goes to the new subscriber and none published
 *   before; once mq-sub -r returns, the queue gets no more.
 * - A queue becomes a topic empty of what it still has to deliver: its
 *   first subscription is refused while it holds ready (or waiting their
 *   group's turn), delayed or in-flight messages, which would otherwise be
 *   delivered from the topic beside the fan-out.  The count and the new
 *   subs/ file are made under the subscription lock exclusive, the lock a
 *   put holds from its look at subs/ until its message is published: a put
 *   that found no subscriber is counted, and one that looks later finds
 *   the subscriber.  Held and dead messages are out of delivery and do not
 *   count; mq-release and mq-kick bring them back to the topic itself.
 * - Fan-out is one level deep: a subscriber is not a topic, and a topic is
 *   no other topic's subscriber.  mq-sub checks both holding the
 *   subscription locks of both queues, so two racing mq-subs cannot build
 *   a chain between them.
 * - Copies made by link share one inode, hence one mtime, from which the
 *   lease of an in-flight copy is counted (mq(7)).  Their names carry
 *   ",f", and that time is only ever raised (set_deadline, in lease.c),
 *   under flock(2) of the file: a lease can come out longer than asked,
 *   never shorter, so no subscriber's copy is delivered twice because
 *   another's was claimed.
 *   They are read-only, so no consumer can change another's body, and only
 *   they may have more than one link (session.c).
 * - An id is handed back only once its message is durable in every
 *   subscriber.  A subscriber that fails is reported; the others keep the
 *   message, and a retry with a key fills in what is missing.
 * - With a key, each subscriber's key store decides for itself, under its
 *   key lock; all of them are taken, in name order, before any is looked
 *   at, so every copy of one key gets one id: that of the first subscriber
 *   that knows the key, or a new one.
 * - A subscriber's entry in subs/ holds its bindings, one pattern a line
 *   (route.c); an empty entry is the implicit "#", so entries made before
 *   bindings existed still take everything.  A message goes to the
 *   subscribers with a binding that matches its routing key, read from
 *   its headers once, and only when some subscriber has bindings; each
 *   message of a commit by its own key.  Bindings are read under the
 *   subscription lock, like the names, so a put sees the set before a
 *   change or after it.
 * - Bindings decide who gets what, so they are configuration: an entry
 *   with any is used only when it is the topic owner's or root's, a
 *   regular file with one link that no one else may write (trust.c), read
 *   through mq_openat; any other makes that subscriber fail, loudly, and
 *   never gets a guess.  An empty entry says nothing but its name, which
 *   any member may write, as before.
 * - A message no binding matches is not lost: it goes to the topic's
 *   dead/ with the reason unroutable (bury), as durable as a put; a kick
 *   routes it again, through the bindings of that moment (fanout_revive).
 */
#include <sys/types.h>
#include <sys/sendfile.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

#define SUBS_KEPT	16	/* subscriber queues kept open between commits */

struct sub {
	char		 name[MQ_QUEUE_MAX + 1];
	struct mq_queue	*q;		/* NULL until opened */
	char		*pats;		/* bindings, lines; NULL: "#" */
	size_t		 plen;
	int		 berr;		/* why its bindings are unusable, or 0 */
	int		 err;		/* why this commit failed here, or 0 */
	size_t		 done;		/* messages of this commit handled */
	int		 wants;		/* some message of this commit is its */
	int		 known;		/* the key is known here */
	int		 keylocked;
};

struct failure {
	char	 queue[MQ_QUEUE_MAX + 1];
	int	 err;
};

struct fanout {
	struct mq_queue	*t;
	char		 spool[PATH_MAX];
	int64_t		 ttl_ms;	/* the caller's; -1: each subscriber's */
	int		 locked;
	int		 kick;		/* fanout_revive: bury nothing */
	int		 bound;		/* some subscriber has bindings */
	struct sub	*subs;
	size_t		 nsubs;
	struct failure	*fail;
	size_t		 nfail;
};

struct fanout *
fanout_new(struct mq_queue *t, int64_t ttl_ms)
{
	struct fanout *f;

	if ((f = calloc(1, sizeof(*f))) == NULL)
		return NULL;
	f->t = t;
	f->ttl_ms = ttl_ms;
	spool_of(t, f->spool, sizeof(f->spool));
	return f;
}

static void
close_subs(struct sub *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		mq_queue_close(v[i].q);
		free(v[i].pats);
	}
	free(v);
}

/*
 * The subscribers of a queue, sorted.  Names that are not queue names, or
 * that name the queue itself, were not made by mq-sub: they are skipped.
 */
int
read_subs(struct mq_queue *q, char ***names, size_t *n)
{
	char **v;
	size_t nv, i, k = 0;

	*names = NULL;
	*n = 0;
	if (list_names(q->dfd, L_SUBS, &v, &nv, LN_SORT | LN_FILES) == -1)
		return errno == ENOENT ? 0 : -1;
	for (i = 0; i < nv; i++) {
		if (mq_queue_name_ok(v[i]) && strcmp(v[i], q->name) != 0)
			v[k++] = v[i];
		else
			free(v[i]);
	}
	*names = v;
	*n = k;
	return 0;
}

/*
 * A destination that a message is moved or copied into by its name
 * (mq-mv, mq-replay) must be no topic: a topic holds no messages of its
 * own, its puts go to its subscribers.  MQ_EMVTOPIC if it is one.
 */
int
no_topic(struct mq_queue *q)
{
	char **subs;
	size_t n;

	if (read_subs(q, &subs, &n) == -1)
		return -1;
	free_names(subs, n);
	if (n > 0) {
		errno = MQ_EMVTOPIC;
		return -1;
	}
	return 0;
}

/*
 * The bindings of subscriber name, from its entry in subs/ (subsfd): *buf
 * NULL for an empty entry, the implicit "#", else the patterns, each ended
 * by a newline.  An entry with bindings must be one the topic's owner or
 * root wrote (MQ_EUNTRUSTED, the reason in why), hold good patterns only
 * (MQ_EPATTERN), and be a regular file (MQ_ENOTREG); ENOENT: none.
 */
int
read_bindings(struct mq_queue *t, int subsfd, const char *name, char **buf,
    size_t *len, char *why, size_t whylen)
{
	struct stat st;
	char *b, *p, *nl;
	ssize_t r;
	size_t n = 0;
	int fd, saved;

	*buf = NULL;
	*len = 0;
	if (whylen > 0)
		why[0] = '\0';
	/* most entries are empty: one look, no open */
	if (fstatat(subsfd, name, &st, AT_SYMLINK_NOFOLLOW) == -1)
		return -1;
	if (!S_ISREG(st.st_mode)) {
		errno = MQ_ENOTREG;
		return -1;
	}
	if (st.st_size == 0)
		return 0;
	if ((fd = mq_openat_stat(subsfd, name, O_RDONLY, 0, &st)) == -1)
		return -1;
	if (conf_trusted(&st, t->owner, 1, ", the topic's owner", why,
	    whylen) == -1) {
		close(fd);
		errno = MQ_EUNTRUSTED;
		return -1;
	}
	if ((b = malloc(BINDINGS_MAX + 1)) == NULL) {
		close(fd);
		return -1;
	}
	/* the file may have grown since the look: read to its end, or past */
	while (n <= BINDINGS_MAX &&
	    (r = read(fd, b + n, BINDINGS_MAX + 1 - n)) != 0) {
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1)
			goto fail;
		n += (size_t)r;
	}
	close(fd);
	fd = -1;
	if (n == 0) {
		free(b);
		return 0;
	}
	errno = MQ_EPATTERN;
	if (n > BINDINGS_MAX || b[n - 1] != '\n')
		goto fail;
	for (p = b; p < b + n; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(b + n - p));
		if (!mq_route_ok(p, (size_t)(nl - p)))
			goto fail;
	}
	*buf = b;
	*len = n;
	return 0;
fail:
	saved = errno;
	if (fd != -1)
		close(fd);
	free(b);
	errno = saved;
	return -1;
}

/* Whether a binding of s matches key. */
static int
binds(const struct sub *s, const char *key, size_t klen)
{
	const char *p, *nl, *end;

	if (s->pats == NULL)
		return 1;
	end = s->pats + s->plen;
	for (p = s->pats; p < end; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (mq_route_match(p, (size_t)(nl - p), key, klen))
			return 1;
	}
	return 0;
}

void
fanout_free(struct fanout *f)
{
	if (f == NULL)
		return;
	fanout_end(f);
	close_subs(f->subs, f->nsubs);
	free(f->fail);
	free(f);
}

/*
 * Take the subscription lock of the topic shared and read its subscribers.
 * Returns their number (0: an ordinary queue), or -1.  Either way the
 * caller ends with fanout_end, once what it publishes is durable.  The
 * subscribers' queues stay open from one commit to the next.
 */
int
fanout_begin(struct fanout *f)
{
	struct sub *nv;
	char **v, why[8];
	size_t n, i, j;
	int sfd = -1;

	f->nfail = 0;
	f->bound = 0;
	if (lock_sh(f->t, LK_SUBS) == -1)
		return -1;
	f->locked = 1;
	if (read_subs(f->t, &v, &n) == -1)
		return -1;
	if (n == 0 && f->nsubs == 0) {
		free(v);
		return 0;
	}
	if ((nv = calloc(n ? n : 1, sizeof(*nv))) == NULL ||
	    (n > 0 && (sfd = mq_opendirat(f->t->dfd, L_SUBS)) == -1)) {
		free(nv);
		free_names(v, n);
		return -1;
	}
	for (i = 0; i < n; i++) {
		strlcpy(nv[i].name, v[i], sizeof(nv[i].name));
		/* a subscriber whose bindings are unusable fails each put */
		if (read_bindings(f->t, sfd, v[i], &nv[i].pats, &nv[i].plen,
		    why, sizeof(why)) == -1)
			nv[i].berr = errno == ENOENT ? MQ_EMOVED : errno;
		if (nv[i].pats != NULL)
			f->bound = 1;
		for (j = 0; j < f->nsubs; j++)
			if (f->subs[j].q != NULL &&
			    strcmp(f->subs[j].name, v[i]) == 0) {
				nv[i].q = f->subs[j].q;
				f->subs[j].q = NULL;
			}
	}
	free_names(v, n);
	close_fd(&sfd);
	close_subs(f->subs, f->nsubs);
	f->subs = nv;
	f->nsubs = n;
	return (int)n;
}

void
fanout_end(struct fanout *f)
{
	int saved = errno;

	if (f != NULL && f->locked)
		unlock(f->t, LK_SUBS);
	if (f != NULL)
		f->locked = 0;
	errno = saved;
}

const char *
fanout_failure(const struct fanout *f, size_t i, int *err)
{
	if (f == NULL || i >= f->nfail)
		return NULL;
	if (err != NULL)
		*err = f->fail[i].err;
	return f->fail[i].queue;
}

/*
 * Key locks of every subscriber, in name order (f->subs is sorted), then
 * what each knows: id gets the first known id, or stays "".
 */
static void
keys_lookup(struct fanout *f, const char *hash, char id[MQ_ID_LEN + 1])
{
	char known[MQ_ID_LEN + 1];
	struct sub *s;
	int r;

	id[0] = '\0';
	for (s = f->subs; s < f->subs + f->nsubs; s++) {
		if (s->err != 0 || !s->wants)
			continue;
		if (key_lock(s->q, hash, F_WRLCK) == -1) {
			s->err = errno;
			continue;
		}
		s->keylocked = 1;
	}
	for (s = f->subs; s < f->subs + f->nsubs; s++) {
		if (!s->keylocked)
			continue;
		if ((r = key_lookup(s->q, hash, known, NULL)) == -1)
			s->err = errno;
		else if (r == 1) {
			s->known = 1;
			if (id[0] == '\0')
				strlcpy(id, known, MQ_ID_LEN + 1);
		}
	}
}

/* Record the key where the message was put, then drop the key locks. */
static void
keys_record(struct fanout *f, const char *hash, const char *id, size_t n)
{
	struct sub *s;

	for (s = f->subs; s < f->subs + f->nsubs; s++) {
		if (!s->keylocked)
			continue;
		if (s->err == 0 && !s->known && s->done == n &&
		    key_record(s->q, hash, id, NULL, 1) == -1)
			s->err = errno;
		key_lock(s->q, hash, F_UNLCK);
		s->keylocked = 0;
		key_sweep(s->q, hash);
	}
}

/* Publish in one subscriber the bodies of the topic's tmp/ that are its. */
static void
publish_in(struct fanout *f, struct sub *s, const struct mq_name *m,
    size_t n, const unsigned char *want, const char *id, int64_t now)
{
	struct mq_queue *q = s->q;
	struct mq_name c;
	size_t i, left = 0;

	for (i = 0; i < n; i++)
		left += want[i * f->nsubs] != 0;
	for (i = 0; i < n; i++) {
		if (!want[i * f->nsubs])
			continue;
		c = m[i];
		if (id != NULL)
			strlcpy(c.id, id, sizeof(c.id));
		/* a ttl from the configuration is the subscriber's own */
		if (f->ttl_ms < 0)
			c.expiry = q->conf.ttl_ms > 0 ?
			    ceil_s(now + q->conf.ttl_ms) : 0;
		/*
		 * A kick (f->kick) routes a message again under its id: a
		 * subscriber's tmp/ID is then what a kick that crashed left
		 * (ids are unique, and the topic's tmp/ID keeps two kicks of
		 * one message apart), and a name it has already, the copy
		 * such a kick delivered: it has the message.
		 */
		if (f->kick)
			unlinkat(q->tmpfd, m[i].id, 0);	/* ENOENT: none */
		if (c.size > q->conf.max_size)
			s->err = EFBIG;
		else if (place(f->t, q, m[i].id, &c.fanout) == -1)
			s->err = errno;
		else {
			pub_ahead(q, left);
			/* a message of an ordered group waits its turn here too */
			if (admit(q, q->tmpfd, m[i].id, &c) == -1) {
				if (!(f->kick && errno == EEXIST))
					s->err = errno;
				unlinkat(q->tmpfd, m[i].id, 0);
			}
		}
		if (s->err != 0)
			break;
		left--;
	}
	s->done = i;
	pub_ahead(q, 0);
	/* published, and durable once the directories are */
	if (mq_sync_dirs(q) == -1) {
		if (s->err == 0)
			s->err = errno;
		s->done = 0;
	}
}

static int
note_failures(struct fanout *f)
{
	struct failure *v;
	struct sub *s;
	int first = 0;

	for (s = f->subs; s < f->subs + f->nsubs; s++) {
		if (s->err == 0)
			continue;
		if (first == 0)
			first = s->err;
		v = reallocarray(f->fail, f->nfail + 1, sizeof(*v));
		if (v == NULL)
			continue;	/* reported as the topic's failure */
		f->fail = v;
		strlcpy(v[f->nfail].queue, s->name, sizeof(v->queue));
		v[f->nfail++].err = s->err;
	}
	return first;
}

/*
 * A queue holds about ten descriptors: with many subscribers, they are
 * opened for each commit rather than kept, to stay far from the limit.
 */
static void
let_go(struct fanout *f)
{
	size_t i;

	if (f->nsubs <= SUBS_KEPT)
		return;
	for (i = 0; i < f->nsubs; i++) {
		mq_queue_close(f->subs[i].q);
		f->subs[i].q = NULL;
	}
}

/*
 * The routing key of a body in the topic's tmp/: "" (no words) without
 * one.  Read once per message, by the put that wrote it.
 */
static int
routing_key(struct fanout *f, const char *id, struct mq_headers *h,
    const char **key, size_t *klen)
{
	int fd, r, saved;

	if ((fd = mq_openat(f->t->tmpfd, id, O_RDONLY, 0)) == -1)
		return -1;
	r = mq_headers_read(fd, h);
	saved = errno;
	close(fd);
	errno = saved;
	if (r == -1)
		return -1;
	if ((*key = mq_header_get(h, MQ_HDR_ROUTING, klen)) == NULL) {
		*key = "";
		*klen = 0;
	}
	return 0;
}

/*
 * Which subscriber takes which message: want[i * nsubs + j].  A subscriber
 * whose bindings cannot be read takes all, so that it fails them rather
 * than have them go elsewhere or dead.  routed[i]: someone takes it.
 */
static int
route(struct fanout *f, const struct mq_name *m, size_t n,
    unsigned char *want, unsigned char *routed)
{
	struct mq_headers h;
	const char *key = "";
	size_t i, j, klen = 0;
	unsigned char w;

	for (i = 0; i < n; i++) {
		if (f->bound && routing_key(f, m[i].id, &h, &key, &klen) == -1)
			return -1;
		routed[i] = 0;
		for (j = 0; j < f->nsubs; j++) {
			w = f->subs[j].berr != 0 || binds(&f->subs[j], key, klen);
			want[i * f->nsubs + j] = w;
			routed[i] |= w;
			f->subs[j].wants |= w;
		}
	}
	return 0;
}

/*
 * Messages no binding took go to the topic's dead/, as durable as the put
 * would have made them in a subscriber, without their key: no key store
 * of the topic's knows it (a kick routes it afresh).  Returns the first
 * error; buried[i] says which made it.
 */
static int
unroutable(struct fanout *f, struct mq_name *m, size_t n,
    const unsigned char *routed, unsigned char *buried)
{
	struct mq_queue *t = f->t;
	struct mq_name c;
	size_t i, nb = 0;
	int first = 0;

	for (i = 0; i < n; i++) {
		buried[i] = 0;
		if (routed[i] || f->kick)
			continue;
		c = m[i];
		c.key[0] = '\0';
		if (bury(t, t->tmpfd, m[i].id, &c, R_UNROUTABLE) == -1) {
			if (first == 0)
				first = errno;
			continue;
		}
		buried[i] = 1;
		nb++;
	}
	/* a group of the topic's own has nothing waiting: nothing to free */
	if (nb > 0 && group_flush(t) == -1 && first == 0)
		first = errno;
	if (nb > 0 && mq_sync_dirs(t) == -1) {
		if (first == 0)
			first = errno;
		memset(buried, 0, n);
	}
	return first;
}

/*
 * Fan out n bodies written to the topic's tmp/ (call between fanout_begin
 * and fanout_end, with subscribers), each to the subscribers that bind its
 * routing key, or to the topic's dead/ when none does.  The bodies leave
 * the topic's tmp/.  On return m[0..*nok) are the messages durable in
 * every subscriber of theirs, with the id they have there, or in dead/
 * (reason R_UNROUTABLE; with f->kick, those are not buried but left to
 * the caller, reason set all the same).  Returns 0; 1 when, with a key,
 * every subscriber that takes it knew it and nothing was put; -1 when some
 * subscriber failed (see fanout_failure; none listed means all failed,
 * with errno).
 */
int
fanout_put(struct fanout *f, struct mq_name *m, size_t n, const char *hash,
    size_t *nok)
{
	struct mq_conferr ce;
	struct mq_queue *t = f->t;
	char id[MQ_ID_LEN + 1] = "";
	unsigned char *want = NULL, *routed, *buried;
	struct sub *s;
	size_t i, k;
	int need = MQ_SYNC_NONE, first, e, all = 1, any = 0, dead = 0;
	int64_t now = mq_now_ms();

	*nok = 0;
	if ((want = calloc(n, f->nsubs + 2)) == NULL)
		goto fail;
	routed = want + n * f->nsubs;
	buried = routed + n;
	for (s = f->subs; s < f->subs + f->nsubs; s++) {
		s->err = s->berr;
		s->done = 0;
		s->wants = 0;
		s->known = 0;
		s->keylocked = 0;
	}
	if (route(f, m, n, want, routed) == -1)
		goto fail;
	for (i = 0; i < n; i++)
		dead |= !routed[i] && !f->kick;
	/* dead/ is the topic's: its own sync decides there */
	if (dead)
		need = t->conf.sync;
	for (s = f->subs; s < f->subs + f->nsubs; s++) {
		if (s->err != 0 || !s->wants)
			continue;
		if (s->q == NULL && (s->q = mq_queue_open(f->spool, s->name,
		    MQ_CREATE, &ce)) == NULL)
			s->err = errno;
		else if (s->q->conf.sync > need)
			need = s->q->conf.sync;
	}
	for (i = 0; i < n; i++)
		if (seal(t, m[i].id, need) == -1)
			goto fail;
	if (need == MQ_SYNC_BATCH && t->conf.sync != MQ_SYNC_FULL &&
	    syncfs(t->tmpfd) == -1)
		goto fail;
	if (hash != NULL)
		keys_lookup(f, hash, id);
	if (hash != NULL && id[0] == '\0')
		strlcpy(id, m[0].id, sizeof(id));
	for (s = f->subs; s < f->subs + f->nsubs; s++)
		if (s->err == 0 && s->wants && !s->known)
			publish_in(f, s, m, n, want + (s - f->subs),
			    hash != NULL ? id : NULL, now);
	if (hash != NULL)
		keys_record(f, hash, id, n);
	first = unroutable(f, m, n, routed, buried);
	for (i = 0; i < n; i++)
		if (!buried[i])
			unlinkat(t->tmpfd, m[i].id, 0);
	/* every subscriber that takes it knew the key: nothing was put */
	for (s = f->subs; s < f->subs + f->nsubs; s++)
		if (s->wants) {
			any = 1;
			all = all && s->known;
		}
	/* what every subscriber of its has, in the order put */
	for (i = k = 0; i < n; i++) {
		int ok = routed[i] || buried[i] || f->kick;

		for (s = f->subs; s < f->subs + f->nsubs && routed[i]; s++)
			ok = ok && (s->known || !want[i * f->nsubs +
			    (size_t)(s - f->subs)] || i < s->done);
		if (ok) {
			m[k] = m[i];
			if (!routed[i])
				strlcpy(m[k].reason, R_UNROUTABLE,
				    sizeof(m[k].reason));
			if (hash != NULL && routed[i])
				strlcpy(m[k].id, id, sizeof(m[k].id));
			k++;
		}
	}
	*nok = k;
	free(want);
	if ((e = note_failures(f)) != 0 || first != 0) {
		errno = e != 0 ? e : first;
		let_go(f);
		return -1;
	}
	let_go(f);
	return hash != NULL && any && all ? 1 : 0;
fail:
	first = errno;
	free(want);
	for (i = 0; i < n; i++)
		unlinkat(t->tmpfd, m[i].id, 0);
	let_go(f);
	errno = first;
	return -1;
}

/*
 * A kick of a message of the topic t's dead/ that no binding took: route it
 * again, as a put would now, under the same id and without its attempts,
 * expiry and delay, as any kick.  A copy in tmp/ is what is fanned out, so
 * that the dead file goes only once every subscriber of its has it: a
 * crash in between delivers it, and leaves it to kick again.  A copy, not
 * a link: the subscribers' links to a link of the dead file would make it
 * a file of several links after such a crash, which no kick may touch
 * (mq(7): a planted twin) and whose name a subscriber's copy already has.  Returns 0;
 * 1 when t has no subscribers left (the caller revives it into t itself);
 * -1, MQ_EUNROUTABLE when still no binding takes it, and it stays.
 */
int
fanout_revive(struct mq_queue *t, const char *deadname, struct mq_name *m)
{
	struct fanout *f;
	struct mq_name c = *m;
	size_t nok;
	int r;

	if ((f = fanout_new(t, 0)) == NULL)
		return -1;
	f->kick = 1;
	if ((r = fanout_begin(f)) <= 0) {
		fanout_free(f);
		return r == 0 ? 1 : -1;
	}
	c.attempts = 0;
	c.expiry = 0;
	c.notbefore = 0;
	c.reason[0] = '\0';
	r = -1;
	if (copy_file(t, t->sfd[MQ_DEAD], deadname, c.id, NULL, NULL) == -1) {
		/* another kick of it is under way, or one crashed: mq-fsck */
		if (errno == EEXIST)
			errno = MQ_EMOVED;
		goto out;
	}
	if (fanout_put(f, &c, 1, c.key[0] != '\0' ? c.key : NULL,
	    &nok) == -1)
		goto out;
	if (nok == 1 && c.reason[0] != '\0') {
		errno = MQ_EUNROUTABLE;
		goto out;
	}
	if ((r = unlinkat(t->sfd[MQ_DEAD], deadname, 0)) == 0 &&
	    (r = mark_dirty(t, mq_state_name(MQ_DEAD))) == 0)
		r = mq_sync_dirs(t);
out:
	fanout_free(f);
	return r;
}
