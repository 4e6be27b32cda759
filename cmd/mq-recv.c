/*
 * mq-recv - move an AMQP 0-9-1 broker queue's messages into a local queue.
 *
 * It consumes with manual acks and acks to the broker only once the local
 * put is durable, so a crash anywhere leaves each message in the broker,
 * in the spool, or both.  Both becomes one again through the dedup key:
 * the AMQP message-id (the mq id, when mq-forward sent it) is the put's
 * key, and a redelivered message finds its key known.  Messages are put in
 * batches of what has arrived (until none comes for LINGER, or a prefetch's
 * worth is in), made durable together and acked with one "multiple" ack.
 */
#include <sys/time.h>

#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <amqp.h>

#include "mq.h"
#include "tool.h"
#include "amqp.h"

#define PREFETCH_DEFAULT 64
#define IDLE_WAKE	250	/* ms: commit what came, look at signals */
#define LINGER		3	/* ms: a group waits this long for more */

static struct peer peer;
static struct mq_putter *put;
static const char *qname, *aqueue;
static uint64_t lasttag;	/* the last delivery put, not yet acked */
static long long batch, total, dead;
/* the deliveries handed to the putter since the last ack, and how many
 * of them are in (their ids handed back): so a full queue acks those */
static uint64_t *tags;
static size_t ntags, captags;
static long long nin;
static int verbose;

static void __attribute__((noreturn))
usage(int help)
{
	usage_exit(help, "[-ev] [-d dir] [-n max] [-p prefetch] "
	    "[-P passfile] [-t timeout]\n"
	    "       [url amqp-queue] queue");
}

/*
 * For -v: the message-ids of the puts whose ids are not out yet (with
 * sync=batch, a whole batch's), in put order, which is the order the ids
 * come out in.
 */
static char **mids;
static size_t nmids, capmids;

static void
remember(const char *mid)
{
	if (!verbose)
		return;
	if (nmids == capmids) {
		size_t cap = capmids == 0 ? 64 : capmids * 2;
		char **m = reallocarray(mids, cap, sizeof(*mids));

		if (m == NULL)
			err(MQ_EX_TEMPFAIL, NULL);
		mids = m;
		capmids = cap;
	}
	if ((mids[nmids++] = strdup(mid != NULL ? mid : "(no message-id)")) ==
	    NULL)
		err(MQ_EX_TEMPFAIL, NULL);
}

/* Print the ids the puts so far made durable, for -v; dup: the last was. */
static void
tell(int dup)
{
	const char **ids;
	size_t n, i;

	n = mq_put_ready(put, &ids);
	nin += (long long)n;
	if (!verbose)
		return;
	for (i = 0; i < n && i < nmids; i++) {
		if (dup && i == n - 1)
			fprintf(stderr, "%s: %s: duplicate of %s\n",
			    getprogname(), mids[i], ids[i]);
		else
			fprintf(stderr, "%s: %s -> %s\n", getprogname(),
			    mids[i], ids[i]);
	}
	/* those told go; the rest wait for their ids */
	for (i = 0; i < n && i < nmids; i++)
		free(mids[i]);
	memmove(mids, mids + i, (nmids - i) * sizeof(*mids));
	nmids -= i;
}

/*
 * Make the batch durable, then ack it to the broker.  Returns 0, -1 when
 * the put failed (errno), or -2 when the connection is lost.
 */
static int
commit(void)
{
	int r;

	if (batch == 0)
		return 0;
	if (mq_put_commit(put) == -1)
		return -1;
	tell(0);
	if ((r = amqp_basic_ack(peer.conn, PEER_CHANNEL, lasttag, 1)) !=
	    AMQP_STATUS_OK) {
		peer_fail_status(&peer, "connection lost", r);
		return -2;
	}
	batch = 0;
	ntags = 0;
	nin = 0;
	return 0;
}

/*
 * The local queue is full (MQ_EFULL, max_length in mq.conf(5)): what went
 * in is acked, the rest given back to the broker by closing the
 * connection, and nothing more is taken until the queue has room.  The
 * broker keeps what the spool cannot: nothing is dropped, and mq-recv
 * does not exit.
 */
