/*
 * fsck.c - checking and repairing a queue (mq-fsck).
 *
 * What a crash, a foreign program or a hand can leave behind, and what is
 * done about it:
 * - temporary files of killed producers (tmp/, older than a bound): removed;
 *   nothing refers to them and their put never reported success;
 * - expired leases and due delayed messages: the consumers' upkeep
 *   (mq_maintain) returns and promotes them;
 * - empty buckets: removed, except the current tail of a priority;
 * - entries that are not messages mq could have written (bad names, names
 *   that do not fit their state or bucket, symlinks, directories where files
 *   belong, files where buckets belong, buckets the grammar does not know,
 *   files mq cannot read): moved to quarantine/, never deleted, for a person
 *   to look at;
 * - a busy ordered group with no message out (a crash between a message's
 *   death and the release of the next): its next message is released;
 * - done messages (done.c): counted, and the done record written anew
 *   from the count; those past retain (all, with retain 0) dropped
 *   (expire.c); a done message is gone for the key check below;
 * - a key still marked live whose message is gone (removed by hand or by a
 *   foreign consumer that skipped the key, or quarantined above): the
 *   key's deadline starts (key_release, the rule of every message that
 *   leaves).  Gone means in no state and not waiting in groups/: a
 *   quarantined entry whose id another message of the queue still has
 *   leaves that message's key known.
 *
 * It is safe while producers and consumers work: every entry mq writes is
 * valid at every moment, so only foreign debris is ever quarantined; stale
 * temporary files are judged by age; and the two checks that ask "is there
 * still a message" look again under the locks that stop messages moving.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

struct fsck {
	struct mq_queue	*q;
	struct mq_fsck	*r;
	int		 dry;
	int		 qfd;		/* quarantine/, -1 until needed */
	int64_t		 now;		/* ms */
	/* what the scan saw: ids of messages (waiting ones too), groups out */
	char		**ids;
	size_t		 nids, capids;
	char		**groups;
	size_t		 ngroups, capgroups;
	struct donerec	 done;		/* what done/ holds, counted */
};

static int
cmpstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
has(char **v, size_t n, const char *s)
{
	return n > 0 && bsearch(&s, v, n, sizeof(*v), cmpstr) != NULL;
}

/*
 * Move dirfd/name to quarantine/, as "where_name" so that a person can
 * tell where it was.  An existing entry of that name gets a numbered twin.
 */
static int
quarantine(struct fsck *f, int dirfd, const char *where, const char *name)
{
	char to[NAME_MAX + 1];
	int i;

	f->r->quarantined++;
	if (f->dry)
		return 0;
	if (f->qfd == -1) {
		if (make_dir(f->q, f->q->dfd, L_QUARANTINE) == -1 ||
		    (f->qfd = mq_opendirat(f->q->dfd, L_QUARANTINE)) == -1)
			return -1;
	}
	for (i = 0; i < 100; i++) {
		if (i == 0)
			snprintf(to, sizeof(to), "%s_%.200s", where, name);
		else
			snprintf(to, sizeof(to), "%s_%.200s.%d", where, name, i);
		if (mq_rename(dirfd, name, f->qfd, to) == 0)
			return mark_dirty(f->q, L_QUARANTINE);
		if (errno != EEXIST)
			return errno == ENOENT ? 0 : -1;
	}
	errno = EEXIST;
	return -1;
}

/* Whether dirfd/name is a regular file mq can read (symlinks are not). */
static int
readable_file(int dirfd, const char *name, struct stat *st)
{
	if (fstatat(dirfd, name, st, AT_SYMLINK_NOFOLLOW) == -1)
		return -1;
	if (!S_ISREG(st->st_mode))
		return 0;
	return faccessat(dirfd, name, R_OK, AT_EACCESS |
	    AT_SYMLINK_NOFOLLOW) == 0;
}

/*
 * Check the messages of one directory of a state (-1: a group's waiting
 * room), of a bucket if that state has them; where names it.
 */
static int
check_files(struct fsck *f, int state, int dirfd, const char *where,
    const char *bucket, const char *group)
{
	struct mq_name m;
	struct stat st;
	char **v;
	size_t n, i;
	int r = 0, ok;

	if (list_names(dirfd, ".", &v, &n, LN_ALL) == -1)
		return -1;
	for (i = 0; i < n && r == 0; i++) {
		if ((ok = readable_file(dirfd, v[i], &st)) == -1) {
			if (errno != ENOENT)
				r = -1;
			continue;	/* moved on meanwhile: not ours */
		}
		/* a size in the name that the file does not have: cut short */
		if (ok && mq_name_parse(v[i], &m) == 0 &&
		    name_fits(&m, state == -1 ? MQ_READY : state, bucket) &&
		    (m.size < 0 || m.size == st.st_size) &&
		    (group == NULL || strcmp(m.group, group) == 0)) {
			/* done: gone for its key and group, only counted */
			if (state == MQ_DONE) {
				f->done.count++;
				f->done.bytes += m.size;
				if (f->done.oldest == 0 || m.done -
				    m.done % DONE_WINDOW < f->done.oldest)
					f->done.oldest = m.done -
					    m.done % DONE_WINDOW;
				continue;
			}
			/*
			 * Waiting in its group (state -1) is in the spool, its
			 * key live; only ready to held is out in its group (a
			 * prepared one takes its turn at its commit).
			 */
			if (names_push(&f->ids, &f->nids, &f->capids, m.id) == -1 ||
			    (m.group[0] != '\0' && state != MQ_DEAD &&
			    state != MQ_PREPARED && state != -1 &&
			    names_push(&f->groups, &f->ngroups,
			    &f->capgroups, m.group) == -1))
				r = -1;
			continue;
		}
		r = quarantine(f, dirfd, where, v[i]);
	}
	free_names(v, n);
	return r;
}

