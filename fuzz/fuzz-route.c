/*
 * fuzz-route - routing keys and binding patterns (mq(7) Fan-out): the
 * input is a pattern, a NUL, and a key.
 *
 * Invariants checked:
 * - mq_route_match agrees with a plain recursive matcher written from the
 *   definition (words between dots, the empty string none, "*" one word,
 *   "#" zero or more), on inputs short enough for it to finish.
 * - "#" takes every key; a pattern without wildcard words takes exactly
 *   the key equal to it; the empty key only patterns of "#" words.
 * - mq_route_ok is exactly: at most MQ_ROUTE_MAX bytes, none below 0x20
 *   nor 0x7f.
 */
#include <sys/types.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "fuzz.h"

struct words {
	const char	*w[512];
	size_t		 len[512];
	size_t		 n;
};

/* The words of s, or -1 when there are too many for the reference. */
static int
split(const char *s, size_t len, struct words *v)
{
	const char *p = s, *e;

	v->n = 0;
	if (len == 0)
		return 0;
	for (;;) {
		if (v->n == 512)
			return -1;
		e = memchr(p, '.', (size_t)(s + len - p));
		v->w[v->n] = p;
		v->len[v->n++] = (size_t)((e ? e : s + len) - p);
		if (e == NULL)
			return 0;
		p = e + 1;
	}
}

static int
ref(const struct words *p, size_t i, const struct words *k, size_t j)
{
	size_t m;

	if (i == p->n)
		return j == k->n;
	if (p->len[i] == 1 && p->w[i][0] == '#') {
		for (m = j; m <= k->n; m++)
			if (ref(p, i + 1, k, m))
				return 1;
		return 0;
	}
	if (j == k->n)
		return 0;
	if (!(p->len[i] == 1 && p->w[i][0] == '*') &&
	    (p->len[i] != k->len[j] || memcmp(p->w[i], k->w[j], k->len[j])))
		return 0;
	return ref(p, i + 1, k, j + 1);
}

static int
wild(const struct words *p, int onlyhash)
{
	size_t i;

	for (i = 0; i < p->n; i++) {
		int h = p->len[i] == 1 && p->w[i][0] == '#';
		int s = p->len[i] == 1 && p->w[i][0] == '*';

		if (onlyhash ? !h : (h || s))
			return onlyhash ? 0 : 1;
	}
	return onlyhash ? 1 : 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct words pw, kw;
	const char *pat = (const char *)data, *key, *nul;
	size_t plen, klen, i;
	int m, ok;

	if ((nul = memchr(data, '\0', size)) == NULL)
		return 0;
	plen = (size_t)(nul - pat);
	key = nul + 1;
	klen = size - plen - 1;
	m = mq_route_match(pat, plen, key, klen);
	if (klen <= MQ_HDR_MAX && !mq_route_match("#", 1, key, klen))
		abort();
	if (split(pat, plen, &pw) == 0 && split(key, klen, &kw) == 0 &&
	    klen <= MQ_HDR_MAX) {
		/* few '#' keep the reference from taking forever */
		size_t nh = 0;

		for (i = 0; i < pw.n; i++)
			nh += pw.len[i] == 1 && pw.w[i][0] == '#';
		if (nh <= 3 && pw.n <= 16 && kw.n <= 64 &&
		    m != ref(&pw, 0, &kw, 0))
			abort();
		if (!wild(&pw, 0) && m != (plen == klen &&
		    memcmp(pat, key, plen) == 0))
			abort();
		if (klen == 0 && m != wild(&pw, 1))
			abort();
	}
	ok = plen <= MQ_ROUTE_MAX;
	for (i = 0; i < plen && ok; i++)
		ok = (unsigned char)pat[i] >= 0x20 &&
		    (unsigned char)pat[i] != 0x7f;
	if (ok != mq_route_ok(pat, plen))
		abort();
	return 0;
}
