/*
 * amqp.c - connecting to the broker for mq-forward and mq-recv (amqp.h).
 */
#include <sys/stat.h>
#include <sys/time.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <amqp.h>
#include <amqp_ssl_socket.h>
#include <amqp_tcp_socket.h>

#include "amqp.h"
#include "tool.h"

#define CONNECT_TIMEOUT	10	/* s: to open the socket */
#define RPC_TIMEOUT	30	/* s: for any one reply of the broker */
#define CLOSE_TIMEOUT	2	/* s: to say goodbye */
#define HEARTBEAT	30	/* s */
#define FRAME_MAX	131072
#define BACKOFF_MIN	100	/* ms, doubling */
#define BACKOFF_MAX	30000
#define WAKE		1000	/* ms: the longest sleep, to see signals */

volatile sig_atomic_t peer_stop;

static int
fail(struct peer *p, int fault, const char *fmt, const char *a,
    const char *b)
{
	p->fault = fault;
	snprintf(p->why, sizeof(p->why), fmt, a, b);
	return -1;
}

/* Does the url carry a password, user:pass@ before the host? */
static int
has_password(const char *url)
{
	const char *s = strstr(url, "://"), *end, *at, *colon;

	if (s == NULL)
		return 0;
	s += 3;
	end = s + strcspn(s, "/?#");
	if ((at = memchr(s, '@', (size_t)(end - s))) == NULL)
		return 0;
	colon = memchr(s, ':', (size_t)(at - s));
	return colon != NULL;
}

/*
 * [forward] and [recv], as mq_conf_sections hands their keys over: into
 * kept while bridge_open opens the queue, then into later, only to be
 * checked (a session opening the queue again reads the files again).
 */
struct bridges {
	struct bridge	 forward, recv;
};
static struct bridges kept, later;

/* a key and where to say what is wrong with its value */
struct key {
	const char	*k, *v;
	char		*why;
	size_t		 len;
};

static int
refuse(const struct key *key, const char *fmt, const char *a)
{
	snprintf(key->why, key->len, fmt, key->k, a);
	return -1;
}

static int
text(const struct key *key, char *out, size_t len)
{
	if (key->v[0] == '\0' || strlen(key->v) >= len)
		return refuse(key, "%s: %s", key->v[0] == '\0' ? "empty" :
		    "too long");
	strlcpy(out, key->v, len);
	return 0;
}

static int
count(const struct key *key, int *out)
{
	const char *e = NULL;
	long long n;

	n = strtonum(key->v, 1, 65535, &e);
	if (e != NULL)
		return refuse(key, "%s: value %s", e);
	*out = (int)n;
	return 0;
}

/* A key of [forward] or [recv] (mq_sectionfn), in a file of owner's. */
static int
bridge_key(const char *section, int line, const char *k, const char *v,
    uid_t owner, char *why, size_t len, void *arg)
{
	struct bridges *bs = arg;
	struct key key = { k, v, why, len };
	struct bridge *b;
	int fwd;

	(void)line;		/* the library names it */
	if (!(fwd = strcmp(section, "forward") == 0) &&
	    strcmp(section, "recv") != 0)
		return 0;	/* some other tool's */
	b = fwd ? &bs->forward : &bs->recv;
	if (strcmp(k, "url") == 0) {
		if (strncmp(v, "amqp://", 7) != 0 &&
		    strncmp(v, "amqps://", 8) != 0)
			return refuse(&key, "%s: not an amqp:// or amqps:// "
			    "url: %s", v);
		return text(&key, b->url, sizeof(b->url));
	}
	/* the files are checked when read, against who named them */
	if (strcmp(k, "password_file") == 0) {
		b->password_owner = owner;
		return text(&key, b->password_file, sizeof(b->password_file));
	}
	if (strcmp(k, "cacert") == 0) {
		b->cacert_owner = owner;
		return text(&key, b->cacert, sizeof(b->cacert));
	}
	if (strcmp(k, "verify") == 0) {
		if (strcmp(v, "yes") != 0 && strcmp(v, "no") != 0)
			return refuse(&key, "%s: must be yes or no: %s", v);
		b->verify = strcmp(v, "yes") == 0;
		return 0;
	}
	if (fwd && strcmp(k, "exchange") == 0) {
		/* "" is the default exchange: written as exchange = "" */
		b->exchange_set = 1;
		if (strcmp(v, "\"\"") == 0) {
			b->exchange[0] = '\0';
			return 0;
		}
		return text(&key, b->exchange, sizeof(b->exchange));
	}
	if (fwd && strcmp(k, "routing_key") == 0)
		return text(&key, b->routing_key, sizeof(b->routing_key));
	if (fwd && strcmp(k, "routing_key_header") == 0) {
		if (strcmp(v, "yes") != 0 && strcmp(v, "no") != 0)
			return refuse(&key, "%s: must be yes or no: %s", v);
		b->routing_header = strcmp(v, "yes") == 0;
		return 0;
	}
	if (fwd && strcmp(k, "window") == 0)
		return count(&key, &b->window);
	if (!fwd && strcmp(k, "queue") == 0)
		return text(&key, b->queue, sizeof(b->queue));
	if (!fwd && strcmp(k, "prefetch") == 0)
		return count(&key, &b->prefetch);
	snprintf(why, len, "unknown key in [%s]: %s", section, k);
	return -1;
}