static int empty_buckets(struct fsck *, int state);

/* ready/ or delayed/: buckets (directories) holding messages. */
static int
check_buckets(struct fsck *f, int state)
{
	struct mq_queue *q = f->q;
	struct stat st;
	char **v, where[64];
	size_t n, i;
	int fd, r = 0;

	if (list_names(q->sfd[state], ".", &v, &n, LN_SORT | LN_ALL) == -1)
		return -1;
	for (i = 0; i < n && r == 0; i++) {
		if (fstatat(q->sfd[state], v[i], &st,
		    AT_SYMLINK_NOFOLLOW) == -1)
			continue;
		if (!S_ISDIR(st.st_mode) || !bucket_ok(state, v[i])) {
			r = quarantine(f, q->sfd[state], mq_state_name(state),
			    v[i]);
			continue;
		}
		if ((fd = mq_opendirat(q->sfd[state], v[i])) == -1)
			continue;
		snprintf(where, sizeof(where), "%s_%s", mq_state_name(state),
		    v[i]);
		r = check_files(f, state, fd, where, v[i], NULL);
		close(fd);
	}
	free_names(v, n);
	if (r == 0)
		r = empty_buckets(f, state);
	return r;
}

/* Empty buckets, except the tail of a priority, which producers fill. */
static int
empty_buckets(struct fsck *f, int state)
{
	struct mq_queue *q = f->q;
	unsigned long long seq, tail;
	char **v, **w;
	size_t n, nw, i;
	int prio, fd, r = 0;

	if (list_buckets(q, state, &v, &n) == -1)
		return -1;
	for (i = 0; i < n && r == 0; i++) {
		if (state == MQ_READY && parse_bucket(v[i], &prio, &seq) == 0 &&
		    tail_seq(q, prio, &tail) == 0 && tail == seq)
			continue;
		if ((fd = mq_opendirat(q->sfd[state], v[i])) == -1)
			continue;
		if (list_names(fd, ".", &w, &nw, LN_ALL) == 0) {
			if (nw == 0) {
				f->r->buckets++;
				if (!f->dry)
					r = drop_bucket(q, state, v[i]);
			}
			free_names(w, nw);
		}
		close(fd);
	}
	free_names(v, n);
	return r;
}

/* tmp/: what a killed producer left, once older than the bound. */
static int
check_tmp(struct fsck *f, int64_t age_ms)
{
	struct mq_queue *q = f->q;
	struct stat st;
	char **v;
	size_t n, i;
	int r = 0;

	if (list_names(q->tmpfd, ".", &v, &n, LN_ALL) == -1)
		return -1;
	for (i = 0; i < n && r == 0; i++) {
		if (fstatat(q->tmpfd, v[i], &st, AT_SYMLINK_NOFOLLOW) == -1)
			continue;
		if ((int64_t)st.st_mtim.tv_sec * 1000 +
		    st.st_mtim.tv_nsec / 1000000 > f->now - age_ms)
			continue;	/* maybe still being written */
		if (!S_ISREG(st.st_mode)) {
			r = quarantine(f, q->tmpfd, L_TMP, v[i]);
			continue;
		}
		f->r->tmp++;
		if (!f->dry && unlinkat(q->tmpfd, v[i], 0) == -1 &&
		    errno != ENOENT)
			r = -1;
	}
	free_names(v, n);
	if (f->r->tmp > 0 && !f->dry && r == 0)
		r = mark_dirty(q, L_TMP);
	return r;
}

/* Leases that have run out, for the count; the upkeep returns them. */
static int
count_expired(struct fsck *f)
{
	struct mq_name m;
	struct stat st;
	char **v;
	size_t n, i;

	if (list_names(f->q->sfd[MQ_INFLIGHT], ".", &v, &n, LN_FILES) == -1)
		return -1;
	for (i = 0; i < n; i++)
		if (mq_name_parse(v[i], &m) == 0 &&
		    name_fits(&m, MQ_INFLIGHT, NULL) &&
		    fstatat(f->q->sfd[MQ_INFLIGHT], v[i], &st,
		    AT_SYMLINK_NOFOLLOW) == 0 && lease_end(&st, &m) <= f->now)
			f->r->leases++;
	free_names(v, n);
	return 0;
}

static void
forget(struct fsck *f)
{
	free_names(f->ids, f->nids);
	free_names(f->groups, f->ngroups);
	f->ids = f->groups = NULL;
	f->nids = f->ngroups = f->capids = f->capgroups = 0;
}

