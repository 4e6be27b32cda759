/*
 * mq-forward - move a queue's messages into an AMQP 0-9-1 broker.
 *
 * Store and forward: a message leaves the local queue only once the broker
 * has confirmed it (publisher confirms) and has not returned it (mandatory),
 * so the spool is the durable buffer while the broker is away.  Up to
 * -j publishes are unconfirmed at once; they sit in a ring in publish
 * order, which is delivery-tag order, so a "multiple" confirm settles a
 * prefix.  Anything unconfirmed when the connection goes is given back
 * without counting an attempt: the worst case is a duplicate, which the
 * far side can drop by its message-id, the mq id.
 */
#include <sys/stat.h>
#include <sys/time.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
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

#define WINDOW_DEFAULT	64
#define CONFIRM_TIMEOUT	30000	/* ms: a broker this slow to confirm is lost */
#define STOP_WAIT	5000	/* ms: for confirms after a stop signal */
#define IDLE_WAKE	1000	/* ms: look at signals and heartbeats */
#define SYNC_EVERY	200	/* ms: the most a local ack waits to be synced */

struct pend {
	char	*handle;	/* NULL: settled */
	char	 id[MQ_ID_LEN + 1];
	int64_t	 sent;		/* monotonic ms */
	int64_t	 touched;	/* of the lease */
	char	*returned;	/* why the broker returned it, or NULL */
	char	 rkey[256];	/* it was published with */
};

static struct peer peer;
static struct mq_session *sess;
static struct pend *ring;
static size_t window = 0, head, nring, unsettled;
static uint64_t basetag;	/* the delivery tag of ring[head] */
static const char *exchange, *rkey;
static int64_t lease;
static int verbose, byheader;
static long long failed;	/* returned or nacked by the broker */
static long long buried;	/* dead-lettered: never to be forwarded */
static int acked;		/* settled since the last sync */

static void __attribute__((noreturn))
usage(int help)
{
	usage_exit(help, "[-erv] [-d dir] [-j window] [-L lease] "
	    "[-P passfile] [-t timeout]\n"
	    "       queue [url exchange [routing-key]]");
}

static struct pend *
at(uint64_t tag)
{
	if (tag < basetag || tag >= basetag + nring)
		return NULL;
	return &ring[(head + (tag - basetag)) % window];
}

/* Settle one: ok means confirmed. */
static void
settle(struct pend *e, int ok)
{
	int r;

	if (e->handle == NULL)
		return;
	if (ok && e->returned == NULL) {
		if ((r = mq_ack(sess, e->handle)) == 0 && verbose)
			fprintf(stderr, "%s: %s forwarded\n", getprogname(),
			    e->id);
	} else {
		if (ok)
			warnx("%s: returned by broker: %s (exchange '%s', "
			    "routing key '%s')", e->id, e->returned, exchange,
			    e->rkey);
		else
			warnx("%s: nacked by broker", e->id);
		failed++;
		r = mq_nack(sess, e->handle, -1);
	}
	/* a lost lease: someone else has it now, and will send it again */
	if (r == -1)
		warnx("%s: %s", e->id, mq_strerror(errno));
	free(e->handle);
	free(e->returned);
	e->handle = e->returned = NULL;
	unsettled--;
}

static void
pop_settled(void)
{
	while (nring > 0 && ring[head].handle == NULL) {
		head = (head + 1) % window;
		nring--;
		basetag++;
	}
}

static void
confirm(uint64_t tag, int multiple, int ok)
{
	struct pend *e;
	uint64_t t;

	if (multiple) {
		for (t = basetag; t <= tag && (e = at(t)) != NULL; t++)
			settle(e, ok);
	} else if ((e = at(tag)) != NULL)
		settle(e, ok);
	pop_settled();
}

