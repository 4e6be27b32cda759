/*
 * spool.c - finding, creating and opening queues.
 *
 * Invariants:
 * - A queue directory, once visible under its name, is complete: it is built
 *   under SPOOL/.init.RANDOM and renamed into place with RENAME_NOREPLACE, so
 *   concurrent creators agree on one queue and nobody sees half of one.
 * - Everything inside a queue is reached through the queue's directory
 *   descriptor with O_NOFOLLOW: a symlink planted in the spool is never
 *   followed.  Only the spool root itself may be reached through symlinks.
 * - The queue's owner is the owner of its directory: its mq.conf is used
 *   only when that user or root wrote it (conf.c), and only they may
 *   rewrite it (mq_queue_share).  A queue directory that others may write
 *   has the sticky bit, as Postfix's maildrop/ has, so that none of them
 *   can remove or replace what is not theirs there: mq.conf, lock, and
 *   another's paused.  The state directories have no sticky bit: members
 *   move each other's messages.
 * - Files are owned here (own_*), and a file of another member's that
 *   needs a time of ours is replaced by our own copy (replace_own,
 *   set_deadline): below key.c and every move, so that those layers call
 *   down, never back up into fanout.c.
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

/* the state directories, indexed by enum mq_state, then tmp/ */
static const char *const subdirs[] = {
	"ready", "delayed", "inflight", "dead", "held", "tmp"
};
#define NSUBDIRS	(sizeof(subdirs) / sizeof(subdirs[0]))

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

/* Make the name of a directory just created durable. */
static int
fsync_parent(char *path)
{
	char *slash = strrchr(path, '/');
	int fd, r;

	if (slash == NULL || slash == path)
		fd = mq_openroot(slash ? "/" : ".");
	else {
		*slash = '\0';
		fd = mq_openroot(path);
		*slash = '/';
	}
	if (fd == -1)
		return -1;
	r = fsync(fd);
	close(fd);
	return r;
}

