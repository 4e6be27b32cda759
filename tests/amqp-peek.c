/*
 * amqp-peek - an AMQP 0-9-1 client for the tests of mq-forward and mq-recv,
 * independent of the code under test: it uses librabbitmq directly and
 * shares nothing with cmd/amqp.c.  Always user guest/guest, vhost "/".
 *
 *   amqp-peek [-kx] [-i idle-ms] [-n max] host port queue
 *	Consume QUEUE with manual acks until no message came for IDLE-MS
 *	(default 1000) or MAX messages were taken, and print one line per
 *	message:
 *	    message-id TAB delivery-mode TAB priority TAB body
 *	-x adds the timestamp, expiration, app-id and redelivered flag:
 *	    message-id TAB delivery-mode TAB priority TAB timestamp TAB
 *	    expiration TAB app-id TAB redelivered TAB body
 *	An absent property prints as "-".  The body is printed with "\\",
 *	"\n", "\t", "\r" and "\xHH" escapes for everything outside printable
 *	ASCII.  Each message is acked, or with -k left unacked so that the
 *	broker keeps it (it is requeued when amqp-peek closes its channel).
 *
 *	-H prints instead, per message, one line per property set, table
 *	entry and the body, then an empty line:
 *	    P TAB name TAB value     (content-type, content-encoding,
 *	                             correlation-id, reply-to, type,
 *	                             message-id, app-id, expiration)
 *	    H TAB key TAB kind TAB value   (kind: the AMQP type letter;
 *	                             strings and byte arrays escaped,
 *	                             others as the T lines below write them,
 *	                             arrays and tables as "-")
 *	    B TAB body
 *
 *   amqp-peek -T [-e exchange] host port routing-key
 *	Publish one message made of the lines of standard input, as -H
 *	prints them (values escaped): P lines set properties, H lines
 *	typed table entries, B the body.  Kinds: S string, x bytes, t
 *	boolean (0/1), b B s u I i l L integers, f d floats, D decimal
 *	(decimals:value), T timestamp, V void, A a sample array ["a",1,
 *	true], F a sample table like x-death's (value ignored).
 *
 *   amqp-peek -p [-e exchange] host port routing-key
 *	Publish one persistent (delivery mode 2) mandatory message per line
 *	of standard input, on a channel in confirm mode:
 *	    message-id TAB priority TAB expiration TAB body
 *	("-" for an absent property; the body escaped as above) and wait
 *	for every confirm.  Exit 1 if any was returned or nacked.
 *
 *   amqp-peek -c host port queue
 *	Print the number of ready messages of QUEUE (a passive declare).
 *
 *   amqp-peek -d [-m max-length] [-e exchange [-r key]] host port queue
 *	Declare QUEUE durable and, with -e, bind it to EXCHANGE with KEY
 *	(default: the queue's name).  -m: at most MAX-LENGTH messages, and
 *	the broker nacks publishes beyond that (x-overflow reject-publish).
 *
 * Exit status: 0 done; 1 a publish was returned or nacked; 2 broker error
 * (connect, login, queue or exchange refused); 64 usage.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#if defined(__has_include)
#if __has_include(<rabbitmq-c/amqp.h>)
#include <rabbitmq-c/amqp.h>
#include <rabbitmq-c/tcp_socket.h>
#define HAVE_RABBITMQ_C_DIR 1
#endif
#endif
#ifndef HAVE_RABBITMQ_C_DIR
#include <amqp.h>
#include <amqp_tcp_socket.h>
#endif

#define CH 1
#define WINDOW 256

static const char *prog = "amqp-peek";
static amqp_connection_state_t g_conn;	/* freed on the way out */

static void usage(void)
{
	fprintf(stderr,
	    "usage: %s [-Hkx] [-i idle-ms] [-n max] host port queue\n"
	    "       %s -T [-e exchange] host port routing-key <lines\n"
	    "       %s -p [-e exchange] host port routing-key <lines\n"
	    "       %s -c host port queue\n"
	    "       %s -d [-m max-length] [-e exchange [-r key]] host port "
	    "queue\n", prog, prog, prog, prog, prog);
	exit(64);
}

static void die(const char *what, const char *why)
{
	fprintf(stderr, "%s: %s: %s\n", prog, what, why);
	if (g_conn)
		amqp_destroy_connection(g_conn);
	exit(2);
}

