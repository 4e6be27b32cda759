/*
 * move.c - moving a message between states, the one way it is done.
 *
 * Invariants:
 * - A message changes state by one rename(2) that never replaces an
 *   existing file (RENAME_NOREPLACE where the filesystem has it).  At every
 *   instant it has exactly one name.
 * - Every move holds the queue lock shared, so mq-stat and mq-purge,
 *   which take it exclusive, see no message in two states or in none.
 * - A message leaves the spool for good only through leave(), whatever
 *   the road, so that what leaving does to its key and its group is done
 *   on every one of them.
 * - A ready bucket holds at most bucket_size messages: producers pick the
 *   bucket under the tail record lock of its priority and roll over to a
 *   new one when it is full.  Consumers remove empty buckets except the
 *   tail, which producers are filling; a producer that finds its bucket
 *   gone recreates it.
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

static int
lkcmd(struct mq_queue *q, off_t at, off_t len, int type, int cmd)
{
	struct flock fl;

	if (type == F_WRLCK && q->lockerr != 0) {
		errno = q->lockerr;
		return -1;
	}
	memset(&fl, 0, sizeof(fl));
	fl.l_type = type;
	fl.l_whence = SEEK_SET;
	fl.l_start = at;
	fl.l_len = len;
	while (fcntl(q->lockfd, cmd, &fl) == -1)
		if (errno != EINTR)
			return -1;
	return 0;
}

int
lk(struct mq_queue *q, off_t at, off_t len, int type)
{
	return lkcmd(q, at, len, type, F_OFD_SETLKW);
}

/* Take a lock only if it is free; EAGAIN if not. */
int
trylk(struct mq_queue *q, off_t at, off_t len, int type)
{
	return lkcmd(q, at, len, type, F_OFD_SETLK);
}

/*
 * Rename without ever replacing a file.  Where the filesystem lacks
 * RENAME_NOREPLACE (NFS), a plain rename is the lesser evil: link+unlink
 * would let two claimers both link one message.  Names carry random parts,
 * so a collision there means a planted file, not a message.
 */
int
mq_rename(int ofd, const char *o, int nfd, const char *n)
{
	static int nonoreplace;

	if (!nonoreplace) {
		if (renameat2(ofd, o, nfd, n, RENAME_NOREPLACE) == 0)
			return 0;
		if (errno != EINVAL && errno != ENOSYS)
			return -1;
		nonoreplace = 1;
	}
	if (faccessat(nfd, n, F_OK, AT_SYMLINK_NOFOLLOW) == 0) {
		errno = EEXIST;
		return -1;
	}
	return renameat(ofd, o, nfd, n);
}

int64_t
ceil_s(int64_t ms)
{
	return (ms + 999) / 1000;
}

static int
cmpstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void
free_names(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* For filesystems whose readdir does not tell the type. */
static int
is_type(int dirfd, const char *name, mode_t type)
{
	struct stat st;

	return fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    (st.st_mode & S_IFMT) == type;
}

/*
 * The names in a directory, without dot entries, and only regular files
 * (LN_FILES) or only directories (LN_DIRS): a symlink, device or directory
 * planted among messages is not a message.
 */
int
list_names(int dirfd, const char *sub, char ***names, size_t *n, int flags)
{
	struct dirent *de;
	char **v = NULL, **nv;
	size_t len = 0, cap = 0;
	DIR *d;
	int fd, saved;

	*names = NULL;
	*n = 0;
	fd = mq_opendirat(dirfd, sub);
	if (fd == -1)
		return -1;
	if ((d = fdopendir(fd)) == NULL) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	while ((errno = 0, de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' && (de->d_name[1] == '\0' ||
		    (de->d_name[1] == '.' && de->d_name[2] == '\0')))
			continue;
		if (!(flags & LN_ALL) &&
		    de->d_type != ((flags & LN_DIRS) ? DT_DIR : DT_REG) &&
		    (de->d_type != DT_UNKNOWN || !is_type(fd,
		    de->d_name, (flags & LN_DIRS) ? S_IFDIR : S_IFREG)))
			continue;
		if (len == cap) {
			cap = cap ? cap * 2 : 64;
			if ((nv = reallocarray(v, cap, sizeof(*v))) == NULL)
				goto fail;
			v = nv;
		}
		if ((v[len] = strdup(de->d_name)) == NULL)
			goto fail;
		len++;
	}
	if (errno != 0)
		goto fail;
	closedir(d);
	if ((flags & LN_SORT) && len > 1)
		qsort(v, len, sizeof(*v), cmpstr);
	*names = v;
	*n = len;
	return 0;
fail:
	saved = errno;
	closedir(d);
	free_names(v, len);
	errno = saved;
	return -1;
}

