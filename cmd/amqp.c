/*
 * amqp.c - connecting to the broker for mq-forward and mq-recv (amqp.h).
 */
#include <sys/stat.h>
#include <sys/time.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
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