/* check_reply - die with the broker's or the library's words unless R is a
 * normal reply */
static void check_reply(amqp_rpc_reply_t r, const char *what)
{
	char buf[512];

	switch (r.reply_type) {
	case AMQP_RESPONSE_NORMAL:
		return;
	case AMQP_RESPONSE_NONE:
		die(what, "no reply");
		break;
	case AMQP_RESPONSE_LIBRARY_EXCEPTION:
		die(what, amqp_error_string2(r.library_error));
		break;
	case AMQP_RESPONSE_SERVER_EXCEPTION:
		if (r.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
			amqp_connection_close_t *m = r.reply.decoded;
			snprintf(buf, sizeof buf, "connection closed: %u %.*s",
			    m->reply_code, (int)m->reply_text.len,
			    (char *)m->reply_text.bytes);
		} else if (r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
			amqp_channel_close_t *m = r.reply.decoded;
			snprintf(buf, sizeof buf, "channel closed: %u %.*s",
			    m->reply_code, (int)m->reply_text.len,
			    (char *)m->reply_text.bytes);
		} else {
			snprintf(buf, sizeof buf, "unexpected method 0x%08x",
			    (unsigned)r.reply.id);
		}
		die(what, buf);
		break;
	}
	die(what, "unknown reply type");
}

/* closed - die with the words of a channel.close or connection.close */
static void closed(const char *what, const amqp_frame_t *f)
{
	char buf[512];

	if (f->payload.method.id == AMQP_CHANNEL_CLOSE_METHOD) {
		amqp_channel_close_t *m = f->payload.method.decoded;
		snprintf(buf, sizeof buf, "channel closed: %u %.*s",
		    m->reply_code, (int)m->reply_text.len,
		    (char *)m->reply_text.bytes);
	} else {
		amqp_connection_close_t *m = f->payload.method.decoded;
		snprintf(buf, sizeof buf, "connection closed: %u %.*s",
		    m->reply_code, (int)m->reply_text.len,
		    (char *)m->reply_text.bytes);
	}
	die(what, buf);
}

static amqp_connection_state_t connect_to(const char *host, const char *port)
{
	amqp_connection_state_t conn;
	amqp_socket_t *sock;
	struct timeval tv = { 10, 0 };
	char *end;
	long p;
	int rc;

	errno = 0;
	p = strtol(port, &end, 10);
	if (errno || *end || p < 1 || p > 65535)
		usage();
	conn = g_conn = amqp_new_connection();
	if (!conn)
		die("connect", "out of memory");
	sock = amqp_tcp_socket_new(conn);
	if (!sock)
		die("connect", "cannot make a socket");
	rc = amqp_socket_open_noblock(sock, host, (int)p, &tv);
	if (rc != AMQP_STATUS_OK) {
		char what[300];
		snprintf(what, sizeof what, "connect to %s:%s", host, port);
		die(what, amqp_error_string2(rc));
	}
	check_reply(amqp_login(conn, "/", 0, 131072, 0,
	    AMQP_SASL_METHOD_PLAIN, "guest", "guest"), "login");
	amqp_channel_open(conn, CH);
	check_reply(amqp_get_rpc_reply(conn), "channel.open");
	return conn;
}

static void disconnect(amqp_connection_state_t conn)
{
	check_reply(amqp_channel_close(conn, CH, AMQP_REPLY_SUCCESS),
	    "channel.close");
	check_reply(amqp_connection_close(conn, AMQP_REPLY_SUCCESS),
	    "connection.close");
	amqp_destroy_connection(conn);
	g_conn = NULL;
}

static void put_escaped(const void *data, size_t len)
{
	const unsigned char *s = data;
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = s[i];
		if (c == '\\')
			fputs("\\\\", stdout);
		else if (c == '\n')
			fputs("\\n", stdout);
		else if (c == '\t')
			fputs("\\t", stdout);
		else if (c == '\r')
			fputs("\\r", stdout);
		else if (c < 0x20 || c > 0x7e)
			printf("\\x%02x", c);
		else
			putchar(c);
	}
}

static void put_bytes_or_dash(int present, amqp_bytes_t b)
{
	if (present)
		put_escaped(b.bytes, b.len);
	else
		putchar('-');
}

