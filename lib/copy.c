/*
 * copy.c - the body of a fan-out copy in a subscriber's tmp/: a hard link
 * to the topic's body, sealed read-only so that no consumer can change
 * another's body, or, where no link can be made (another filesystem, a
 * subscriber of another owner), a copy of its own, headers and all.
 */
#include <sys/types.h>
#include <sys/sendfile.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

/*
 * Seal a written body before it is linked: read-only, so that no consumer
 * can change what another subscriber reads, and durable when some
 * subscriber wants it so and the topic's own put did not fsync it.
 */
int
seal(struct mq_queue *t, const char *id, int need)
{
	struct stat st;
	int fd, r, saved;

	if ((fd = mq_openat(t->tmpfd, id, O_RDONLY, 0)) == -1)
		return -1;
	r = fstat(fd, &st);
	if (r == 0)
		r = fchmod(fd, st.st_mode & 0555);
	if (r == 0 && need == MQ_SYNC_FULL && t->conf.sync != MQ_SYNC_FULL)
		r = fsync(fd);
	saved = errno;
	close(fd);
	errno = saved;
	return r;
}

/*
 * Copy the message file (fromfd, from) into s's tmp/ID: a body where it
 * cannot be linked into a subscriber (another file system, too many
 * links), a dead message a kick routes again (fanout_revive), or a done
 * message replayed (replay.c), with the header hname added.  A copy
 * is an ordinary message of its queue: its own mode, its own inode, no
 * ",f".
 */
int
copy_file(struct mq_queue *s, int fromfd, const char *from, const char *id,
    const char *hname, const char *hval)
{
	struct mq_headers h;
	struct stat st;
	size_t hlen;
	off_t left;
	ssize_t n;
	int in, out, saved;

	if ((in = mq_openat(fromfd, from, O_RDONLY, 0)) == -1)
		return -1;
	out = mq_openat(s->tmpfd, id, O_WRONLY | O_CREAT | O_EXCL,
	    s->conf.mode >= 0 ? s->conf.mode : 0666);
	if (out == -1) {
		saved = errno;
		close(in);
		errno = saved;
		return -1;
	}
	if (fstat(in, &st) == -1)
		goto fail;
	for (left = st.st_size; left > 0; left -= n)
		if ((n = sendfile(out, in, NULL, (size_t)left)) <= 0) {
			if (n == 0)
				errno = EIO;	/* the body shrank */
			goto fail;
		}
	/*
	 * The headers go with the body, as a link would carry them; and
	 * hname, unless they have it already (a replay's original-id).
	 */
	if (mq_headers_read(in, &h) == -1 || (hname != NULL &&
	    mq_header_get(&h, hname, &hlen) == NULL &&
	    mq_header_add(&h, hname, strlen(hname), hval,
	    strlen(hval)) == -1) || headers_write(out, &h) == -1 ||
	    own_file(s, out) == -1 ||
	    (s->conf.sync != MQ_SYNC_NONE && fsync(out) == -1))
		goto fail;
	close(in);
	if (close(out) == 0)
		return 0;
	in = -1;
fail:
	saved = errno;
	if (in != -1) {
		close(in);
		close(out);
	}
	unlinkat(s->tmpfd, id, 0);
	errno = saved;
	return -1;
}

/* Put a body into a subscriber's tmp/: linked (*linked) or copied. */
int
place(struct mq_queue *t, struct mq_queue *s, const char *id, int *linked)
{
	*linked = 0;
	if (linkat(t->tmpfd, id, s->tmpfd, id, 0) == 0) {
		*linked = 1;
		return 0;
	}
	if (errno != EXDEV && errno != EPERM && errno != EMLINK &&
	    errno != EOPNOTSUPP)
		return -1;
	return copy_file(s, t->tmpfd, id, id, NULL, NULL);
}
