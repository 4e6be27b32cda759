/*
 * fuzz-header - a message's headers as a foreign producer may have
 * written them (mq(7), "Headers"): the attribute's bytes, checked by
 * mq_headers_check and walked by mq_header_next, and mq-put's -H.
 *
 * Invariants checked:
 * - mq_headers_check accepts exactly what the rules of mq(7) allow, as a
 *   model written here from them says: records of a good name, '=', a
 *   value without NUL, each ended by NUL; no two names the same once '-'
 *   and '.' are '_'; at most MQ_HDR_MAX bytes (a longer set is refused
 *   without a byte of it read).  It fails with MQ_EHEADER.
 * - mq_header_next walks an accepted set record by record, in order, to
 *   its end and no further: each record it gives lies inside the set,
 *   with a name the grammar takes and a value without NUL.
 * - The records, added again one by one with mq_header_add, make the same
 *   bytes; mq_header_get finds each by its name; adding a name that folds
 *   to one of them fails with MQ_EHDRDUP, and changes nothing.
 * - mq_header_arg of any string either fails or makes a set that checks.
 */
#include <sys/types.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mq.h"
#include "fuzz.h"

static int
namechar(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
}

static int
fold(int c)
{
	return c == '-' || c == '.' ? '_' : c;
}

/* The rules of mq(7), read off the bytes one at a time. */
static int
model_ok(const unsigned char *b, size_t len)
{
	size_t start[MQ_HDR_MAX], nlen[MQ_HDR_MAX], n = 0, i, j, k, p;

	if (len > MQ_HDR_MAX)
		return 0;
	for (p = 0; p < len; ) {
		start[n] = p;
		for (i = p; i < len && namechar(b[i]); i++)
			;
		nlen[n] = i - p;
		if (nlen[n] == 0 || nlen[n] > MQ_HDR_NAME_MAX || i == len ||
		    b[i] != '=')
			return 0;
		for (i++; i < len && b[i] != '\0'; i++)
			;
		if (i == len)
			return 0;	/* no NUL ends the last record */
		for (j = 0; j < n; j++) {
			if (nlen[j] != nlen[n])
				continue;
			for (k = 0; k < nlen[n] && fold(b[start[j] + k]) ==
			    fold(b[start[n] + k]); k++)
				;
			if (k == nlen[n])
				return 0;
		}
		n++;
		p = i + 1;
	}
	return 1;
}

static void
walk(const struct mq_headers *h)
{
	static struct mq_headers again;
	struct mq_header r;
	const char *v;
	char dup[MQ_HDR_NAME_MAX], env[MQ_HDR_NAME_MAX + 8];
	size_t pos = 0, last = 0, vlen, i;

	again.len = 0;
	while (mq_header_next(h, &pos, &r)) {
		CHECK(r.name == h->buf + last);
		CHECK(pos > last && pos <= h->len);
		CHECK(r.val == r.name + r.nlen + 1 && r.name[r.nlen] == '=');
		CHECK(r.val + r.vlen + 1 == h->buf + pos && r.val[r.vlen] == '\0');
		CHECK(mq_header_name_ok(r.name, r.nlen));
		CHECK(memchr(r.val, '\0', r.vlen) == NULL);
		last = pos;
		CHECK(mq_header_add(&again, r.name, r.nlen, r.val, r.vlen) == 0);
		CHECK(mq_header_envname(r.name, r.nlen, env, sizeof(env)) == 0);
		CHECK(strlen(env) == r.nlen + 5 && strncmp(env, "MQ_H_", 5) == 0);
		for (i = 0; i < r.nlen; i++)
			CHECK(env[5 + i] == fold(r.name[i]));
	}
	CHECK(last == h->len && pos == h->len);
	CHECK(again.len == h->len && memcmp(again.buf, h->buf, h->len) == 0);
	CHECK(mq_headers_check(&again) == 0);
	/* each name found, and none can be given twice */
	pos = 0;
	while (mq_header_next(h, &pos, &r)) {
		memcpy(env, r.name, r.nlen);
		env[r.nlen] = '\0';
		CHECK((v = mq_header_get(h, env, &vlen)) == r.val &&
		    vlen == r.vlen);
		for (i = 0; i < r.nlen; i++)
			dup[i] = r.name[i] == '_' ? '.' : r.name[i];
		CHECK(mq_header_add(&again, dup, r.nlen, "x", 1) == -1 &&
		    errno == MQ_EHDRDUP);
		CHECK(again.len == h->len);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	static struct mq_headers h, one;
	char *s;
	int ok;

	/* a set longer than the buffer says so in len alone */
	h.len = n;
	memcpy(h.buf, data, n < MQ_HDR_MAX ? n : MQ_HDR_MAX);
	ok = model_ok(data, n);
	errno = 0;
	if (mq_headers_check(&h) == 0) {
		CHECK(ok);
		walk(&h);
	} else
		CHECK(!ok && errno == MQ_EHEADER);

	s = fuzz_cstr(data, n);
	one.len = 0;
	if (mq_header_arg(&one, s) == 0) {
		CHECK(mq_headers_check(&one) == 0);
		CHECK(one.len == strlen(s) + 1 && memcmp(one.buf, s, one.len) == 0);
	} else
		CHECK(errno == MQ_EHEADER || errno == MQ_EHDRSIZE);
	free(s);
	return 0;
}