static int
write_tail(struct mq_queue *q, int prio, unsigned long long seq,
    unsigned count)
{
	char rec[LK_TAILLEN + 1];
	int n;

	/* fixed width, so that `cat lock` shows one record per line */
	n = snprintf(rec, sizeof(rec), "%d %010llu %08u", prio, seq, count);
	memset(rec + n, ' ', LK_TAILLEN - 1 - n);
	rec[LK_TAILLEN - 1] = '\n';
	if (pwrite(q->lockfd, rec, LK_TAILLEN, LK_TAIL(prio)) != LK_TAILLEN)
		return -1;
	return 0;
}

static int
read_tail(struct mq_queue *q, int prio, unsigned long long *seq,
    unsigned *count)
{
	char rec[LK_TAILLEN + 1];
	int p;

	if (pread(q->lockfd, rec, LK_TAILLEN, LK_TAIL(prio)) != LK_TAILLEN)
		return -1;
	rec[LK_TAILLEN] = '\0';
	if (sscanf(rec, "%d %llu %u", &p, seq, count) != 3 || p != prio)
		return -1;
	return 0;
}

#define SEQ_MAX	9999999999ULL	/* bucket numbers have 10 digits */

/* The tail bucket of a priority, as producers last left it; no lock. */
int
tail_seq(struct mq_queue *q, int prio, unsigned long long *seq)
{
	unsigned count;

	return read_tail(q, prio, seq, &count);
}

/*
 * How many times a message was made ready, ever, over all priorities: the
 * slots producers took in ready buckets, every bucket before the tail
 * counted as full.  A put, a due delayed message, a nack, an expired lease
 * and a kick each take one slot under the shared queue lock; slots taken
 * ahead for a batch, or left empty in a private bucket, count too, and
 * foreign producers take none.  No lock: the caller holds the queue lock
 * exclusive when it wants the number to match the messages it counts.
 */
long long
ready_in(struct mq_queue *q)
{
	unsigned long long seq;
	unsigned count;
	long long n = 0;
	int p;

	for (p = MQ_PRIORITY_MIN; p <= MQ_PRIORITY_MAX; p++)
		if (read_tail(q, p, &seq, &count) == 0 && seq > 0 &&
		    seq <= SEQ_MAX)
			n += (long long)(seq - 1) * q->conf.bucket_size + count;
	return n;
}

/*
 * A lost or torn tail record is rebuilt from the bucket names: continue
 * after the highest bucket of that priority.
 */
static void
recover_tail(struct mq_queue *q, int prio, unsigned long long *seq,
    unsigned *count)
{
	unsigned long long s, max = 0;
	char **v;
	size_t n, i;
	int p;

	if (list_names(q->sfd[MQ_READY], ".", &v, &n, LN_DIRS) == 0) {
		for (i = 0; i < n; i++)
			if (parse_bucket(v[i], &p, &s) == 0 && p == prio &&
			    s > max)
				max = s;
		free_names(v, n);
	}
	*seq = max;
	*count = (unsigned)q->conf.bucket_size;	/* forces a new bucket */
}

/*
 * Create a directory and, unless sync is none, make its name durable.  One
 * that another process has just made is synced too: its maker may not have
 * got that far yet.
 */
int
make_dir(struct mq_queue *q, int dirfd, const char *name)
{
	if (mkdirat(dirfd, name, 0777) == 0) {
		if (own_dirat(&q->conf, dirfd, name) == -1)
			return -1;
	} else if (errno != EEXIST)
		return -1;
	if (q->conf.sync != MQ_SYNC_NONE && fsync(dirfd) == -1)
		return -1;
	return 0;
}

