/*
 * mq.h - the one public interface of libmq.
 *
 * All queue logic lives behind this header.  The library never prints and
 * never exits: functions return -1 (or NULL) and set errno; the tools add
 * context and choose the exit status.  The on-disk contract is described in
 * mq(7); keep the two in step.
 */
#ifndef MQ_H
#define MQ_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define MQ_VERSION	"0.1.0"

#define MQ_QUEUE_MAX	64	/* longest queue name */
#define MQ_ID_LEN	26	/* SSSSSSSSSS.UUUUUU.RRRRRRRR */
/* longest message file name mq writes: now 26+3+11+17+12+12+34+2+18 = 135 */
#define MQ_NAME_MAX	160
#define MQ_PRIORITY_MIN	0
#define MQ_PRIORITY_MAX	9
#define MQ_PRIORITY_DEFAULT	4
#define MQ_KEY_MAX	4096	/* longest idempotency key, in bytes */
#define MQ_KEY_HEX	32	/* a key's hash in names and key files */
/* the last second a name holds (10 digits): 2286-11-20T17:46:39Z */
#define MQ_TIME_MAX	INT64_C(9999999999)
#define MQ_LEASE_MAX	INT64_C(999999999999)	/* ms in ,l: 31 years */

/* Exit statuses shared by every tool (see mq(7)). */
#define MQ_EX_OK	0
#define MQ_EX_NONE	1	/* empty queue, lease lost */
#define MQ_EX_USAGE	64
#define MQ_EX_DATAERR	65
#define MQ_EX_NOINPUT	66
#define MQ_EX_UNAVAILABLE 69	/* mq-forward, mq-recv: the broker */
#define MQ_EX_CANTCREAT	73
#define MQ_EX_IOERR	74
#define MQ_EX_TEMPFAIL	75
#define MQ_EX_NOPERM	77
#define MQ_EX_CONFIG	78

enum mq_state {
	MQ_READY,
	MQ_DELAYED,
	MQ_INFLIGHT,
	MQ_DEAD,
	MQ_HELD,
	MQ_DONE,		/* acked, kept for replay (retain) */
	MQ_PREPARED,		/* mq-put -P: written, not yet committed */
	MQ_NSTATES
};

enum mq_sync {
	MQ_SYNC_NONE,
	MQ_SYNC_BATCH,
	MQ_SYNC_FULL
};

struct mq_conf {
	int64_t	 lease_ms;
	int64_t	 backoff_ms;
	int64_t	 backoff_max_ms;
	int64_t	 ttl_ms;		/* 0: never expires */
	int64_t	 dedup_window_ms;	/* a key outlives its message by this */
	int64_t	 max_size;
	int	 max_attempts;		/* 0: unlimited */
	int	 sync;			/* enum mq_sync */
	int	 bucket_size;
	int	 mode;			/* -1: 0666 & ~umask */
	gid_t	 gid;			/* (gid_t)-1: unchanged */
	int	 wait_poll;		/* wait = poll: never inotify */
	int64_t	 poll_interval_ms;	/* when waiting cannot use inotify */
	int64_t	 rate_us;		/* rate: us per token, 0: no limit */
	long long max_length;		/* backlog, messages; 0: no limit */
	int64_t	 max_length_bytes;	/* backlog, bytes; 0: no limit */
	int	 overflow;		/* enum mq_overflow */
	int64_t	 conf_ns;		/* newest ctime of the files read */
	int64_t	 retain_ms;		/* acked messages kept, 0: none */
	int64_t	 retain_bytes;		/* and at most these bytes, 0: any */
	int64_t	 prepare_timeout_ms;	/* a prepared message's checker asked */
	int	 prepare_max;		/* asks unresolved, then dead/ */
};
enum mq_overflow { MQ_OVERFLOW_REJECT, MQ_OVERFLOW_DEAD_OLDEST };
#define MQ_LENGTH_MAX		INT64_C(1000000000000)	/* max_length */
#define MQ_LENGTH_BYTES_MAX	(INT64_C(1) << 50)	/* max_length_bytes */

/* Where a configuration error was found; line 0 means "the whole file". */
struct mq_conferr {
	char	 file[4096];
	int	 line;
	char	 reason[160];
};

