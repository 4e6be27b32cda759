/*
 * bucket.c - where ready messages are published, and the buckets of a
 * state.
 *
 * Invariants:
 * - A ready bucket holds at most bucket_size messages: producers pick the
 *   bucket under the tail record lock of its priority and roll over to a
 *   new one when it is full.  Consumers remove empty buckets except the
 *   tail, which producers are filling; a producer that finds its bucket
 *   gone takes a slot anew, in the tail (move.c).
 * - The tail record of a priority (in the lock file, see mq(7)) names the
 *   bucket producers fill and how many slots are taken; a lost or torn one
 *   is rebuilt from the bucket names.
 * - Every walk of a state's messages goes through walk_state: what is no
 *   bucket by the grammar (layout.c), or no name that fits its place
 *   (name.c), is no message to any reader.
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

static int
write_tail(struct mq_queue *q, int prio, unsigned long long seq,
    unsigned count)
{
	char rec[LK_TAILLEN];

	/* fixed width, so that `cat lock` shows one record per line */
	snprintf(rec, sizeof(rec), "%d %010llu %08u", prio, seq, count);
	return record_put(q, LK_TAIL(prio), LK_TAILLEN, rec);
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
	char bucket[BUCKET_MAX];
	int r = 0;

	if (lk(q, LK_TAIL(prio), LK_TAILLEN, F_WRLCK) == -1)
		return -1;
	if (read_tail(q, prio, &seq, &count) == -1 || seq > SEQ_MAX)
		recover_tail(q, prio, &seq, &count);
	if (own || count >= (unsigned)q->conf.bucket_size) {
		seq++;
		count = 0;
	}
	fmt_bucket(bucket, prio, seq);
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
		q->pub.left[prio] = n;
		q->pub.leftseq[prio] = seq;
	}
	return r;
}

/*
 * The next n publishes are one batch (0: the batch is over): the first
 * that needs a slot takes slots for all of them at once, under one hold of
 * the tail record's lock.
 */
void
pub_ahead(struct mq_queue *q, size_t n)
{
	q->pub.want = n;
}

/*
 * Forget the slots reserved in prio's bucket: consumers removed it (see
 * publish), so the next publish takes a slot anew, in the tail.
 */
void
pub_forget(struct mq_queue *q, int prio)
{
	q->pub.left[prio] = 0;
}

/* One slot for a message about to be published; a batch takes its group's. */
int
reserve(struct mq_queue *q, int prio, char bucket[BUCKET_MAX])
{
	if (q->pub.left[prio] == 0 && take(q, prio, q->pub.want, 0) == -1)
		return -1;
	q->pub.left[prio]--;
	fmt_bucket(bucket, prio, q->pub.leftseq[prio]);
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
	if (q->pub.left[prio] > 0)
		return 0;	/* slots of an earlier reservation come first */
	return take(q, prio, n, 1);
}

/*
 * The buckets of ready/, delayed/ or done/ that meet the grammar
 * (layout.c), in delivery order: ready ones by priority, then SEQ;
 * windows by time, which is name order.  Other names are skipped.
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
	qsort(refs, k, sizeof(*refs), bucketref_cmp);
	for (i = 0; i < k; i++)
		v[i] = refs[i].name;
	free(refs);
	*names = v;
	*n = k;
	return 0;
}

/* Whether a ready bucket is the tail of its priority, which producers fill. */
int
is_tail(struct mq_queue *q, const char *bucket)
{
	unsigned long long seq, tail;
	int prio;

	return parse_bucket(bucket, &prio, &seq) == 0 &&
	    tail_seq(q, prio, &tail) == 0 && tail == seq;
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
	if (!bucket_ok(state, bucket) || (state == MQ_READY &&
	    is_tail(q, bucket)))
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

struct entry {
	char		*name;
	struct mq_name	 m;
};

static int
cmpdue(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;

	if (x->m.notbefore != y->m.notbefore)
		return x->m.notbefore < y->m.notbefore ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* Visit the messages of one directory; delayed ones by due time. */
static int
walk_dir(struct mq_queue *q, int state, int dirfd, const char *sub,
    const char *prefix, walkfn fn, void *arg)
{
	struct entry *e;
	char **v, path[PATH_MAX];
	size_t n, i, k = 0;
	int fd, r = 0;

	fd = mq_opendirat(dirfd, sub);
	if (fd == -1)
		return errno == ENOENT ? 0 : -1;
	if (list_names(fd, ".", &v, &n, LN_SORT | LN_FILES) == -1) {
		close(fd);
		return -1;
	}
	if ((e = calloc(n ? n : 1, sizeof(*e))) == NULL) {
		r = -1;
		goto out;
	}
	/* sub is the bucket of a ready or delayed message */
	for (i = 0; i < n; i++)
		if (mq_name_parse(v[i], &e[k].m) == 0 &&
		    name_fits(&e[k].m, state, bucketed(state) ? sub : NULL))
			e[k++].name = v[i];
	if (state == MQ_DELAYED)
		qsort(e, k, sizeof(*e), cmpdue);
	for (i = 0; i < k && r == 0; i++) {
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", prefix,
		    e[i].name) >= sizeof(path)) {
			errno = ENAMETOOLONG;
			r = -1;
			break;
		}
		r = fn(q, fd, e[i].name, path, &e[i].m, arg);
	}
	free(e);
out:
	free_names(v, n);
	close(fd);
	return r;
}

