/*
 * internal.h - what the library files share and the tools must not see.
 */
#ifndef MQ_INTERNAL_H
#define MQ_INTERNAL_H

#include <sys/stat.h>

#include <limits.h>

#include "mq.h"

/*
 * The library by layers (see lib/README): a file calls only files of the
 * layers below its own, and, within its layer, only those listed before
 * it.  The declarations below go by file, in that order.
 */

/* ---- layer 0: no queue; the file system, the layout, the grammar ---- */

/* open.c: files and directories opened without following symlinks */
int	 mq_opendirat(int dirfd, const char *path);
int	 mq_openroot(const char *path);

/* fs.c: listing, renaming without replacing, durable names */
#define LN_SORT		0x1
#define LN_FILES	0x2
#define LN_DIRS		0x4
#define LN_ALL		0x8	/* every entry, whatever its type */
int	 list_names(int dirfd, const char *sub, char ***names, size_t *n,
	    int flags);
void	 free_names(char **, size_t);
int	 names_push(char ***v, size_t *n, size_t *cap, const char *);
int	 mq_rename(int, const char *, int, const char *);
int	 mkpath(const char *path);
int	 fsyncat(int dirfd, const char *rel);
int64_t	 mtime_ms(const struct stat *);
void	 close_fd(int *fd);

/* layout.c: the names of a queue's entries, buckets and handles (mq(7)) */
#define L_LOCK		"lock"
#define L_CONF		"mq.conf"
#define L_PAUSED	"paused"
#define L_TMP		"tmp"
#define L_KEYS		"keys"
#define L_GROUPS	"groups"
#define L_SUBS		"subs"
#define L_QUARANTINE	"quarantine"
#define L_HEADERS	"user.mq.h"	/* a message's headers (header.c) */
#define L_INIT		".init."	/* SPOOL/.init.RANDOM: a queue being made */
extern const char *const layout_dirs[];	/* the states, then tmp */
extern const size_t layout_ndirs;
#define DELAY_WINDOW	60	/* seconds per delayed/ bucket */
#define DONE_WINDOW	60	/* seconds of ack times per done/ bucket */
#define BUCKET_MAX	16	/* a bucket name and its NUL */
#define SEQ_MAX		9999999999ULL	/* bucket numbers have 10 digits */
#define STATEDIR_MAX	64	/* STATE/BUCKET, groups/HASH and the NUL */
struct bucketref {
	int			 prio;
	unsigned long long	 seq;	/* a window's T for delayed/ */
	char			*name;
};
int	 bucketref_cmp(const void *, const void *);
int	 bucket_cmp(const char *, const char *);
int	 parse_bucket(const char *, int *prio, unsigned long long *seq);
int	 parse_window(const char *, int64_t *t);
int	 bucket_ok(int state, const char *);
int	 bucketed(int state);
void	 fmt_bucket(char buf[BUCKET_MAX], int prio, unsigned long long seq);
void	 fmt_window(char buf[BUCKET_MAX], int64_t due);
void	 fmt_donewindow(char buf[BUCKET_MAX], int64_t t);
void	 fmt_statedir(char buf[STATEDIR_MAX], int state, const char *bucket);
void	 fmt_groupdir(char buf[STATEDIR_MAX], const char *hash);
void	 fmt_keypath(char *buf, size_t len, const char *hash);
int	 fmt_handle(char *buf, size_t len, const char *qpath, int state,
	    const char *bucket, const char *name);
void	 fmt_keyname(char *buf, size_t len, int state, const char *name);
const char *keyname_prepared(const char *);

/* name.c: the grammar of message names, and of names in their places */
#define TOKEN_LEN	8
#define ATTEMPTS_MAX	999999999	/* the most a name's ,a field holds */
#define R_UNROUTABLE	"unroutable"	/* dead: no binding matched (fanout.c) */
#define R_UNRESOLVED	"unresolved"	/* dead: prepared, no checker answered
					   prepare_max times (resolve.c) */
int	 name_fits(const struct mq_name *, int state, const char *bucket);
int	 linked_ok(const struct mq_name *, const struct stat *);

