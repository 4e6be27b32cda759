/*
 * open.c - the one way mq opens a file of the spool, and its directories.
 *
 * Whatever a shared spool holds may have been put there by any member of
 * the queue's group, and a tool run by root or by the queue's owner must
 * not be steered by it (mq(7), "Opening files").  So every file mq opens
 * there (configuration, key file, body, lock, pause and subscription
 * marks), and every file a configuration names (password_file), is opened
 * by mq_openat:
 * - never through a symbolic link (O_NOFOLLOW): a link planted at a name
 *   would have the tool read, write or chmod a file of the planter's
 *   choosing;
 * - never blocking in open (O_NONBLOCK): a FIFO planted at a name would
 *   hang the tool until someone opened its other end;
 * - a regular file, checked with fstat on the descriptor once it is open,
 *   so that nothing swapped in between a check and the open slips by: a
 *   FIFO, socket, device or directory is refused with MQ_ENOTREG, as is a
 *   symbolic link;
 * - made only with O_EXCL where it is made: a name that exists is someone
 *   else's file, never to be truncated, chowned or chmodded as one's own;
 * - closed on exec (O_CLOEXEC): the commands mq-work runs inherit none.
 * Directories are opened by mq_opendirat: O_DIRECTORY refuses every other
 * type before anything is opened, so nothing there can block, and
 * O_NOFOLLOW refuses a symbolic link.  Only the spool root, the
 * administrator's own path, is reached through symbolic links
 * (mq_openroot).
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "internal.h"

/*
 * Open dirfd/path, a regular file.  flags are those of openat(2); O_CREAT
 * needs O_EXCL (EINVAL without it).  Returns the descriptor, or -1 with
 * errno, MQ_ENOTREG when something other than a regular file is there.
 */
int
mq_openat(int dirfd, const char *path, int flags, mode_t mode)
{
	return mq_openat_stat(dirfd, path, flags, mode, NULL);
}

/*
 * mq_openat, and what fstat saw of the file it opened in *sp (when not
 * NULL), for the callers that check its owner and mode: the descriptor is
 * looked at once.  Not with O_CREAT (EINVAL): a file just made needs no
 * look.
 */
int
mq_openat_stat(int dirfd, const char *path, int flags, mode_t mode,
    struct stat *sp)
{
	struct stat st;
	int fd, saved;

	/*
	 * A caller's mistakes, not the spool's: O_CREAT without O_EXCL would
	 * open whatever is there, and O_TRUNC truncates in the open, before
	 * the file could be looked at (ftruncate the descriptor instead).
	 */
	if (((flags & O_CREAT) && !(flags & O_EXCL)) || (flags & O_TRUNC)) {
		errno = EINVAL;
		return -1;
	}
	flags |= O_NOFOLLOW | O_CLOEXEC;
	/*
	 * O_CREAT|O_EXCL fails on any name that exists, a FIFO or a dangling
	 * symbolic link too: what it opens is the regular file it has just
	 * made, which no open can block on and no fstat need look at.  This
	 * is the path of every put, so it costs no system call more.
	 */
	if (flags & O_CREAT) {
		if (sp != NULL) {
			errno = EINVAL;
			return -1;
		}
		return openat(dirfd, path, flags, mode);
	}
	if ((fd = openat(dirfd, path, flags | O_NONBLOCK)) == -1) {
		/*
		 * A symbolic link (ELOOP), a FIFO with no reader or a socket
		 * (ENXIO), a directory opened for writing (EISDIR): say what
		 * is wrong with the name rather than what open made of it.
		 */
		saved = errno;
		if ((saved == ELOOP || saved == ENXIO || saved == EISDIR) &&
		    fstatat(dirfd, path, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    !S_ISREG(st.st_mode))
			saved = MQ_ENOTREG;
		errno = saved;
		return -1;
	}
	if (fstat(fd, &st) == -1)
		goto fail;
	if (!S_ISREG(st.st_mode)) {
		errno = MQ_ENOTREG;
		goto fail;
	}
	if (sp != NULL)
		*sp = st;
	/*
	 * On a regular file O_NONBLOCK changes nothing a read or write does
	 * on Linux's local file systems (in the open itself, a file under a
	 * lease, F_SETLEASE, fails with EWOULDBLOCK rather than wait for its
	 * break: a temporary failure).  It is cleared anyway, unless asked
	 * for, so that the descriptor (a command's stdin, for mq-work) is
	 * what a plain open would have given, whatever the file system.
	 * F_SETFL takes only the status flags of flags (O_APPEND and such).
	 */
	if (!(flags & O_NONBLOCK) && fcntl(fd, F_SETFL, flags) == -1)
		goto fail;
	return fd;
fail:
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

/* Open dirfd/path, a directory, never through a symbolic link. */
int
mq_opendirat(int dirfd, const char *path)
{
	return openat(dirfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC |
	    O_NOFOLLOW);
}

/*
 * Open the spool root, or a directory above it: the path the
 * administrator chose (-d, MQ_SPOOL), which may lead through symbolic
 * links, unlike anything below it (mq(7)).
 */
int
mq_openroot(const char *path)
{
	return open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}