/*
 * Scan every state (and the groups' waiting rooms) under the queue lock
 * held exclusive, so that no message moves while we look: what we do not
 * see is not there.
 */
static int
scan(struct fsck *f)
{
	struct mq_queue *q = f->q;
	int state, r = 0, gfd, fd;
	char **g, where[64];
	size_t ng, i;

	forget(f);
	memset(&f->done, 0, sizeof(f->done));
	if (q->lockerr == 0 && lock_ex(q, LK_QUEUE) == -1)
		return -1;
	for (state = 0; state < MQ_NSTATES && r == 0; state++) {
		if (q->sfd[state] == -1)
			continue;
		if (bucketed(state))
			r = check_buckets(f, state);
		else
			r = check_files(f, state, q->sfd[state],
			    mq_state_name(state), NULL, NULL);
	}
	gfd = mq_opendirat(q->dfd, L_GROUPS);
	if (r == 0 && gfd != -1 && list_names(gfd, ".", &g, &ng, LN_ALL) ==
	    0) {
		for (i = 0; i < ng && r == 0; i++) {
			fd = mq_opendirat(gfd, g[i]);
			if (fd == -1 || strlen(g[i]) != MQ_KEY_HEX) {
				if (fd != -1)
					close(fd);
				r = quarantine(f, gfd, L_GROUPS, g[i]);
				continue;
			}
			snprintf(where, sizeof(where), "%s_%s", L_GROUPS, g[i]);
			r = check_files(f, -1, fd, where, NULL, g[i]);
			close(fd);
		}
		free_names(g, ng);
	}
	if (gfd != -1)
		close(gfd);
	/* the done record anew, from the count, while nothing moves */
	if (r == 0 && !f->dry)
		r = done_set(q, &f->done);
	if (q->lockerr == 0)
		unlock(q, LK_QUEUE);
	/* (qsort and bsearch want an array, even an empty one) */
	if (f->nids > 1)
		qsort(f->ids, f->nids, sizeof(*f->ids), cmpstr);
	if (f->ngroups > 1)
		qsort(f->groups, f->ngroups, sizeof(*f->groups), cmpstr);
	return r;
}

/*
 * Busy groups with no message out.  Each candidate is looked at again
 * under its group lock (nothing of the group goes out without it) after a
 * fresh scan, and only then released, unless another's release of it is
 * owed: its out message left on a road that releases the next once its
 * other locks are dropped (group_leaving), and a release here too would
 * let two of the group out.
 */
static int
stuck_groups(struct fsck *f)
{
	struct mq_queue *q = f->q;
	char **g;
	size_t ng, i;
	int gfd, r = 0;

	if ((gfd = mq_opendirat(q->dfd, L_GROUPS)) == -1)
		return errno == ENOENT ? 0 : -1;
	if (list_names(gfd, ".", &g, &ng, LN_DIRS) == -1) {
		close(gfd);
		return -1;
	}
	for (i = 0; i < ng && r == 0; i++) {
		if (has(f->groups, f->ngroups, g[i]))
			continue;
		if (f->dry) {
			f->r->groups++;
			continue;
		}
		if (group_lock(q, g[i], F_WRLCK) == -1 || scan(f) == -1) {
			r = -1;
		} else if (!has(f->groups, f->ngroups, g[i]) &&
		    (r = group_owed(q, g[i])) == 0) {
			f->r->groups++;
			r = group_next(q, g[i]);
		} else if (r == 1)
			r = 0;
		group_lock(q, g[i], F_UNLCK);
	}
	free_names(g, ng);
	close(gfd);
	return r;
}

int
mq_fsck(struct mq_queue *q, int dry, int64_t tmp_age_ms, struct mq_fsck *r)
{
	struct fsck f;
	int64_t since;
	int rv = -1;

	memset(r, 0, sizeof(*r));
	memset(&f, 0, sizeof(f));
	f.q = q;
	f.r = r;
	f.dry = dry;
	f.qfd = -1;
	f.now = mq_now_ms();
	/* a read-only spool can be checked, not repaired */
	if (!dry && q->lockerr != 0) {
		errno = q->lockerr;
		return -1;
	}
	if (count_expired(&f) == -1)
		goto out;
	/* leases and due messages first, so the scan sees them settled */
	if (!f.dry && mq_maintain(q) == -1)
		goto out;
	since = mq_now_ms();
	/* keys before tmp/: a keyed put that died leaves a body to finish */
	/* done messages past retain go, all of them, once counted anew */
	if (scan(&f) == -1 || (!f.dry && expire_done(q, -1,
	    &r->dropped) == -1) || key_orphans(q, f.dry, f.ids, f.nids, since,
	    &r->keys) == -1 || stuck_groups(&f) == -1 ||
	    check_tmp(&f, tmp_age_ms) == -1)
		goto out;
	/* the backlog's count, when a limit keeps one, made true again */
	if (!f.dry && backlog_recount(q) == -1)
		goto out;
	rv = f.dry ? 0 : mq_sync_dirs(q);
out:
	forget(&f);
	if (f.qfd != -1)
		close(f.qfd);
	return rv;
}