static void print_message(const amqp_envelope_t *e, int extended)
{
	const amqp_basic_properties_t *p = &e->message.properties;

	put_bytes_or_dash(p->_flags & AMQP_BASIC_MESSAGE_ID_FLAG,
	    p->message_id);
	putchar('\t');
	if (p->_flags & AMQP_BASIC_DELIVERY_MODE_FLAG)
		printf("%u", p->delivery_mode);
	else
		putchar('-');
	putchar('\t');
	if (p->_flags & AMQP_BASIC_PRIORITY_FLAG)
		printf("%u", p->priority);
	else
		putchar('-');
	putchar('\t');
	if (extended) {
		if (p->_flags & AMQP_BASIC_TIMESTAMP_FLAG)
			printf("%llu", (unsigned long long)p->timestamp);
		else
			putchar('-');
		putchar('\t');
		put_bytes_or_dash(p->_flags & AMQP_BASIC_EXPIRATION_FLAG,
		    p->expiration);
		putchar('\t');
		put_bytes_or_dash(p->_flags & AMQP_BASIC_APP_ID_FLAG,
		    p->app_id);
		putchar('\t');
		printf("%d\t", e->redelivered ? 1 : 0);
	}
	put_escaped(e->message.body.bytes, e->message.body.len);
	putchar('\n');
}

static const struct {
	const char *name;
	amqp_flags_t flag;
	size_t off;
} props[] = {
	{ "content-type", AMQP_BASIC_CONTENT_TYPE_FLAG,
	    offsetof(amqp_basic_properties_t, content_type) },
	{ "content-encoding", AMQP_BASIC_CONTENT_ENCODING_FLAG,
	    offsetof(amqp_basic_properties_t, content_encoding) },
	{ "correlation-id", AMQP_BASIC_CORRELATION_ID_FLAG,
	    offsetof(amqp_basic_properties_t, correlation_id) },
	{ "reply-to", AMQP_BASIC_REPLY_TO_FLAG,
	    offsetof(amqp_basic_properties_t, reply_to) },
	{ "type", AMQP_BASIC_TYPE_FLAG,
	    offsetof(amqp_basic_properties_t, type) },
	{ "message-id", AMQP_BASIC_MESSAGE_ID_FLAG,
	    offsetof(amqp_basic_properties_t, message_id) },
	{ "app-id", AMQP_BASIC_APP_ID_FLAG,
	    offsetof(amqp_basic_properties_t, app_id) },
	{ "expiration", AMQP_BASIC_EXPIRATION_FLAG,
	    offsetof(amqp_basic_properties_t, expiration) },
};
#define NPROPS (sizeof(props) / sizeof(props[0]))

static amqp_bytes_t *prop(amqp_basic_properties_t *p, size_t i)
{
	return (amqp_bytes_t *)(void *)((char *)p + props[i].off);
}

static void print_headers(const amqp_envelope_t *e)
{
	amqp_basic_properties_t p = e->message.properties;
	const amqp_field_value_t *v;
	int i;
	size_t j;

	for (j = 0; j < NPROPS; j++) {
		if (!(p._flags & props[j].flag))
			continue;
		printf("P\t%s\t", props[j].name);
		put_escaped(prop(&p, j)->bytes, prop(&p, j)->len);
		putchar('\n');
	}
	for (i = 0; (p._flags & AMQP_BASIC_HEADERS_FLAG) &&
	    i < p.headers.num_entries; i++) {
		fputs("H\t", stdout);
		put_escaped(p.headers.entries[i].key.bytes,
		    p.headers.entries[i].key.len);
		v = &p.headers.entries[i].value;
		printf("\t%c\t", v->kind);
		switch (v->kind) {
		case AMQP_FIELD_KIND_UTF8:
		case AMQP_FIELD_KIND_BYTES:
			put_escaped(v->value.bytes.bytes, v->value.bytes.len);
			break;
		case AMQP_FIELD_KIND_I64:
			printf("%lld", (long long)v->value.i64);
			break;
		case AMQP_FIELD_KIND_BOOLEAN:
			printf("%d", v->value.boolean ? 1 : 0);
			break;
		default:
			putchar('-');
		}
		putchar('\n');
	}
	fputs("B\t", stdout);
	put_escaped(e->message.body.bytes, e->message.body.len);
	fputs("\n\n", stdout);
}

/* a frame that is not a delivery came while consuming: the end, unless it
 * is harmless */