/* A message file name, parsed (see mq(7), "Message names"). */
struct mq_name {
	char	 id[MQ_ID_LEN + 1];
	int	 prio;
	int	 attempts;
	int64_t	 size;			/* -1: not in the name */
	int64_t	 expiry;		/* epoch s, 0: none */
	int64_t	 notbefore;		/* epoch s, 0: none */
	char	 key[MQ_KEY_HEX + 1];	/* hash of the producer's key, or "" */
	char	 group[MQ_KEY_HEX + 1];	/* hash of the ordered group, or "" */
	int64_t	 lease;			/* ms, in flight only; 0: none */
	int	 fanout;		/* ",f": may share its inode (mq-sub) */
	char	 reason[17];		/* dead only */
	char	 token[17];		/* in flight only */
	int64_t	 done;			/* epoch s of the ack, done only */
};

struct mq_queue;
struct mq_putter;

/* parse.c: command-line and config values */
int	 mq_parse_duration(const char *, int64_t *ms);
int	 mq_parse_time(const char *, int64_t *epoch_s);
int	 mq_parse_size(const char *, int64_t *bytes);
/* "N", "N/s", "N/m" or "N/h", N from 1 to 1000000: microseconds per token */
#define MQ_RATE_MAX	1000000
int	 mq_parse_rate(const char *, int64_t *us);
void	 mq_format_age(int64_t s, char *, size_t);
int64_t	 mq_now_ms(void);
/* layout.c: the names of the states (ready, delayed, ...) */
int	 mq_parse_state(const char *);
const char *mq_state_name(int);

/* name.c: the message name grammar */
int	 mq_name_parse(const char *, struct mq_name *);
/* the name a handle ends in, parsed; not a check of the handle (see mq_ack) */
int	 mq_handle_name(const char *handle, struct mq_name *);
/* fails with MQ_ERANGE for a value the grammar has no room for */
int	 mq_name_format(const struct mq_name *, char *, size_t);
int	 mq_queue_name_ok(const char *);
/* fails with MQ_ERANGE when the clock is outside what an id holds */
int	 mq_new_id(char [MQ_ID_LEN + 1]);
int64_t	 mq_id_time(const char *id);

/*
 * open.c: the one way to open a file of the spool (or one a configuration
 * names): never through a symbolic link, never blocking, a regular file or
 * MQ_ENOTREG; O_CREAT only with O_EXCL, and no O_TRUNC (EINVAL).
 * O_NOFOLLOW and O_CLOEXEC are always added.
 */
int	 mq_openat(int dirfd, const char *path, int flags, mode_t mode);
/* the same, and the file's fstat(2) in the last argument (not O_CREAT) */
struct stat;
int	 mq_openat_stat(int dirfd, const char *path, int flags, mode_t mode,
	    struct stat *);

/* conf.c */
#define MQ_LEASE_MIN	3	/* ms: mq-work renews a lease every third */
void	 mq_conf_defaults(struct mq_conf *);
int	 mq_parse_group(const char *, gid_t *);
int	 mq_parse_lease(const char *, int64_t *ms);
/*
 * Load path, relative to dirfd, over *c.  The file is used only when it
 * belongs to owner or root and no one else could have written it (see
 * "Trust" in mq.conf(5)); else MQ_ECONFIG, with the reason.
 */
int	 mq_conf_load(struct mq_conf *, int dirfd, const char *path,
	    int must_exist, uid_t owner, struct mq_conferr *);
/*
 * The sections of mq.conf(5) that belong to a tool ([forward] of
 * mq-forward, [recv] of mq-recv): from now on, every load in the process
 * (mq_queue_open, a session's) hands each of their keys to fn, with the
 * line and the owner of the file (whom a file the key names must belong
 * to, see "Trust" in mq.conf(5)).  fn returns 0, or -1 with
 * the reason in why, which fails the load at that line.  It is called as
 * the file is read: a file that fails later was not applied, and what fn
 * kept of it is not to be used.  Without fn (NULL, the default) their
 * keys are accepted unread; any other section is an error.
 */
typedef int (*mq_sectionfn)(const char *section, int line, const char *key,
	    const char *value, uid_t owner, char *why, size_t, void *);
void	 mq_conf_sections(mq_sectionfn, void *);
/*
 * trust.c: whether a file that a configuration of owner's names (password_file,
 * cacert), as fstat(2) saw it once open, may be read for it: 0, or -1 with
 * the reason in why.
 */
