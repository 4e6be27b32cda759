/*
 * internal.h - what the library files share and the tools must not see.
 */
#ifndef MQ_INTERNAL_H
#define MQ_INTERNAL_H

#include <sys/stat.h>

#include <limits.h>

#include "mq.h"

/* Byte ranges of the lock file (see the lock protocol in mq(7)). */
#define LK_TAIL(p)	((off_t)32 * (p))
#define LK_TAILLEN	32
#define LK_QUEUE	512
#define LK_LEASE	513
#define LK_PROMOTE	514
#define LK_SUBS		515	/* subs/ of a topic: see fanout.c */
#define LK_KEYS		1024	/* key locks: bytes 1024 to 1024+LK_NKEYS-1 */
#define LK_NKEYS	1024
#define LK_GROUPS	2048	/* group locks: bytes 2048 to 2048+LK_NGROUPS-1 */
#define LK_NGROUPS	1024

/* A key file's mtime while its message is in the spool: 2100-01-01 UTC. */
#define KEY_LIVE	INT64_C(4102444800)
#define KEY_SWEEP	32	/* key files a put looks at for garbage */

#define DELAY_WINDOW	60	/* seconds per delayed/ bucket */
#define TOKEN_LEN	8
#define ATTEMPTS_MAX	999999999	/* the most a name's ,a field holds */
#define CLAIM_RUN	64	/* claims per hold of the locks */

struct mq_queue {
	char		 name[MQ_QUEUE_MAX + 1];
	char		 path[PATH_MAX];	/* SPOOL/QUEUE, absolute */
	int		 dfd;
	uid_t		 owner;			/* of the queue's directory */
	int		 sfd[MQ_NSTATES];
	int		 tmpfd;
	int		 keysfd;		/* keys/, -1 until used */
	int		 groupsfd;		/* groups/, -1 until used */
	char		**gdefer;		/* groups whose next is due */
	size_t		 ngdefer;
	int		 lockfd;
	int		 lockerr;		/* why lockfd is read-only, or 0 */
	struct mq_conf	 conf;

	/* directories changed and not yet fsynced, relative to dfd */
	char		**dirty;
	size_t		 ndirty;

	/* mq_get's view of the bucket it is draining */
	/* where this process publishes: reserved tail slots, open bucket */
	unsigned	 left[MQ_PRIORITY_MAX + 1];
	unsigned long long leftseq[MQ_PRIORITY_MAX + 1];
	size_t		 want;			/* messages about to publish */
	int		 pubfd;
	char		 pubrel[64];

	int		 bucketfd;
	char		 cursor[16];		/* last bucket read */
	long long	 passclaims;
	char		**names;
	size_t		 nnames, inames;
	/* claimed and not yet handed out: names in inflight/ */
	char		 run[CLAIM_RUN][MQ_NAME_MAX + 1];
	size_t		 nrun, irun, ahead;
	int		 claimerr;		/* errno of a failed claim, 0 */
	int64_t		 maintained;		/* ms of the last upkeep, 0: never */

	/* mq_wait: inotify descriptor, highest watch seen, fallbacks */
	int		 ifd;
	int		 maxwd;
	int		 polling;
	int		 duewake;
};

int	 lk(struct mq_queue *, off_t, off_t, int type);
int	 trylk(struct mq_queue *, off_t, off_t, int type);
#define lock_sh(q, at)	lk((q), (at), 1, F_RDLCK)
#define lock_ex(q, at)	lk((q), (at), 1, F_WRLCK)
#define unlock(q, at)	lk((q), (at), 1, F_UNLCK)

/* open.c: directories, never through a symlink; the spool root may be */
int	 mq_opendirat(int dirfd, const char *path);
int	 mq_openroot(const char *path);

int	 mq_rename(int, const char *, int, const char *);
int	 mark_dirty(struct mq_queue *, const char *rel);
int	 held_dir(struct mq_queue *);
int	 own_file(struct mq_queue *, int fd);
/* spool.c, below every move: a lease deadline on a message (a fan-out
 * copy's shared time only ever later), and a file of another member's
 * given a time as a file of our own */
int	 set_deadline(struct mq_queue *, int dirfd, const char *name,
	    const struct mq_name *, const struct timespec ts[2]);
int	 replace_own(struct mq_queue *, int dirfd, const char *name, int fd,
	    const struct timespec ts[2], mode_t keep, int dosync);