static void other_frame(amqp_connection_state_t conn)
{
	amqp_frame_t f;
	int rc;

	rc = amqp_simple_wait_frame(conn, &f);
	if (rc != AMQP_STATUS_OK)
		die("consume", amqp_error_string2(rc));
	if (f.frame_type != AMQP_FRAME_METHOD)
		return;
	switch (f.payload.method.id) {
	case AMQP_CHANNEL_CLOSE_METHOD:
	case AMQP_CONNECTION_CLOSE_METHOD:
		closed("consume", &f);
		break;
	case AMQP_BASIC_CANCEL_METHOD:
		die("consume", "consumer cancelled by the broker");
		break;
	default:
		break;
	}
}

static int consume(int argc, char **argv, long idle_ms, long max, int keep,
    int extended, int headers)
{
	amqp_connection_state_t conn;
	amqp_envelope_t env;
	amqp_rpc_reply_t r;
	struct timeval tv;
	long n = 0;

	if (argc != 3)
		usage();
	conn = connect_to(argv[0], argv[1]);
	/* keep: no limit, so that every message is seen without acks */
	amqp_basic_qos(conn, CH, 0, keep ? 0 : 1000, 0);
	check_reply(amqp_get_rpc_reply(conn), "basic.qos");
	amqp_basic_consume(conn, CH, amqp_cstring_bytes(argv[2]),
	    amqp_empty_bytes, 0, 0, 0, amqp_empty_table);
	check_reply(amqp_get_rpc_reply(conn), "basic.consume");
	while (max < 0 || n < max) {
		amqp_maybe_release_buffers(conn);
		tv.tv_sec = idle_ms / 1000;
		tv.tv_usec = (idle_ms % 1000) * 1000;
		r = amqp_consume_message(conn, &env, &tv, 0);
		if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
		    r.library_error == AMQP_STATUS_TIMEOUT)
			break;
		if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
		    r.library_error == AMQP_STATUS_UNEXPECTED_STATE) {
			other_frame(conn);
			continue;
		}
		check_reply(r, "consume");
		if (headers)
			print_headers(&env);
		else
			print_message(&env, extended);
		if (!keep && amqp_basic_ack(conn, CH, env.delivery_tag, 0))
			die("basic.ack", "cannot send");
		amqp_destroy_envelope(&env);
		n++;
	}
	if (fflush(stdout) == EOF)
		die("stdout", strerror(errno));
	/* channel.close is synchronous, so every ack is done when it returns */
	disconnect(conn);
	return 0;
}

/* unescape S in place (the escapes put_escaped makes); its new length */
static size_t unescape(char *s)
{
	char *o = s, *i = s;

	while (*i) {
		if (*i != '\\') {
			*o++ = *i++;
			continue;
		}
		i++;
		switch (*i) {
		case 'n': *o++ = '\n'; i++; break;
		case 't': *o++ = '\t'; i++; break;
		case 'r': *o++ = '\r'; i++; break;
		case '\\': *o++ = '\\'; i++; break;
		case 'x': {
			char hex[3] = { 0, 0, 0 };
			if (!i[1] || !i[2])
				die("input", "bad \\x escape");
			hex[0] = i[1];
			hex[1] = i[2];
			*o++ = (char)strtol(hex, NULL, 16);
			i += 3;
			break;
		}
		default:
			die("input", "bad escape");
		}
	}
	return (size_t)(o - s);
}

struct confirms {
	uint64_t published, settled;
	int bad;
};

/* wait for one frame of the confirm channel and account for it */
static void confirm_frame(amqp_connection_state_t conn, struct confirms *c)
{
	amqp_frame_t f;
	amqp_message_t msg;
	int rc;

	amqp_maybe_release_buffers(conn);
	rc = amqp_simple_wait_frame(conn, &f);
	if (rc != AMQP_STATUS_OK)
		die("publish", amqp_error_string2(rc));
	if (f.frame_type != AMQP_FRAME_METHOD)
		return;
	switch (f.payload.method.id) {
	case AMQP_BASIC_ACK_METHOD: {
		amqp_basic_ack_t *a = f.payload.method.decoded;
		if (a->multiple)
			c->settled = a->delivery_tag;
		else
			c->settled++;
		break;
	}
	case AMQP_BASIC_NACK_METHOD: {
		amqp_basic_nack_t *a = f.payload.method.decoded;
		fprintf(stderr, "%s: publish: nacked by the broker\n", prog);
		c->bad = 1;
		if (a->multiple)
			c->settled = a->delivery_tag;
		else
			c->settled++;
		break;
	}
	case AMQP_BASIC_RETURN_METHOD: {
		amqp_basic_return_t *m = f.payload.method.decoded;
		fprintf(stderr, "%s: publish: returned: %u %.*s\n", prog,
		    m->reply_code, (int)m->reply_text.len,
		    (char *)m->reply_text.bytes);
		c->bad = 1;
		/* the returned content follows; its ack comes after it */
		check_reply(amqp_read_message(conn, f.channel, &msg, 0),
		    "basic.return");
		amqp_destroy_message(&msg);
		break;
	}
	case AMQP_CHANNEL_CLOSE_METHOD:
	case AMQP_CONNECTION_CLOSE_METHOD:
		closed("publish", &f);
		break;
	default:
		break;
	}
}

