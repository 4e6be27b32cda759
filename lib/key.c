/*
 * key.c - the key store of idempotent producers (mq-put -k).
 *
 * A key is known while QUEUE/keys/XX/HASH exists with a modification time
 * in the future.  HASH is the first 128 bits of the key's SHA-256 in hex,
 * XX its first two digits; the file holds the id of the message put with
 * the key and a newline, then possibly the message's name and a newline
 * (see below).
 *
 * Invariants:
 * - A key file is written only under its key lock.  A put records its key
 *   before it publishes, once the body in tmp/ID is as durable as the sync
 *   mode promises, and the record then holds a second line: the name the
 *   message is being published under.  A put that dies between the two
 *   leaves a key naming a body still in tmp/; whoever next holds the key
 *   lock (the next put with the key, or mq-fsck) publishes it under that
 *   name and so finishes the put.  So a retry after a crash finds its
 *   message once: neither a duplicate nor a swallowed message.  A put that
 *   fails (not dies) after recording removes the record again.  A put
 *   into prepared/ (mq-put -P) records prepared/NAME: finished, it goes
 *   there, not to ready; and while it is there, a put with the key is
 *   refused (MQ_EPREPARED, dedup.c) rather than swallowed, since the
 *   message may yet be rolled back, which forgets the key at once
 *   (withdraw, retire.c).
 * - While its message is in the spool, in any state, the dead one and one
 *   waiting its group's turn included, a key file's mtime is KEY_LIVE.
 *   When the message leaves for good, whatever the road (all go through
 *   retire() in retire.c, see there), the mtime becomes now + dedup_window,
 *   before the message goes, and only if the file still names that
 *   message: a crash in between leaves a message that will be delivered
 *   again and a key that will expire, never a key that stays known for
 *   good after its message is gone.  One that is gone all the same (a
 *   crash, a hand, mq-fsck's quarantine) gets its deadline from mq-fsck
 *   (key_orphans).  key_release is the one place of the rule.
 * - A key file whose mtime has passed is garbage, whatever it holds.  A
 *   put with its key replaces it; sweeps remove it under its key lock, so
 *   a sweep never removes a file that a put has just rewritten.
 * - The content is read only for a key that is still known.  If it is not
 *   an id, the put is refused (MQ_EKEYFILE): which message it stood for
 *   cannot be told, and guessing would break the promise either way.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <sha2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

#define KEYDIR_DURABLE	1	/* key_dir: make it, durably */
#define KEYDIR_COMMIT	2	/* make it; the caller's syncfs syncs it */

void
key_hash(const char *key, char hex[MQ_KEY_HEX + 1])
{
	char full[SHA256_DIGEST_STRING_LENGTH];

	SHA256Data((const uint8_t *)key, strlen(key), full);
	memcpy(hex, full, MQ_KEY_HEX);
	hex[MQ_KEY_HEX] = '\0';
}

void
mq_key_path(const char *key, char *buf, size_t len)
{
	char hash[MQ_KEY_HEX + 1];

	key_hash(key, hash);
	fmt_keypath(buf, len, hash);
}