struct mq_queue *
bridge_open(const char *spool, const char *name, int fwd,
    const struct bridge **b)
{
	struct mq_queue *q;

	memset(&kept, 0, sizeof(kept));
	kept.forward.verify = kept.recv.verify = 1;
	later = kept;
	mq_conf_sections(bridge_key, &kept);
	q = open_queue(spool, name, 0);
	mq_conf_sections(bridge_key, &later);
	*b = fwd ? &kept.forward : &kept.recv;
	return q;
}

/*
 * Open a file a configuration of owner's names, and check it on the
 * descriptor (mq_conf_named_ok): the file read is the file checked.
 */
static int
open_named(struct peer *p, const char *what, const char *file, uid_t owner)
{
	struct stat st;
	char why[256];
	int fd;

	/* as the files of the spool: no FIFO waited on, no link followed */
	if ((fd = mq_openat_stat(AT_FDCWD, file, O_RDONLY, 0, &st)) == -1)
		return fail(p, errno == MQ_ENOTREG ? PEER_UNTRUSTED :
		    PEER_NOPASS, what, file, mq_strerror(errno));
	if (mq_conf_named_ok(&st, owner, why, sizeof(why)) == -1) {
		close(fd);
		return fail(p, PEER_UNTRUSTED, what, file, why);
	}
	return fd;
}

/*
 * The first line of a file, without its newline.  A file named by a
 * configuration (owner not NULL) must be fit to be read for its owner.
 * -P names the user's own file (operand), which may well be a pipe:
 * -P <(pass show amqp).
 */
static int
read_password(struct peer *p, const char *file, const uid_t *owner)
{
	ssize_t n;
	size_t len = 0;
	int fd;

	if (owner != NULL) {
		if ((fd = open_named(p, "password file %s: %s", file,
		    *owner)) == -1)
			return -1;
	} else if ((fd = open(file, O_RDONLY | O_CLOEXEC)) == -1)
		return fail(p, PEER_NOPASS, "password file %s: %s", file,
		    strerror(errno));
	while (len < sizeof(p->password) - 1 &&
	    (n = read(fd, p->password + len,
	    sizeof(p->password) - 1 - len)) != 0) {
		if (n == -1) {
			if (errno == EINTR)
				continue;
			close(fd);
			return fail(p, PEER_NOPASS, "password file %s: %s",
			    file, strerror(errno));
		}
		len += (size_t)n;
	}
	close(fd);
	p->password[len] = '\0';
	p->password[strcspn(p->password, "\r\n")] = '\0';
	return 0;
}