static void
full(struct mq_queue *q)
{
	struct timespec ts = { 0, 250 * 1000000 };
	int r;

	tell(0);
	if (peer.conn != NULL && nin > 0 && (size_t)nin <= ntags)
		amqp_basic_ack(peer.conn, PEER_CHANNEL, tags[nin - 1], 1);
	peer_close(&peer, 1);
	batch = ntags = 0;
	nin = 0;
	warnx("%s: queue full: waiting for room; the broker keeps the rest",
	    qname);
	while (!peer_stop && (r = mq_full(q)) == 1)
		nanosleep(&ts, NULL);
	if (!peer_stop && r == -1)
		warn("%s: cannot count the backlog", qname);
}

/* Put one delivery.  Returns 0, or -1 when the put failed (errno). */
static int
deliver(amqp_envelope_t *env)
{
	amqp_basic_properties_t *pr = &env->message.properties;
	static struct mq_headers h;
	struct mq_putopts o;
	char mid[MQ_KEY_MAX + 1], exp[24], why[1024], *v;
	int64_t ms;
	int r;

	memset(&o, 0, sizeof(o));
	o.prio = MQ_PRIORITY_DEFAULT;
	o.ttl_ms = -1;
	if (pr->_flags & AMQP_BASIC_PRIORITY_FLAG)
		o.prio = pr->priority > MQ_PRIORITY_MAX ? MQ_PRIORITY_MAX :
		    pr->priority;
	/* milliseconds in decimal, by the broker's rules */
	if ((pr->_flags & AMQP_BASIC_EXPIRATION_FLAG) &&
	    pr->expiration.len > 0 && pr->expiration.len < sizeof(exp) - 2) {
		memcpy(exp, pr->expiration.bytes, pr->expiration.len);
		strlcpy(exp + pr->expiration.len, "ms", 3);
		/* digits only (a NUL stops strspn short); a ttl of 0 would
		 * mean none: 1 ms is as good as gone */
		if (strspn(exp, "0123456789") == pr->expiration.len &&
		    mq_parse_duration(exp, &ms) == 0)
			o.ttl_ms = ms > 0 ? ms : 1;
	}
	mid[0] = '\0';
	if ((pr->_flags & AMQP_BASIC_MESSAGE_ID_FLAG) &&
	    pr->message_id.len > 0 && pr->message_id.len <= MQ_KEY_MAX &&
	    memchr(pr->message_id.bytes, '\0', pr->message_id.len) == NULL) {
		memcpy(mid, pr->message_id.bytes, pr->message_id.len);
		mid[pr->message_id.len] = '\0';
		o.key = mid;
	}
	/* kept whole, but out of delivery: what it says is not all there */
	if (envelope_in(env, &h, why, sizeof(why)) == -1) {
		v = visible(mid, strlen(mid));
		warnx("%s: %s: dead-lettered: %s", qname, o.key != NULL ? v :
		    "(no message-id)", why);
		free(v);
		o.dead = DEAD_HEADERS;
		dead++;
	}
	o.headers = &h;
	if (mq_put_set(put, &o) == -1)
		return -1;
	if (ntags == captags) {
		size_t cap = captags == 0 ? 64 : captags * 2;
		uint64_t *t = reallocarray(tags, cap, sizeof(*tags));

		if (t == NULL)
			return -1;
		tags = t;
		captags = cap;
	}
	tags[ntags++] = env->delivery_tag;
	if ((r = mq_put_buf(put, env->message.body.bytes,
	    env->message.body.len)) == -1)
		return -1;
	/* durable now with sync=full, at the commit with sync=batch */
	remember(o.key != NULL ? mid : NULL);
	tell(r == 1);
	lasttag = env->delivery_tag;
	batch++;
	total++;
	return 0;
}

/* Connect and start consuming.  0 or -1. */
static int
start(int prefetch)
{
	if (peer_connect(&peer, 0) == -1)
		return -1;
	amqp_basic_qos(peer.conn, PEER_CHANNEL, 0, (uint16_t)prefetch, 0);
	if (peer_fail(&peer, "cannot set prefetch",
	    amqp_get_rpc_reply(peer.conn)) == -1)
		goto fail;
	amqp_basic_consume(peer.conn, PEER_CHANNEL, amqp_cstring_bytes(aqueue),
	    amqp_empty_bytes, 0, 0, 0, amqp_empty_table);
	if (peer_fail(&peer, "cannot consume", amqp_get_rpc_reply(peer.conn))
	    == -1)
		goto fail;
	return 0;
fail:
	peer_close(&peer, 0);
	return -1;
}