/*
 * Take up to want slots in the tail bucket of prio, under its record's
 * lock, rolling over when it is full.  A new bucket is created, and
 * durable, before the record names it, so a producer that reads the record
 * never publishes into a bucket whose own name could vanish in a power
 * loss.  With own, the bucket is a new one for this process alone: the
 * record names it as full, so other producers pass it by, and the caller
 * makes its name durable (with the syncfs of its group).
 */
static int
take(struct mq_queue *q, int prio, size_t want, int own)
{
	unsigned long long seq;
	unsigned count, n;
	char bucket[32];
	int r = 0;

	if (lk(q, LK_TAIL(prio), LK_TAILLEN, F_WRLCK) == -1)
		return -1;
	if (read_tail(q, prio, &seq, &count) == -1 || seq > SEQ_MAX)
		recover_tail(q, prio, &seq, &count);
	if (own || count >= (unsigned)q->conf.bucket_size) {
		seq++;
		count = 0;
	}
	snprintf(bucket, sizeof(bucket), "%d.%010llu", prio, seq);
	n = want > 1 ? (unsigned)want : 1;
	if (n > (unsigned)q->conf.bucket_size - count)
		n = (unsigned)q->conf.bucket_size - count;
	if (seq > SEQ_MAX) {
		errno = EOVERFLOW;
		r = -1;
	} else if (own) {
		if (mkdirat(q->sfd[MQ_READY], bucket, 0777) == 0)
			r = own_dirat(&q->conf, q->sfd[MQ_READY], bucket);
		else if (errno != EEXIST)
			r = -1;
	} else if (count == 0)
		r = make_dir(q, q->sfd[MQ_READY], bucket);
	if (r == 0)
		r = write_tail(q, prio, seq, own ?
		    (unsigned)q->conf.bucket_size : count + n);
	lk(q, LK_TAIL(prio), LK_TAILLEN, F_UNLCK);
	if (r == 0) {
		q->left[prio] = n;
		q->leftseq[prio] = seq;
	}
	return r;
}

/* One slot for a message about to be published; a batch takes its group's. */
static int
reserve(struct mq_queue *q, int prio, char *bucket, size_t len)
{
	if (q->left[prio] == 0 && take(q, prio, q->want, 0) == -1)
		return -1;
	q->left[prio]--;
	snprintf(bucket, len, "%d.%010llu", prio, q->leftseq[prio]);
	return 0;
}

/*
 * A bucket of its own for a group of n messages, taken only for groups
 * that fill at least half a bucket, so buckets stay full enough for
 * directories to stay few.
 */
int
private_bucket(struct mq_queue *q, int prio, size_t n)
{
	if (q->left[prio] > 0)
		return 0;	/* slots of an earlier reservation come first */
	return take(q, prio, n, 1);
}

/*
 * Rename into state/bucket/name.  The bucket is opened without following
 * symlinks, so a link planted in place of a bucket cannot send a message
 * out of the spool.  A bucket removed by a consumer meanwhile is made
 * again; ENOENT is returned only when the source itself is gone.
 */
static int
into_bucket(struct mq_queue *q, int fromfd, const char *from, int state,
    const char *bucket, const char *name)
{
	char rel[64];
	int tries, r;

	snprintf(rel, sizeof(rel), "%s/%s", mq_state_name(state), bucket);
	for (tries = 0; tries < 8; tries++) {
		/* the bucket of the last move is kept open: runs reuse it */
		if (strcmp(rel, q->pubrel) != 0 || q->pubfd == -1) {
			if (q->pubfd != -1)
				close(q->pubfd);
			q->pubrel[0] = '\0';
			q->pubfd = mq_opendirat(q->sfd[state], bucket);
			if (q->pubfd == -1) {
				if (errno != ENOENT ||
				    make_dir(q, q->sfd[state], bucket) == -1)
					return -1;
				continue;
			}
			strlcpy(q->pubrel, rel, sizeof(q->pubrel));
		}
		r = mq_rename(fromfd, from, q->pubfd, name);
		/*
		 * A delayed bucket has no tail lock to order its creation
		 * before our rename: its parent is synced with our message.
		 */
		if (r == 0 && state == MQ_DELAYED &&
		    mark_dirty(q, mq_state_name(state)) == -1)
			return -1;
		if (r == 0)
			return mark_dirty(q, rel);
		if (errno != ENOENT ||
		    faccessat(fromfd, from, F_OK, AT_SYMLINK_NOFOLLOW) == -1)
			return -1;
		/* the bucket was removed under us: open (or make) it again */
		close(q->pubfd);
		q->pubfd = -1;
	}
	errno = EAGAIN;
	return -1;
}