int
peer_init(struct peer *p, const char *url, int cmdline,
    const struct bridge *b, const char *passfile)
{
	struct amqp_connection_info ci;
	char buf[sizeof(b->url)], vhost[sizeof(p->vhost) * 3];
	const char *env, *s;
	size_t i;

	memset(p, 0, sizeof(*p));
	p->cafd = -1;
	if (url == NULL)
		url = b->url[0] != '\0' ? b->url : NULL;
	if (url == NULL)
		return fail(p, PEER_BADARG, "no broker url%s%s", "", "");
	if (strncmp(url, "amqp://", 7) != 0 && strncmp(url, "amqps://", 8) != 0)
		return fail(p, PEER_BADARG, "%s: not an amqp:// or amqps:// "
		    "url%s", url, "");
	if (cmdline && has_password(url))
		return fail(p, PEER_BADARG, "a password in a url on the "
		    "command line shows in ps(1): use -P file or "
		    "MQ_AMQP_PASSWORD%s%s", "", "");
	if (strlcpy(buf, url, sizeof(buf)) >= sizeof(buf))
		return fail(p, PEER_BADARG, "url too long%s%s", "", "");
	amqp_default_connection_info(&ci);
	if (amqp_parse_url(buf, &ci) != AMQP_STATUS_OK)
		return fail(p, PEER_BADARG, "bad url%s%s", "", "");
	if (strlcpy(p->host, ci.host, sizeof(p->host)) >= sizeof(p->host) ||
	    strlcpy(p->user, ci.user, sizeof(p->user)) >= sizeof(p->user) ||
	    strlcpy(p->vhost, ci.vhost, sizeof(p->vhost)) >= sizeof(p->vhost) ||
	    strlcpy(p->password, ci.password, sizeof(p->password)) >=
	    sizeof(p->password))
		return fail(p, PEER_BADARG, "url too long%s%s", "", "");
	p->port = ci.port;
	p->tls = ci.ssl;
	p->verify = b->verify;
	strlcpy(p->cacert, b->cacert, sizeof(p->cacert));
	/* whoever controls the CAs can pose as the broker: checked too */
	if (p->tls && p->cacert[0] != '\0' && (p->cafd = open_named(p,
	    "cacert %s: %s", p->cacert, b->cacert_owner)) == -1)
		return -1;
	/* the vhost as a url would spell it: "/" is %2f */
	for (i = 0, s = p->vhost; *s != '\0' && i + 4 < sizeof(vhost); s++) {
		if (*s == '/' || *s == '%' || *s == '@' || *s <= ' ')
			i += (size_t)snprintf(vhost + i, 4, "%%%02x",
			    (unsigned char)*s);
		else
			vhost[i++] = *s;
	}
	vhost[i] = '\0';
	snprintf(p->shown, sizeof(p->shown), "%s://%s@%s:%d/%s",
	    p->tls ? "amqps" : "amqp", p->user, p->host, p->port, vhost);
	/* the most explicit source wins */
	if (passfile != NULL)
		return read_password(p, passfile, NULL);
	if ((env = getenv("MQ_AMQP_PASSWORD")) != NULL) {
		if (strlcpy(p->password, env, sizeof(p->password)) >=
		    sizeof(p->password))
			return fail(p, PEER_BADARG, "MQ_AMQP_PASSWORD: too "
			    "long%s%s", "", "");
		return 0;
	}
	if (b->password_file[0] != '\0')
		return read_password(p, b->password_file, &b->password_owner);
	return 0;
}

/* The reply code and text of a connection.close or channel.close. */
static int
closing(struct peer *p, const char *what, amqp_method_t *m)
{
	char reply[300];
	int code;

	if (m->id == AMQP_CONNECTION_CLOSE_METHOD) {
		amqp_connection_close_t *c = m->decoded;

		code = c->reply_code;
		peer_reply(reply, sizeof(reply), code, c->reply_text);
	} else if (m->id == AMQP_CHANNEL_CLOSE_METHOD) {
		amqp_channel_close_t *c = m->decoded;

		code = c->reply_code;
		peer_reply(reply, sizeof(reply), code, c->reply_text);
	} else {
		snprintf(reply, sizeof(reply), "unexpected method 0x%08x",
		    (unsigned)m->id);
		code = 0;
	}
	/*
	 * 403 access refused, 404 not found, 406 precondition failed, 530
	 * not allowed: it will say the same again.  Anything else (320: the
	 * broker is shutting down) may pass.
	 */
	return fail(p, code == 403 || code == 404 || code == 406 ||
	    code == 530 ? PEER_REFUSED : PEER_DOWN, "%s: %s", what, reply);
}

void
peer_reply(char *buf, size_t len, int code, amqp_bytes_t text)
{
	int n = text.len > 256 ? 256 : (int)text.len;

	snprintf(buf, len, "%d %.*s", code, n, (const char *)text.bytes);
}

int
peer_fail_status(struct peer *p, const char *what, int status)
{
	return fail(p, PEER_DOWN, "%s: %s", what, amqp_error_string2(status));
}

int
peer_fail(struct peer *p, const char *what, amqp_rpc_reply_t r)
{
	switch (r.reply_type) {
	case AMQP_RESPONSE_NORMAL:
		return 0;
	case AMQP_RESPONSE_LIBRARY_EXCEPTION:
		return peer_fail_status(p, what, r.library_error);
	case AMQP_RESPONSE_SERVER_EXCEPTION:
		return closing(p, what, &r.reply);
	default:
		return fail(p, PEER_DOWN, "%s: %s", what, "no reply");
	}
}

