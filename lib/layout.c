/*
 * layout.c - the one place that spells the spool's layout: the names of the
 * state directories and of the other entries of a queue, the grammar of
 * bucket names, and the paths of handles.  mq(7) LAYOUT describes the same;
 * keep the two in step.  Everything else asks here.
 */
#include <sys/types.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/*
 * A queue's entries (mq(7) LAYOUT): the state directories, indexed by enum
 * mq_state, then the others.  Their names are the L_* macros of
 * internal.h; this table is what walks them in order.
 */
const char *const layout_dirs[] = {
	"ready", "delayed", "inflight", "dead", "held", "done", "prepared",
	L_TMP
};
const size_t layout_ndirs = sizeof(layout_dirs) / sizeof(layout_dirs[0]);

static int
isdigitc(int c)
{
	return c >= '0' && c <= '9';
}

int
mq_parse_state(const char *s)
{
	int i;

	for (i = 0; i < MQ_NSTATES; i++)
		if (strcmp(s, layout_dirs[i]) == 0)
			return i;
	errno = EINVAL;
	return -1;
}

const char *
mq_state_name(int state)
{
	return state >= 0 && state < MQ_NSTATES ? layout_dirs[state] : "?";
}

/*
 * Bucket names: P.SEQ in ready/ (the priority digit, a dot, 10 digits),
 * T in delayed/ (10 digits: the epoch second that starts a window of
 * DELAY_WINDOW seconds) and in done/ (the same, windows of DONE_WINDOW
 * seconds of ack times).  Every reader of buckets (consumers, walkers,
 * handles, mq-fsck) goes by these two, so that a directory planted with
 * another name, such as one with control bytes, is no bucket to any of
 * them: never delivered from, listed or printed, and quarantined.
 */
int
parse_bucket(const char *s, int *prio, unsigned long long *seq)
{
	size_t i;

	if (!isdigitc(s[0]) || s[1] != '.' || strlen(s) != 12)
		return -1;
	for (i = 2; i < 12; i++)
		if (!isdigitc(s[i]))
			return -1;
	*prio = s[0] - '0';
	*seq = strtoull(s + 2, NULL, 10);
	return 0;
}

int
parse_window(const char *s, int64_t *t)
{
	size_t i;

	for (i = 0; i < 10; i++)
		if (!isdigitc(s[i]))
			return -1;
	if (s[10] != '\0')
		return -1;
	*t = strtoll(s, NULL, 10);
	return 0;
}

int
bucket_ok(int state, const char *s)
{
	unsigned long long seq;
	int64_t t;
	int prio;

	if (state == MQ_READY)
		return parse_bucket(s, &prio, &seq) == 0;
	if (state == MQ_DELAYED || state == MQ_DONE)
		return parse_window(s, &t) == 0;
	return 0;
}

/* Whether a state keeps its messages in buckets. */
int
bucketed(int state)
{
	return state == MQ_READY || state == MQ_DELAYED || state == MQ_DONE;
}

/* Delivery order of buckets: higher priority first, then SEQ (or T). */
int
bucketref_cmp(const void *a, const void *b)
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
	return bucketref_cmp(&x, &y);
}

/* The name of ready bucket SEQ of priority prio: P.SEQ. */
void
fmt_bucket(char buf[BUCKET_MAX], int prio, unsigned long long seq)
{
	snprintf(buf, BUCKET_MAX, "%d.%010llu", prio, seq);
}

/* The name of the delayed window of a due time: T, its first second. */
void
fmt_window(char buf[BUCKET_MAX], int64_t due)
{
	snprintf(buf, BUCKET_MAX, "%010lld", (long long)(due - due % DELAY_WINDOW));
}

/* The name of the done/ window of an ack time: T, its first second. */
void
fmt_donewindow(char buf[BUCKET_MAX], int64_t t)
{
	snprintf(buf, BUCKET_MAX, "%010lld", (long long)(t - t % DONE_WINDOW));
}

/*
 * A directory of a state relative to the queue: STATE or STATE/BUCKET
 * (bucket NULL or ""), as marked dirty and as handles name it.
 */
void
fmt_statedir(char buf[STATEDIR_MAX], int state, const char *bucket)
{
	snprintf(buf, STATEDIR_MAX, "%s%s%s", mq_state_name(state),
	    bucket != NULL && bucket[0] != '\0' ? "/" : "",
	    bucket != NULL ? bucket : "");
}

/*
 * The handle of a message: QPATH/STATE[/BUCKET]/NAME, the path tools print
 * and take.  ENAMETOOLONG if it does not fit.
 */
int
fmt_handle(char *buf, size_t len, const char *qpath, int state,
    const char *bucket, const char *name)
{
	char dir[STATEDIR_MAX];

	fmt_statedir(dir, state, bucket);
	if ((size_t)snprintf(buf, len, "%s/%s/%s", qpath, dir, name) >= len) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/*
 * The name a key record gives the message it is being put as (key.c):
 * NAME, or prepared/NAME for one put into prepared/ (mq-put -P), which a
 * crash must finish into prepared/, never into ready.
 */
void
fmt_keyname(char *buf, size_t len, int state, const char *name)
{
	if (state == MQ_PREPARED)
		snprintf(buf, len, "%s/%s", mq_state_name(state), name);
	else
		strlcpy(buf, name, len);
}

/* The NAME of a key record's prepared/NAME, or NULL for another. */
const char *
keyname_prepared(const char *s)
{
	const char *d = mq_state_name(MQ_PREPARED);
	size_t n = strlen(d);

	return strncmp(s, d, n) == 0 && s[n] == '/' ? s + n + 1 : NULL;
}

/* A directory of an ordered group, relative to the queue: groups/HASH. */
void
fmt_groupdir(char buf[STATEDIR_MAX], const char *hash)
{
	snprintf(buf, STATEDIR_MAX, "%s/%s", L_GROUPS, hash);
}

/* The path of a key file relative to the queue: keys/XX/HASH. */
void
fmt_keypath(char *buf, size_t len, const char *hash)
{
	snprintf(buf, len, "%s/%.2s/%s", L_KEYS, hash, hash);
}
