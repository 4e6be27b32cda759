/*
 * mq-show - print the envelope of messages: what their names say, and
 * their headers.
 *
 * A message is shown whole or not at all: its headers are read and
 * checked before its first line is printed, so a message whose headers
 * are bad leaves nothing on stdout but its error on stderr.  Every
 * header value is escaped (vis(3) in text, JSON's escapes with -j), as
 * a producer may have put anything in it but NUL; the envelope fields
 * come from a name that met the grammar, or from numbers, and need none.
 */
#include <sys/types.h>

#include <err.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mq.h"
#include "tool.h"

struct show {
	struct mq_session	*s;
	int			 json;
	int			 shown;
};

static void __attribute__((noreturn))
usage(int help)
{
	usage_exit(help, "[-j] [-d dir] [path ...]");
}

/* epoch ms as ISO 8601 UTC, with the milliseconds when ms says so */
static void
isotime(char *buf, size_t len, int64_t t, int ms)
{
	struct tm tm;
	time_t s = (time_t)(t / 1000);
	size_t n;

	if (gmtime_r(&s, &tm) == NULL ||
	    (n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm)) == 0) {
		snprintf(buf, len, "?");
		return;
	}
	if (ms)
		snprintf(buf + n, len - n, ".%03dZ", (int)(t % 1000));
	else
		snprintf(buf + n, len - n, "Z");
}

/*
 * The length of the valid UTF-8 sequence s starts with (RFC 3629: no
 * overlong forms, no surrogates, nothing past U+10FFFF), or 0.
 */
static size_t
utf8len(const unsigned char *s, size_t len)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t n, i;

	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		if (s[0] == 0xe0)
			lo = 0xa0;
		else if (s[0] == 0xed)
			hi = 0x9f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		if (s[0] == 0xf0)
			lo = 0x90;
		else if (s[0] == 0xf4)
			hi = 0x8f;
	} else
		return 0;
	if (len < n || s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return n;
}

/*
 * A JSON string of any bytes: valid UTF-8 as it is, but for the C1
 * controls (U+0080 to U+009F, which some terminals obey) as \u00XX;
 * control characters and DEL as \u00XX; each byte b that is no part of
 * valid UTF-8 as \udcXX, XX its value: the lone surrogate U+DC00+b that
 * no valid UTF-8 can stand for (Python's "surrogateescape", PEP 383), so
 * the bytes can be had back exactly.
 */
static void
json_str(const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, n;

	putchar('"');
	while (i < len) {
		if (s[i] == '"' || s[i] == '\\') {
			printf("\\%c", s[i++]);
		} else if (s[i] < 0x20 || s[i] == 0x7f) {
			printf("\\u%04x", s[i++]);
		} else if (s[i] < 0x80) {
			putchar(s[i++]);
		} else if ((n = utf8len(s + i, len - i)) == 0) {
			printf("\\udc%02x", s[i++]);
		} else if (s[i] == 0xc2 && s[i + 1] <= 0x9f) {
			printf("\\u%04x", s[i + 1]);
			i += n;
		} else {
			fwrite(s + i, 1, n, stdout);
			i += n;
		}
	}
	putchar('"');
}

static void
field(struct show *sh, const char *name, const char *val, int quote)
{
	if (!sh->json)
		printf("%s: %s\n", name, val);
	else if (quote)
		printf(",\"%s\":\"%s\"", name, val);
	else
		printf(",\"%s\":%s", name, val);
}

