/*
 * fuzz-name - the grammar of names: message file names (see mq(7),
 * "Message ids and names"), queue names, ids and ready bucket names.
 *
 * Invariants checked:
 * - A name that parses formats back to itself with the ,p and ,a fields
 *   put in when they were left out: format(parse(x)) == x exactly for the
 *   canonical names mq writes, which always carry both.  (That a name may
 *   leave them out is by design: mq(7) makes every field optional.)
 * - The formatted name parses to the same fields, and never overruns a
 *   buffer too small for it: it fails with ENAMETOOLONG instead.
 * - name_fits follows the rules of mq(7) for each state (done/ too: ,d
 *   there and only there, with ,s and without ,x ,n ,k), and a name that
 *   may wait in ready/, delayed/ or held/ can be claimed: with one more
 *   attempt and a claim token it is still a name that parses and may live
 *   in inflight/.  In a bucket it fits only the bucket of its priority, or
 *   the window of its due time.
 * - Queue names and bucket names are exactly those of the grammar.
 */
#include <sys/types.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "fuzz.h"

static const char qchars[] =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz._-";

static int
same(const struct mq_name *a, const struct mq_name *b)
{
	return strcmp(a->id, b->id) == 0 && a->prio == b->prio &&
	    a->attempts == b->attempts && a->size == b->size &&
	    a->expiry == b->expiry && a->notbefore == b->notbefore &&
	    strcmp(a->key, b->key) == 0 && strcmp(a->group, b->group) == 0 &&
	    strcmp(a->reason, b->reason) == 0 &&
	    strcmp(a->token, b->token) == 0;
}

/* x with ",p4" and ",a0" put in where they were left out */
static void
canonical(const char *x, char *out, size_t len)
{
	const char *p = x + MQ_ID_LEN, *a;
	size_t n;

	n = (size_t)snprintf(out, len, "%.*s", MQ_ID_LEN, x);
	if (strncmp(p, ",p", 2) == 0) {
		n += (size_t)snprintf(out + n, len - n, "%.3s", p);
		p += 3;
	} else
		n += (size_t)snprintf(out + n, len - n, ",p4");
	if (strncmp(p, ",a", 2) == 0) {
		a = p + 2 + strspn(p + 2, "0123456789");
		n += (size_t)snprintf(out + n, len - n, "%.*s", (int)(a - p), p);
		p = a;
	} else
		n += (size_t)snprintf(out + n, len - n, ",a0");
	snprintf(out + n, len - n, "%s", p);
}

static void
fits(const struct mq_name *m)
{
	char buf[MQ_NAME_MAX + 1];
	struct mq_name c, back;
	char bucket[16];
	int64_t t = m->notbefore - m->notbefore % DELAY_WINDOW;
	int st;

	/* the bucket it belongs in, and one beside it */
	snprintf(bucket, sizeof(bucket), "%d.0000000001", m->prio);
	CHECK(name_fits(m, MQ_READY, bucket) == name_fits(m, MQ_READY, NULL));
	bucket[0] = '0' + (m->prio + 1) % 10;
	CHECK(!name_fits(m, MQ_READY, bucket));
	snprintf(bucket, sizeof(bucket), "%010lld", (long long)t);
	CHECK(name_fits(m, MQ_DELAYED, bucket) ==
	    name_fits(m, MQ_DELAYED, NULL));
	snprintf(bucket, sizeof(bucket), "%010lld",
	    (long long)(t + DELAY_WINDOW) % (MQ_TIME_MAX + 1));
	CHECK(!name_fits(m, MQ_DELAYED, bucket));
	/* done/T: the window of its ack time, and no other */
	t = m->done - m->done % DONE_WINDOW;
	snprintf(bucket, sizeof(bucket), "%010lld", (long long)t);
	CHECK(name_fits(m, MQ_DONE, bucket) == name_fits(m, MQ_DONE, NULL));
	snprintf(bucket, sizeof(bucket), "%010lld",
	    (long long)(t + DONE_WINDOW) % (MQ_TIME_MAX + 1));
	CHECK(!name_fits(m, MQ_DONE, bucket));
	for (st = 0; st < MQ_NSTATES; st++) {
		CHECK(name_fits(m, st, NULL) ==
		    ((m->token[0] != '\0') == (st == MQ_INFLIGHT) &&
		    (m->reason[0] == '\0' || st == MQ_DEAD) &&
		    (m->lease == 0 || st == MQ_INFLIGHT) &&
		    (st != MQ_DELAYED || m->notbefore != 0) &&
		    (m->done != 0) == (st == MQ_DONE) &&
		    (st != MQ_DONE || (m->size >= 0 && m->expiry == 0 &&
		    m->notbefore == 0 && m->key[0] == '\0'))));
		if (!name_fits(m, st, NULL) || (st != MQ_READY &&
		    st != MQ_DELAYED && st != MQ_HELD))
			continue;
		/* what a claim makes of it (get.c) */
		c = *m;
		c.attempts += c.attempts < ATTEMPTS_MAX;
		c.notbefore = st == MQ_DELAYED ? 0 : c.notbefore;
		memset(c.token, 'T', TOKEN_LEN);
		c.token[TOKEN_LEN] = '\0';
		CHECK(mq_name_format(&c, buf, sizeof(buf)) == 0);
		CHECK(mq_name_parse(buf, &back) == 0);
		CHECK(name_fits(&back, MQ_INFLIGHT, NULL));
	}
}