/* The connection is gone: give back what it did not confirm. */
static void
lost(void)
{
	struct pend *e;
	size_t i;

	for (i = 0; i < nring; i++) {
		e = &ring[(head + i) % window];
		if (e->handle == NULL)
			continue;
		if (mq_unclaim(sess, e->handle) == -1)
			warnx("%s: cannot give back: %s", e->id,
			    mq_strerror(errno));
		free(e->handle);
		free(e->returned);
		e->handle = e->returned = NULL;
	}
	nring = unsettled = 0;
	head = 0;
	basetag = 1;
	peer_close(&peer, 0);
	if (mq_session_sync(sess) == -1)
		warnx("cannot sync spool: %s", mq_strerror(errno));
}

/* basic.return: mark the message it names (by message-id) returned. */
static int
returned(amqp_frame_t *f)
{
	amqp_basic_return_t *m = f->payload.method.decoded;
	amqp_message_t msg;
	amqp_bytes_t mid;
	char why[300];
	size_t i;
	struct pend *e;

	peer_reply(why, sizeof(why), m->reply_code, m->reply_text);
	if (peer_fail(&peer, "connection lost", amqp_read_message(peer.conn,
	    f->channel, &msg, 0)) == -1)
		return -1;
	mid = msg.properties.message_id;
	for (i = 0; i < nring; i++) {
		e = &ring[(head + i) % window];
		if (e->handle != NULL && e->returned == NULL &&
		    (msg.properties._flags & AMQP_BASIC_MESSAGE_ID_FLAG) &&
		    mid.len == strlen(e->id) &&
		    memcmp(mid.bytes, e->id, mid.len) == 0) {
			e->returned = strdup(why);
			if (e->returned == NULL)
				err(MQ_EX_TEMPFAIL, NULL);
			break;
		}
	}
	amqp_destroy_message(&msg);
	return 0;
}

/*
 * Read what the broker sent: confirms, returns, a close.  Waits up to ms
 * for the first frame.  Returns 0, or -1 when the connection is lost.
 */
static int
pump(int64_t ms)
{
	struct timeval tv;
	amqp_frame_t f;
	int r, settled = 0;

	for (;;) {
		tv.tv_sec = ms / 1000;
		tv.tv_usec = (ms % 1000) * 1000;
		r = amqp_simple_wait_frame_noblock(peer.conn, &f, &tv);
		ms = 0;
		if (r == AMQP_STATUS_TIMEOUT)
			break;
		if (r != AMQP_STATUS_OK)
			return peer_fail_status(&peer, "connection lost", r);
		if (f.frame_type != AMQP_FRAME_METHOD)
			continue;
		switch (f.payload.method.id) {
		case AMQP_BASIC_ACK_METHOD: {
			amqp_basic_ack_t *a = f.payload.method.decoded;

			confirm(a->delivery_tag, a->multiple, 1);
			settled = 1;
			break;
		}
		case AMQP_BASIC_NACK_METHOD: {
			amqp_basic_nack_t *n = f.payload.method.decoded;

			confirm(n->delivery_tag, n->multiple, 0);
			settled = 1;
			break;
		}
		case AMQP_BASIC_RETURN_METHOD:
			if (returned(&f) == -1)
				return -1;
			break;
		case AMQP_CHANNEL_CLOSE_METHOD:
		case AMQP_CONNECTION_CLOSE_METHOD:
			return peer_closed(&peer, &f);
		}
		amqp_maybe_release_buffers(peer.conn);
	}
	if (settled)
		acked = 1;
	return 0;
}

/*
 * Make the local acks durable, at most every SYNC_EVERY: a lost ack is
 * a message sent twice, which the far side drops by its id, while an
 * fsync after every burst of confirms halves the throughput.
 */
static void
sync_acks(int now)
{
	static int64_t last;
	int64_t t = mono_ms();

	if (!acked || (!now && t - last < SYNC_EVERY))
		return;
	if (mq_session_sync(sess) == -1)
		warnx("cannot sync spool: %s", mq_strerror(errno));
	acked = 0;
	last = t;
}

/*
 * Read a claimed message's body into *buf, its headers into *h.  Returns
 * the body's length or -1.
 */
