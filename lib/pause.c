/*
 * pause.c - holding back delivery of a whole queue.
 *
 * A paused queue has a file named "paused" in its directory.  Producers
 * ignore it and keep putting; mq_get claims nothing while it is there;
 * mq_wait sleeps through it and wakes when it goes.  A marker file rather
 * than a config key, so that pausing is one atomic, durable step that
 * ls(1) shows and a foreign consumer can honour with a test -e.
 *
 * The file belongs to whoever paused.  In a queue shared by a group the
 * queue directory is sticky (spool.c), so only that user, the queue's
 * owner and root can remove it: a member cannot undo another's pause.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "internal.h"



static int
sync_queue_dir(struct mq_queue *q)
{
	if (q->conf.sync == MQ_SYNC_NONE)
		return 0;
	return fsync(q->dfd);
}

int
mq_pause(struct mq_queue *q)
{
	int fd;

	/*
	 * O_EXCL: never open what is there, a FIFO planted as "paused"
	 * would hang us.  Paused already, perhaps by another member: the
	 * pause stays theirs (see mq(7), "Trust"), and their file is not
	 * ours to open.
	 */
	fd = mq_openat(q->dfd, L_PAUSED, O_WRONLY | O_CREAT | O_EXCL,
	    q->conf.mode == -1 ? 0666 : q->conf.mode);
	if (fd == -1 && errno != EEXIST)
		return -1;
	if (fd != -1)
		close(fd);
	return sync_queue_dir(q);
}

int
mq_resume(struct mq_queue *q)
{
	if (unlinkat(q->dfd, L_PAUSED, 0) == -1 && errno != ENOENT)
		return -1;
	return sync_queue_dir(q);
}

int
mq_paused(struct mq_queue *q)
{
	return faccessat(q->dfd, L_PAUSED, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}