struct stat;
int	 mq_conf_named_ok(const struct stat *, uid_t owner, char *why,
	    size_t);

/* spool.c: finding the spool and its queues */
int	 mq_spool_path(const char *opt, char *, size_t);
const struct mq_conf *mq_queue_conf(const struct mq_queue *);
int	 mq_list_queues(const char *spool, char ***names, size_t *n);
/* queue.c: opening and closing a queue */
#define MQ_CREATE	0x1	/* create the spool and queue if missing */
struct mq_queue *mq_queue_open(const char *spool, const char *name, int flags,
	    struct mq_conferr *);
void	 mq_queue_close(struct mq_queue *);
/* durable.c: make what this process changed in the queue durable now */
int	 mq_sync_dirs(struct mq_queue *);
/* own.c: share a queue with a group (mq-init -g) */
int	 mq_queue_share(struct mq_queue *, int mode, const char *group);

/* header.c: a message's headers (mq(7) HEADERS) */
#define MQ_HDR_MAX	3072	/* bytes of a message's encoded headers */
#define MQ_HDR_NAME_MAX	128
#define MQ_HDR_ROUTING	"routing-key"	/* mq-put -r, topics' bindings */
struct mq_headers {
	size_t	 len;
	char	 buf[MQ_HDR_MAX];	/* records "name=value\0" */
};
struct mq_header {
	const char *name, *val;		/* not NUL-terminated */
	size_t	 nlen, vlen;
};
int	 mq_header_name_ok(const char *, size_t);
/* add name=value: MQ_EHEADER, MQ_EHDRDUP, MQ_EHDRSIZE */
int	 mq_header_add(struct mq_headers *, const char *name, size_t,
	    const char *val, size_t);
int	 mq_header_arg(struct mq_headers *, const char *nameisvalue);
/* the next record from *pos (start at 0): 1, or 0 past the last */
int	 mq_header_next(const struct mq_headers *, size_t *pos,
	    struct mq_header *);
const char *mq_header_get(const struct mq_headers *, const char *name,
	    size_t *vlen);
int	 mq_headers_check(const struct mq_headers *);
/* a message file's headers, checked; none is a set of length 0 */
int	 mq_headers_read(int fd, struct mq_headers *);
/* MQ_H_ and the name, '-' and '.' as '_' (mq-work(1)) */
int	 mq_header_envname(const char *, size_t, char *, size_t);

/*
 * route.c: routing keys and binding patterns (mq(7) Fan-out): at most
 * MQ_ROUTE_MAX bytes, no control bytes; words between '.', in a pattern
 * "*" one word, "#" zero or more.  The empty key has no words.
 */
#define MQ_ROUTE_MAX	255
int	 mq_route_ok(const char *, size_t);
int	 mq_route_match(const char *pattern, size_t, const char *key, size_t);

/* put.c: producing */
struct mq_putopts {
	int	 prio;
	int64_t	 notbefore;		/* epoch s, 0: ready now */
	int64_t	 delay_ms;		/* > 0: from each message's put */
	int64_t	 ttl_ms;		/* -1: from config */
	const char *key;		/* NULL, or 1 to MQ_KEY_MAX bytes */
	const char *group;		/* NULL, or 1 to MQ_KEY_MAX bytes */
	const struct mq_headers *headers; /* NULL, or a set (copied) */
	const char *dead;		/* NULL, or a reason (1*16 a-z): put
					   straight into dead/ (mq-recv) */
	int	 prepare;		/* into prepared/, not ready (mq-put -P);
					   mq_put_ready hands back handles */
};
struct mq_putter *mq_put_begin(struct mq_queue *, const struct mq_putopts *);
/*
 * Put one message.  0: put; with a key, 1: the key is known, nothing was
 * put, and mq_put_ready hands back the id of the message put with it.
 */