static int publish(int argc, char **argv, const char *exchange)
{
	amqp_connection_state_t conn;
	struct confirms c = { 0, 0, 0 };
	char *line = NULL, *f[4], *s;
	size_t cap = 0;
	ssize_t len;
	int i, rc;

	if (argc != 3)
		usage();
	conn = connect_to(argv[0], argv[1]);
	amqp_confirm_select(conn, CH);
	check_reply(amqp_get_rpc_reply(conn), "confirm.select");
	while ((len = getline(&line, &cap, stdin)) != -1) {
		amqp_basic_properties_t p;
		amqp_bytes_t body;

		if (len > 0 && line[len - 1] == '\n')
			line[--len] = '\0';
		s = line;
		for (i = 0; i < 3; i++) {
			f[i] = s;
			s = strchr(s, '\t');
			if (!s)
				die("input", "want: message-id TAB priority TAB expiration TAB body");
			*s++ = '\0';
		}
		f[3] = s;
		memset(&p, 0, sizeof p);
		p._flags = AMQP_BASIC_DELIVERY_MODE_FLAG;
		p.delivery_mode = 2;
		if (strcmp(f[0], "-") != 0) {
			p._flags |= AMQP_BASIC_MESSAGE_ID_FLAG;
			p.message_id.len = unescape(f[0]);
			p.message_id.bytes = f[0];
		}
		if (strcmp(f[1], "-") != 0) {
			p._flags |= AMQP_BASIC_PRIORITY_FLAG;
			p.priority = (uint8_t)atoi(f[1]);
		}
		if (strcmp(f[2], "-") != 0) {
			p._flags |= AMQP_BASIC_EXPIRATION_FLAG;
			p.expiration = amqp_cstring_bytes(f[2]);
		}
		body.len = unescape(f[3]);
		body.bytes = f[3];
		rc = amqp_basic_publish(conn, CH, amqp_cstring_bytes(exchange),
		    amqp_cstring_bytes(argv[2]), 1, 0, &p, body);
		if (rc != AMQP_STATUS_OK)
			die("publish", amqp_error_string2(rc));
		c.published++;
		while (c.published - c.settled >= WINDOW)
			confirm_frame(conn, &c);
	}
	if (ferror(stdin))
		die("stdin", strerror(errno));
	free(line);
	while (c.settled < c.published)
		confirm_frame(conn, &c);
	disconnect(conn);
	return c.bad ? 1 : 0;
}

static char *field(char **s)
{
	char *f = *s, *t;

	if (f == NULL)
		die("input", "want: P|H|B TAB ...");
	if ((t = strchr(f, '\t')) != NULL)
		*t++ = '\0';
	*s = t;
	return f;
}