/* header.c: headers (mq.h); set on a message file being written */
int	 headers_write(int fd, const struct mq_headers *);

/* route.c: routing keys and patterns (mq.h) */

/* parse.c: values (durations, sizes, times) */
int64_t	 ceil_s(int64_t ms);

/* error.c: mq_strerror (mq.h) */

/* ---- layer 1: the queue object ---- */

/* trust.c: may st be taken as written by owner (or root, if rootok)? */
int	 conf_trusted(const struct stat *st, uid_t owner, int rootok,
	    const char *whose, char *why, size_t);

/* conf.c: mq.conf(5), read; and rewritten for a share */
int	 conf_rewrite_share(FILE *in, FILE *out, int mode, const char *group);

/* durable.c: directories changed and not yet fsynced, relative to dfd */
struct dirty {
	char		**v;
	size_t		  n, cap;
};
struct mq_queue;
int	 mark_dirty(struct mq_queue *, const char *rel);
void	 dirty_close(struct dirty *);

/* lock.c: the byte-range locks of the lock file (LOCKS in mq(7)) */
#define LK_TAIL(p)	((off_t)32 * (p))
#define LK_TAILLEN	32
#define LK_QUEUE	512
#define LK_LEASE	513
#define LK_PROMOTE	514
#define LK_SUBS		515	/* subs/ of a topic: see sub.c */
#define LK_RATE		516	/* the rate record: see rate.c */
#define LK_RATEREC	LK_TAIL(MQ_PRIORITY_MAX + 1)	/* after the tails */
#define LK_RATELEN	32
#define LK_BACKLOG	517	/* the backlog record: see backlog.c */
#define LK_DONE		518	/* the done record: see done.c */
#define LK_DROP		519	/* dropping expired done messages */
#define LK_MOVER	520	/* a run of mq-mv into the queue: transfer.c */
#define LK_BACKLOGREC	(LK_RATEREC + LK_RATELEN)
#define LK_BACKLOGLEN	64
#define LK_DONEREC	(LK_BACKLOGREC + LK_BACKLOGLEN)	/* after the backlog's */
#define LK_DONELEN	64
#define LK_KEYS		1024	/* key locks: bytes 1024 to 1024+LK_NKEYS-1 */
#define LK_NKEYS	1024
#define LK_GROUPS	2048	/* group locks: bytes 2048 to 2048+LK_NGROUPS-1 */
#define LK_NGROUPS	1024
#define LK_ASKS		3072	/* ask locks (mq-resolve): 3072 to 4095 */
#define LK_NASKS	1024
#define LK_OWED		4096	/* a group's release owed: bytes 4096 to 5119 */
int	 lk(struct mq_queue *, off_t, off_t, int type);
int	 trylk(struct mq_queue *, off_t, off_t, int type);
#define lock_sh(q, at)	lk((q), (at), 1, F_RDLCK)
#define lock_ex(q, at)	lk((q), (at), 1, F_WRLCK)
#define unlock(q, at)	lk((q), (at), 1, F_UNLCK)
off_t	 hash_byte(off_t base, off_t n, const char *hash);
int	 key_lock(struct mq_queue *, const char *hash, int type);
int	 key_lock_all(struct mq_queue *, const struct mq_name *, size_t,
	    int type);
int	 group_lock(struct mq_queue *, const char *hash, int type);
int	 record_put(struct mq_queue *, off_t at, size_t len, const char *);
int	 ask_lock(struct mq_queue *, const char *hash, int type);
int	 owed_lock(struct mq_queue *, const char *hash, int type);
int	 owed_lock_try(struct mq_queue *, const char *hash);
int	 owed_unlock_all(struct mq_queue *);

/* own.c: the spool's mode and group on what we make; others' files */
#define OWN_QUEUE	2	/* own_fd's dir: the queue's own directory */
int	 own_file(struct mq_queue *, int fd);
int	 own_fd(const struct mq_conf *, int fd, int dir);
int	 own_dirat(const struct mq_conf *, int dirfd, const char *name);
int	 make_dir(struct mq_queue *, int dirfd, const char *name);
int	 replace_own(struct mq_queue *, int dirfd, const char *name, int fd,
	    const struct timespec ts[2], mode_t keep, int dosync);