int	 mq_put_fd(struct mq_putter *, int fd);
int	 mq_put_buf(struct mq_putter *, const void *, size_t);
/* Options for the puts to come; what is pending keeps its own. */
int	 mq_put_set(struct mq_putter *, const struct mq_putopts *);
/* Ids of messages now durable (per the sync mode); call after each put. */
size_t	 mq_put_ready(struct mq_putter *, const char ***ids);
int	 mq_put_commit(struct mq_putter *);
int	 mq_put_pending(const struct mq_putter *);
int	 mq_put_end(struct mq_putter *);
/* Messages of a topic that no binding matched, now in its dead/ (so far) */
long long mq_put_unroutable(const struct mq_putter *);
/*
 * After a put to a topic failed: the i-th subscriber (from 0) it failed
 * in, and why; NULL past the last, and at once when it failed as a whole.
 */
const char *mq_put_failure(const struct mq_putter *, size_t i, int *err);

/* sub.c, fanout.c: topics, queues whose puts go to their subscribers (mq(7)) */
/*
 * The first subscriber of a queue that holds messages still to deliver
 * (ready, delayed, in flight) is refused: MQ_ENOTEMPTY, *pending of them.
 * mq_subscribe_check asks the same without subscribing.
 */
int	 mq_subscribe(struct mq_queue *topic, struct mq_queue *queue,
	    const char *pattern, long long *pending);
int	 mq_subscribe_check(struct mq_queue *topic, long long *pending);
int	 mq_unsubscribe(struct mq_queue *topic, const char *queue);
/* names is malloc'd, and each of its names */
int	 mq_subscribers(struct mq_queue *topic, char ***names, size_t *n);
/*
 * A subscriber's bindings: patterns, each ended by '\n', in *buf
 * (malloc'd); NULL for the implicit "#".  An entry not to be trusted:
 * MQ_EUNTRUSTED with the reason in why.
 */
int	 mq_bindings(struct mq_queue *topic, const char *queue, char **buf,
	    size_t *len, char *why, size_t);
/*
 * Remove one binding (owner or root): 0, or 1 when the queue was not bound
 * by it.  Its last binding gone, the queue is no longer a subscriber.
 */
int	 mq_unbind(struct mq_queue *topic, const char *queue,
	    const char *pattern);

/* key.c: the key file of a key, relative to the queue: keys/XX/HASH */
void	 mq_key_path(const char *key, char *, size_t);

/* upkeep.c: promote what is due, return expired leases */
int	 mq_maintain(struct mq_queue *);
/* get.c: consuming */
int	 mq_get(struct mq_queue *, int64_t lease_ms, char *handle, size_t);
/* n more mq_get calls are coming: claim in runs under one lock hold */
void	 mq_get_ahead(struct mq_queue *, size_t n);

/*
 * rate.c: how fast messages are taken (mq-work, mq-forward): the queue's
 * token bucket, shared by all who take from it (rate in mq.conf(5), see
 * Locks in mq(7)), and the process's own (us per token, 0: none).  burst:
 * the most tokens either bucket holds for this process, and so the most
 * starts that may follow each other at once.  mq_rate_take takes up to n
 * tokens: returns how many (1 to n), or 0 and the ms to wait for one, or
 * -1; mq_rate_unused gives back tokens taken and not used.  Without a
 * rate it takes n at once and touches nothing.
 */
void	 mq_rate_set(struct mq_queue *, int64_t us, int burst);
int	 mq_rate_take(struct mq_queue *, int n, int64_t *wait_ms);
int	 mq_rate_unused(struct mq_queue *, int n);

/*
 * admit.c: whether the queue's backlog is at its limit (max_length,
 * max_length_bytes in mq.conf(5)), so that one more message would be
 * refused (MQ_EFULL) or push out the oldest: 1, 0 (no limit: 0), -1.
 */
int	 mq_full(struct mq_queue *);

/* wait.c: sleep until mq_get may find something (1), timeout (0), extrafd (2) */
int	 mq_wait(struct mq_queue *, int64_t timeout_ms, int extrafd);

/* pause.c: a paused queue takes puts and delivers nothing */
int	 mq_pause(struct mq_queue *);
int	 mq_resume(struct mq_queue *);
int	 mq_paused(struct mq_queue *);

/*
 * session.c, handle.c: acting on messages named by path.  A session caches the queues
 * the handles belong to and fsyncs what it changed when it ends.
 */
struct mq_session;
struct mq_session *mq_session_new(const char *spool);
int	 mq_ack(struct mq_session *, const char *handle);
/* n handles, each one's outcome in errs (0 or an errno); -1 if any failed */
int	 mq_ack_many(struct mq_session *, const char *const *handles,
	    size_t n, int *errs);