int
peer_closed(struct peer *p, const amqp_frame_t *f)
{
	amqp_method_t m = f->payload.method;

	return closing(p, "closed by broker", &m);
}

int
peer_connect(struct peer *p, int confirm)
{
	struct timeval tv = { CONNECT_TIMEOUT, 0 }, rpc = { RPC_TIMEOUT, 0 };
	amqp_socket_t *s;
	char ca[64];
	int r;

	if ((p->conn = amqp_new_connection()) == NULL)
		return fail(p, PEER_DOWN, "%s%s", strerror(ENOMEM), "");
	s = p->tls ? amqp_ssl_socket_new(p->conn) : amqp_tcp_socket_new(p->conn);
	if (s == NULL) {
		peer_close(p, 0);
		return fail(p, PEER_DOWN, "%s%s", p->tls ?
		    "cannot set up TLS" : "cannot make a socket", "");
	}
	if (p->tls) {
		amqp_ssl_socket_set_verify_peer(s, p->verify);
		amqp_ssl_socket_set_verify_hostname(s, p->verify);
		/* the file checked, not whatever has its name by now */
		snprintf(ca, sizeof(ca), "/proc/self/fd/%d", p->cafd);
		if (p->cafd != -1 &&
		    amqp_ssl_socket_set_cacert(s, ca) != AMQP_STATUS_OK) {
			peer_close(p, 0);
			return fail(p, PEER_REFUSED, "cacert %s: cannot load",
			    p->cacert, "");
		}
	}
	errno = 0;
	if ((r = amqp_socket_open_noblock(s, p->host, p->port, &tv)) !=
	    AMQP_STATUS_OK) {
		/* "a socket error occurred" says less than errno does */
		if (r == AMQP_STATUS_SOCKET_ERROR && errno != 0 &&
		    errno != EINPROGRESS)
			fail(p, PEER_DOWN, "cannot connect: %s",
			    strerror(errno), "");
		else
			peer_fail_status(p, "cannot connect", r);
		/* a certificate we do not trust will not change by itself */
		if (r == AMQP_STATUS_SSL_PEER_VERIFY_FAILED ||
		    r == AMQP_STATUS_SSL_HOSTNAME_VERIFY_FAILED)
			p->fault = PEER_REFUSED;
		peer_close(p, 0);
		return -1;
	}
	amqp_set_rpc_timeout(p->conn, &rpc);
	if (peer_fail(p, "cannot log in", amqp_login(p->conn, p->vhost, 0,
	    FRAME_MAX, HEARTBEAT, AMQP_SASL_METHOD_PLAIN, p->user,
	    p->password)) == -1)
		goto fail;
	amqp_channel_open(p->conn, PEER_CHANNEL);
	if (peer_fail(p, "cannot open a channel",
	    amqp_get_rpc_reply(p->conn)) == -1)
		goto fail;
	if (confirm) {
		amqp_confirm_select(p->conn, PEER_CHANNEL);
		if (peer_fail(p, "cannot ask for confirms",
		    amqp_get_rpc_reply(p->conn)) == -1)
			goto fail;
	}
	return 0;
fail:
	peer_close(p, 0);
	return -1;
}

void
peer_close(struct peer *p, int graceful)
{
	struct timeval tv = { CLOSE_TIMEOUT, 0 };

	if (p->conn == NULL)
		return;
	if (graceful) {
		amqp_set_rpc_timeout(p->conn, &tv);
		amqp_channel_close(p->conn, PEER_CHANNEL, AMQP_REPLY_SUCCESS);
		amqp_connection_close(p->conn, AMQP_REPLY_SUCCESS);
	}
	amqp_destroy_connection(p->conn);
	p->conn = NULL;
}

static void
onsig(int sig)
{
	peer_stop = sig;
}

/* Without SA_RESTART: a signal ends the sleep it comes in. */
void
peer_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = onsig;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

void
peer_down(struct peer *p)
{
	if (strcmp(p->said, p->why) != 0) {
		warnx("%s: %s", p->shown, p->why);
		strlcpy(p->said, p->why, sizeof(p->said));
	}
	peer_close(p, 0);
	if (p->downsince == 0)
		p->downsince = mono_ms();
	p->backoff = p->backoff == 0 ? BACKOFF_MIN :
	    p->backoff * 2 > BACKOFF_MAX ? BACKOFF_MAX : p->backoff * 2;
	p->retry = mono_ms() + p->backoff;
}