static void
name(const char *s)
{
	char want[512], got[512], *small;
	struct mq_name m, back;
	size_t len, i;
	static const size_t lens[] = { 0, 1, 2, MQ_ID_LEN, MQ_ID_LEN + 1 };

	if (mq_name_parse(s, &m) == -1) {
		CHECK(errno == EINVAL);
		return;
	}
	CHECK(strlen(s) <= MQ_NAME_MAX);
	CHECK(strncmp(s, m.id, MQ_ID_LEN) == 0 && strlen(m.id) == MQ_ID_LEN);
	CHECK(mq_id_time(m.id) == strtoll(s, NULL, 10));
	CHECK(m.prio >= MQ_PRIORITY_MIN && m.prio <= MQ_PRIORITY_MAX);
	CHECK(m.attempts >= 0 && m.size >= -1 && m.expiry >= 0 &&
	    m.notbefore >= 0);

	canonical(s, want, sizeof(want));
	CHECK(mq_name_format(&m, got, sizeof(got)) == 0);
	CHECK(strcmp(got, want) == 0);
	len = strlen(got);
	if (len <= MQ_NAME_MAX) {
		CHECK(mq_name_parse(got, &back) == 0);
		CHECK(same(&m, &back));
	}
	/* too small a buffer fails cleanly, the right size is enough */
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]) + 2; i++) {
		size_t l = i < sizeof(lens) / sizeof(lens[0]) ? lens[i] :
		    len + i - sizeof(lens) / sizeof(lens[0]);

		if ((small = malloc(l ? l : 1)) == NULL)
			abort();
		if (l <= len) {
			CHECK(mq_name_format(&m, small, l) == -1 &&
			    errno == ENAMETOOLONG);
		} else {
			CHECK(mq_name_format(&m, small, l) == 0);
			CHECK(strcmp(small, got) == 0);
		}
		free(small);
	}
	fits(&m);
}

static void
queue(const char *s)
{
	size_t len = strlen(s);

	CHECK(mq_queue_name_ok(s) == (len >= 1 && len <= MQ_QUEUE_MAX &&
	    s[0] != '.' && s[0] != '-' && s[strspn(s, qchars)] == '\0'));
}

static void
bucket(const char *s, const char *other)
{
	char buf[32];
	unsigned long long seq;
	int prio, a, b;

	CHECK(bucket_ok(MQ_DELAYED, s) == (strlen(s) == 10 &&
	    strspn(s, "0123456789") == 10));
	CHECK(bucket_ok(MQ_READY, s) == (parse_bucket(s, &prio, &seq) == 0));
	if (parse_bucket(s, &prio, &seq) == 0) {
		snprintf(buf, sizeof(buf), "%d.%010llu", prio, seq);
		CHECK(strcmp(buf, s) == 0);
	} else
		CHECK(strlen(s) != 12 || s[1] != '.' ||
		    strspn(s, "0123456789") != 1 ||
		    strspn(s + 2, "0123456789") != 10);
	a = bucket_cmp(s, other);
	b = bucket_cmp(other, s);
	CHECK((a < 0) == (b > 0) && (a == 0) == (b == 0));
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char id[MQ_ID_LEN + 1], last[MQ_ID_LEN + 1] = "";
	struct mq_name m;
	int i;

	(void)argc;
	(void)argv;
	/* new ids are names, and grow */
	for (i = 0; i < 1000; i++) {
		CHECK(mq_new_id(id) == 0);
		CHECK(mq_name_parse(id, &m) == 0);
		CHECK(strcmp(last, id) < 0);
		memcpy(last, id, sizeof(id));
	}
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	char *s = fuzz_cstr(data, n), *nl;
	const char *other = "";

	name(s);
	queue(s);
	if ((nl = strchr(s, '\n')) != NULL) {
		*nl = '\0';
		other = nl + 1;
	}
	bucket(s, other);
	free(s);
	return 0;
}