int	 mq_nack(struct mq_session *, const char *handle, int64_t delay_ms);
int	 mq_reject(struct mq_session *, const char *handle);
/* back to ready, the claim's attempt undone: it was never tried */
int	 mq_unclaim(struct mq_session *, const char *handle);
int	 mq_touch(struct mq_session *, const char *handle, int64_t lease_ms);
int	 mq_kick(struct mq_session *, const char *queue, const char *path);
/* a delayed message ready now, attempts and expiry kept (mq-kick -s) */
int	 mq_kick_delayed_one(struct mq_session *, const char *queue,
	    const char *path);
/* held receives the message's new path, in held/ */
int	 mq_hold(struct mq_session *, const char *handle, char *held, size_t);
int	 mq_release(struct mq_session *, const char *handle);
/*
 * Open the message a path names, in any state, to read (mq-show): the
 * descriptor, and in *msg what the spool says of it.  Nothing is moved
 * or locked.  A message gone from where the path says fails with ESTALE
 * (in flight) or MQ_EMOVED.
 */
struct mq_message {
	char		 queue[MQ_QUEUE_MAX + 1];
	int		 state;
	struct mq_name	 name;
	int64_t		 size;		/* the file's, in bytes */
	int64_t		 lease_end;	/* epoch ms, in flight only; else 0 */
};
int	 mq_open_message(struct mq_session *, const char *path,
	    struct mq_message *);
/*
 * delete a ready, delayed, held, dead or done message by its path; a
 * prepared one is rolled back (its key forgotten at once)
 */
int	 mq_rm(struct mq_session *, const char *path);
/*
 * replay.c: a done message copied back into ready (mq-replay): a new id,
 * the header original-id, no key, 0 attempts; the done message stays.
 * dest NULL: its own queue.  id receives the copy's id.
 */
#define MQ_HDR_ORIGINAL	"original-id"
int	 mq_replay(struct mq_session *, const char *path,
	    struct mq_queue *dest, char id[MQ_ID_LEN + 1]);
/* every done message acked from since to until (epoch s, inclusive) */
int	 mq_replay_all(struct mq_queue *, int64_t since, int64_t until,
	    struct mq_queue *dest, long long *n);
/*
 * Publish a prepared message (mq-commit): to ready, delayed or its
 * group's turn, as a put would have.  MQ_EGONE: it is no longer prepared
 * (rolled back, committed, or dead as unresolved).
 */
int	 mq_commit(struct mq_session *, const char *path);
const struct mq_conferr *mq_session_conferr(const struct mq_session *);
int	 mq_session_sync(struct mq_session *);
int	 mq_session_end(struct mq_session *);

/*
 * transfer.c: moving messages to another queue of the spool (mq-mv),
 * keeping id, key, group, priority, expiry and headers; attempts start
 * again.  A mover lists the ids of dest once (MQ_EMVTOPIC for a topic).
 * A message refused: MQ_EIDCLASH, MQ_EKEYCLASH, MQ_ESAMEQ.
 */
struct mq_mover;
struct mq_mover *mq_move_begin(struct mq_queue *dest);
/* a ready, delayed, held or dead message by its path */
int	 mq_move(struct mq_mover *, struct mq_session *, const char *path);
/* whether mq-mv takes messages from a state: ready, delayed, held, dead */
int	 mq_move_state(int state);
/* every message of such a state; those refused stay */
int	 mq_move_all(struct mq_mover *, struct mq_queue *src, int state,
	    long long *n);
int	 mq_move_end(struct mq_mover *);