int
key_hash_ok(const char *s)
{
	size_t i;

	for (i = 0; i < MQ_KEY_HEX; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return s[i] == '\0';
}

/*
 * A directory of the key store, opened; made first if missing, as create
 * says (key_dir).
 */
static int
keys_opendir(struct mq_queue *q, int dirfd, const char *name, int create)
{
	int fd;

	if (create != KEYDIR_COMMIT || q->conf.sync == MQ_SYNC_NONE)
		return open_dir(q, dirfd, name, create != 0);
	for (;;) {
		fd = mq_opendirat(dirfd, name);
		if (fd != -1 || errno != ENOENT)
			return fd;
		/* no fsync: the caller's syncfs makes the name durable */
		if (mkdirat(dirfd, name, 0777) == 0) {
			if (own_dirat(&q->conf, dirfd, name) == -1)
				return -1;
		} else if (errno != EEXIST)
			return -1;
	}
}

/*
 * keys/XX of a hash, opened.  A missing one fails with ENOENT (create 0),
 * or is made (with keys/): durably (KEYDIR_DURABLE), or for a group
 * commit, whose syncfs after the records are written makes the new
 * directories' names durable along with the records in them
 * (KEYDIR_COMMIT): no fsync of keys/ for each of its 256 directories as
 * a new queue's first keys make them.
 */
static int
key_dir(struct mq_queue *q, const char *hash, int create)
{
	char xx[3] = { hash[0], hash[1], '\0' };

	if (q->keys.fd == -1 &&
	    (q->keys.fd = keys_opendir(q, q->dfd, L_KEYS, create)) == -1)
		return -1;
	return keys_opendir(q, q->keys.fd, xx, create);
}

/*
 * Open the key file of hash and check what it says.  Returns its
 * descriptor, or -1 with errno ENOENT when there is none.  *known tells
 * whether its deadline is still to come, and id what it holds ("" if not
 * an id).  A file that is not a regular one fails with MQ_EKEYFILE.
 */
int
key_open(struct mq_queue *q, const char *hash, int *known,
    char id[MQ_ID_LEN + 1], char name[MQ_NAME_MAX + 1])
{
	char buf[MQ_ID_LEN + MQ_NAME_MAX + 3], *nl, *rec;
	const char *nm;
	struct mq_name m;
	struct stat st;
	ssize_t n;
	int dfd, fd, saved;

	id[0] = '\0';
	if (name != NULL)
		name[0] = '\0';
	if ((dfd = key_dir(q, hash, 0)) == -1)
		return -1;
	/*
	 * A FIFO or symlink planted here is refused, never waited on.
	 * O_NONBLOCK kept: pread of a regular file does not look at it.
	 */
	fd = mq_openat(dfd, hash, O_RDONLY | O_NONBLOCK, 0);
	saved = errno;
	close(dfd);
	if (fd == -1) {
		errno = saved == MQ_ENOTREG ? MQ_EKEYFILE : saved;
		return -1;
	}
	if (fstat(fd, &st) == -1)
		goto fail;
	*known = mtime_ms(&st) > mq_now_ms();
	if ((n = pread(fd, buf, sizeof(buf), 0)) == -1)
		goto fail;
	if (n >= MQ_ID_LEN + 1 && buf[MQ_ID_LEN] == '\n' &&
	    n < (ssize_t)sizeof(buf)) {
		buf[MQ_ID_LEN] = '\0';
		buf[n] = '\0';
		/* a bare id parses as a name without fields */
		if (mq_name_parse(buf, &m) == 0 && (n == MQ_ID_LEN + 1 ||
		    ((nl = strchr(buf + MQ_ID_LEN + 1, '\n')) != NULL &&
		    nl[1] == '\0')))
			strlcpy(id, buf, MQ_ID_LEN + 1);
		/*
		 * the name of a put in progress: of this id, or none; NAME,
		 * or prepared/NAME (fmt_keyname) for a prepared one
		 */
		if (id[0] != '\0' && n > MQ_ID_LEN + 1 && name != NULL) {
			rec = buf + MQ_ID_LEN + 1;
			*strchr(rec, '\n') = '\0';
			if ((nm = keyname_prepared(rec)) == NULL)
				nm = rec;
			if (mq_name_parse(nm, &m) == 0 &&
			    strcmp(m.id, id) == 0)
				strlcpy(name, rec, MQ_NAME_MAX + 1);
		}
	}
	return fd;
fail:
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

/*
 * Whether a key is known: 1 and the id of its message, 0 if not, -1 on
 * error.  Call with the key lock held.
 */
int
key_lookup(struct mq_queue *q, const char *hash, char id[MQ_ID_LEN + 1],
    char name[MQ_NAME_MAX + 1])
{
	int fd, known;

	if ((fd = key_open(q, hash, &known, id, name)) == -1)
		return errno == ENOENT ? 0 : -1;
	close(fd);
	if (known && id[0] == '\0') {
		errno = MQ_EKEYFILE;
		return -1;
	}
	return known;
}

/*
 * Record that hash names message id, for as long as it is in the spool;
 * name, if not NULL, is the name it is about to be published under.  The
 * file is written in tmp/ and renamed over a stale one; call with the key
 * lock held, once the message (or its body in tmp/) is durable.  Without
 * dosync the caller makes it durable (a group commit's syncfs).
 */
int
key_record(struct mq_queue *q, const char *hash, const char *id,
    const char *name, int dosync)
{
	struct timespec ts[2] = { { KEY_LIVE, 0 }, { KEY_LIVE, 0 } };
	char tmp[MQ_KEY_HEX + 5], line[MQ_ID_LEN + MQ_NAME_MAX + 3];
	ssize_t n;
	size_t len;
	int dfd, fd, r = -1, saved, tries;

	snprintf(tmp, sizeof(tmp), "%s.key", hash);
	if (name != NULL)
		snprintf(line, sizeof(line), "%s\n%s\n", id, name);
	else
		snprintf(line, sizeof(line), "%s\n", id);
	len = strlen(line);
	if ((dfd = key_dir(q, hash, dosync ? KEYDIR_DURABLE : KEYDIR_COMMIT))
	    == -1)
		return -1;
	/*
	 * tmp/HASH.key is a name anyone who may put can work out, and plant
	 * something at: a FIFO to hang us on, a hard link to a file we would
	 * truncate, chown and chmod.  Under the key lock the name is ours, so
	 * whatever is there was left by a put that died, or planted: its name
	 * goes (never the file it may link to), and ours is made with O_EXCL,
	 * which opens nothing planted again meanwhile.  The name is most
	 * often free: O_EXCL is tried first, and only what is in its way is
	 * unlinked.  A few tries, then the put fails (EEXIST) rather than
	 * race a planter for good.
	 */
	for (tries = 0; ; tries++) {
		fd = mq_openat(q->tmpfd, tmp, O_WRONLY | O_CREAT | O_EXCL,
		    q->conf.mode >= 0 ? q->conf.mode : 0666);
		if (fd != -1 || errno != EEXIST || tries == 2)
			break;
		if (unlinkat(q->tmpfd, tmp, 0) == -1 && errno != ENOENT)
			goto out;
	}
	if (fd == -1)
		goto out;
	if ((n = write(fd, line, len)) != (ssize_t)len) {
		if (n >= 0)
			errno = ENOSPC;	/* a short write to a file */
		goto fail;
	}
	if (q->conf.sync == MQ_SYNC_NONE)
		dosync = 0;
	if (own_file(q, fd) == -1 || futimens(fd, ts) == -1 ||
	    (dosync && fsync(fd) == -1))
		goto fail;
	r = close(fd);
	fd = -1;
	if (r == 0)
		r = renameat(q->tmpfd, tmp, dfd, hash);
	if (r == 0 && dosync)
		r = fsync(dfd);
	if (r == 0)
		goto out;
fail:
	saved = errno;
	if (fd != -1)
		close(fd);
	unlinkat(q->tmpfd, tmp, 0);
	errno = saved;
	r = -1;
out:
	saved = errno;
	close(dfd);
	errno = saved;
	return r;
}

/*
 * Take back the record of a put that failed after making it: if the key
 * file still names id, it goes.  Call with the key lock held.
 */
int
key_forget(struct mq_queue *q, const char *hash, const char *id)
{
	char got[MQ_ID_LEN + 1];
	int dfd, fd, known, r = 0, saved;

	if ((fd = key_open(q, hash, &known, got, NULL)) == -1)
		return errno == ENOENT ? 0 : -1;
	close(fd);
	if (strcmp(got, id) != 0 || (dfd = key_dir(q, hash, 0)) == -1)
		return 0;
	if (unlinkat(dfd, hash, 0) == -1 && errno != ENOENT)
		r = -1;
	else if (q->conf.sync != MQ_SYNC_NONE)
		r = fsync(dfd);
	saved = errno;
	close(dfd);
	errno = saved;
	return r;
}

/*
 * Set the deadline of the key of message m, if its file still names m.
 * Returns 1 if it did, 0 if the file names another message or is missing
 * or unreadable (that is mq-fsck's business, not the consumer's), -1 on
 * error.
 */
static int
key_deadline(struct mq_queue *q, const struct mq_name *m, int64_t ms)
{
	struct timespec ts[2];
	char id[MQ_ID_LEN + 1];
	struct stat st;
	int dfd, fd, known, r = 0, saved;

	if ((fd = key_open(q, m->key, &known, id, NULL)) == -1)
		return errno == ENOENT || errno == MQ_EKEYFILE ? 0 : -1;
	if (strcmp(id, m->id) == 0) {
		ts[0].tv_sec = ts[1].tv_sec = ms / 1000;
		ts[0].tv_nsec = ts[1].tv_nsec = (ms % 1000) * 1000000;
		/* on the inode we read, even if a put renamed a new one over */
		r = futimens(fd, ts) == -1 ? -1 : 1;
		/*
		 * An explicit time needs the file's owner: in a spool shared
		 * by a group, the member who put the message.  Another
		 * member replaces the file by one of its own with the same
		 * record and the deadline (replace_own: one rename, so a
		 * crash leaves the old key, live, never none).  No put
		 * rewrites the file meanwhile: it rewrites only a key whose
		 * deadline has passed, and this one is live while its
		 * message is in the spool.
		 */
		if (r == -1 && errno == EPERM && fstat(fd, &st) == 0 &&
		    st.st_uid != geteuid()) {
			if ((dfd = key_dir(q, m->key, 0)) == -1)
				r = -1;
			else {
				r = replace_own(q, dfd, m->key, fd, ts, 07777,
				    1) == -1 ? -1 : 1;
				saved = errno;
				close(dfd);
				errno = saved;
			}
		}
	}
	saved = errno;
	close(fd);
	errno = saved;
	return r;
}

/*
 * Message m leaves the spool for good, or has left it: its key stays known
 * for dedup_window from now, if the key file still names m.  This is the
 * one place of that rule; retire() (retire.c) calls it for every message it
 * removes, key_orphans for those found gone.
 */
int
key_release(struct mq_queue *q, const struct mq_name *m)
{
	if (m->key[0] == '\0')
		return 0;
	return key_deadline(q, m, mq_now_ms() + q->conf.dedup_window_ms);
}

/* Undo key_release: m did not leave after all, its key is live again. */
int
key_keep(struct mq_queue *q, const struct mq_name *m)
{
	if (m->key[0] == '\0')
		return 0;
	return key_deadline(q, m, KEY_LIVE * 1000);
}

/*
 * Remove the key files of one keys/XX whose deadline has passed: up to max
 * of them from a random place (0: all).  A file is removed under its key
 * lock, taken only if free: a busy key is being put, and its file is left
 * for the next sweep.  Other names are left alone.  Best effort: a sweep
 * that fails leaves garbage, never harm.
 */
static void
sweep_dir(struct mq_queue *q, const char *xx, size_t max)
{
	struct stat st;
	char **v;
	size_t n, i, at;
	int fd;

	if ((fd = mq_opendirat(q->keys.fd, xx)) == -1)
		return;
	if (list_names(fd, ".", &v, &n, LN_FILES) == -1) {
		close(fd);
		return;
	}
	if (max == 0 || max > n)
		max = n;
	at = n > max ? arc4random_uniform((uint32_t)n) : 0;
	for (i = 0; i < max; i++) {
		const char *h = v[(at + i) % n];

		if (!key_hash_ok(h) || strncmp(h, xx, 2) != 0 ||
		    fstatat(fd, h, &st, AT_SYMLINK_NOFOLLOW) == -1 ||
		    mtime_ms(&st) > mq_now_ms() ||
		    trylk(q, hash_byte(LK_KEYS, LK_NKEYS, h), 1, F_WRLCK) == -1)
			continue;
		/* a put may have rewritten it before we got the lock */
		if (fstatat(fd, h, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISREG(st.st_mode) && mtime_ms(&st) <= mq_now_ms())
			unlinkat(fd, h, 0);
		key_lock(q, h, F_UNLCK);
	}
	free_names(v, n);
	close(fd);
}

/*
 * Sweep expired key files: the directory of hash, a bounded number (a put
 * pays for its own garbage), or with hash NULL every one, in full.  Call
 * holding no lock.
 */
void
key_sweep(struct mq_queue *q, const char *hash)
{
	char **v, xx[3];
	size_t n, i;

	if (q->keys.fd == -1 &&
	    (q->keys.fd = mq_opendirat(q->dfd, L_KEYS)) == -1)
		return;
	if (hash != NULL) {
		snprintf(xx, sizeof(xx), "%.2s", hash);
		sweep_dir(q, xx, KEY_SWEEP);
		return;
	}
	if (list_names(q->keys.fd, ".", &v, &n, LN_DIRS) == -1)
		return;
	for (i = 0; i < n; i++)
		if (strlen(v[i]) == 2)
			sweep_dir(q, v[i], 0);
	free_names(v, n);
}

void
keys_close(struct keys *k)
{
	close_fd(&k->fd);
}
