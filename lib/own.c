/*
 * own.c - what the library makes gets the spool's mode and group, and
 * what another member made is given a time of ours by a copy of our own.
 *
 * Invariants:
 * - The mode is exact, whatever the umask: the spool's owner decides
 *   (mq.conf(5) mode and group).  The group goes first: a change of group
 *   may clear mode bits.  A directory with a group is setgid, so that what
 *   anyone makes in it belongs to the group; the queue directory, when
 *   others may write it, is sticky (see spool.c).
 * - A file of another member's that needs a time of ours is replaced by
 *   our own copy (replace_own), never chmodded or chowned: members may
 *   rename in the group's directories, not change each other's files.
 * - Only the queue's owner or root rewrites mq.conf (mq_queue_share).
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

/*
 * Create a directory and, unless sync is none, make its name durable.  One
 * that another process has just made is synced too: its maker may not have
 * got that far yet.
 */
int
make_dir(struct mq_queue *q, int dirfd, const char *name)
{
	if (mkdirat(dirfd, name, 0777) == 0) {
		if (own_dirat(&q->conf, dirfd, name) == -1)
			return -1;
	} else if (errno != EEXIST)
		return -1;
	if (q->conf.sync != MQ_SYNC_NONE && fsync(dirfd) == -1)
		return -1;
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
		if (strcmp(v[i], L_CONF) == 0)
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
	char tmp[32], why[160];
	FILE *in = NULL, *out;
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
	fd = mq_openat_stat(q->dfd, L_CONF, O_RDONLY, 0, &st);
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
	r = conf_rewrite_share(in, out, mode, group);
	if (in != NULL)
		fclose(in);
	/* the group first: a change of group may clear mode bits */
	if (r == -1 || fflush(out) == EOF || (c.gid != (gid_t)-1 &&
	    fchown(fileno(out), (uid_t)-1, c.gid) == -1) ||
	    fchmod(fileno(out), cmode) == -1 || fsync(fileno(out)) == -1)
		r = -1;
	if (fclose(out) == EOF)
		r = -1;
	if (r == 0)
		r = renameat(q->tmpfd, tmp, q->dfd, L_CONF);
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