int
peer_wait(struct peer *p)
{
	int64_t left = p->retry - mono_ms();

	if (left <= 0)
		return 1;
	poll(NULL, 0, (int)(left < WAKE ? left : WAKE));
	return 0;
}

void
peer_up(struct peer *p)
{
	if (p->said[0] != '\0')
		warnx("%s: connected", p->shown);
	p->said[0] = '\0';
	p->downsince = 0;
}

void
peer_ok(struct peer *p)
{
	if (p->said[0] == '\0')
		p->backoff = 0;
}

int
peer_hopeless(struct peer *p, int64_t timeout)
{
	int64_t away = mono_ms() - p->downsince;

	if (p->fault == PEER_REFUSED)
		return 1;
	if (away < timeout)
		return 0;
	warnx("%s: unreachable for %lld s, giving up", p->shown,
	    (long long)away / 1000);
	return 1;
}

/*
 * The envelope across the bridge (mq-forward(1), mq-recv(1)): mq headers
 * are the AMQP headers table, and five of them are the standard
 * properties of the same names instead.  A property is a short string
 * (255 bytes at most); a table value is sent as a long string, so its
 * bytes arrive exactly.
 */
static const struct prop {
	const char	*name;
	amqp_flags_t	 flag;
	size_t		 off;	/* of its amqp_bytes_t in the properties */
} mapped[] = {
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
}, kept_props[] = {
	/* mq-forward's own, from the mq id and name: kept by mq-recv apart */
	{ "amqp-message-id", AMQP_BASIC_MESSAGE_ID_FLAG,
	    offsetof(amqp_basic_properties_t, message_id) },
	{ "amqp-expiration", AMQP_BASIC_EXPIRATION_FLAG,
	    offsetof(amqp_basic_properties_t, expiration) },
	{ "amqp-app-id", AMQP_BASIC_APP_ID_FLAG,
	    offsetof(amqp_basic_properties_t, app_id) },
	{ "amqp-user-id", AMQP_BASIC_USER_ID_FLAG,
	    offsetof(amqp_basic_properties_t, user_id) },
	{ "amqp-cluster-id", AMQP_BASIC_CLUSTER_ID_FLAG,
	    offsetof(amqp_basic_properties_t, cluster_id) },
};
#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))
#define SHORTSTR_MAX	255

static amqp_bytes_t *
propval(amqp_basic_properties_t *pr, const struct prop *p)
{
	return (amqp_bytes_t *)(void *)((char *)pr + p->off);
}

int
envelope_out(const struct mq_headers *h, int byheader,
    amqp_basic_properties_t *pr, struct envelope_out *o, char *why,
    size_t len)
{
	struct mq_header r;
	amqp_table_entry_t *t;
	const char *res;
	char *v;
	size_t pos = 0, i;

	o->table.num_entries = 0;
	o->table.entries = o->entries;
	o->rkey = NULL;
	while (mq_header_next(h, &pos, &r)) {
		v = visible(r.name, r.nlen);
		if ((res = reserved_header(r.name, r.nlen)) != NULL) {
			snprintf(why, len, "header %s is reserved: %s is "
			    "mq's own", v, res);
			free(v);
			return -1;
		}
		for (i = 0; i < NELEM(mapped); i++)
			if (strlen(mapped[i].name) == r.nlen &&
			    memcmp(mapped[i].name, r.name, r.nlen) == 0)
				break;
		if ((i < NELEM(mapped) || (byheader &&
		    r.nlen == strlen(MQ_HDR_ROUTING) &&
		    memcmp(r.name, MQ_HDR_ROUTING, r.nlen) == 0)) &&
		    r.vlen > SHORTSTR_MAX) {
			snprintf(why, len, "header %s: over %d bytes, too long "
			    "for an AMQP property or routing key", v,
			    SHORTSTR_MAX);
			free(v);
			return -1;
		}
		free(v);
		if (byheader && r.nlen == strlen(MQ_HDR_ROUTING) &&
		    memcmp(r.name, MQ_HDR_ROUTING, r.nlen) == 0) {
			o->rkey = &o->rkeybuf;
			o->rkeybuf = (amqp_bytes_t){ r.vlen, (void *)r.val };
		}
		if (i < NELEM(mapped)) {
			pr->_flags |= mapped[i].flag;
			*propval(pr, &mapped[i]) =
			    (amqp_bytes_t){ r.vlen, (void *)r.val };
			continue;
		}
		t = &o->entries[o->table.num_entries++];
		t->key = (amqp_bytes_t){ r.nlen, (void *)r.name };
		t->value.kind = AMQP_FIELD_KIND_UTF8;
		t->value.value.bytes = (amqp_bytes_t){ r.vlen, (void *)r.val };
	}
	if (o->table.num_entries > 0) {
		pr->_flags |= AMQP_BASIC_HEADERS_FLAG;
		pr->headers = o->table;
	}
	return 0;
}