/* -T: one message of typed headers */
static int publish_typed(int argc, char **argv, const char *exchange)
{
	static amqp_table_entry_t ent[64], dent[5];
	static amqp_field_value_t arr[3], keys[1], death[1];
	amqp_connection_state_t conn;
	amqp_basic_properties_t p;
	amqp_bytes_t body = { 0, "" };
	struct confirms c = { 0, 0, 0 };
	char *line = NULL, *s, *k, *kind, *v, *kept[256];
	size_t cap = 0, j, nkept = 0;
	ssize_t len;
	int n = 0;

	if (argc != 3)
		usage();
	memset(&p, 0, sizeof p);
	p._flags = AMQP_BASIC_DELIVERY_MODE_FLAG;
	p.delivery_mode = 2;
	while ((len = getline(&line, &cap, stdin)) != -1) {
		if (len > 0 && line[len - 1] == '\n')
			line[--len] = '\0';
		/* the table points into the lines until the publish */
		if (nkept == 256 || (s = strdup(line)) == NULL)
			die("input", "too many lines");
		kept[nkept++] = s;
		k = field(&s);
		if (strcmp(k, "B") == 0) {
			v = field(&s);
			body.len = unescape(v);
			body.bytes = v;
			continue;
		}
		if (strcmp(k, "P") == 0) {
			k = field(&s);
			v = field(&s);
			for (j = 0; j < NPROPS; j++)
				if (strcmp(props[j].name, k) == 0)
					break;
			if (j == NPROPS)
				die("input", "unknown property");
			p._flags |= props[j].flag;
			prop(&p, j)->len = unescape(v);
			prop(&p, j)->bytes = v;
			continue;
		}
		if (strcmp(k, "H") != 0 || n == 64)
			die("input", "want: P|H|B TAB ...");
		k = field(&s);
		kind = field(&s);
		v = field(&s);
		ent[n].key.len = unescape(k);
		ent[n].key.bytes = k;
		ent[n].value.kind = (uint8_t)kind[0];
		switch (kind[0]) {
		case 'S': case 'x':
			ent[n].value.value.bytes.len = unescape(v);
			ent[n].value.value.bytes.bytes = v;
			break;
		case 't': ent[n].value.value.boolean = atoi(v); break;
		case 'b': ent[n].value.value.i8 = (int8_t)atoi(v); break;
		case 'B': ent[n].value.value.u8 = (uint8_t)atoi(v); break;
		case 's': ent[n].value.value.i16 = (int16_t)atoi(v); break;
		case 'u': ent[n].value.value.u16 = (uint16_t)atoi(v); break;
		case 'I': ent[n].value.value.i32 = (int32_t)atol(v); break;
		case 'i': ent[n].value.value.u32 = (uint32_t)strtoul(v, NULL,
		    10); break;
		case 'l': ent[n].value.value.i64 = strtoll(v, NULL, 10); break;
		case 'L': case 'T':
			ent[n].value.value.u64 = strtoull(v, NULL, 10);
			break;
		case 'f': ent[n].value.value.f32 = strtof(v, NULL); break;
		case 'd': ent[n].value.value.f64 = strtod(v, NULL); break;
		case 'D':
			ent[n].value.value.decimal.decimals =
			    (uint8_t)atoi(v);
			ent[n].value.value.decimal.value = (uint32_t)strtoul(
			    strchr(v, ':') ? strchr(v, ':') + 1 : v, NULL, 10);
			break;
		case 'V':
			break;
		case 'A':
			arr[0].kind = 'S';
			arr[0].value.bytes = amqp_cstring_bytes("a");
			arr[1].kind = 'l';
			arr[1].value.i64 = 1;
			arr[2].kind = 't';
			arr[2].value.boolean = 1;
			ent[n].value.value.array.num_entries = 3;
			ent[n].value.value.array.entries = arr;
			break;
		case 'F':
			keys[0].kind = 'S';
			keys[0].value.bytes = amqp_cstring_bytes("orders.paid");
			dent[0].key = amqp_cstring_bytes("count");
			dent[0].value.kind = 'l';
			dent[0].value.value.i64 = 1;
			dent[1].key = amqp_cstring_bytes("reason");
			dent[1].value.kind = 'S';
			dent[1].value.value.bytes = amqp_cstring_bytes(
			    "rejected");
			dent[2].key = amqp_cstring_bytes("queue");
			dent[2].value.kind = 'S';
			dent[2].value.value.bytes = amqp_cstring_bytes("q\"1");
			dent[3].key = amqp_cstring_bytes("time");
			dent[3].value.kind = 'T';
			dent[3].value.value.u64 = 1700000000;
			dent[4].key = amqp_cstring_bytes("routing-keys");
			dent[4].value.kind = 'A';
			dent[4].value.value.array.num_entries = 1;
			dent[4].value.value.array.entries = keys;
			/* x-death is an array of such tables */
			death[0].kind = 'F';
			death[0].value.table.num_entries = 5;
			death[0].value.table.entries = dent;
			ent[n].value.kind = 'A';
			ent[n].value.value.array.num_entries = 1;
			ent[n].value.value.array.entries = death;
			break;
		default:
			die("input", "unknown kind");
		}
		n++;
	}
	if (n > 0) {
		p._flags |= AMQP_BASIC_HEADERS_FLAG;
		p.headers.num_entries = n;
		p.headers.entries = ent;
	}
	conn = connect_to(argv[0], argv[1]);
	amqp_confirm_select(conn, CH);
	check_reply(amqp_get_rpc_reply(conn), "confirm.select");
	if (amqp_basic_publish(conn, CH, amqp_cstring_bytes(exchange),
	    amqp_cstring_bytes(argv[2]), 1, 0, &p, body) != AMQP_STATUS_OK)
		die("publish", "cannot send");
	c.published = 1;
	while (c.settled < c.published)
		confirm_frame(conn, &c);
	disconnect(conn);
	free(line);
	while (nkept > 0)
		free(kept[--nkept]);
	return c.bad ? 1 : 0;
}

