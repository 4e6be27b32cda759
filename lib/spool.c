/*
 * spool.c - the queue object's core: finding the spool, creating a queue,
 * opening its directories, lock file and configuration.
 *
 * Invariants:
 * - A queue directory, once visible under its name, is complete: it is built
 *   under SPOOL/.init.RANDOM and renamed into place with RENAME_NOREPLACE, so
 *   concurrent creators agree on one queue and nobody sees half of one.
 * - Everything inside a queue is reached through the queue's directory
 *   descriptor with O_NOFOLLOW: a symlink planted in the spool is never
 *   followed.  Only the spool root itself may be reached through symlinks.
 * - The queue's owner is the owner of its directory: its mq.conf is used
 *   only when that user or root wrote it (trust.c), and only they may
 *   rewrite it (mq_queue_share).  A queue directory that others may write
 *   has the sticky bit, as Postfix's maildrop/ has, so that none of them
 *   can remove or replace what is not theirs there: mq.conf, lock, and
 *   another's paused.  The state directories have no sticky bit: members
 *   move each other's messages.
 */
#include <sys/types.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"


int
mq_spool_path(const char *opt, char *buf, size_t len)
{
	const char *s, *home;
	char cwd[PATH_MAX];
	struct passwd *pw;
	int n;

	if (opt != NULL && *opt != '\0')
		s = opt;
	else if ((s = getenv("MQ_SPOOL")) != NULL && *s != '\0')
		;
	else if (geteuid() == 0)
		s = "/var/spool/mq";
	else if ((s = getenv("XDG_STATE_HOME")) != NULL && *s == '/') {
		n = snprintf(buf, len, "%s/mq", s);
		goto done;
	} else {
		if ((home = getenv("HOME")) == NULL || *home != '/') {
			if ((pw = getpwuid(geteuid())) == NULL) {
				errno = ENOENT;
				return -1;
			}
			home = pw->pw_dir;
		}
		n = snprintf(buf, len, "%s/.local/state/mq", home);
		goto done;
	}
	if (*s == '/')
		n = snprintf(buf, len, "%s", s);
	else {
		/* handles are printed absolute: anchor a relative spool now */
		if (getcwd(cwd, sizeof(cwd)) == NULL)
			return -1;
		n = snprintf(buf, len, "%s/%s", cwd, s);
	}
done:
	if (n < 0 || (size_t)n >= len) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/*
 * done/, which only a queue with retain needs, is not made with the queue
 * but at the first retained ack (state_dir).
 */
static int
lazy(size_t state)
{
	return state == MQ_DONE;
}

/*
 * The states whose directory a queue may lack, made when first needed
 * (state_dir): held/ and prepared/, which queues made before them lack,
 * and the lazy done/.
 */
static int
late(size_t state)
{
	return state == MQ_HELD || state == MQ_PREPARED || lazy(state);
}

static void
rmtree1(int dirfd, const char *name)
{
	size_t i;
	int fd;

	if ((fd = mq_opendirat(dirfd, name)) != -1) {
		for (i = 0; i < layout_ndirs; i++)
			unlinkat(fd, layout_dirs[i], AT_REMOVEDIR);
		unlinkat(fd, L_LOCK, 0);
		close(fd);
	}
	unlinkat(dirfd, name, AT_REMOVEDIR);
}

static int
create_queue(int spoolfd, const char *name, const struct mq_conf *c)
{
	char tmp[32], rnd[9];
	size_t i;
	int fd = -1, lockfd, saved;

	arc4random_buf(rnd, sizeof(rnd));
	for (i = 0; i < sizeof(rnd) - 1; i++)
		rnd[i] = "abcdefghijklmnopqrstuvwxyz012345"[rnd[i] & 31];
	rnd[sizeof(rnd) - 1] = '\0';
	snprintf(tmp, sizeof(tmp), L_INIT "%s", rnd);
	if (mkdirat(spoolfd, tmp, 0777) == -1)
		return -1;
	if ((fd = mq_opendirat(spoolfd, tmp)) == -1 ||
	    own_fd(c, fd, OWN_QUEUE) == -1)
		goto fail;
	for (i = 0; i < layout_ndirs; i++)
		if (!lazy(i) && (mkdirat(fd, layout_dirs[i], 0777) == -1 ||
		    own_dirat(c, fd, layout_dirs[i]) == -1))
			goto fail;
	if ((lockfd = mq_openat(fd, L_LOCK, O_RDWR | O_CREAT | O_EXCL,
	    0666)) == -1)
		goto fail;
	if (own_fd(c, lockfd, 0) == -1) {
		saved = errno;
		close(lockfd);
		errno = saved;
		goto fail;
	}
	close(lockfd);
	if (fsync(fd) == -1)
		goto fail;
	close(fd);
	fd = -1;
	if (mq_rename(spoolfd, tmp, spoolfd, name) == -1) {
		saved = errno;
		rmtree1(spoolfd, tmp);
		/* someone else created it first: theirs is as good */
		if (saved == EEXIST || saved == ENOTEMPTY)
			return fsync(spoolfd);
		errno = saved;
		return -1;
	}
	return fsync(spoolfd);
fail:
	saved = errno;
	if (fd != -1)
		close(fd);
	rmtree1(spoolfd, tmp);
	errno = saved;
	return -1;
}

/* The core of a queue object with nothing open, for spool_close_queue. */
void
spool_init_queue(struct mq_queue *q)
{
	size_t i;

	q->dfd = q->tmpfd = q->lockfd = -1;
	for (i = 0; i < MQ_NSTATES; i++)
		q->sfd[i] = -1;
}

/*
 * The core of a queue object: its directories, lock file and
 * configuration (the global file, then the queue's own).  On failure the
 * caller closes what was opened with spool_close_queue.
 */
int
spool_open_queue(struct mq_queue *q, const char *spool, const char *name,
    int flags, struct mq_conferr *ce)
{
	struct stat st;
	const char *conf;
	size_t i;
	int spoolfd = -1, saved;

	strlcpy(q->name, name, sizeof(q->name));
	if ((size_t)snprintf(q->path, sizeof(q->path), "%s/%s", spool, name) >=
	    sizeof(q->path)) {
		errno = ENAMETOOLONG;
		goto fail;
	}

	/* the global file first: a queue made here takes its mode and group */
	mq_conf_defaults(&q->conf);
	conf = getenv("MQ_CONF");
	/* the global file speaks for the user running the tool, or root */
	if (mq_conf_load(&q->conf, AT_FDCWD, conf != NULL && *conf != '\0' ?
	    conf : "/etc/mq.conf", conf != NULL && *conf != '\0', geteuid(),
	    ce) == -1)
		goto fail;
	spoolfd = mq_openroot(spool);
	if (spoolfd == -1 && errno == ENOENT && (flags & MQ_CREATE)) {
		if (mkpath(spool) == -1)
			goto fail;
		spoolfd = mq_openroot(spool);
	}
	if (spoolfd == -1) {
		if (errno == ENOENT)
			errno = MQ_ENOQUEUE;
		goto fail;
	}
	q->dfd = mq_opendirat(spoolfd, name);
	if (q->dfd == -1 && errno == ENOENT && (flags & MQ_CREATE)) {
		if (create_queue(spoolfd, name, &q->conf) == -1)
			goto fail;
		q->dfd = mq_opendirat(spoolfd, name);
	}
	if (q->dfd == -1) {
		if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP)
			errno = MQ_ENOQUEUE;
		goto fail;
	}
	if (fstat(q->dfd, &st) == -1)
		goto fail;
	q->owner = st.st_uid;
	for (i = 0; i < layout_ndirs; i++) {
		int fd = mq_opendirat(q->dfd, layout_dirs[i]);

		if (fd == -1 && errno == ENOENT && late(i))
			continue;
		/*
		 * Nor is a queue without done/ lost to what a member planted
		 * in its place: only an ack that would keep a message fails.
		 */
		if (fd == -1 && (errno == ELOOP || errno == ENOTDIR) && lazy(i))
			continue;
		if (fd == -1) {
			if (errno == ENOENT || errno == ENOTDIR ||
			    errno == ELOOP)
				errno = MQ_ENOQUEUE;
			goto fail;
		}
		if (i < MQ_NSTATES)
			q->sfd[i] = fd;
		else
			q->tmpfd = fd;
	}
	q->lockfd = mq_openat(q->dfd, L_LOCK, O_RDWR, 0);
	if (q->lockfd == -1 && (errno == EROFS || errno == EACCES)) {
		/* readers (mq-stat, mq-ls) still work on a read-only spool */
		q->lockerr = errno;
		q->lockfd = mq_openat(q->dfd, L_LOCK, O_RDONLY, 0);
	}
	if (q->lockfd == -1) {
		/* a lock that is no regular file is none mq made */
		if (errno == ENOENT || errno == MQ_ENOTREG)
			errno = MQ_ENOQUEUE;
		goto fail;
	}

	if (mq_conf_load(&q->conf, q->dfd, L_CONF, 0, q->owner, ce) == -1) {
		if ((size_t)snprintf(ce->file, sizeof(ce->file), "%s/mq.conf",
		    q->path) >= sizeof(ce->file))
			strlcpy(ce->file, L_CONF, sizeof(ce->file));
		goto fail;
	}
	close(spoolfd);
	return 0;
fail:
	saved = errno;
	if (spoolfd != -1)
		close(spoolfd);
	errno = saved;
	return -1;
}