/*
 * Typed values as bytes (mq-recv(1)): a bounded buffer that remembers
 * overflowing, so that a value too large for mq is known as such.
 */
struct sink {
	char	*buf;
	size_t	 len, cap;
	int	 over;
};

static void
put(struct sink *s, const void *p, size_t n)
{
	if (n > s->cap - s->len) {
		s->over = 1;
		return;
	}
	memcpy(s->buf + s->len, p, n);
	s->len += n;
}

static void
putf(struct sink *s, const char *fmt, ...)
{
	char b[64];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(b, sizeof(b), fmt, ap);
	va_end(ap);
	put(s, b, n < 0 ? 0 : (size_t)n);
}

static void
base64(struct sink *s, amqp_bytes_t b)
{
	static const char a[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *p = b.bytes;
	size_t i;
	char q[4];
	uint32_t v;

	for (i = 0; i < b.len; i += 3) {
		v = (uint32_t)p[i] << 16;
		if (i + 1 < b.len)
			v |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < b.len)
			v |= p[i + 2];
		q[0] = a[v >> 18 & 63];
		q[1] = a[v >> 12 & 63];
		q[2] = i + 1 < b.len ? a[v >> 6 & 63] : '=';
		q[3] = i + 2 < b.len ? a[v & 63] : '=';
		put(s, q, 4);
	}
}

/* The length of a well-formed UTF-8 sequence at p, or 0. */
static size_t
utf8len(const unsigned char *p, size_t n)
{
	size_t len, i;
	uint32_t c;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		len = 2, c = p[0] & 0x1f;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		len = 3, c = p[0] & 0x0f;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		len = 4, c = p[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (p[i] & 0x3f);
	}
	/* overlong, surrogates, past U+10FFFF */
	if ((len == 3 && c < 0x800) || (len == 4 && c < 0x10000) ||
	    (c >= 0xd800 && c <= 0xdfff) || c > 0x10ffff)
		return 0;
	return len;
}

/* A JSON string; a byte that is no part of UTF-8 as \u00XX (Latin-1). */
static void
jstring(struct sink *s, amqp_bytes_t b)
{
	const unsigned char *p = b.bytes;
	size_t i, n;

	put(s, "\"", 1);
	for (i = 0; i < b.len; i += n) {
		n = utf8len(p + i, b.len - i);
		if (n > 1)
			put(s, p + i, n);
		else if (n == 1 && p[i] == '"')
			put(s, "\\\"", 2);
		else if (n == 1 && p[i] == '\\')
			put(s, "\\\\", 2);
		else if (n == 1 && p[i] >= 0x20 && p[i] != 0x7f)
			put(s, p + i, 1);
		else {
			putf(s, "\\u%04x", p[i]);
			n = 1;
		}
	}
	put(s, "\"", 1);
}

static void value(struct sink *, const amqp_field_value_t *, int);

static void
number(struct sink *s, double d, int json, int prec)
{
	if (isnan(d))
		putf(s, "%s", json ? "null" : "NaN");
	else if (isinf(d))
		putf(s, "%s", json ? "null" : d > 0 ? "Infinity" : "-Infinity");
	else
		putf(s, "%.*g", prec, d);
}