/* state.c: whole-state operations */
struct mq_stat {
	long long	 count[MQ_NSTATES];
	long long	 bytes;
	int64_t		 oldest;	/* epoch s of the oldest ready, 0 none */
	long long	 ready_in;	/* times a message was made ready, ever
					   (from the tail records, see mq(7)) */
	int		 paused;	/* mq-pause: delivers nothing */
	/* the backlog limit of mq.conf(5) (0: none), and the count it sees */
	long long	 max_length;
	long long	 max_length_bytes;
	int		 overflow;	/* enum mq_overflow */
	int		 backlog_known;	/* 0: no count kept, or a stale one */
	long long	 backlog, backlog_bytes;
	long long	 done_bytes;	/* of count[MQ_DONE], from its record */
};
typedef int (*mq_walkfn)(const char *path, const struct mq_name *, void *);
int	 mq_walk(struct mq_queue *, int state, mq_walkfn, void *);
int	 mq_stat(struct mq_queue *, struct mq_stat *);
int	 mq_purge(struct mq_queue *, int state, long long *n);
int	 mq_kick_all(struct mq_queue *, long long *n);
int	 mq_kick_delayed(struct mq_queue *, long long *n);
int	 mq_release_all(struct mq_queue *, long long *n);

/*
 * resolve.c: prepared messages whose producer went quiet (mq-resolve).
 * mq_overdue lists the handles of those prepared at least prepare_timeout
 * ago, and not asked about since (*v malloc'd, and each), and in *next the
 * ms until the next one is due (prepare_timeout when none is waiting).
 * mq_ask claims one for this process's checker, or fails with EBUSY when
 * another resolver has it, MQ_EGONE when it is no longer prepared or no
 * longer overdue; mq_ask_end lets it go.  mq_unresolved counts an ask
 * that had no answer: 0, or 1 when it was the prepare_max-th and the
 * message went to dead/ as unresolved.
 */
struct mq_ask;
int	 mq_overdue(struct mq_queue *, char ***v, size_t *n, int64_t *next);
struct mq_ask *mq_ask(struct mq_queue *, const char *handle);
int	 mq_unresolved(struct mq_queue *, struct mq_ask *);
void	 mq_ask_end(struct mq_ask *);

/* fsck.c: check and repair a queue (mq-fsck) */
struct mq_fsck {
	long long	 tmp;		/* stale temporary files removed */
	long long	 leases;	/* expired leases returned */
	long long	 buckets;	/* empty buckets removed */
	long long	 quarantined;	/* foreign entries moved to quarantine/ */
	long long	 groups;	/* stuck ordered groups released */
	long long	 keys;		/* live keys of vanished messages ended */
	long long	 dropped;	/* done messages past retain removed */
};
int	 mq_fsck(struct mq_queue *, int dry, int64_t tmp_age_ms,
	    struct mq_fsck *);

/* error.c: the library's own errno values, and their messages */
#define MQ_ECONFIG	4096	/* errno: bad configuration, see mq_conferr */
#define MQ_EHANDLE	4097	/* errno: not a message of the spool in that state */
#define MQ_ENOQUEUE	4098	/* errno: no such queue */
#define MQ_EMOVED	4099	/* errno: message left that state meanwhile */
#define MQ_EKEYFILE	4100	/* errno: a known key's file holds no id */
#define MQ_EISTOPIC	4101	/* errno: a topic cannot subscribe */
#define MQ_EISSUB	4102	/* errno: a subscriber cannot be a topic */
#define MQ_ENOTEMPTY	4103	/* errno: a queue holds messages to deliver */
#define MQ_ENOTREG	4104	/* errno: not a regular file (mq_openat) */
#define MQ_ERANGE	4110	/* errno: a time or lease no name can hold */
#define MQ_EHEADER	4111	/* errno: a bad header, or set of them */
#define MQ_EHDRDUP	4112	/* errno: a header name given twice */
#define MQ_EHDRSIZE	4113	/* errno: headers too large */
#define MQ_ENOXATTR	4114	/* errno: no extended attributes here */
#define MQ_EPATTERN	4120	/* errno: a bad binding pattern */
#define MQ_EUNTRUSTED	4121	/* errno: bindings not the topic owner's */
#define MQ_EUNROUTABLE	4122	/* errno: no binding matches the key */
#define MQ_EMVTOPIC	4123	/* errno: a topic holds no messages */
#define MQ_EIDCLASH	4124	/* errno: the queue holds that id */
#define MQ_EKEYCLASH	4125	/* errno: the queue knows the key for another */
#define MQ_ESAMEQ	4126	/* errno: in that queue already */
#define MQ_EFULL	4130	/* errno: the queue's backlog is at its limit */
#define MQ_EPREPARED	4131	/* errno: the key's message is prepared */
#define MQ_EGONE	4132	/* errno: no longer prepared */
const char *mq_strerror(int err);

#endif