/* spool.c: finding a spool, making a queue, opening its directories */
void	 spool_init_queue(struct mq_queue *);
int	 spool_open_queue(struct mq_queue *, const char *spool,
	    const char *name, int flags, struct mq_conferr *);
void	 spool_close_queue(struct mq_queue *);
int	 state_dir(struct mq_queue *, int state);
int	 open_dir(struct mq_queue *, int dirfd, const char *name, int create);
void	 spool_of(const struct mq_queue *, char *buf, size_t len);
int	 topics_of(const struct mq_queue *, char ***names, size_t *n);

/* pause.c: mq_pause, mq_resume, mq_paused (mq.h) */

/* ---- layer 2: where messages sit and how they move ---- */

/* bucket.c: tail records and ready buckets; the buckets of a state */
struct pub {
	unsigned	 left[MQ_PRIORITY_MAX + 1];	/* reserved slots */
	unsigned long long leftseq[MQ_PRIORITY_MAX + 1];	/* their bucket */
	size_t		 want;		/* messages about to publish */
};
int	 reserve(struct mq_queue *, int prio, char bucket[BUCKET_MAX]);
int	 private_bucket(struct mq_queue *, int prio, size_t n);
void	 pub_ahead(struct mq_queue *, size_t n);
void	 pub_forget(struct mq_queue *, int prio);
int	 tail_seq(struct mq_queue *, int prio, unsigned long long *seq);
int	 is_tail(struct mq_queue *, const char *bucket);
long long ready_in(struct mq_queue *);
int	 list_buckets(struct mq_queue *, int state, char ***names, size_t *n);
int	 drop_bucket(struct mq_queue *, int state, const char *bucket);
int	 drop_empty_buckets(struct mq_queue *, int state);
typedef int (*walkfn)(struct mq_queue *, int dirfd, const char *name,
	    const char *path, const struct mq_name *, void *);
int	 walk_state(struct mq_queue *, int state, walkfn, void *);
int	 walk_windows(struct mq_queue *, int state, int64_t lo, int64_t hi,
	    walkfn, void *);
int	 find_id(struct mq_queue *, int state, const char *id,
	    struct mq_name *, char name[MQ_NAME_MAX + 1]);

/* move.c: a message from one place to another, the one way it is done */
struct mv {
	int		 fd;		/* the bucket of the last move */
	char		 rel[STATEDIR_MAX];	/* its STATE/BUCKET */
};
void	 mv_close(struct mv *);
int	 publish(struct mq_queue *, int fromfd, const char *from,
	    struct mq_name *);
int	 entomb(struct mq_queue *, int fromfd, const char *from,
	    struct mq_name *, const char *reason);
int	 hold(struct mq_queue *, int fromfd, const char *from,
	    struct mq_name *, char *heldname);
int	 unhold(struct mq_queue *, const char *heldname, struct mq_name *);
int	 keep(struct mq_queue *, int fromfd, const char *from,
	    const char *name, int64_t acked);

/* done.c: acked messages kept (retain), and the done record */
struct donerec {
	long long	 count;		/* messages in done/ */
	long long	 bytes;		/* their sizes */
	int64_t		 oldest;	/* window of the oldest bucket, 0: none */
};
int	 done_read(struct mq_queue *, struct donerec *);
int	 done_add(struct mq_queue *, long long n, long long bytes, int64_t t);
int	 done_advance(struct mq_queue *, int64_t from, int64_t next);
int	 done_set(struct mq_queue *, const struct donerec *);
int	 done_keep(struct mq_queue *, int fromfd, const char *from,
	    const struct mq_name *);
void	 done_flush(struct mq_queue *);
int	 prepare(struct mq_queue *, int fromfd, const char *from,
	    struct mq_name *, char *name);

