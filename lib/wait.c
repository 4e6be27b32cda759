/*
 * wait.c - sleeping until a message may be ready, without polling.
 *
 * A consumer that found nothing sleeps in inotify on the directories where
 * a message can appear (ready/ and its buckets) and on the queue directory
 * (for the pause marker), with a timer for the next timed event: a delayed
 * message falling due or a lease running out.  Wake-ups are only hints:
 * the caller claims with mq_get as always, and several waiters woken for
 * one message still deliver it once because a claim is a rename.
 *
 * The race between "found nothing" and "went to sleep" is closed by
 * ordering: watches are set up first, and whenever a watch is added the
 * caller is told to look again before sleeping.  A watch once set stays
 * for the life of the queue handle, so events between two waits queue up
 * in the inotify descriptor instead of being lost.
 *
 * inotify sees only changes made through this kernel.  On network
 * filesystems, or when inotify cannot be had (no more watches), waiting
 * falls back to polling every poll_interval, as mq.conf(5) documents.
 */
#include <sys/types.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

#define WATCH_DIR	(IN_CREATE | IN_MOVED_TO | IN_ONLYDIR)
/* the pause marker comes and goes in the queue directory */
#define WATCH_QUEUE	(IN_CREATE | IN_DELETE | IN_MOVED_TO | \
			 IN_MOVED_FROM | IN_ONLYDIR)
/* claims and lease changes move the next lease expiry */
#define WATCH_LEASES	(IN_MOVED_TO | IN_ATTRIB | IN_ONLYDIR)

/* Filesystems whose changes may come from other machines. */
static int
remote_fs(int fd)
{
	static const long remote[] = {
		0x6969,		/* NFS */
		0x517b,		/* SMB */
		0xff534d42,	/* CIFS */
		0xfe534d42,	/* SMB2 */
		0x65735546,	/* FUSE */
		0x01021997,	/* 9P */
		0x00c36400,	/* Ceph */
		0x47504653,	/* GPFS */
		0x0bd00bd0,	/* Lustre */
	};
	struct statfs sf;
	size_t i;

	if (fstatfs(fd, &sf) == -1)
		return 0;
	for (i = 0; i < sizeof(remote) / sizeof(remote[0]); i++)
		if ((unsigned long)sf.f_type == (unsigned long)remote[i])
			return 1;
	return 0;
}

/* Watch path (relative to the queue); 1 when the watch is new. */
static int
watch(struct mq_queue *q, const char *rel, uint32_t mask)
{
	char path[PATH_MAX];
	int wd;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", q->path, rel) >=
	    sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((wd = inotify_add_watch(q->watch.fd, path, mask | IN_DONT_FOLLOW)) ==
	    -1)
		return errno == ENOENT ? 0 : -1;	/* gone: nothing to see */
	if (wd <= q->watch.maxwd)
		return 0;
	q->watch.maxwd = wd;
	return 1;
}

/*
 * Make sure every directory a new message can land in is watched.
 * Returns 1 when a watch was added (look again before sleeping), 0 when
 * all were in place, -1 when inotify cannot be used.
 */
static int
watch_all(struct mq_queue *q)
{
	char **v, rel[STATEDIR_MAX];
	size_t n, i;
	int added = 0, r, state;

	if (q->watch.fd == -1) {
		if ((q->watch.fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) == -1)
			return -1;
		q->watch.maxwd = 0;
		if (watch(q, ".", WATCH_QUEUE) == -1 ||
		    watch(q, mq_state_name(MQ_READY), WATCH_DIR) == -1 ||
		    watch(q, mq_state_name(MQ_DELAYED), WATCH_DIR) == -1 ||
		    watch(q, mq_state_name(MQ_INFLIGHT), WATCH_LEASES) == -1)
			return -1;
		added = 1;
	}
	/*
	 * Buckets made since the last wait.  Watches of removed buckets go
	 * by themselves; re-adding a live one returns its old descriptor.
	 */
	for (state = MQ_READY; state <= MQ_DELAYED; state++) {
		if (list_buckets(q, state, &v, &n) == -1)
			return -1;
		for (i = 0; i < n; i++) {
			fmt_statedir(rel, state, v[i]);
			if ((r = watch(q, rel, WATCH_DIR)) == -1)
				break;
			added |= r;
		}
		free_names(v, n);
		if (i < n)
			return -1;
	}
	return added;
}

/*
 * Milliseconds from now to the next timed event (a delayed message due, a
 * lease ending), or -1 when there is none.
 */