#define OWN_QUEUE	2	/* own_fd's dir: the queue's own directory */
int	 own_fd(const struct mq_conf *, int fd, int dir);
int	 own_dirat(const struct mq_conf *, int dirfd, const char *name);
int	 make_dir(struct mq_queue *, int dirfd, const char *name);
int	 open_dir(struct mq_queue *, int dirfd, const char *name, int create);
int	 publish(struct mq_queue *, int fromfd, const char *from,
	    struct mq_name *);
int	 bury(struct mq_queue *, int fromfd, const char *from,
	    struct mq_name *, const char *reason);
int	 leave(struct mq_queue *, int fromfd, const char *from,
	    const struct mq_name *, int out);
int	 hold(struct mq_queue *, int fromfd, const char *from,
	    struct mq_name *, char *heldname);
int	 private_bucket(struct mq_queue *, int prio, size_t n);
int	 revive(struct mq_queue *, const char *deadname, struct mq_name *);
int	 unhold(struct mq_queue *, const char *heldname, struct mq_name *);
int	 tail_seq(struct mq_queue *, int prio, unsigned long long *seq);
long long ready_in(struct mq_queue *);
int	 list_buckets(struct mq_queue *, int state, char ***names, size_t *n);
int	 drop_bucket(struct mq_queue *, int state, const char *bucket);
int	 drop_empty_buckets(struct mq_queue *, int state);
int	 bucket_cmp(const char *, const char *);
#define LN_SORT		0x1
#define LN_FILES	0x2
#define LN_DIRS		0x4
#define LN_ALL		0x8	/* every entry, whatever its type */
int	 list_names(int dirfd, const char *sub, char ***names, size_t *n,
	    int flags);
void	 free_names(char **, size_t);
int64_t	 ceil_s(int64_t ms);
int64_t	 lease_end(const struct stat *, const struct mq_name *);

/* name.c: the grammar of bucket names, and of names in their places */
int	 parse_bucket(const char *, int *prio, unsigned long long *seq);
int	 parse_window(const char *, int64_t *t);
int	 bucket_ok(int state, const char *);
int	 name_fits(const struct mq_name *, int state, const char *bucket);

/* conf.c: may st be taken as written by owner (or root, if rootok)? */
int	 conf_trusted(const struct stat *st, uid_t owner, int rootok,
	    const char *whose, char *why, size_t);

/* key.c: the key store of idempotent producers */
void	 key_hash(const char *key, char hex[MQ_KEY_HEX + 1]);
off_t	 hash_byte(off_t base, off_t n, const char *hash);
int	 key_orphans(struct mq_queue *, int dry, char **ids, size_t nids,
	    int64_t since_ms, long long *n);
int	 key_lock(struct mq_queue *, const char *hash, int type);
int	 key_lookup(struct mq_queue *, const char *hash,
	    char id[MQ_ID_LEN + 1], char name[MQ_NAME_MAX + 1]);
int	 key_record(struct mq_queue *, const char *hash, const char *id,
	    const char *name, int dosync);
int	 key_lock_all(struct mq_queue *, const struct mq_name *, size_t,
	    int type);
int	 key_forget(struct mq_queue *, const char *hash, const char *id);
int	 key_finish(struct mq_queue *, const char *id, const char *name);
int	 key_release(struct mq_queue *, const struct mq_name *);
int	 key_keep(struct mq_queue *, const struct mq_name *);
void	 key_sweep(struct mq_queue *, const char *hash);

/* group.c */
int	 group_lock(struct mq_queue *, const char *hash, int type);
int	 group_put(struct mq_queue *, int fromfd, const char *from,
	    struct mq_name *);
int	 group_next(struct mq_queue *, const char *hash);
int	 group_defer(struct mq_queue *, const char *hash);
int	 group_flush(struct mq_queue *);
int	 group_count(struct mq_queue *, long long *count, long long *bytes);
int	 group_purge(struct mq_queue *, long long *purged);
/* fanout.c: topics and their subscribers */
struct stat;
struct timespec;
struct fanout;
struct fanout *fanout_new(struct mq_queue *topic, int64_t ttl_ms);
int	 fanout_begin(struct fanout *);
int	 fanout_put(struct fanout *, struct mq_name *, size_t n,
	    const char *hash, size_t *nok);
void	 fanout_end(struct fanout *);
const char *fanout_failure(const struct fanout *, size_t i, int *err);
void	 fanout_free(struct fanout *);
int	 linked_ok(const struct mq_name *, const struct stat *);

#endif
