/*
 * route.c - routing keys and the patterns that bind a topic's subscribers
 * (mq(7) Fan-out), with the semantics of an AMQP topic exchange.
 *
 * A key or a pattern is a string of words separated by '.': the empty
 * string has no words, any other has one more word than it has dots, so
 * "a..b" has three, the middle one empty.  In a pattern the word "*" is
 * exactly one word, "#" zero or more, any other word itself, byte for
 * byte ("a*" is a literal word, as in AMQP).
 *
 * The grammar (mq_route_ok) keeps what mq-put takes and what a
 * subscription's entry stores to at most MQ_ROUTE_MAX bytes without
 * control bytes, so that an entry is one pattern a line and a listing one
 * binding a line.  Matching is total: a key that broke the grammar (a
 * foreign producer's) is matched word by word all the same, never trusted
 * to be short: its words are walked, not indexed.
 */
#include <sys/types.h>

#include <string.h>

#include "internal.h"

int
mq_route_ok(const char *s, size_t len)
{
	size_t i;

	if (len > MQ_ROUTE_MAX)
		return 0;
	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] == 0x7f)
			return 0;
	return 1;
}

/*
 * Dynamic programming over the words, not backtracking: a pattern of many
 * '#' against a long key stays linear in each.  cur[j]: the pattern's
 * words so far match the key's first j words.
 */
int
mq_route_match(const char *pat, size_t plen, const char *key, size_t klen)
{
	unsigned char a[MQ_HDR_MAX + 2], b[MQ_HDR_MAX + 2], *cur = a,
	    *nxt = b, *sw, any;
	const char *p, *pe, *w, *k, *ke, *kend = key + klen;
	size_t nk, j, wl;

	/* no header holds more: a key this long was never a header's */
	if (klen > MQ_HDR_MAX)
		return 0;
	nk = 0;
	if (klen > 0)
		for (nk = 1, k = key; (k = memchr(k, '.', (size_t)(kend - k)))
		    != NULL; k++)
			nk++;
	memset(cur, 0, nk + 1);
	cur[0] = 1;
	if (plen == 0)
		return nk == 0;
	pe = pat + plen;
	for (p = pat; ; p = w + wl + 1) {
		w = p;
		wl = (size_t)(((p = memchr(w, '.', (size_t)(pe - w))) ?
		    p : pe) - w);
		if (wl == 1 && *w == '#') {
			for (any = 0, j = 0; j <= nk; j++)
				nxt[j] = any |= cur[j];
		} else {
			nxt[0] = 0;
			for (k = key, j = 1; j <= nk;
			    j++, k = ke < kend ? ke + 1 : kend) {
				if ((ke = memchr(k, '.', (size_t)(kend - k)))
				    == NULL)
					ke = kend;
				nxt[j] = cur[j - 1] && ((wl == 1 && *w == '*') ||
				    ((size_t)(ke - k) == wl &&
				    memcmp(k, w, wl) == 0));
			}
		}
		sw = cur;
		cur = nxt;
		nxt = sw;
		if (w + wl == pe)
			break;
	}
	return cur[nk];
}