/*
 * Make a message ready (or delayed, when its not-before time is still to
 * come).  The claim token goes; everything else in the name stays.
 */
int
publish(struct mq_queue *q, int fromfd, const char *from, struct mq_name *m)
{
	char name[MQ_NAME_MAX + 1], bucket[32];
	int64_t now = mq_now_ms() / 1000;
	int state, r;

	m->token[0] = '\0';
	m->lease = 0;
	m->reason[0] = '\0';
	if (m->notbefore != 0 && m->notbefore > now) {
		state = MQ_DELAYED;
		snprintf(bucket, sizeof(bucket), "%010lld",
		    (long long)(m->notbefore - m->notbefore % DELAY_WINDOW));
	} else {
		state = MQ_READY;
		m->notbefore = 0;
	}
	if (mq_name_format(m, name, sizeof(name)) == -1)
		return -1;
	if (lock_sh(q, LK_QUEUE) == -1)
		return -1;
	if (state == MQ_READY && reserve(q, m->prio, bucket,
	    sizeof(bucket)) == -1)
		r = -1;
	else
		r = into_bucket(q, fromfd, from, state, bucket, name);
	unlock(q, LK_QUEUE);
	return r;
}

/*
 * Rename into a flat state directory (dead/, held/); name receives the
 * new file name.  The claim token goes, the rest of the name stays.
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

/* Dead-letter a message, with the reason in its name. */
int
bury(struct mq_queue *q, int fromfd, const char *from, struct mq_name *m,
    const char *reason)
{
	char name[MQ_NAME_MAX + 1];

	strlcpy(m->reason, reason, sizeof(m->reason));
	if (into_flat(q, fromfd, from, MQ_DEAD, m, name) == -1)
		return -1;
	/* dead is gone for its group: the next may go (see group.c) */
	return m->group[0] != '\0' ? group_defer(q, m->group) : 0;
}

/*
 * A message leaves the spool for good: the one way it is done, whatever
 * the road (an ack, a purge of any state, the purge of the messages
 * waiting their group's turn).  What leaving means is kept here, so that
 * no road can forget a part of it:
 * - Its key stays known for dedup_window from now (key_release, key.c).
 *   The deadline is set before the unlink, so that a crash in between
 *   leaves a message delivered again, never a key known for good; it is
 *   set back if the unlink fails.
 * - If it was its group's out message (out), the group's next is due: it
 *   is noted, and group_flush releases it once the caller has dropped its
 *   locks (group.c).  Not so for a dead message, whose group went on when
 *   it died, nor for one waiting in groups/, which was never out; nor for
 *   an ack, which releases the next itself, before the unlink.
 * Call with the queue lock held, shared or exclusive.
 */
int
leave(struct mq_queue *q, int fromfd, const char *from,
    const struct mq_name *m, int out)
{
	int k, saved;

	if ((k = key_release(q, m)) == -1)
		return -1;
	if (unlinkat(fromfd, from, 0) == -1) {
		saved = errno;
		if (k == 1)
			key_keep(q, m);
		errno = saved;
		return -1;
	}
	return out && m->group[0] != '\0' ? group_defer(q, m->group) : 0;
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
	if (held_dir(q) == -1)
		return -1;
	m->reason[0] = '\0';
	return into_flat(q, fromfd, from, MQ_HELD, m, heldname);
}

