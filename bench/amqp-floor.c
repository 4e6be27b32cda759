/*
 * amqp-floor - what mq-forward and mq-recv do, minus the spool, written
 * directly on librabbitmq (the broker's own C client): the yardstick of
 * rows 7a and 7b of bench/run.
 *
 *   amqp-floor publish URL QUEUE N SIZE WINDOW [noid]
 *	N persistent messages (delivery_mode 2) of SIZE bytes, mandatory,
 *	to the default exchange "" with QUEUE as routing key, on a channel
 *	in confirm mode, with up to WINDOW publishes unconfirmed: publish
 *	while the window has room, then read basic.ack/nack/return frames
 *	(amqp_simple_wait_frame_noblock), a multiple ack settling a prefix.
 *	The properties are mq-forward's: a 26-byte message-id (unless
 *	"noid"), priority, timestamp, app_id.  Exit 1 if any message was
 *	returned or nacked.
 *   amqp-floor consume URL QUEUE N PREFETCH
 *	consume N messages with manual acks and basic.qos PREFETCH, acking
 *	with one "multiple" ack per batch: what has arrived, up to PREFETCH
 *	messages (mq-recv's batching, without the puts).
 *   amqp-floor declare URL QUEUE	declare a durable queue
 *   amqp-floor count URL QUEUE		print its ready messages
 *   amqp-floor purge URL QUEUE		drop its ready messages
 *
 * The password is the URL's, else $MQ_AMQP_PASSWORD, else "guest".  Times
 * are taken from outside (bench/run), so connecting, logging in and
 * closing are in them, as they are in mq-forward's and mq-recv's.
 */
#include <sys/time.h>

#include <err.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <amqp.h>
#include <amqp_tcp_socket.h>

#define CHANNEL		1
#define FRAME_MAX	131072	/* as mq-forward and mq-recv */
#define HEARTBEAT	30

static amqp_connection_state_t conn;

static void
check(const char *what, amqp_rpc_reply_t r)
{
	switch (r.reply_type) {
	case AMQP_RESPONSE_NORMAL:
		return;
	case AMQP_RESPONSE_LIBRARY_EXCEPTION:
		errx(1, "%s: %s", what, amqp_error_string2(r.library_error));
	case AMQP_RESPONSE_SERVER_EXCEPTION:
		if (r.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
			amqp_connection_close_t *c = r.reply.decoded;

			errx(1, "%s: %d %.*s", what, c->reply_code,
			    (int)c->reply_text.len,
			    (char *)c->reply_text.bytes);
		}
		if (r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
			amqp_channel_close_t *c = r.reply.decoded;

			errx(1, "%s: %d %.*s", what, c->reply_code,
			    (int)c->reply_text.len,
			    (char *)c->reply_text.bytes);
		}
		errx(1, "%s: unexpected method 0x%08x", what,
		    (unsigned)r.reply.id);
	default:
		errx(1, "%s: no reply", what);
	}
}

static void
status(const char *what, int r)
{
	if (r != AMQP_STATUS_OK)
		errx(1, "%s: %s", what, amqp_error_string2(r));
}

static void
open_conn(const char *url, int confirm)
{
	struct amqp_connection_info ci;
	amqp_socket_t *s;
	const char *pw;
	char *buf;

	if ((buf = strdup(url)) == NULL)
		err(1, NULL);
	amqp_default_connection_info(&ci);
	if (amqp_parse_url(buf, &ci) != AMQP_STATUS_OK)
		errx(64, "%s: bad url", url);
	if ((pw = getenv("MQ_AMQP_PASSWORD")) != NULL &&
	    strcmp(ci.password, "guest") == 0)
		ci.password = (char *)pw;
	if ((conn = amqp_new_connection()) == NULL ||
	    (s = amqp_tcp_socket_new(conn)) == NULL)
		errx(1, "cannot make a connection");
	status("cannot connect", amqp_socket_open(s, ci.host, ci.port));
	check("cannot log in", amqp_login(conn, ci.vhost, 0, FRAME_MAX,
	    HEARTBEAT, AMQP_SASL_METHOD_PLAIN, ci.user, ci.password));
	amqp_channel_open(conn, CHANNEL);
	check("cannot open a channel", amqp_get_rpc_reply(conn));
	if (confirm) {
		amqp_confirm_select(conn, CHANNEL);
		check("cannot ask for confirms", amqp_get_rpc_reply(conn));
	}
	free(buf);
}