static int64_t
next_event(struct mq_queue *q, int64_t now)
{
	struct mq_name m;
	struct stat st;
	char **v, **w;
	size_t n, nw, i, j;
	int64_t t, next = -1;
	int fd;

	if (list_buckets(q, MQ_DELAYED, &v, &n) == 0) {
		/* windows are in time order: the first with a message wins */
		for (i = 0; i < n && next == -1; i++) {
			fd = mq_opendirat(q->sfd[MQ_DELAYED], v[i]);
			if (fd == -1 || list_names(fd, ".", &w, &nw,
			    LN_FILES) == -1) {
				if (fd != -1)
					close(fd);
				continue;
			}
			for (j = 0; j < nw; j++) {
				if (mq_name_parse(w[j], &m) == -1 ||
				    !name_fits(&m, MQ_DELAYED, v[i]))
					continue;
				t = m.notbefore * 1000;
				if (next == -1 || t < next)
					next = t;
			}
			free_names(w, nw);
			close(fd);
		}
		free_names(v, n);
	}
	if (list_names(q->sfd[MQ_INFLIGHT], ".", &v, &n, LN_FILES) == 0) {
		for (i = 0; i < n; i++) {
			/* what the reclaimer would skip is no event */
			if (mq_name_parse(v[i], &m) == -1 ||
			    !name_fits(&m, MQ_INFLIGHT, NULL) ||
			    fstatat(q->sfd[MQ_INFLIGHT], v[i], &st,
			    AT_SYMLINK_NOFOLLOW) == -1)
				continue;
			/* the reclaimer compares in milliseconds */
			t = lease_end(&st, &m) + 1;
			if (next == -1 || t < next)
				next = t;
		}
		free_names(v, n);
	}
	if (next == -1)
		return -1;
	return next > now ? next - now : 0;
}

/* Read and drop what inotify has queued; its content is only a hint. */
static void
drain_events(int fd)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));

	while (read(fd, buf, sizeof(buf)) > 0)
		;
}

/*
 * Sleep until a message may be ready, for at most timeout_ms (< 0: no
 * limit), or until extrafd (-1: none) is readable.  Returns 1 when the
 * caller should try mq_get again, 0 on timeout, 2 when extrafd is
 * readable, -1 on error (EINTR when a signal came).  While the queue is
 * paused it keeps sleeping until it is resumed.
 */
int
mq_wait(struct mq_queue *q, int64_t timeout_ms, int extrafd)
{
	struct pollfd pfd[2];
	int64_t start = mq_now_ms(), now, left, next, poll_ms;
	int n, r, paused;

	/* whatever happened while we slept, the next get looks afresh */
	upkeep_soon(q);
	if (!q->watch.polling && (q->conf.wait_poll || remote_fs(q->dfd)))
		q->watch.polling = 1;
	for (;;) {
		if (!q->watch.polling) {
			if ((r = watch_all(q)) == -1) {
				if (errno != ENOSPC && errno != EMFILE &&
				    errno != ENOSYS)
					return -1;
				q->watch.polling = 1;	/* no inotify: poll */
			} else if (r == 1 && !mq_paused(q))
				return 1;
		}
		paused = mq_paused(q);
		now = mq_now_ms();
		left = timeout_ms < 0 ? -1 : start + timeout_ms - now;
		if (left == 0 || (timeout_ms >= 0 && left < 0))
			return 0;
		next = paused ? -1 : next_event(q, now);
		/*
		 * An event that stays due after the caller looked (a lease
		 * nobody can reclaim on a read-only spool, say) must not
		 * make a busy loop: then look again only once a second.
		 */
		if (next == 0 && !q->watch.duewake) {
			q->watch.duewake = 1;
			return 1;
		}
		if (next == 0)
			next = 1000;
		else
			q->watch.duewake = 0;
		poll_ms = left;
		if (next > 0 && (poll_ms < 0 || next < poll_ms))
			poll_ms = next;
		if (q->watch.polling && (poll_ms < 0 ||
		    q->conf.poll_interval_ms < poll_ms))
			poll_ms = q->conf.poll_interval_ms;
		n = 0;
		if (!q->watch.polling) {
			pfd[n].fd = q->watch.fd;
			pfd[n++].events = POLLIN;
		}
		if (extrafd != -1) {
			pfd[n].fd = extrafd;
			pfd[n++].events = POLLIN;
		}
		if (poll_ms > INT32_MAX)
			poll_ms = INT32_MAX;
		if ((r = poll(pfd, n, (int)poll_ms)) == -1)
			return -1;
		if (extrafd != -1 && (pfd[n - 1].revents & (POLLIN | POLLHUP |
		    POLLERR)))
			return 2;
		if (!q->watch.polling && (pfd[0].revents & POLLIN))
			drain_events(q->watch.fd);
		if (r == 0 && timeout_ms >= 0 &&
		    mq_now_ms() >= start + timeout_ms)
			return 0;
		/* a paused queue sleeps on, whatever woke it */
		if (!mq_paused(q))
			return 1;
	}
}

void
watch_close(struct watch *w)
{
	close_fd(&w->fd);
}