/* Back to ready, or delayed, from a flat state directory. */
static int
requeue(struct mq_queue *q, int state, const char *from, struct mq_name *m)
{
	if (publish(q, q->sfd[state], from, m) == -1)
		return -1;
	return mark_dirty(q, mq_state_name(state));
}

/* A dead message gets a fresh start: no attempts, no expiry, no delay. */
int
revive(struct mq_queue *q, const char *from, struct mq_name *m)
{
	m->attempts = 0;
	m->expiry = 0;
	m->notbefore = 0;
	/* back in its group, behind the message that is out, if any */
	if (m->group[0] != '\0') {
		if (group_put(q, q->sfd[MQ_DEAD], from, m) == -1)
			return -1;
		return mark_dirty(q, mq_state_name(MQ_DEAD));
	}
	return requeue(q, MQ_DEAD, from, m);
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

struct bucketref {
	int			 prio;
	unsigned long long	 seq;
	char			*name;
};

static int
cmpbucket(const void *a, const void *b)
{
	const struct bucketref *x = a, *y = b;

	if (x->prio != y->prio)
		return y->prio - x->prio;	/* higher priority first */
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Compare two ready bucket names in delivery order. */
int
bucket_cmp(const char *a, const char *b)
{
	struct bucketref x, y;

	if (parse_bucket(a, &x.prio, &x.seq) == -1 ||
	    parse_bucket(b, &y.prio, &y.seq) == -1)
		return strcmp(a, b);
	return cmpbucket(&x, &y);
}

/*
 * The buckets of ready/ or delayed/ that meet the grammar (name.c), in
 * delivery order: ready ones by priority, then SEQ; delayed windows by
 * time, which is name order.  Other names are skipped.
 */
int
list_buckets(struct mq_queue *q, int state, char ***names, size_t *n)
{
	struct bucketref *refs;
	char **v;
	size_t nv, i, k = 0;

	if (list_names(q->sfd[state], ".", &v, &nv, LN_DIRS) == -1)
		return -1;
	if ((refs = calloc(nv ? nv : 1, sizeof(*refs))) == NULL) {
		free_names(v, nv);
		return -1;
	}
	for (i = 0; i < nv; i++) {
		if (!bucket_ok(state, v[i])) {
			free(v[i]);
			continue;
		}
		/* a window has no priority: all compare by SEQ, here T */
		if (state == MQ_READY)
			parse_bucket(v[i], &refs[k].prio, &refs[k].seq);
		else
			refs[k].seq = strtoull(v[i], NULL, 10);
		refs[k++].name = v[i];
	}
	qsort(refs, k, sizeof(*refs), cmpbucket);
	for (i = 0; i < k; i++)
		v[i] = refs[i].name;
	free(refs);
	*names = v;
	*n = k;
	return 0;
}

/*
 * Remove a bucket if it is empty (rmdir fails otherwise, so a producer
 * racing in keeps its message) and, for ready/, if producers are no longer
 * filling it: removing the tail would only make the next put recreate it.
 * A directory that is no bucket by the grammar is not ours to remove.
 */
int
drop_bucket(struct mq_queue *q, int state, const char *bucket)
{
	unsigned long long seq, tail;
	int prio;

	if (!bucket_ok(state, bucket) || (state == MQ_READY &&
	    parse_bucket(bucket, &prio, &seq) == 0 &&
	    tail_seq(q, prio, &tail) == 0 && tail == seq))
		return 0;
	if (unlinkat(q->sfd[state], bucket, AT_REMOVEDIR) == -1)
		return errno == ENOTEMPTY || errno == EEXIST ||
		    errno == ENOENT ? 0 : -1;
	return mark_dirty(q, mq_state_name(state));
}

int
drop_empty_buckets(struct mq_queue *q, int state)
{
	char **v;
	size_t n, i;
	int r = 0;

	if (list_buckets(q, state, &v, &n) == -1)
		return -1;
	for (i = 0; i < n && r == 0; i++)
		r = drop_bucket(q, state, v[i]);
	free_names(v, n);
	return r;
}