static int count(int argc, char **argv)
{
	amqp_connection_state_t conn;
	amqp_queue_declare_ok_t *ok;

	if (argc != 3)
		usage();
	conn = connect_to(argv[0], argv[1]);
	ok = amqp_queue_declare(conn, CH, amqp_cstring_bytes(argv[2]), 1, 0, 0,
	    0, amqp_empty_table);
	check_reply(amqp_get_rpc_reply(conn), "queue.declare");
	printf("%u\n", ok->message_count);
	if (fflush(stdout) == EOF)
		die("stdout", strerror(errno));
	disconnect(conn);
	return 0;
}

static int declare(int argc, char **argv, long maxlen, const char *exchange,
    const char *key)
{
	amqp_connection_state_t conn;
	amqp_table_entry_t e[2];
	amqp_table_t args = { 0, e };

	if (argc != 3)
		usage();
	conn = connect_to(argv[0], argv[1]);
	if (maxlen >= 0) {
		e[0].key = amqp_cstring_bytes("x-max-length");
		e[0].value.kind = AMQP_FIELD_KIND_I64;
		e[0].value.value.i64 = maxlen;
		e[1].key = amqp_cstring_bytes("x-overflow");
		e[1].value.kind = AMQP_FIELD_KIND_UTF8;
		e[1].value.value.bytes = amqp_cstring_bytes("reject-publish");
		args.num_entries = 2;
	}
	amqp_queue_declare(conn, CH, amqp_cstring_bytes(argv[2]), 0, 1, 0, 0,
	    args);
	check_reply(amqp_get_rpc_reply(conn), "queue.declare");
	if (*exchange) {
		amqp_queue_bind(conn, CH, amqp_cstring_bytes(argv[2]),
		    amqp_cstring_bytes(exchange),
		    amqp_cstring_bytes(key ? key : argv[2]), amqp_empty_table);
		check_reply(amqp_get_rpc_reply(conn), "queue.bind");
	}
	disconnect(conn);
	return 0;
}

static long number(const char *s)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < 0)
		usage();
	return v;
}

int main(int argc, char **argv)
{
	const char *exchange = "", *key = NULL;
	long idle_ms = 1000, max = -1, maxlen = -1;
	int c, keep = 0, extended = 0, pub = 0, cnt = 0, decl = 0, hdr = 0;
	int typed = 0;

	while ((c = getopt(argc, argv, "HTcde:i:km:n:pr:x")) != -1) {
		switch (c) {
		case 'H': hdr = 1; break;
		case 'T': typed = 1; break;
		case 'c': cnt = 1; break;
		case 'd': decl = 1; break;
		case 'e': exchange = optarg; break;
		case 'm': maxlen = number(optarg); break;
		case 'r': key = optarg; break;
		case 'i': idle_ms = number(optarg); break;
		case 'k': keep = 1; break;
		case 'n': max = number(optarg); break;
		case 'p': pub = 1; break;
		case 'x': extended = 1; break;
		default: usage();
		}
	}
	if (pub + cnt + decl + typed > 1)
		usage();
	if (typed)
		return publish_typed(argc - optind, argv + optind, exchange);
	if (cnt)
		return count(argc - optind, argv + optind);
	if (decl)
		return declare(argc - optind, argv + optind, maxlen, exchange,
		    key);
	if (pub)
		return publish(argc - optind, argv + optind, exchange);
	return consume(argc - optind, argv + optind, idle_ms, max, keep,
	    extended, hdr);
}