void
spool_close_queue(struct mq_queue *q)
{
	size_t i;

	for (i = 0; i < MQ_NSTATES; i++)
		if (q->sfd[i] != -1)
			close(q->sfd[i]);
	if (q->tmpfd != -1)
		close(q->tmpfd);
	if (q->lockfd != -1)
		close(q->lockfd);
	if (q->dfd != -1)
		close(q->dfd);
}

const struct mq_conf *
mq_queue_conf(const struct mq_queue *q)
{
	return &q->conf;
}

/*
 * Open the directory of a state that may be missing (held/ in a queue
 * created before it existed, done/ until the first retained ack), making
 * it first.  Its name is durable (unless sync is none) before any message
 * moves into it, so a move made durable by an fsync of the state's
 * directory cannot lose the directory itself.
 */
int
state_dir(struct mq_queue *q, int state)
{
	const char *name = mq_state_name(state);
	int fd;

	if (q->sfd[state] != -1)
		return 0;
	/* EEXIST: another process made it first, which is as good */
	if (mkdirat(q->dfd, name, 0777) == 0) {
		if (own_dirat(&q->conf, q->dfd, name) == -1)
			return -1;
	} else if (errno != EEXIST)
		return -1;
	if ((fd = mq_opendirat(q->dfd, name)) == -1)
		return -1;
	if (q->conf.sync != MQ_SYNC_NONE && fsync(q->dfd) == -1) {
		close(fd);
		return -1;
	}
	q->sfd[state] = fd;
	return 0;
}