static ssize_t
slurp(const char *handle, char **buf, size_t *cap, struct mq_headers *h)
{
	struct stat st;
	size_t len = 0;
	ssize_t n;
	int fd, saved;

	/* a FIFO swapped in since the claim is refused, not waited on */
	if ((fd = mq_openat(AT_FDCWD, handle, O_RDONLY, 0)) == -1)
		return -1;
	if (fstat(fd, &st) == -1 || mq_headers_read(fd, h) == -1)
		goto fail;
	if ((size_t)st.st_size + 1 > *cap) {
		char *b = realloc(*buf, (size_t)st.st_size + 1);

		if (b == NULL)
			goto fail;
		*buf = b;
		*cap = (size_t)st.st_size + 1;
	}
	/* a message's file never changes: st_size is all there is */
	while (len < (size_t)st.st_size &&
	    (n = read(fd, *buf + len, *cap - len)) != 0) {
		if (n == -1) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		len += (size_t)n;
	}
	close(fd);
	return (ssize_t)len;
fail:
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

/* Dead-letter a message no broker should get, rather than block the queue. */
static int
bury(const char *handle, const char *id, const char *why)
{
	warnx("%s: not forwarded, dead-lettered: %s", id, why);
	buried++;
	if (mq_reject(sess, handle) == -1)
		warnx("%s: %s", id, mq_strerror(errno));
	return 0;
}

/* Publish a claimed message; -1 when the connection is lost. */
static int
publish(const char *handle, char **buf, size_t *cap)
{
	static struct mq_headers h;
	static struct envelope_out o;
	amqp_basic_properties_t pr;
	amqp_bytes_t key;
	struct mq_name m;
	char why[512];
	struct pend *e;
	char expiration[24];
	int64_t left;
	ssize_t len;
	int r, saved;

	if (mq_handle_name(handle, &m) == -1)
		errx(MQ_EX_DATAERR, "%s: bad handle", handle);
	if ((len = slurp(handle, buf, cap, &h)) == -1) {
		saved = errno;
		warnx("%s: cannot read: %s", m.id, mq_strerror(saved));
		/* a set of headers no reader takes is no better next time */
		if (saved == MQ_EHEADER)
			return bury(handle, m.id, "bad headers");
		/* gone, or no message mq made: there is nothing to nack */
		if (saved != ENOENT && saved != MQ_ENOTREG &&
		    mq_nack(sess, handle, -1) == -1)
			warnx("%s: %s", m.id, mq_strerror(errno));
		return 0;
	}
	memset(&pr, 0, sizeof(pr));
	/* the broker would take it no better next time: not a retry */
	if (envelope_out(&h, byheader, &pr, &o, why, sizeof(why)) == -1)
		return bury(handle, m.id, why);
	key = o.rkey != NULL ? *o.rkey : amqp_cstring_bytes(rkey);
	pr._flags |= AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_MESSAGE_ID_FLAG |
	    AMQP_BASIC_PRIORITY_FLAG | AMQP_BASIC_TIMESTAMP_FLAG |
	    AMQP_BASIC_APP_ID_FLAG;
	pr.delivery_mode = AMQP_DELIVERY_PERSISTENT;
	pr.message_id = amqp_cstring_bytes(m.id);
	pr.priority = (uint8_t)m.prio;
	pr.timestamp = (uint64_t)mq_id_time(m.id);
	pr.app_id = amqp_cstring_bytes("mq");
	if (m.expiry > 0) {
		/* the ttl left: the broker drops it when the time is up */
		left = m.expiry * 1000 - mq_now_ms();
		snprintf(expiration, sizeof(expiration), "%lld",
		    (long long)(left > 0 ? left : 0));
		pr.expiration = amqp_cstring_bytes(expiration);
		pr._flags |= AMQP_BASIC_EXPIRATION_FLAG;
	}
	e = &ring[(head + nring) % window];
	if ((e->handle = strdup(handle)) == NULL)
		err(MQ_EX_TEMPFAIL, NULL);
	strlcpy(e->id, m.id, sizeof(e->id));
	e->sent = e->touched = mono_ms();
	e->returned = NULL;
	snprintf(e->rkey, sizeof(e->rkey), "%.*s", (int)key.len,
	    (const char *)key.bytes);
	nring++;
	unsettled++;
	r = amqp_basic_publish(peer.conn, PEER_CHANNEL,
	    amqp_cstring_bytes(exchange), key, 1, 0, &pr,
	    (amqp_bytes_t){ (size_t)len, *buf });
	if (r != AMQP_STATUS_OK)
		return peer_fail_status(&peer, "connection lost", r);
	return 0;
}

/* Renew leases a third of the way through; a stuck confirm is a lost link. */
static int
upkeep(void)
{
	int64_t now = mono_ms();
	struct pend *e;
	size_t i;

	for (i = 0; i < nring; i++) {
		e = &ring[(head + i) % window];
		if (e->handle == NULL)
			continue;
		if (now - e->sent >= CONFIRM_TIMEOUT) {
			snprintf(peer.why, sizeof(peer.why), "no confirm in "
			    "%d s", CONFIRM_TIMEOUT / 1000);
			peer.fault = PEER_DOWN;
			return -1;
		}
		if (now - e->touched >= lease / 3) {
			if (mq_touch(sess, e->handle, lease) == -1)
				warnx("%s: cannot renew lease: %s", e->id,
				    mq_strerror(errno));
			e->touched = now;
		}
	}
	return 0;
}

/* Connect, and check that the exchange is there.  0 or -1. */
static int
connect_peer(void)
{
	if (peer_connect(&peer, 1) == -1)
		return -1;
	if (exchange[0] != '\0') {
		amqp_exchange_declare(peer.conn, PEER_CHANNEL,
		    amqp_cstring_bytes(exchange), amqp_cstring_bytes("direct"),
		    1, 0, 0, 0, amqp_empty_table);
		if (peer_fail(&peer, "cannot use exchange",
		    amqp_get_rpc_reply(peer.conn))
		    == -1) {
			peer_close(&peer, 0);
			return -1;
		}
	}
	basetag = 1;
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
	char spool[PATH_MAX], handle[PATH_MAX], *buf = NULL;
	struct mq_queue *q;
	const struct bridge *b;
	const char *dir = NULL, *passfile = NULL, *e, *url = NULL;
	int64_t timeout = 60000, now, ratewait, ms;
	int64_t stopat = -1;
	size_t cap = 0;
	int ch, drain = 0, empty, r, status = 0;

	peer_signals();

	while ((ch = getopt_long(argc, argv, "L:P:Vd:ehj:rt:v", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'L':
			if (mq_parse_lease(optarg, &lease) == -1)
				errx(MQ_EX_USAGE, "%s: bad lease", optarg);
			break;
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
		case 'j':
			window = strtonum(optarg, 1, 65535, &e);
			if (e != NULL)
				errx(MQ_EX_USAGE, "window %s: %s", optarg, e);
			break;
		case 'r':
			byheader = 1;
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
	if (argc != 1 && argc != 3 && argc != 4)
		usage(0);
	spool_path(dir, spool, sizeof(spool));
	q = bridge_open(spool, argv[0], 1, &b);
	if (argc >= 3) {
		url = argv[1];
		exchange = argv[2];
		rkey = argc == 4 ? argv[3] : NULL;
	} else {
		if (b->url[0] == '\0')
			errx(MQ_EX_USAGE, "%s: no broker url: give one, or set "
			    "url in [forward] of its mq.conf", argv[0]);
		if (!b->exchange_set)
			errx(MQ_EX_USAGE, "%s: no exchange: give one, or set "
			    "exchange in [forward] of its mq.conf", argv[0]);
		exchange = b->exchange;
	}
	if (rkey == NULL)
		rkey = b->routing_key[0] != '\0' ? b->routing_key : argv[0];
	if (b->routing_header)
		byheader = 1;
	if (peer_init(&peer, url, url != NULL, b, passfile) == -1)
		errx(peer_init_status(&peer, url != NULL), "%s", peer.why);
	if (window == 0)
		window = b->window > 0 ? (size_t)b->window : WINDOW_DEFAULT;
	if (lease == 0)
		lease = mq_queue_conf(q)->lease_ms;
	/* rate in mq.conf: one publish at a time, one late made up */
	mq_rate_set(q, 0, 2);
	if ((sess = mq_session_new(spool)) == NULL ||
	    (ring = calloc(window, sizeof(*ring))) == NULL)
		err(MQ_EX_TEMPFAIL, NULL);

	for (;;) {
		now = mono_ms();
		if (peer_stop && stopat < 0)
			stopat = now + STOP_WAIT;
		if (stopat >= 0 && (unsettled == 0 || now >= stopat ||
		    peer.conn == NULL))
			break;
		if (peer.conn == NULL) {
			if (!peer_wait(&peer))
				continue;
			if (connect_peer() == -1) {
				peer_down(&peer);
				if (drain && peer_hopeless(&peer, timeout)) {
					status = MQ_EX_UNAVAILABLE;
					break;
				}
				continue;
			}
			peer_up(&peer);
		}
		/* claim and publish while the window has room */
		empty = 0;
		r = 0;
		ratewait = 0;
		while (stopat < 0 && nring < window) {
			if ((r = mq_rate_take(q, 1, &ratewait)) <= 0) {
				if (r == -1) {
					warnx("%s: cannot take from its rate: "
					    "%s", argv[0], mq_strerror(errno));
					status = mq_exit_status(errno);
				}
				break;
			}
			/* under a rate, claim no more than the token taken */
			mq_get_ahead(q, mq_queue_conf(q)->rate_us > 0 ? 1 :
			    window - nring);
			if ((r = mq_get(q, lease, handle, sizeof(handle))) ==
			    -1) {
				warnx("%s: cannot claim: %s", argv[0],
				    mq_strerror(errno));
				status = mq_exit_status(errno);
				break;
			}
			if (r == 0) {
				empty = 1;
				mq_rate_unused(q, 1);
				break;
			}
			if ((r = publish(handle, &buf, &cap)) == -1)
				break;
			/* take in confirms as they come: keeps the ring short */
			if (nring % 16 == 0 && (r = pump(0)) == -1)
				break;
		}
		if (status != 0)
			break;
		/* a full window, or nothing more to send: wait for confirms */
		ms = unsettled > 0 && (empty || nring == window ||
		    stopat >= 0) ? IDLE_WAKE / 4 : 0;
		/* held back by the rate: wait for it, confirms or not */
		if (ratewait > 0 && (ms == 0 || ratewait < ms))
			ms = ratewait;
		if (r != -1)
			r = pump(ms);
		if (r != -1)
			r = upkeep();
		if (r == -1) {
			lost();
			peer_down(&peer);
			if (drain && peer_hopeless(&peer, timeout)) {
				status = MQ_EX_UNAVAILABLE;
				break;
			}
			continue;
		}
		if (unsettled == 0)
			peer_ok(&peer);
		/* before sleeping, or now and then while busy */
		sync_acks(empty && unsettled == 0);
		if (empty && unsettled == 0) {
			if (drain)
				break;
			/* nothing to do: sleep in inotify and on the socket */
			r = mq_wait(q, IDLE_WAKE, amqp_get_sockfd(peer.conn));
			if (r == -1 && errno != EINTR) {
				warnx("%s: cannot wait: %s", argv[0],
				    mq_strerror(errno));
				status = mq_exit_status(errno);
				break;
			}
		}
	}
	if (unsettled > 0) {
		/* stopped before the broker confirmed them */
		lost();
		if (status == 0)
			status = MQ_EX_TEMPFAIL;
	}
	peer_close(&peer, 1);
	free(buf);
	mq_queue_close(q);
	if (mq_session_end(sess) == -1) {
		warnx("cannot sync spool: %s", mq_strerror(errno));
		if (status == 0)
			status = mq_exit_status(errno);
	}
	if (buried > 0) {
		warnx("%s: %lld message%s dead-lettered", argv[0], buried,
		    buried == 1 ? "" : "s");
		if (status == 0)
			status = MQ_EX_DATAERR;
	}
	if (status == 0 && failed > 0) {
		warnx("%s: %lld message%s not forwarded, left in the queue",
		    argv[0], failed, failed == 1 ? "" : "s");
		status = drain ? MQ_EX_NONE : 0;
	}
	return status;
}