/*
 * The one walk of a state's messages (buckets, then names): every message
 * whose name fits its place, in delivery order, with its path as a
 * handle.  A callback returning non-zero stops the walk with that value.
 */
int
walk_state(struct mq_queue *q, int state, walkfn fn, void *arg)
{
	return walk_windows(q, state, 0, MQ_TIME_MAX, fn, arg);
}

/*
 * walk_state, but for delayed/ and done/ only the windows T from lo to
 * hi (epoch s); other states whole.
 */
int
walk_windows(struct mq_queue *q, int state, int64_t lo, int64_t hi,
    walkfn fn, void *arg)
{
	char **b, prefix[PATH_MAX], dir[STATEDIR_MAX];
	size_t nb, i;
	int64_t t;
	int r = 0;

	fmt_statedir(dir, state, NULL);
	if ((size_t)snprintf(prefix, sizeof(prefix), "%s/%s", q->path,
	    dir) >= sizeof(prefix)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (q->sfd[state] == -1)
		return 0;	/* no held/ yet: nothing was ever held */
	if (!bucketed(state))
		return walk_dir(q, state, q->sfd[state], ".", prefix, fn, arg);
	/* what is no bucket by the grammar holds no messages */
	if (list_buckets(q, state, &b, &nb) == -1)
		return -1;
	for (i = 0; i < nb && r == 0; i++) {
		if (state != MQ_READY && parse_window(b[i], &t) == 0 &&
		    (t < lo || t > hi))
			continue;
		fmt_statedir(dir, state, b[i]);
		if ((size_t)snprintf(prefix, sizeof(prefix), "%s/%s",
		    q->path, dir) >= sizeof(prefix)) {
			r = -1;
			errno = ENAMETOOLONG;
			break;
		}
		r = walk_dir(q, state, q->sfd[state], b[i], prefix, fn, arg);
	}
	free_names(b, nb);
	return r;
}


/*
 * The message id in a flat state directory, whatever the rest of its name
 * (in prepared/, ,a counts a checker's asks and changes): 1 with its name
 * parsed, 0 if none, -1 on error.  A scan, for the rare caller: a handle
 * whose name was renamed meanwhile, a key met while its message is
 * prepared.
 */
int
find_id(struct mq_queue *q, int state, const char *id, struct mq_name *m,
    char name[MQ_NAME_MAX + 1])
{
	char **v;
	size_t n, i;
	int r = 0;

	if (q->sfd[state] == -1)
		return 0;
	if (list_names(q->sfd[state], ".", &v, &n, LN_FILES) == -1)
		return -1;
	for (i = 0; i < n && r == 0; i++)
		if (strncmp(v[i], id, MQ_ID_LEN) == 0 &&
		    (v[i][MQ_ID_LEN] == ',' || v[i][MQ_ID_LEN] == '\0') &&
		    mq_name_parse(v[i], m) == 0 && name_fits(m, state, NULL) &&
		    strlcpy(name, v[i], MQ_NAME_MAX + 1) <= MQ_NAME_MAX)
			r = 1;
	free_names(v, n);
	return r;
}
