/*
 * recover.c - finishing what a crash left half done: a keyed put that
 * died between recording its key and publishing its message is published
 * by whoever next holds the key lock (key_finish), and a live key whose
 * message is gone gets its deadline (key_orphans, for mq-fsck).  See the
 * invariants of key.c.
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
cmpid(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * Finish the put of a key record with a name (see the invariants): if
 * the body is still in tmp/, its put died before publishing it; publish it
 * now.  Returns 1 if it did, 0 if there was nothing to do, -1 on error.
 * Call with the key lock held.
 */
int
key_finish(struct mq_queue *q, const char *id, const char *name)
{
	char pname[MQ_NAME_MAX + 1];
	const char *prep;
	struct mq_name m;
	struct stat st;
	int r;

	if ((prep = keyname_prepared(name)) != NULL)
		name = prep;
	if (name[0] == '\0' || mq_name_parse(name, &m) == -1 ||
	    strcmp(m.id, id) != 0)
		return 0;
	if (fstatat(q->tmpfd, id, &st, AT_SYMLINK_NOFOLLOW) == -1)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISREG(st.st_mode) || (m.size >= 0 && st.st_size != m.size))
		return 0;	/* not that body: mq-fsck's business */
	/* a prepared one goes where its put sent it: not to ready */
	r = prep != NULL ? prepare(q, q->tmpfd, id, &m, pname) :
	    admit(q, q->tmpfd, id, &m);
	if (r == -1)
		return errno == ENOENT ? 0 : -1;
	return mark_dirty(q, L_TMP) == -1 ? -1 : 1;
}

/*
 * Keys still live whose message the caller's scan did not see (ids, sorted)
 * get their deadline, as an ack would have given them.  A key file renamed
 * in after the scan began (since_ms) names a message the scan could not
 * see yet, and is left; the rest are judged again under their key lock.
 */
int
key_orphans(struct mq_queue *q, int dry, char **ids, size_t nids,
    int64_t since_ms, long long *n)
{
	struct mq_name m;
	struct stat st;
	char **xx, **v, id[MQ_ID_LEN + 1], name[MQ_NAME_MAX + 1];
	const char *p;
	size_t nxx, nv, i, j;
	int fd, kfd, known, r = 0, k;

	if (q->keys.fd == -1 &&
	    (q->keys.fd = mq_opendirat(q->dfd, L_KEYS)) == -1)
		return errno == ENOENT ? 0 : -1;
	if (list_names(q->keys.fd, ".", &xx, &nxx, LN_DIRS) == -1)
		return -1;
	for (i = 0; i < nxx && r == 0; i++) {
		if ((fd = mq_opendirat(q->keys.fd, xx[i])) == -1)
			continue;
		if (list_names(fd, ".", &v, &nv, LN_FILES) == -1) {
			close(fd);
			continue;
		}
		for (j = 0; j < nv && r == 0; j++) {
			if (!key_hash_ok(v[j]) || fstatat(fd, v[j], &st,
			    AT_SYMLINK_NOFOLLOW) == -1 ||
			    st.st_mtim.tv_sec != KEY_LIVE ||
			    (int64_t)st.st_ctim.tv_sec * 1000 +
			    st.st_ctim.tv_nsec / 1000000 >= since_ms)
				continue;
			if (key_lock(q, v[j], F_WRLCK) == -1) {
				r = -1;
				break;
			}
			kfd = key_open(q, v[j], &known, id, name);
			p = id;
			if (kfd != -1 && known && id[0] != '\0' &&
			    (nids == 0 || bsearch(&p, ids, nids, sizeof(*ids),
			    cmpid) == NULL)) {
				(*n)++;
				/* a put that died before publishing: finish it */
				if (!dry && (k = key_finish(q, id, name)) != 0) {
					if (k == -1)
						r = -1;
					close(kfd);
					key_lock(q, v[j], F_UNLCK);
					continue;
				}
				memset(&m, 0, sizeof(m));
				strlcpy(m.id, id, sizeof(m.id));
				strlcpy(m.key, v[j], sizeof(m.key));
				/*
				 * Live, gone, put as prepared: a committed one
				 * acked would have its deadline; so this is a
				 * rollback that crashed (withdraw, retire.c)
				 */
				if (!dry && keyname_prepared(name) != NULL) {
					if (key_forget(q, v[j], id) == -1)
						r = -1;
				} else if (!dry && key_release(q, &m) == -1)
					r = -1;
			}
			if (kfd != -1)
				close(kfd);
			key_lock(q, v[j], F_UNLCK);
		}
		free_names(v, nv);
		close(fd);
	}
	free_names(xx, nxx);
	return r;
}