/* lease.c: deadlines of claims, their tokens, and backoff */
int64_t	 lease_end(const struct stat *, const struct mq_name *);
int	 set_deadline(struct mq_queue *, int dirfd, const char *name,
	    const struct mq_name *, const struct timespec ts[2]);
int64_t	 backoff(const struct mq_conf *, int attempts);
void	 new_token(char *tok);

/* rate.c: token buckets, the queue's (rate in mq.conf) and the process's */
struct rate {
	int64_t		 own_us;	/* -r: us per token, 0: none */
	int64_t		 own_spent;	/* monotonic us, see rate.c */
	int		 burst;		/* tokens a bucket holds, 0: 2 */
};

/* backlog.c: the count of ready, delayed and waiting messages (limits) */
#define BL_CHECK	0x1	/* refuse what would pass a limit */
#define BL_FRESH	0x2	/* a recount was just made: trust a full one */
#define BL_PEEK		0x4	/* with BL_CHECK: only say whether it fits */
#define BL_FULL		1
#define BL_STALE	2
struct ahead {
	long long	 n, bytes;	/* counted ahead, not yet taken */
};
int	 backlog_on(const struct mq_queue *);
void	 backlog_ahead(struct mq_queue *, long long n, long long bytes);
int	 backlog_take_ahead(struct mq_queue *, long long bytes);
void	 backlog_ahead_end(struct mq_queue *);
int	 backlog_add(struct mq_queue *, long long n, long long bytes,
	    int flags);
void	 backlog_sub(struct mq_queue *, long long n, long long bytes);
long long backlog_bytes(const struct mq_name *);
void	 backlog_out(struct mq_queue *, const struct mq_name *);
int	 backlog_set(struct mq_queue *, long long n, long long bytes);
int	 backlog_get(struct mq_queue *, long long *n, long long *bytes);

/* ---- layer 3: what is built on moves ---- */

/* key.c: the key store of idempotent producers */
#define KEY_LIVE	INT64_C(4102444800)	/* 2100-01-01: message in */
#define KEY_SWEEP	32	/* key files a put looks at for garbage */
struct keys {
	int		 fd;		/* keys/, -1 until used */
};
void	 key_hash(const char *key, char hex[MQ_KEY_HEX + 1]);
int	 key_hash_ok(const char *);
int	 key_open(struct mq_queue *, const char *hash, int *known,
	    char id[MQ_ID_LEN + 1], char name[MQ_NAME_MAX + 1]);
int	 key_lookup(struct mq_queue *, const char *hash,
	    char id[MQ_ID_LEN + 1], char name[MQ_NAME_MAX + 1]);
int	 key_record(struct mq_queue *, const char *hash, const char *id,
	    const char *name, int dosync);
int	 key_forget(struct mq_queue *, const char *hash, const char *id);
int	 key_release(struct mq_queue *, const struct mq_name *);
int	 key_keep(struct mq_queue *, const struct mq_name *);
void	 key_sweep(struct mq_queue *, const char *hash);
void	 keys_close(struct keys *);

/* group.c: ordered groups */
struct groups {
	int		 fd;		/* groups/, -1 until used */
	char		**defer;	/* groups whose next is due */
	size_t		 ndefer, capdefer;
	int		 owed;		/* an owed lock held (group_leaving) */
};
int	 group_put(struct mq_queue *, int fromfd, const char *from,
	    struct mq_name *);
int	 group_next(struct mq_queue *, const char *hash);
int	 group_leaving(struct mq_queue *, const char *hash);
int	 group_defer(struct mq_queue *, const char *hash);
int	 group_owed(struct mq_queue *, const char *hash);
int	 group_flush(struct mq_queue *);
int	 group_waiting(struct mq_queue *, const char *hash, int mark,
	    int (*fn)(struct mq_queue *, int fd, const char *name,
	    const struct mq_name *, void *), void *);
int	 group_each_waiting(struct mq_queue *, int mark,
	    int (*fn)(struct mq_queue *, int fd, const char *name,
	    const struct mq_name *, void *), void *);
int	 group_count(struct mq_queue *, long long *count, long long *bytes);
void	 groups_close(struct groups *);