static void
close_conn(void)
{
	amqp_channel_close(conn, CHANNEL, AMQP_REPLY_SUCCESS);
	amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
	amqp_destroy_connection(conn);
}

/* The window: settled[tag % window] for tags base..next-1. */
static unsigned char *settled;
static uint64_t base = 1, next = 1, window;
static long long nacked, returned;

static void
settle(uint64_t tag, int multiple, int ok)
{
	uint64_t t;

	if (tag < base || tag >= next)
		return;
	for (t = multiple ? base : tag; t <= tag; t++) {
		if (!settled[t % window] && !ok)
			nacked++;
		settled[t % window] = 1;
	}
	while (base < next && settled[base % window]) {
		settled[base % window] = 0;
		base++;
	}
}

/* Read confirms and returns: wait for the first frame, take the rest
 * that are there already. */
static void
pump(void)
{
	struct timeval zero = { 0, 0 };
	amqp_frame_t f;
	amqp_message_t msg;
	int r, first = 1;

	for (;;) {
		r = amqp_simple_wait_frame_noblock(conn, &f,
		    first ? NULL : &zero);
		first = 0;
		if (r == AMQP_STATUS_TIMEOUT)
			break;
		status("connection lost", r);
		if (f.frame_type != AMQP_FRAME_METHOD)
			continue;
		switch (f.payload.method.id) {
		case AMQP_BASIC_ACK_METHOD: {
			amqp_basic_ack_t *a = f.payload.method.decoded;

			settle(a->delivery_tag, a->multiple, 1);
			break;
		}
		case AMQP_BASIC_NACK_METHOD: {
			amqp_basic_nack_t *n = f.payload.method.decoded;

			settle(n->delivery_tag, n->multiple, 0);
			break;
		}
		case AMQP_BASIC_RETURN_METHOD:
			/* the ack for it follows */
			check("connection lost",
			    amqp_read_message(conn, f.channel, &msg, 0));
			amqp_destroy_message(&msg);
			returned++;
			break;
		case AMQP_CHANNEL_CLOSE_METHOD:
		case AMQP_CONNECTION_CLOSE_METHOD: {
			amqp_rpc_reply_t rr;

			memset(&rr, 0, sizeof(rr));
			rr.reply_type = AMQP_RESPONSE_SERVER_EXCEPTION;
			rr.reply = f.payload.method;
			check("closed by broker", rr);
		}
		}
		amqp_maybe_release_buffers(conn);
	}
}

static long long
number(const char *s, long long min, long long max)
{
	char *end;
	long long n = strtoll(s, &end, 10);

	if (*s == '\0' || *end != '\0' || n < min || n > max)
		errx(64, "%s: not a number in %lld..%lld", s, min, max);
	return n;
}

static int
publish(const char *queue, long long n, size_t size, int withid)
{
	amqp_basic_properties_t pr;
	char id[32], *body;
	long long sent = 0;
	int64_t now = (int64_t)time(NULL);

	if ((body = malloc(size + 1)) == NULL ||
	    (settled = calloc(window, 1)) == NULL)
		err(1, NULL);
	memset(body, 'x', size);
	memset(&pr, 0, sizeof(pr));
	pr._flags = AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_PRIORITY_FLAG |
	    AMQP_BASIC_TIMESTAMP_FLAG | AMQP_BASIC_APP_ID_FLAG;
	if (withid)
		pr._flags |= AMQP_BASIC_MESSAGE_ID_FLAG;
	pr.delivery_mode = AMQP_DELIVERY_PERSISTENT;
	pr.priority = 4;
	pr.timestamp = (uint64_t)now;
	pr.app_id = amqp_cstring_bytes("floor");
	while (sent < n || base < next) {
		while (sent < n && next - base < window) {
			/* 26 bytes, like an mq id */
			snprintf(id, sizeof(id), "%010" PRId64 "floor%011lld",
			    now, sent);
			pr.message_id = amqp_cstring_bytes(id);
			status("connection lost", amqp_basic_publish(conn,
			    CHANNEL, amqp_cstring_bytes(""),
			    amqp_cstring_bytes(queue), 1, 0, &pr,
			    (amqp_bytes_t){ size, body }));
			sent++;
			next++;
		}
		if (base < next)
			pump();
	}
	free(body);
	free(settled);
	if (nacked > 0 || returned > 0) {
		warnx("%lld returned, %lld nacked", returned, nacked);
		return 1;
	}
	return 0;
}