static void
print1(struct show *sh, const struct mq_message *msg,
    const struct mq_headers *h)
{
	const struct mq_name *m = &msg->name;
	struct mq_header r;
	char buf[64], *v;
	size_t pos = 0;

	if (sh->json)
		printf("{\"id\":\"%s\"", m->id);
	else {
		if (sh->shown++ > 0)
			putchar('\n');
		printf("id: %s\n", m->id);
	}
	field(sh, "queue", msg->queue, 1);
	field(sh, "state", mq_state_name(msg->state), 1);
	snprintf(buf, sizeof(buf), "%d", m->prio);
	field(sh, "priority", buf, 0);
	snprintf(buf, sizeof(buf), "%d", m->attempts);
	field(sh, "attempts", buf, 0);
	snprintf(buf, sizeof(buf), "%lld", (long long)msg->size);
	field(sh, "size", buf, 0);
	isotime(buf, sizeof(buf), mq_id_time(m->id) * 1000, 0);
	field(sh, "enqueued", buf, 1);
	if (m->notbefore != 0) {
		isotime(buf, sizeof(buf), m->notbefore * 1000, 0);
		field(sh, "due", buf, 1);
	}
	if (m->expiry != 0) {
		isotime(buf, sizeof(buf), m->expiry * 1000, 0);
		field(sh, "expires", buf, 1);
	}
	if (m->key[0] != '\0')
		field(sh, "key", m->key, 1);
	if (m->group[0] != '\0')
		field(sh, "group", m->group, 1);
	if (msg->state == MQ_INFLIGHT) {
		isotime(buf, sizeof(buf), msg->lease_end, 1);
		field(sh, "lease", buf, 1);
	}
	if (m->reason[0] != '\0')
		field(sh, "reason", m->reason, 1);
	if (m->done != 0) {
		isotime(buf, sizeof(buf), m->done * 1000, 0);
		field(sh, "acked", buf, 1);
	}
	if (sh->json)
		printf(",\"headers\":{");
	while (mq_header_next(h, &pos, &r)) {
		if (sh->json) {
			printf("%s\"%.*s\":", r.name == h->buf ? "" : ",",
			    (int)r.nlen, r.name);
			json_str(r.val, r.vlen);
		} else {
			v = visible(r.val, r.vlen);
			printf("%.*s: %s\n", (int)r.nlen, r.name, v);
			free(v);
		}
	}
	if (sh->json)
		printf("}}\n");
	if (ferror(stdout))
		err(MQ_EX_IOERR, "stdout");
}

/* One operand or line: shown, or its error; the exit status it earns. */
static int
show1(const char *path, size_t len, void *arg)
{
	struct show *sh = arg;
	struct mq_message msg;
	struct mq_headers h;
	const char *what = NULL;
	char *v;
	int fd, e;

	if (strlen(path) != len)
		e = MQ_EHANDLE;
	else if ((fd = mq_open_message(sh->s, path, &msg)) == -1) {
		if ((e = errno) == MQ_ECONFIG)
			die_conf(mq_session_conferr(sh->s));
	} else {
		e = mq_headers_read(fd, &h) == -1 ? errno : 0;
		close(fd);
		if (e == 0) {
			print1(sh, &msg, &h);
			return 0;
		}
		what = "cannot read headers";
	}
	v = visible(path, len);
	if (what != NULL)
		warnx("%s: %s: %s", v, what, mq_strerror(e));
	else
		warnx("%s: %s", v, mq_strerror(e));
	free(v);
	return mq_exit_status(e);
}

int
main(int argc, char *argv[])
{
	char spool[PATH_MAX];
	struct show sh = { NULL, 0, 0 };
	const char *dir = NULL;
	int ch, status;

	while ((ch = getopt(argc, argv, "Vd:hj")) != -1) {
		switch (ch) {
		case 'V':
			version();
		case 'd':
			dir = optarg;
			break;
		case 'h':
			usage(1);
		case 'j':
			sh.json = 1;
			break;
		default:
			usage(0);
		}
	}
	argc -= optind;
	argv += optind;
	spool_path(dir, spool, sizeof(spool));
	if ((sh.s = mq_session_new(spool)) == NULL)
		err(MQ_EX_TEMPFAIL, NULL);
	status = mq_foreach_arg(argc, argv, stdin, show1, &sh);
	/* nothing was changed: there is nothing to sync, nothing to fail */
	mq_session_end(sh.s);
	close_stdout();
	return status;
}
