/*
 * header.c - a message's headers (mq(7) HEADERS): the grammar of their
 * names, the one encoding of the set, and reading and writing it on a
 * message file.
 *
 * The set lives in one extended attribute of the message file (L_HEADERS)
 * as records "name=value\0": a rename or a hard link carries it with the
 * body in the same step, so no move of the spool can part a message from
 * its headers, and a put sets it on the temporary file before the rename
 * that publishes it, so it is as durable as the body.  One attribute, not
 * one per header: one system call to write or read, set as a whole, and a
 * small set fits inside the inode (no block of its own per message).
 *
 * The encoding is what a foreign producer writes too, so every reader
 * checks it whole (mq_headers_check) before trusting any record of it.
 */
#include <sys/types.h>
#include <sys/xattr.h>

#include <errno.h>
#include <string.h>

#include "internal.h"

static int
namechar(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
}

int
mq_header_name_ok(const char *name, size_t len)
{
	size_t i;

	if (len == 0 || len > MQ_HDR_NAME_MAX)
		return 0;
	for (i = 0; i < len; i++)
		if (!namechar((unsigned char)name[i]))
			return 0;
	return 1;
}

/* A name's byte in its environment name (MQ_H_NAME, mq-work(1)). */
static int
envchar(int c)
{
	return c == '-' || c == '.' ? '_' : c;
}

/* Names the same as environment names. */
static int
samefold(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t i;

	if (alen != blen)
		return 0;
	for (i = 0; i < alen; i++)
		if (envchar((unsigned char)a[i]) != envchar((unsigned char)b[i]))
			return 0;
	return 1;
}

int
mq_header_next(const struct mq_headers *h, size_t *pos, struct mq_header *r)
{
	const char *p, *eq, *end;

	if (*pos >= h->len)
		return 0;
	p = h->buf + *pos;
	/* mq_headers_check passed the set: the record is whole */
	end = memchr(p, '\0', h->len - *pos);
	eq = memchr(p, '=', (size_t)(end - p));
	r->name = p;
	r->nlen = (size_t)(eq - p);
	r->val = eq + 1;
	r->vlen = (size_t)(end - eq - 1);
	*pos += (size_t)(end - p) + 1;
	return 1;
}

/*
 * The rules a whole set keeps: records of a good name, '=', a value
 * without NUL, each ended by NUL; no two names the same as environment
 * names (MQ_H_NAME, mq-work(1)); at most MQ_HDR_MAX bytes in all.
 */
int
mq_headers_check(const struct mq_headers *h)
{
	const char *p, *eq, *end, *lim;
	struct mq_header a;
	size_t pos;

	if (h->len > MQ_HDR_MAX)
		goto bad;
	lim = h->buf + h->len;
	for (p = h->buf; p < lim; p = end + 1) {
		if ((end = memchr(p, '\0', (size_t)(lim - p))) == NULL ||
		    (eq = memchr(p, '=', (size_t)(end - p))) == NULL ||
		    !mq_header_name_ok(p, (size_t)(eq - p)))
			goto bad;
		for (pos = 0; mq_header_next(h, &pos, &a) &&
		    a.name < p; )
			if (samefold(a.name, a.nlen, p, (size_t)(eq - p)))
				goto bad;
	}
	return 0;
bad:
	errno = MQ_EHEADER;
	return -1;
}

const char *
mq_header_get(const struct mq_headers *h, const char *name, size_t *vlen)
{
	struct mq_header r;
	size_t pos = 0, nlen = strlen(name);

	while (mq_header_next(h, &pos, &r))
		if (r.nlen == nlen && memcmp(r.name, name, nlen) == 0) {
			*vlen = r.vlen;
			return r.val;
		}
	return NULL;
}

int
mq_header_add(struct mq_headers *h, const char *name, size_t nlen,
    const char *val, size_t vlen)
{
	struct mq_header r;
	size_t pos = 0;

	if (!mq_header_name_ok(name, nlen) || memchr(val, '\0', vlen) != NULL) {
		errno = MQ_EHEADER;
		return -1;
	}
	while (mq_header_next(h, &pos, &r))
		if (samefold(r.name, r.nlen, name, nlen)) {
			errno = MQ_EHDRDUP;
			return -1;
		}
	if (nlen + vlen + 2 > MQ_HDR_MAX - h->len) {
		errno = MQ_EHDRSIZE;
		return -1;
	}
	memcpy(h->buf + h->len, name, nlen);
	h->buf[h->len + nlen] = '=';
	memcpy(h->buf + h->len + nlen + 1, val, vlen);
	h->buf[h->len + nlen + 1 + vlen] = '\0';
	h->len += nlen + vlen + 2;
	return 0;
}

int
mq_header_arg(struct mq_headers *h, const char *arg)
{
	const char *eq;

	if ((eq = strchr(arg, '=')) == NULL) {
		errno = MQ_EHEADER;
		return -1;
	}
	return mq_header_add(h, arg, (size_t)(eq - arg), eq + 1, strlen(eq + 1));
}

int
mq_headers_read(int fd, struct mq_headers *h)
{
	ssize_t n;

	h->len = 0;
	if ((n = fgetxattr(fd, L_HEADERS, h->buf, sizeof(h->buf))) == -1) {
		/* none set, or a filesystem that holds none: no headers */
		if (errno == ENODATA || errno == ENOTSUP)
			return 0;
		if (errno == ERANGE)	/* larger than any put makes */
			errno = MQ_EHEADER;
		return -1;
	}
	h->len = (size_t)n;
	return mq_headers_check(h);
}

int
headers_write(int fd, const struct mq_headers *h)
{
	if (h == NULL || h->len == 0)
		return 0;
	if (fsetxattr(fd, L_HEADERS, h->buf, h->len, XATTR_CREATE) == 0)
		return 0;
	if (errno == ENOTSUP)
		errno = MQ_ENOXATTR;
	else if (errno == ENOSPC || errno == E2BIG)
		errno = MQ_EHDRSIZE;	/* the filesystem's room for them */
	return -1;
}

int
mq_header_envname(const char *name, size_t nlen, char *buf, size_t cap)
{
	size_t i;

	if (nlen + sizeof("MQ_H_") > cap) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(buf, "MQ_H_", 5);
	for (i = 0; i < nlen; i++)
		buf[5 + i] = (char)envchar((unsigned char)name[i]);
	buf[5 + nlen] = '\0';
	return 0;
}