static int
consume(const char *queue, long long n, int prefetch)
{
	struct timeval zero = { 0, 0 };
	amqp_envelope_t env;
	amqp_rpc_reply_t res;
	amqp_frame_t f;
	uint64_t last = 0;
	long long got = 0, batch = 0;
	unsigned long sum = 0;
	size_t i;

	amqp_basic_qos(conn, CHANNEL, 0, (uint16_t)prefetch, 0);
	check("cannot set prefetch", amqp_get_rpc_reply(conn));
	amqp_basic_consume(conn, CHANNEL, amqp_cstring_bytes(queue),
	    amqp_empty_bytes, 0, 0, 0, amqp_empty_table);
	check("cannot consume", amqp_get_rpc_reply(conn));
	while (got < n) {
		amqp_maybe_release_buffers(conn);
		res = amqp_consume_message(conn, &env, batch > 0 ? &zero :
		    NULL, 0);
		if (res.reply_type == AMQP_RESPONSE_NORMAL) {
			/* look at the body, as a consumer would */
			for (i = 0; i < env.message.body.len; i++)
				sum += ((unsigned char *)
				    env.message.body.bytes)[i];
			last = env.delivery_tag;
			amqp_destroy_envelope(&env);
			got++;
			if (++batch < prefetch && got < n)
				continue;
		} else if (res.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
		    res.library_error == AMQP_STATUS_UNEXPECTED_STATE) {
			/* not a delivery: a close, or something to pass over */
			status("connection lost",
			    amqp_simple_wait_frame(conn, &f));
			if (f.frame_type == AMQP_FRAME_METHOD &&
			    (f.payload.method.id == AMQP_CHANNEL_CLOSE_METHOD ||
			    f.payload.method.id ==
			    AMQP_CONNECTION_CLOSE_METHOD))
				errx(1, "closed by broker");
			continue;
		} else if (res.reply_type != AMQP_RESPONSE_LIBRARY_EXCEPTION ||
		    res.library_error != AMQP_STATUS_TIMEOUT)
			check("connection lost", res);
		/* a full batch, or nothing more came at once: ack it */
		if (batch > 0) {
			status("cannot ack", amqp_basic_ack(conn, CHANNEL,
			    last, 1));
			batch = 0;
		}
	}
	if (sum == 1)	/* never: keeps the reading */
		putchar('\n');
	return 0;
}

int
main(int argc, char *argv[])
{
	amqp_queue_declare_ok_t *ok;
	const char *mode, *queue;
	int r = 0;

	if (argc < 4)
		errx(64, "usage: amqp-floor publish|consume|declare|count|"
		    "purge URL QUEUE [N SIZE WINDOW [noid] | N PREFETCH]");
	mode = argv[1];
	queue = argv[3];
	if (strcmp(mode, "publish") == 0) {
		if (argc != 7 && argc != 8)
			errx(64, "usage: amqp-floor publish URL QUEUE N SIZE "
			    "WINDOW [noid]");
		window = (uint64_t)number(argv[6], 1, 65535);
		open_conn(argv[2], 1);
		r = publish(queue, number(argv[4], 0, 1LL << 40),
		    (size_t)number(argv[5], 0, 1 << 27),
		    argc == 7 || strcmp(argv[7], "noid") != 0);
	} else if (strcmp(mode, "consume") == 0) {
		if (argc != 6)
			errx(64, "usage: amqp-floor consume URL QUEUE N "
			    "PREFETCH");
		open_conn(argv[2], 0);
		r = consume(queue, number(argv[4], 0, 1LL << 40),
		    (int)number(argv[5], 1, 65535));
	} else if (strcmp(mode, "declare") == 0 ||
	    strcmp(mode, "count") == 0) {
		open_conn(argv[2], 0);
		ok = amqp_queue_declare(conn, CHANNEL,
		    amqp_cstring_bytes(queue), mode[0] == 'c', 1, 0, 0,
		    amqp_empty_table);
		check("cannot declare", amqp_get_rpc_reply(conn));
		if (mode[0] == 'c')
			printf("%" PRIu32 "\n", ok->message_count);
	} else if (strcmp(mode, "purge") == 0) {
		open_conn(argv[2], 0);
		amqp_queue_purge(conn, CHANNEL, amqp_cstring_bytes(queue));
		check("cannot purge", amqp_get_rpc_reply(conn));
	} else
		errx(64, "%s: unknown mode", mode);
	close_conn();
	return r;
}
