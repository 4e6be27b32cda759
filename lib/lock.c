/*
 * lock.c - the byte-range locks of a queue's lock file, as mq(7) LOCKS
 * describes them: open file description locks (F_OFD_SETLKW), so that
 * threads and descriptors of one process do not share them by accident.
 * The byte ranges are in internal.h; the order in which they are taken is
 * in mq(7): a key lock, then a group lock, then the lease, promote and
 * queue locks.  A read-only spool (lockerr) refuses exclusive locks with
 * the error that made it read-only.
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
 * The byte of the lock file that guards a hash (of a key or a group) in
 * the range of n bytes from base: its first 16 bits pick it.
 */
off_t
hash_byte(off_t base, off_t n, const char *hash)
{
	char first[5];

	memcpy(first, hash, 4);
	first[4] = '\0';
	return base + (off_t)strtoul(first, NULL, 16) % n;
}

int
key_lock(struct mq_queue *q, const char *hash, int type)
{
	return lk(q, hash_byte(LK_KEYS, LK_NKEYS, hash), 1, type);
}

static int
cmpoff(const void *a, const void *b)
{
	off_t x = *(const off_t *)a, y = *(const off_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * Lock (or unlock) the keys of n messages at once, for a group commit:
 * their bytes in ascending order, so that two such commits cannot wait on
 * each other; a byte two keys share is taken once.
 */
int
key_lock_all(struct mq_queue *q, const struct mq_name *m, size_t n, int type)
{
	off_t *b;
	size_t i, nb = 0;
	int r = 0;

	if ((b = calloc(n, sizeof(*b))) == NULL)
		return -1;
	for (i = 0; i < n; i++)
		if (m[i].key[0] != '\0')
			b[nb++] = hash_byte(LK_KEYS, LK_NKEYS, m[i].key);
	qsort(b, nb, sizeof(*b), cmpoff);
	for (i = 0; i < nb && r == 0; i++)
		if (i == 0 || b[i] != b[i - 1])
			r = lk(q, b[i], 1, type);
	/* a failed lock: give back those taken (an unheld byte is no harm) */
	if (r == -1 && type != F_UNLCK) {
		int saved = errno;
		size_t j;

		for (j = 0; j + 1 < i; j++)
			lk(q, b[j], 1, F_UNLCK);
		errno = saved;
	}
	free(b);
	return r;
}

int
group_lock(struct mq_queue *q, const char *hash, int type)
{
	return lk(q, hash_byte(LK_GROUPS, LK_NGROUPS, hash), 1, type);
}

/*
 * Write a record of the lock file (a tail record, the rate, backlog or
 * done record: mq(7) Locks): text, then spaces up to len - 1 bytes and a
 * newline, so that `cat lock` shows one record a line.  len is at most 64.
 */
int
record_put(struct mq_queue *q, off_t at, size_t len, const char *text)
{
	char rec[64];
	size_t n = strlen(text);

	if (len > sizeof(rec) || n >= len) {
		errno = EINVAL;
		return -1;
	}
	memcpy(rec, text, n);
	memset(rec + n, ' ', len - 1 - n);
	rec[len - 1] = '\n';
	return pwrite(q->lockfd, rec, len, at) == (ssize_t)len ? 0 : -1;
}

/*
 * The ask lock of a prepared message (hash: of its id), held by the
 * mq-resolve that runs its checker, for as long as the checker runs:
 * taken only if free, so that two resolvers never ask about one message
 * at once.  Two messages that share a byte wait for each other's pass.
 */
int
ask_lock(struct mq_queue *q, const char *hash, int type)
{
	off_t at = hash_byte(LK_ASKS, LK_NASKS, hash);

	return type == F_UNLCK ? lk(q, at, 1, type) : trylk(q, at, 1, type);
}

/*
 * The byte that says a group's next is owed: shared from before its out
 * message leaves, by a road that cannot hold the group lock, until the
 * next is released (group.c); LK_OWED + the group lock's offset.
 */
int
owed_lock(struct mq_queue *q, const char *hash, int type)
{
	return lk(q, hash_byte(LK_OWED, LK_NGROUPS, hash), 1, type);
}

/* The owed byte, exclusive, only if it is free: EAGAIN if not. */
int
owed_lock_try(struct mq_queue *q, const char *hash)
{
	return trylk(q, hash_byte(LK_OWED, LK_NGROUPS, hash), 1, F_WRLCK);
}

/* Drop every owed byte at once (two groups may share one). */
int
owed_unlock_all(struct mq_queue *q)
{
	return lk(q, LK_OWED, LK_NGROUPS, F_UNLCK);
}