/*
 * admit.c: the one road into ready (or a group's turn), and its limit.
 * admit() fails with MQ_EFULL when the backlog limit refuses the message:
 * nothing was moved, the message is where it was (tmp/, dead/, another
 * state), and nothing was counted; the caller leaves it there and says
 * "queue full" (exit 75).  room() is the check alone, for a road that
 * publishes by itself (a release); it counts the message, and a caller
 * whose move then fails gives it back with backlog_sub().  enter() is
 * admit() after room(), for a caller that must take room before it takes
 * a lock that room's recount may not be waited for under (a move holds
 * its source's queue lock); it gives the room back if it fails.
 */
#define R_OVERFLOW	"overflow"	/* dead: overflow = dead-oldest */
struct heads {
	int		 fd;		/* the head bucket, -1: none read */
	char		 bucket[BUCKET_MAX];
	char		**names;	/* its names, sorted; from i on untried */
	size_t		 n, i;
};
void	 heads_close(struct heads *);
int	 room(struct mq_queue *, const struct mq_name *);
int	 backlog_recount(struct mq_queue *);
int	 admit(struct mq_queue *, int fromfd, const char *from,
	    struct mq_name *);
int	 enter(struct mq_queue *, int fromfd, const char *from,
	    struct mq_name *);
int	 revive(struct mq_queue *, const char *deadname, struct mq_name *);

/* retire.c: the one road out of the spool, and into dead/ */
#define RT_OUT		0x1	/* it was out in its ordered group */
#define RT_ACK		0x2	/* an ack: into done/ when retain is set */
int	 retire(struct mq_queue *, int fromfd, const char *from,
	    const struct mq_name *, int how);
int	 bury(struct mq_queue *, int fromfd, const char *from,
	    struct mq_name *, const char *reason);
int	 bury_now(struct mq_queue *, int fromfd, const char *from,
	    struct mq_name *, const char *reason);
int	 withdraw(struct mq_queue *, int fromfd, const char *from,
	    const struct mq_name *);

/* expire.c: done messages past retain dropped */
#define DROP_STEP	64	/* done messages an ack or a put drops at most */
int	 expire_done(struct mq_queue *, long max, long long *n);
void	 expire_step(struct mq_queue *);

/* recover.c: what a crash left half done */
int	 key_finish(struct mq_queue *, const char *id, const char *name);
int	 key_orphans(struct mq_queue *, int dry, char **ids, size_t nids,
	    int64_t since_ms, long long *n);

/* upkeep.c: promote due messages, reclaim expired leases (mq_maintain) */
struct upkeep {
	int64_t		 last;		/* ms of the last upkeep, 0: never */
};
int	 upkeep_due(struct mq_queue *);
void	 upkeep_soon(struct mq_queue *);
int	 hasten(struct mq_queue *, int fd, const char *name, struct mq_name *);
int	 back(struct mq_queue *, int fd, const char *name, struct mq_name *);

/* ---- layer 4: the public interface (mq.h) ---- */

/* get.c: the bucket being drained, and names claimed ahead */
#define CLAIM_RUN	64	/* claims per hold of the locks */
struct drain {
	int		 fd;			/* the bucket */
	char		 cursor[BUCKET_MAX];	/* last bucket read */
	long long	 passclaims;
	char		**names;
	size_t		 nnames, inames;
	/* claimed and not yet handed out: names in inflight/ */
	char		 run[CLAIM_RUN][MQ_NAME_MAX + 1];
	size_t		 nrun, irun, ahead;
	int		 claimerr;		/* errno of a failed claim, 0 */
};
void	 drain_close(struct drain *);

/* wait.c: inotify descriptor, highest watch seen, fallbacks */
struct watch {
	int		 fd;
	int		 maxwd;
	int		 polling;
	int		 duewake;
};
void	 watch_close(struct watch *);