/*
 * Open a directory of a queue, made first (durably, see make_dir) when it
 * is missing and create is set; without create, a missing one is ENOENT.
 */
int
open_dir(struct mq_queue *q, int dirfd, const char *name, int create)
{
	int fd;

	for (;;) {
		fd = mq_opendirat(dirfd, name);
		if (fd != -1 || errno != ENOENT || !create)
			return fd;
		if (make_dir(q, dirfd, name) == -1)
			return -1;
	}
}

int
mq_list_queues(const char *spool, char ***names, size_t *n)
{
	char **all;
	size_t i, j;
	int fd;

	*names = NULL;
	*n = 0;
	if ((fd = mq_openroot(spool)) == -1)
		return errno == ENOENT ? 0 : -1;
	if (list_names(fd, ".", &all, n, LN_SORT | LN_DIRS) == -1) {
		close(fd);
		return -1;
	}
	for (i = j = 0; i < *n; i++) {
		struct stat st;

		if (mq_queue_name_ok(all[i]) &&
		    fstatat(fd, all[i], &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISDIR(st.st_mode))
			all[j++] = all[i];
		else
			free(all[i]);
	}
	close(fd);
	*n = j;
	*names = all;
	return 0;
}

/* The spool a queue lies in: its path without the last component. */
void
spool_of(const struct mq_queue *q, char *buf, size_t len)
{
	char *slash;

	strlcpy(buf, q->path, len);
	if ((slash = strrchr(buf, '/')) != NULL)
		slash[slash == buf] = '\0';	/* "/q" lies in "/" */
}

/*
 * The topics of the spool that q subscribes to (a subs/ entry of its
 * name), in name order.
 */
int
topics_of(const struct mq_queue *q, char ***names, size_t *n)
{
	char spool[PATH_MAX], path[PATH_MAX], **v;
	size_t i, j;

	spool_of(q, spool, sizeof(spool));
	if (mq_list_queues(spool, &v, n) == -1)
		return -1;
	for (i = j = 0; i < *n; i++)
		if (strcmp(v[i], q->name) != 0 &&
		    (size_t)snprintf(path, sizeof(path), "%s/%s/%s/%s", spool,
		    v[i], L_SUBS, q->name) < sizeof(path) &&
		    faccessat(AT_FDCWD, path, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
			v[j++] = v[i];
		else
			free(v[i]);
	*n = j;
	*names = v;
	return 0;
}