/* Messages ready in the broker's queue, or -1 when the connection fails. */
static long long
ready(void)
{
	amqp_queue_declare_ok_t *ok;

	ok = amqp_queue_declare(peer.conn, PEER_CHANNEL,
	    amqp_cstring_bytes(aqueue), 1, 0, 0, 0, amqp_empty_table);
	if (ok == NULL) {
		peer_fail(&peer, "cannot count", amqp_get_rpc_reply(peer.conn));
		return -1;
	}
	return ok->message_count;
}

/*
 * Wait up to ms for a delivery and put it.  Returns 1: one was put, 0:
 * none came, -1: the put failed (errno), -2: the connection is lost.
 */
static int
receive(int64_t ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	amqp_envelope_t env;
	amqp_rpc_reply_t res;
	amqp_frame_t f;
	int r;

	amqp_maybe_release_buffers(peer.conn);
	res = amqp_consume_message(peer.conn, &env, &tv, 0);
	if (res.reply_type == AMQP_RESPONSE_NORMAL) {
		r = deliver(&env);
		amqp_destroy_envelope(&env);
		return r == -1 ? -1 : 1;
	}
	if (res.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
	    res.library_error == AMQP_STATUS_TIMEOUT)
		return 0;
	if (res.reply_type != AMQP_RESPONSE_LIBRARY_EXCEPTION ||
	    res.library_error != AMQP_STATUS_UNEXPECTED_STATE) {
		peer_fail(&peer, "connection lost", res);
		return -2;
	}
	/* not a delivery: a close, or something to pass over */
	if ((r = amqp_simple_wait_frame(peer.conn, &f)) != AMQP_STATUS_OK) {
		peer_fail_status(&peer, "connection lost", r);
		return -2;
	}
	if (f.frame_type == AMQP_FRAME_METHOD &&
	    (f.payload.method.id == AMQP_CHANNEL_CLOSE_METHOD ||
	    f.payload.method.id == AMQP_CONNECTION_CLOSE_METHOD)) {
		peer_closed(&peer, &f);
		return -2;
	}
	if (f.frame_type == AMQP_FRAME_METHOD &&
	    f.payload.method.id == AMQP_BASIC_CANCEL_METHOD) {
		snprintf(peer.why, sizeof(peer.why), "%s: consumer cancelled "
		    "by broker (queue deleted?)", aqueue);
		peer.fault = PEER_DOWN;
		return -2;
	}
	return 0;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "drain", no_argument, NULL, 'e' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	char spool[PATH_MAX];
	struct mq_queue *q;
	struct mq_putopts o;
	const struct bridge *b;
	const char *dir = NULL, *passfile = NULL, *e, *url = NULL;
	int64_t timeout = 60000;
	long long max = 0, n;
	int ch, drain = 0, prefetch = 0, r, status = 0, saved, idle;

	peer_signals();

	while ((ch = getopt_long(argc, argv, "P:Vd:ehn:p:t:v", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'P':
			passfile = optarg;
			break;
		case 'V':
			version();
		case 'd':
			dir = optarg;
			break;
		case 'e':
			drain = 1;
			break;
		case 'h':
			usage(1);
		case 'n':
			max = strtonum(optarg, 1, LLONG_MAX, &e);
			if (e != NULL)
				errx(MQ_EX_USAGE, "max %s: %s", optarg, e);
			break;
		case 'p':
			prefetch = (int)strtonum(optarg, 1, 65535, &e);
			if (e != NULL)
				errx(MQ_EX_USAGE, "prefetch %s: %s", optarg, e);
			break;
		case 't':
			if (mq_parse_duration(optarg, &timeout) == -1)
				errx(MQ_EX_USAGE, "%s: bad timeout", optarg);
			break;
		case 'v':
			verbose = 1;
			break;
		default:
			usage(0);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 1 && argc != 3)
		usage(0);
	qname = argv[argc - 1];
	spool_path(dir, spool, sizeof(spool));
	q = bridge_open(spool, qname, 0, &b);
	if (argc == 3) {
		url = argv[0];
		aqueue = argv[1];
	} else {
		if (b->url[0] == '\0')
			errx(MQ_EX_USAGE, "%s: no broker url: give one, or set "
			    "url in [recv] of its mq.conf", qname);
		if (b->queue[0] == '\0')
			errx(MQ_EX_USAGE, "%s: no broker queue: give one, or "
			    "set queue in [recv] of its mq.conf", qname);
		aqueue = b->queue;
	}
	if (peer_init(&peer, url, url != NULL, b, passfile) == -1)
		errx(peer_init_status(&peer, url != NULL), "%s", peer.why);
	if (prefetch == 0)
		prefetch = b->prefetch > 0 ? b->prefetch : PREFETCH_DEFAULT;
	/* with -n, take no more than will be put */
	if (max > 0 && max < prefetch)
		prefetch = (int)max;
	memset(&o, 0, sizeof(o));
	o.prio = MQ_PRIORITY_DEFAULT;
	o.ttl_ms = -1;
	if ((put = mq_put_begin(q, &o)) == NULL)
		err(MQ_EX_TEMPFAIL, NULL);

	while (!peer_stop && (max == 0 || total < max)) {
		if (peer.conn == NULL) {
			if (!peer_wait(&peer))
				continue;
			if (start(prefetch) == 0) {
				peer_up(&peer);
				peer_ok(&peer);
				continue;
			}
			peer_down(&peer);
			if (drain && peer_hopeless(&peer, timeout)) {
				status = MQ_EX_UNAVAILABLE;
				break;
			}
			continue;
		}
		/*
		 * Take what comes, up to a prefetch's worth, until none has
		 * come for LINGER; then commit.  The broker sends a window's
		 * worth in bursts: committing at the first gap between them
		 * made groups of two thirds of the window, each paying the
		 * commit's three journal commits.
		 */
		idle = batch == 0;
		r = receive(idle ? IDLE_WAKE : LINGER);
		if (r == 1 && batch < prefetch && (max == 0 || total < max))
			continue;
		/* the local queue full: wait for room, the broker keeps it */
		if (r == -1 && errno == MQ_EFULL) {
			full(q);
			continue;
		}
		if (r == -1) {
			saved = errno;
			warnx("%s: cannot put: %s", qname, mq_strerror(saved));
			status = mq_exit_status(saved);
			/* what was put before it is made durable and acked */
			if (commit() == -1)
				warnx("%s: cannot put: %s", qname,
				    mq_strerror(errno));
			break;
		}
		if (r != -2 && (r = commit()) == -1 && errno == MQ_EFULL) {
			full(q);
			continue;
		}
		if (r == -1) {
			saved = errno;
			warnx("%s: cannot put: %s", qname, mq_strerror(saved));
			status = mq_exit_status(saved);
			break;
		}
		/*
		 * Drained: all acked, nothing came for a while, and none
		 * ready in the broker (what is on its way to us is not).
		 */
		if (r == 0 && idle && drain && !peer_stop) {
			if ((n = ready()) == 0)
				break;
			if (n < 0)
				r = -2;
		}
		if (r == -2) {
			/* the broker gives the unacked to someone, maybe us */
			peer_down(&peer);
			batch = 0;
			if (drain && peer_hopeless(&peer, timeout)) {
				status = MQ_EX_UNAVAILABLE;
				break;
			}
		}
	}
	/* -n met or a signal: what came is put and acked first */
	if (status == 0 && peer.conn != NULL && commit() == -1) {
		warnx("%s: cannot put: %s", qname, mq_strerror(errno));
		status = mq_exit_status(errno);
	}
	if (mq_put_end(put) == -1 && status == 0) {
		warnx("%s: cannot put: %s", qname, mq_strerror(errno));
		status = mq_exit_status(errno);
	}
	/* closing gives back anything received and not acked */
	peer_close(&peer, 1);
	mq_queue_close(q);
	if (dead > 0) {
		warnx("%s: %lld message%s dead-lettered", qname, dead,
		    dead == 1 ? "" : "s");
		if (status == 0)
			status = MQ_EX_DATAERR;
	}
	return status;
}