/* queue.c: mq_queue_open and mq_queue_close put the parts together */
struct mq_queue {
	/* spool.c */
	char		 name[MQ_QUEUE_MAX + 1];
	char		 path[PATH_MAX];	/* SPOOL/QUEUE, absolute */
	int		 dfd;
	uid_t		 owner;			/* of the queue's directory */
	int		 sfd[MQ_NSTATES];
	int		 tmpfd;
	int		 lockfd;
	int		 lockerr;		/* why lockfd is read-only, or 0 */
	struct mq_conf	 conf;
	/* the parts of the layers above */
	struct dirty	 dirty;
	struct pub	 pub;
	struct mv	 mv;
	struct donerec	 donerun;	/* done.c: kept, not yet counted */
	struct keys	 keys;
	struct groups	 groups;
	struct upkeep	 upkeep;
	struct rate	 rate;
	struct ahead	 ahead;
	struct heads	 heads;
	struct drain	 drain;
	struct watch	 watch;
};

/* copy.c: a fan-out copy's body in a subscriber's tmp/ */
int	 seal(struct mq_queue *topic, const char *id, int need);
int	 copy_file(struct mq_queue *, int fromfd, const char *from,
	    const char *id, const char *hname, const char *hval);
int	 place(struct mq_queue *topic, struct mq_queue *sub, const char *id,
	    int *linked);

/* fanout.c: topics, their subscribers and bindings */
#define BINDINGS_MAX	65536	/* bytes of one subscriber's bindings */
int	 read_subs(struct mq_queue *, char ***names, size_t *n);
int	 no_topic(struct mq_queue *);
int	 read_bindings(struct mq_queue *, int subsfd, const char *name,
	    char **buf, size_t *len, char *why, size_t);
struct fanout;
struct fanout *fanout_new(struct mq_queue *topic, int64_t ttl_ms);
int	 fanout_begin(struct fanout *);
int	 fanout_put(struct fanout *, struct mq_name *, size_t n,
	    const char *hash, size_t *nok);
void	 fanout_end(struct fanout *);
const char *fanout_failure(const struct fanout *, size_t i, int *err);
void	 fanout_free(struct fanout *);
int	 fanout_revive(struct mq_queue *topic, const char *deadname,
	    struct mq_name *);

/* session.c: handles resolved to their queue and file */
struct target {
	struct mq_queue	*q;
	int		 state;
	int		 fd;		/* its directory: a state's or a bucket */
	char		 rel[STATEDIR_MAX];	/* that directory, from q->dfd */
	char		 name[MQ_NAME_MAX + 1];
	struct mq_name	 m;
};
int	 resolve(struct mq_session *, const char *path, unsigned states,
	    struct target *);
int	 resolve_cached(const struct mq_session *, const char *path);
void	 target_close(struct target *);
int	 gone(int state);

/* handle.c: the end of a move of a resolved message */
int	 moved(struct target *, int r);

/* transfer.c: messages to another queue (mq_move, ...): mq.h */

/* sub.c: subscriptions and bindings changed (mq_subscribe, ...): mq.h */

/* putter.c: a producer's pending messages and the ids to hand back */
struct mq_putter {
	struct mq_queue		*q;
	struct mq_putopts	 o;
	char			 hash[MQ_KEY_HEX + 1];	/* of o.key */
	char			 ghash[MQ_KEY_HEX + 1];	/* of o.group */
	struct mq_headers	 hdr;		/* o.headers points here */
	struct mq_name		*pend;		/* written, not yet published */
	char			(*hnd)[PATH_MAX];	/* -P: handles of out */
	size_t			 npend;
	char			(*ids)[MQ_ID_LEN + 1];
	const char		**out;
	size_t			 nout, cap;
	struct fanout		*fan;		/* the subscribers, if a topic */
	size_t			 nkeyed;	/* of pend, with a key */
	long long		 nunroutable;	/* put to the topic's dead/ */
};
int	 release(struct mq_putter *, struct mq_name *);
void	 emit(struct mq_putter *, const char *id);
int	 drop(struct mq_putter *);
int	 commit(struct mq_putter *);
int	 fan_commit(struct mq_putter *);

/* dedup.c: the keyed put */
int	 put_keyed(struct mq_putter *, struct mq_name *);
int	 keyed_commit(struct mq_putter *);

#endif