/* mkdir -p for the spool root, durable. */
static int
mkpath(const char *path)
{
	char buf[PATH_MAX], *p;

	if (strlcpy(buf, path, sizeof(buf)) >= sizeof(buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (p = buf + 1; ; p++) {
		if (*p == '/' || *p == '\0') {
			char c = *p;

			*p = '\0';
			if (mkdir(buf, 0777) == 0) {
				if (fsync_parent(buf) == -1)
					return -1;
			} else if (errno != EEXIST)
				return -1;
			if ((*p = c) == '\0')
				break;
		}
	}
	return 0;
}

static int
fsyncat(int dirfd, const char *rel)
{
	int fd, r;

	if ((fd = mq_opendirat(dirfd, rel)) == -1)
		return -1;
	r = fsync(fd);
	close(fd);
	return r;
}

static void
rmtree1(int dirfd, const char *name)
{
	size_t i;
	int fd;

	if ((fd = mq_opendirat(dirfd, name)) != -1) {
		for (i = 0; i < NSUBDIRS; i++)
			unlinkat(fd, subdirs[i], AT_REMOVEDIR);
		unlinkat(fd, "lock", 0);
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
	snprintf(tmp, sizeof(tmp), ".init.%s", rnd);
	if (mkdirat(spoolfd, tmp, 0777) == -1)
		return -1;
	if ((fd = mq_opendirat(spoolfd, tmp)) == -1 ||
	    own_fd(c, fd, OWN_QUEUE) == -1)
		goto fail;
	for (i = 0; i < NSUBDIRS; i++)
		if (mkdirat(fd, subdirs[i], 0777) == -1 ||
		    own_dirat(c, fd, subdirs[i]) == -1)
			goto fail;
	if ((lockfd = mq_openat(fd, "lock", O_RDWR | O_CREAT | O_EXCL,
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

struct mq_queue *
mq_queue_open(const char *spool, const char *name, int flags,
    struct mq_conferr *ce)
{
	struct mq_queue *q;
	struct stat st;
	const char *conf;
	size_t i;
	int spoolfd = -1, saved;

	memset(ce, 0, sizeof(*ce));
	if (!mq_queue_name_ok(name)) {
		errno = EINVAL;
		return NULL;
	}
	if ((q = calloc(1, sizeof(*q))) == NULL)
		return NULL;
	q->dfd = q->tmpfd = q->keysfd = q->groupsfd = q->lockfd = q->bucketfd = q->pubfd =
	    q->ifd = -1;
	for (i = 0; i < MQ_NSTATES; i++)
		q->sfd[i] = -1;
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
	for (i = 0; i < NSUBDIRS; i++) {
		int fd = mq_opendirat(q->dfd, subdirs[i]);

		/* queues made before held/ existed get it when first needed */
		if (fd == -1 && errno == ENOENT && i == MQ_HELD)
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
	q->lockfd = mq_openat(q->dfd, "lock", O_RDWR, 0);
	if (q->lockfd == -1 && (errno == EROFS || errno == EACCES)) {
		/* readers (mq-stat, mq-ls) still work on a read-only spool */
		q->lockerr = errno;
		q->lockfd = mq_openat(q->dfd, "lock", O_RDONLY, 0);
	}
	if (q->lockfd == -1) {
		/* a lock that is no regular file is none mq made */
		if (errno == ENOENT || errno == MQ_ENOTREG)
			errno = MQ_ENOQUEUE;
		goto fail;
	}

	if (mq_conf_load(&q->conf, q->dfd, "mq.conf", 0, q->owner, ce) == -1) {
		if ((size_t)snprintf(ce->file, sizeof(ce->file), "%s/mq.conf",
		    q->path) >= sizeof(ce->file))
			strlcpy(ce->file, "mq.conf", sizeof(ce->file));
		goto fail;
	}
	close(spoolfd);
	return q;
fail:
	saved = errno;
	if (spoolfd != -1)
		close(spoolfd);
	mq_queue_close(q);
	errno = saved;
	return NULL;
}

void
mq_queue_close(struct mq_queue *q)
{
	size_t i;

	if (q == NULL)
		return;
	for (i = 0; i < MQ_NSTATES; i++)
		if (q->sfd[i] != -1)
			close(q->sfd[i]);
	if (q->tmpfd != -1)
		close(q->tmpfd);
	if (q->keysfd != -1)
		close(q->keysfd);
	if (q->groupsfd != -1)
		close(q->groupsfd);
	free_names(q->gdefer, q->ngdefer);
	if (q->lockfd != -1)
		close(q->lockfd);
	if (q->bucketfd != -1)
		close(q->bucketfd);
	if (q->pubfd != -1)
		close(q->pubfd);
	if (q->ifd != -1)
		close(q->ifd);
	if (q->dfd != -1)
		close(q->dfd);
	free_names(q->names, q->nnames);
	free_names(q->dirty, q->ndirty);
	free(q);
}

const struct mq_conf *
mq_queue_conf(const struct mq_queue *q)
{
	return &q->conf;
}

/*
 * Open held/, making it first in a queue created before it existed.  Its
 * name is durable (unless sync is none) before any message moves into it,
 * so a hold made durable by an fsync of held/ cannot lose its directory.
 */
int
held_dir(struct mq_queue *q)
{
	int fd;

	if (q->sfd[MQ_HELD] != -1)
		return 0;
	/* EEXIST: another process made it first, which is as good */
	if (mkdirat(q->dfd, "held", 0777) == 0) {
		if (own_dirat(&q->conf, q->dfd, "held") == -1)
			return -1;
	} else if (errno != EEXIST)
		return -1;
	if ((fd = mq_opendirat(q->dfd, "held")) == -1)
		return -1;
	if (q->conf.sync != MQ_SYNC_NONE && fsync(q->dfd) == -1) {
		close(fd);
		return -1;
	}
	q->sfd[MQ_HELD] = fd;
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

/*
 * Give a file the spool's mode and group.  The mode is exact, whatever the
 * umask: the spool's owner decides.  The group goes first: a change of
 * group may clear mode bits.
 */
int
own_file(struct mq_queue *q, int fd)
{
	return own_fd(&q->conf, fd, 0);
}

int
own_fd(const struct mq_conf *c, int fd, int dir)
{
	struct stat st;
	mode_t m;

	if (c->gid != (gid_t)-1 && fchown(fd, (uid_t)-1, c->gid) == -1)
		return -1;
	if (c->mode < 0 && dir != OWN_QUEUE &&
	    (!dir || c->gid == (gid_t)-1))
		return 0;
	if (c->mode >= 0)
		m = (mode_t)c->mode;
	else if (fstat(fd, &st) == -1)
		return -1;
	else
		m = st.st_mode & 07777;
	/*
	 * A directory can be searched by whoever can read its files, and
	 * with a group it is setgid, so that whatever anyone makes in it,
	 * foreign producers' files too, belongs to the group.
	 */
	if (dir) {
		m |= (m & 0444) >> 2;
		if (c->gid != (gid_t)-1)
			m |= S_ISGID;
	}
	/*
	 * The queue directory, when others may write it, is sticky (see the
	 * invariants), in the same fchmod: never a moment without.
	 */
	if (dir == OWN_QUEUE && (m & (S_IWGRP | S_IWOTH)) != 0)
		m |= S_ISVTX;
	return fchmod(fd, m);
}

/* own_fd for dirfd/name, a directory just made. */
int
own_dirat(const struct mq_conf *c, int dirfd, const char *name)
{
	int fd, r, saved;

	if (c->mode < 0 && c->gid == (gid_t)-1)
		return 0;
	if ((fd = mq_opendirat(dirfd, name)) == -1)
		return -1;
	r = own_fd(c, fd, 1);
	saved = errno;
	close(fd);
	errno = saved;
	return r;
}

/* Remember a directory to fsync before the command reports success. */
int
mark_dirty(struct mq_queue *q, const char *rel)
{
	char **d;
	size_t i;

	if (q->conf.sync == MQ_SYNC_NONE)
		return 0;
	/* newest first: marks come in runs, one bucket after another */
	for (i = q->ndirty; i-- > 0;)
		if (strcmp(q->dirty[i], rel) == 0)
			return 0;
	if ((d = reallocarray(q->dirty, q->ndirty + 1, sizeof(*d))) == NULL)
		return -1;
	q->dirty = d;
	if ((d[q->ndirty] = strdup(rel)) == NULL)
		return -1;
	q->ndirty++;
	return 0;
}

int
mq_sync_dirs(struct mq_queue *q)
{
	size_t i;
	int r = 0, saved = 0;

	for (i = 0; i < q->ndirty; i++) {
		/* a bucket removed meanwhile has nothing left to make durable */
		if (fsyncat(q->dfd, q->dirty[i]) == -1 && errno != ENOENT &&
		    saved == 0) {
			saved = errno;
			r = -1;
		}
	}
	free_names(q->dirty, q->ndirty);
	q->dirty = NULL;
	q->ndirty = 0;
	if (r == -1)
		errno = saved;
	return r;
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

/* Give everything below dirfd the spool's mode and group; depth-bounded. */
static int
own_tree(const struct mq_conf *c, int dirfd, int depth)
{
	struct stat st;
	char **v;
	size_t n, i;
	int fd, r = 0;

	if (list_names(dirfd, ".", &v, &n, LN_ALL) == -1)
		return -1;
	for (i = 0; i < n && r == 0; i++) {
		/* never writable by the group, not even for a moment */
		if (strcmp(v[i], "mq.conf") == 0)
			continue;
		if (fstatat(dirfd, v[i], &st, AT_SYMLINK_NOFOLLOW) == -1 ||
		    !(S_ISDIR(st.st_mode) || S_ISREG(st.st_mode)))
			continue;	/* gone, or not ours to change */
		/* swapped since the fstatat: refused, and left alone */
		fd = S_ISDIR(st.st_mode) ? mq_opendirat(dirfd, v[i]) :
		    mq_openat(dirfd, v[i], O_RDONLY, 0);
		if (fd == -1)
			continue;
		/*
		 * A file with another link may be anything a member linked
		 * in, /etc/shadow where the kernel lets them: it is not
		 * chmodded for them.  Fan-out copies, the links mq makes,
		 * stay read-only.
		 */
		if (fstat(fd, &st) == -1 || !(S_ISDIR(st.st_mode) ||
		    (S_ISREG(st.st_mode) && st.st_nlink == 1))) {
			close(fd);
			continue;
		}
		r = own_fd(c, fd, S_ISDIR(st.st_mode));
		if (r == 0 && S_ISDIR(st.st_mode) && depth > 0)
			r = own_tree(c, fd, depth - 1);
		close(fd);
	}
	free_names(v, n);
	return r;
}

/*
 * Share a queue with a group (mq-init -g): its mq.conf gets the mode and
 * the group, so that every file and directory made from now on has them,
 * and what exists gets them now.  Other lines of mq.conf stay.
 *
 * Only the queue's owner or root may: mq.conf must stay theirs.  It is
 * readable by whoever may read messages and writable by its owner alone,
 * from its creation in tmp/ on (tmp/ is the group's): a member who could
 * open it for writing once could change it for good.
 */
int
mq_queue_share(struct mq_queue *q, int mode, const char *group)
{
	struct mq_conf c = q->conf;
	struct stat st;
	char line[1024], tmp[32], why[160], *k;
	FILE *in, *out;
	mode_t cmode = 0600 | ((mode_t)mode & 0044);
	int fd, r = 0, saved;

	if (geteuid() != 0 && geteuid() != q->owner) {
		errno = EPERM;
		return -1;
	}
	c.mode = mode;
	if (group != NULL && mq_parse_group(group, &c.gid) == -1)
		return -1;
	snprintf(tmp, sizeof(tmp), ".conf.%08x", arc4random());
	if ((fd = mq_openat(q->tmpfd, tmp, O_WRONLY | O_CREAT | O_EXCL,
	    0600)) == -1)
		return -1;
	if ((out = fdopen(fd, "w")) == NULL) {
		saved = errno;
		close(fd);
		unlinkat(q->tmpfd, tmp, 0);
		errno = saved;
		return -1;
	}
	/*
	 * Keep every other line of the old file, if it is still trusted.
	 * One that cannot be read (a FIFO planted since the queue was
	 * opened) stops the share: its lines would otherwise be lost
	 * without a word.
	 */
	fd = mq_openat_stat(q->dfd, "mq.conf", O_RDONLY, 0, &st);
	if ((fd == -1 && errno != ENOENT) || (fd != -1 &&
	    conf_trusted(&st, q->owner, 1, "", why, sizeof(why)) == -1)) {
		saved = fd == -1 && errno != MQ_ENOTREG ? errno : MQ_ECONFIG;
		if (fd != -1)
			close(fd);
		fclose(out);
		unlinkat(q->tmpfd, tmp, 0);
		errno = saved;
		return -1;
	}
	if (fd != -1 && (in = fdopen(fd, "r")) == NULL) {
		saved = errno;
		close(fd);
		fclose(out);
		unlinkat(q->tmpfd, tmp, 0);
		errno = saved;
		return -1;
	}
	if (fd != -1) {
		while (fgets(line, sizeof(line), in) != NULL) {
			for (k = line; *k == ' ' || *k == '\t'; k++)
				;
			if ((strncmp(k, "mode", 4) == 0 &&
			    strchr(" \t=", k[4]) != NULL) ||
			    (strncmp(k, "group", 5) == 0 &&
			    strchr(" \t=", k[5]) != NULL))
				continue;
			fputs(line, out);
		}
		fclose(in);
	}
	fprintf(out, "mode = 0%o\n", (unsigned)mode);
	if (group != NULL)
		fprintf(out, "group = %s\n", group);
	/* the group first: a change of group may clear mode bits */
	if (fflush(out) == EOF || (c.gid != (gid_t)-1 &&
	    fchown(fileno(out), (uid_t)-1, c.gid) == -1) ||
	    fchmod(fileno(out), cmode) == -1 || fsync(fileno(out)) == -1)
		r = -1;
	if (fclose(out) == EOF)
		r = -1;
	if (r == 0)
		r = renameat(q->tmpfd, tmp, q->dfd, "mq.conf");
	if (r == -1) {
		saved = errno;
		unlinkat(q->tmpfd, tmp, 0);
		errno = saved;
		return -1;
	}
	q->conf.mode = c.mode;
	q->conf.gid = c.gid;
	/* a queue shared by an older mq gets its sticky bit here */
	if (own_fd(&c, q->dfd, OWN_QUEUE) == -1 ||
	    own_tree(&c, q->dfd, 2) == -1)
		return -1;
	return fsync(q->dfd);
}

/*
 * Replace dirfd/name, open as fd, by a file of our own with the same
 * content and the time ts (NULL: now), mode bits outside keep cleared.
 * This is how a member of a spool's group gives a time to a file of
 * another member's: setting an explicit time needs ownership (and even
 * "now" needs write permission, which a sealed fan-out copy does not
 * give), and the members must not get the right to chmod or chown each
 * other's files; but they may rename in the group's directories, which
 * are not sticky.  The new file is made in tmp/ (O_EXCL, O_NOFOLLOW) and
 * exchanged with the old one in one rename, which fails if the name is
 * gone (an ack in between is not undone) and is undone if it held another
 * file by then.  A crash leaves the old file in place and garbage in
 * tmp/ for mq-fsck, never a name without a file.
 */
int
replace_own(struct mq_queue *q, int dirfd, const char *name, int fd,
    const struct timespec ts[2], mode_t keep, int dosync)
{
	struct stat st, now;
	char tmp[32], buf[8192];
	ssize_t n, w;
	off_t off = 0;
	int out, r = -1, saved;
	uint32_t tag = arc4random();

	if (fstat(fd, &st) == -1)
		return -1;
	snprintf(tmp, sizeof(tmp), "own.%08x", tag);
	if ((out = mq_openat(q->tmpfd, tmp, O_WRONLY | O_CREAT | O_EXCL,
	    0600)) == -1)
		return -1;
	while ((n = pread(fd, buf, sizeof(buf), off)) > 0) {
		if ((w = write(out, buf, (size_t)n)) != n) {
			if (w >= 0)
				errno = ENOSPC;	/* a short write to a file */
			goto fail;
		}
		off += n;
	}
	if (n == -1 || own_file(q, out) == -1 ||
	    fstat(out, &now) == -1 ||
	    fchmod(out, now.st_mode & st.st_mode & keep & 07777) == -1 ||
	    futimens(out, ts) == -1 ||
	    (dosync && q->conf.sync != MQ_SYNC_NONE && fsync(out) == -1))
		goto fail;
	if (close(out) == -1) {
		out = -1;
		goto fail;
	}
	out = -1;
	if (renameat2(q->tmpfd, tmp, dirfd, name, RENAME_EXCHANGE) == 0) {
		/* tmp now holds what was at name: the file we read? */
		if (fstatat(q->tmpfd, tmp, &now, AT_SYMLINK_NOFOLLOW) == 0 &&
		    (now.st_ino != st.st_ino || now.st_dev != st.st_dev)) {
			/* not ours to remove if it cannot go back */
			if (renameat2(q->tmpfd, tmp, dirfd, name,
			    RENAME_EXCHANGE) == -1)
				tmp[0] = '\0';
			errno = ESTALE;
			goto fail;
		}
	} else if (errno == EINVAL || errno == ENOSYS) {
		/* no exchange here (NFS): look, then rename over */
		if (fstatat(dirfd, name, &now, AT_SYMLINK_NOFOLLOW) == -1)
			goto fail;
		if (now.st_ino != st.st_ino || now.st_dev != st.st_dev) {
			errno = ESTALE;
			goto fail;
		}
		if (renameat(q->tmpfd, tmp, dirfd, name) == -1)
			goto fail;
	} else
		goto fail;
	r = 0;
	if (dosync && q->conf.sync != MQ_SYNC_NONE && fsync(dirfd) == -1)
		r = -1;
fail:
	saved = errno;
	if (out != -1)
		close(out);
	if (tmp[0] != '\0')
		unlinkat(q->tmpfd, tmp, 0);
	errno = saved;
	return r;
}

/*
 * Set the mtime of an in-flight message to ts (NULL: now).  The copies of
 * a fanned-out message share one mtime, so for them it is only raised,
 * never lowered: a subscriber's claim or touch may lengthen another's
 * lease, never shorten it.  The flock(2) of the file makes the look and
 * the change one step, so that two subscribers claiming at once cannot
 * both see an old time and the later write lower the earlier one.
 *
 * A copy is sealed (read-only, see seal), so only its owner may set its
 * time at all, "now" included.  A member of the spool's group claiming or
 * touching another member's copy gives it a copy of its own instead
 * (replace_own): an inode of this queue alone, with the time wanted.  The
 * name keeps its ",f"; a copy with one link is an ordinary file of its
 * queue (linked_ok), and the other subscribers' copies keep theirs.
 */
int
set_deadline(struct mq_queue *q, int dirfd, const char *name,
    const struct mq_name *m, const struct timespec ts[2])
{
	struct timespec now, at[2];
	struct stat st;
	int fd, r, saved, isnow = ts == NULL;

	if (!m->fanout)
		return utimensat(dirfd, name, ts, AT_SYMLINK_NOFOLLOW);
	/* O_NONBLOCK kept: flock and futimens do not look at it */
	if ((fd = mq_openat(dirfd, name, O_RDONLY | O_NONBLOCK, 0)) == -1)
		return -1;
	while ((r = flock(fd, LOCK_EX)) == -1 && errno == EINTR)
		;
	if (isnow) {
		clock_gettime(CLOCK_REALTIME, &now);
		at[0] = at[1] = now;
		ts = at;
	}
	if (r == 0)
		r = fstat(fd, &st);
	if (r == 0 && (st.st_mtim.tv_sec < ts[1].tv_sec ||
	    (st.st_mtim.tv_sec == ts[1].tv_sec &&
	    st.st_mtim.tv_nsec < ts[1].tv_nsec))) {
		/* "now" needs only write permission; a time, ownership */
		r = futimens(fd, isnow ? NULL : ts);
		if (r == -1 && (errno == EPERM || errno == EACCES) &&
		    st.st_uid != geteuid())
			r = replace_own(q, dirfd, name, fd, ts, 0555, 0);
	}
	saved = errno;
	close(fd);	/* and with it the flock */
	errno = saved;
	return r;
}