/* v as bytes (top) or as JSON inside an array or table (json) */
static void
value(struct sink *s, const amqp_field_value_t *v, int json)
{
	const amqp_field_value_t *e;
	uint32_t d, p10;
	int i, k;

	switch (v->kind) {
	case AMQP_FIELD_KIND_UTF8:
		if (json)
			jstring(s, v->value.bytes);
		else
			put(s, v->value.bytes.bytes, v->value.bytes.len);
		break;
	case AMQP_FIELD_KIND_BYTES:
		if (json)
			put(s, "\"", 1);
		base64(s, v->value.bytes);
		if (json)
			put(s, "\"", 1);
		break;
	case AMQP_FIELD_KIND_BOOLEAN:
		putf(s, "%s", v->value.boolean ? "true" : "false");
		break;
	case AMQP_FIELD_KIND_I8:
		putf(s, "%d", v->value.i8);
		break;
	case AMQP_FIELD_KIND_U8:
		putf(s, "%u", v->value.u8);
		break;
	case AMQP_FIELD_KIND_I16:
		putf(s, "%d", v->value.i16);
		break;
	case AMQP_FIELD_KIND_U16:
		putf(s, "%u", v->value.u16);
		break;
	case AMQP_FIELD_KIND_I32:
		putf(s, "%d", v->value.i32);
		break;
	case AMQP_FIELD_KIND_U32:
		putf(s, "%u", v->value.u32);
		break;
	case AMQP_FIELD_KIND_I64:
		putf(s, "%lld", (long long)v->value.i64);
		break;
	case AMQP_FIELD_KIND_U64:
	case AMQP_FIELD_KIND_TIMESTAMP:		/* epoch seconds */
		putf(s, "%llu", (unsigned long long)v->value.u64);
		break;
	case AMQP_FIELD_KIND_F32:
		number(s, v->value.f32, json, 9);
		break;
	case AMQP_FIELD_KIND_F64:
		number(s, v->value.f64, json, 17);
		break;
	case AMQP_FIELD_KIND_DECIMAL:
		/* value * 10^-decimals, exactly: the point put in by hand */
		d = v->value.decimal.decimals;
		if (d > 9) {
			putf(s, "%ue-%u", v->value.decimal.value, d);
			break;
		}
		for (p10 = 1, k = 0; k < (int)d; k++)
			p10 *= 10;
		if (d == 0)
			putf(s, "%u", v->value.decimal.value);
		else
			putf(s, "%u.%0*u", v->value.decimal.value / p10, (int)d,
			    v->value.decimal.value % p10);
		break;
	case AMQP_FIELD_KIND_VOID:
		if (json)
			put(s, "null", 4);
		break;
	case AMQP_FIELD_KIND_ARRAY:
		put(s, "[", 1);
		for (i = 0; i < v->value.array.num_entries; i++) {
			e = &v->value.array.entries[i];
			if (i > 0)
				put(s, ",", 1);
			value(s, e, 1);
		}
		put(s, "]", 1);
		break;
	case AMQP_FIELD_KIND_TABLE:
		put(s, "{", 1);
		for (i = 0; i < v->value.table.num_entries; i++) {
			if (i > 0)
				put(s, ",", 1);
			jstring(s, v->value.table.entries[i].key);
			put(s, ":", 1);
			value(s, &v->value.table.entries[i].value, 1);
		}
		put(s, "}", 1);
		break;
	default:
		/* a kind librabbitmq decodes and this does not know */
		putf(s, "%s", json ? "null" : "");
		break;
	}
}

/* Add name=val to h; 0, or -1 with why, -2 when the name is taken. */
static int
add(struct mq_headers *h, const char *name, size_t nlen, const char *val,
    size_t vlen, size_t limit, char *why, size_t len)
{
	char *v = visible(name, nlen);
	int r = -1;

	if (!mq_header_name_ok(name, nlen))
		snprintf(why, len, "header name %s: outside the grammar of "
		    "mq(7)", v);
	else if (memchr(val, '\0', vlen) != NULL)
		snprintf(why, len, "header %s: a NUL in its value", v);
	else if (nlen + vlen + 2 > limit - h->len)
		snprintf(why, len, "headers: over the %d bytes a message "
		    "holds", MQ_HDR_MAX);
	else if (mq_header_add(h, name, nlen, val, vlen) == -1) {
		snprintf(why, len, "header %s: %s", v, errno == MQ_EHDRDUP ?
		    "the same as another once '-' and '.' are '_'" :
		    mq_strerror(errno));
		r = errno == MQ_EHDRDUP ? -2 : -1;
	} else
		r = 0;
	free(v);
	return r;
}

/*
 * A table entry whose name a property took: the same value is there
 * already; another is kept as amqp-h-NAME.
 */
static int
add_entry(struct mq_headers *h, amqp_bytes_t key, const char *val,
    size_t vlen, size_t limit, char *why, size_t len)
{
	char name[MQ_HDR_NAME_MAX + 1];
	const char *have;
	size_t hlen;
	int r;

	if ((r = add(h, key.bytes, key.len, val, vlen, limit, why, len)) != -2)
		return r;
	if (key.len < sizeof(name)) {
		memcpy(name, key.bytes, key.len);
		name[key.len] = '\0';
		if ((have = mq_header_get(h, name, &hlen)) != NULL &&
		    hlen == vlen && memcmp(have, val, vlen) == 0)
			return 0;
	}
	if (key.len + 7 > MQ_HDR_NAME_MAX)
		return -1;
	memcpy(name, "amqp-h-", 7);
	memcpy(name + 7, key.bytes, key.len);
	return add(h, name, key.len + 7, val, vlen, limit, why, len) == 0 ?
	    0 : -1;
}

/*
 * The headers of a delivery, into h: the properties first, then the
 * table.  Returns 0, or -1 with why: mq cannot hold them all.  lenient:
 * keep what can be kept, within limit bytes, and say why of the first.
 */
static int
envelope_build(const amqp_envelope_t *env, struct mq_headers *h,
    int lenient, size_t limit, char *why, size_t len)
{
	amqp_basic_properties_t pr = env->message.properties;
	const amqp_table_entry_t *t;
	const struct prop *p;
	struct sink s;
	char vbuf[MQ_HDR_MAX + 1], ts[24], w[512];
	size_t i;
	int bad = 0;

	h->len = 0;
	for (i = 0; i < NELEM(mapped) + NELEM(kept_props) + 2; i++) {
		if (i < NELEM(mapped) + NELEM(kept_props)) {
			p = i < NELEM(mapped) ? &mapped[i] :
			    &kept_props[i - NELEM(mapped)];
			if (!(pr._flags & p->flag))
				continue;
			s = (struct sink){ propval(&pr, p)->bytes,
			    propval(&pr, p)->len, 0, 0 };
			if (add(h, p->name, strlen(p->name), s.buf, s.len,
			    limit, w, sizeof(w)) == 0)
				continue;
		} else if (i == NELEM(mapped) + NELEM(kept_props)) {
			if (!(pr._flags & AMQP_BASIC_TIMESTAMP_FLAG))
				continue;
			snprintf(ts, sizeof(ts), "%llu",
			    (unsigned long long)pr.timestamp);
			if (add(h, "amqp-timestamp", 14, ts, strlen(ts), limit,
			    w, sizeof(w)) == 0)
				continue;
		} else {
			/* the key it was routed by: mq's routing key */
			if (env->routing_key.len == 0 || add(h, MQ_HDR_ROUTING,
			    strlen(MQ_HDR_ROUTING), env->routing_key.bytes,
			    env->routing_key.len, limit, w, sizeof(w)) == 0)
				continue;
		}
		if (!bad)
			strlcpy(why, w, len);
		bad = 1;
		if (!lenient)
			return -1;
	}
	if (!(pr._flags & AMQP_BASIC_HEADERS_FLAG))
		return bad ? -1 : 0;
	for (i = 0; i < (size_t)pr.headers.num_entries; i++) {
		t = &pr.headers.entries[i];
		s = (struct sink){ vbuf, 0, sizeof(vbuf), 0 };
		value(&s, &t->value, 0);
		if (s.over)
			snprintf(w, sizeof(w), "headers: over the %d bytes a "
			    "message holds", MQ_HDR_MAX);
		if (!s.over && add_entry(h, t->key, s.buf, s.len, limit, w,
		    sizeof(w)) == 0)
			continue;
		if (!bad)
			strlcpy(why, w, len);
		bad = 1;
		if (!lenient)
			return -1;
	}
	return bad ? -1 : 0;
}

int
envelope_in(const amqp_envelope_t *env, struct mq_headers *h, char *why,
    size_t len)
{
	char first[8];
	size_t room;

	if (envelope_build(env, h, 0, MQ_HDR_MAX, why, len) == 0)
		return 0;
	/* what fits beside the error, which says what did not */
	if (strlen(why) > MQ_HDR_MAX / 4)
		why[MQ_HDR_MAX / 4] = '\0';
	room = MQ_HDR_MAX - (strlen(MQ_HDR_ERROR) + strlen(why) + 2);
	envelope_build(env, h, 1, room, first, sizeof(first));
	if (mq_header_add(h, MQ_HDR_ERROR, strlen(MQ_HDR_ERROR), why,
	    strlen(why)) == -1)
		h->len = 0;	/* a why with a NUL?  Not ours: never */
	return -1;
}
