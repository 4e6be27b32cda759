/*
 * conf.c - mq.conf(5): /etc/mq.conf (or $MQ_CONF), then QUEUE/mq.conf.
 *
 * Both files have the same grammar and later files override earlier ones
 * key by key.  A file is applied only when it parses completely: a typo in
 * a queue's file must not leave that queue half-configured, so values go to
 * a scratch copy first.  Errors carry the file and line for the tool to
 * print as "file:line: reason".
 *
 * The sections, [forward] and [recv], are the broker tools': their keys
 * go to the tool's mq_conf_sections hook with the owner of the file, or
 * are skipped unread when no tool asked for them.
 *
 * Whose word a file is, is trust.c's to say.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <ini.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

struct loadctx {
	struct mq_conf		 conf;
	struct mq_conferr	*err;
	FILE			*f;
	int			 line;
	uid_t			 owner;		/* of the file being read */
};

/*
 * A group name, or the number of a group; EINVAL otherwise.  A number no
 * group has would leave every file of the queue to a group nobody is in.
 */
int
mq_parse_group(const char *s, gid_t *gid)
{
	struct group *gr;
	const char *e = NULL;

	if ((gr = getgrnam(s)) != NULL) {
		*gid = gr->gr_gid;
		return 0;
	}
	*gid = (gid_t)strtonum(s, 0, 0x7fffffff, &e);
	if (e != NULL || getgrgid(*gid) == NULL) {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

/*
 * A lease, from -L or the config: no shorter than MQ_LEASE_MIN, as a
 * worker that renews a lease every third of it would renew a shorter one
 * every 0 ms.
 */
int
mq_parse_lease(const char *s, int64_t *ms)
{
	if (mq_parse_duration(s, ms) == -1)
		return -1;
	/* mq-work renews every third; a claim names its lease in ,l */
	if (*ms < MQ_LEASE_MIN || *ms > MQ_LEASE_MAX) {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

void
mq_conf_defaults(struct mq_conf *c)
{
	c->lease_ms = 30 * 1000;
	c->backoff_ms = 1000;
	c->backoff_max_ms = 3600 * 1000;
	c->ttl_ms = 0;
	c->dedup_window_ms = 5 * 60 * 1000;	/* as SQS's deduplication interval */
	c->max_size = 64 * 1024 * 1024;
	c->max_attempts = 5;
	c->sync = MQ_SYNC_FULL;
	c->bucket_size = 1024;
	c->mode = -1;
	c->gid = (gid_t)-1;
	c->wait_poll = 0;
	c->poll_interval_ms = 1000;
	c->rate_us = 0;
	c->max_length = 0;
	c->max_length_bytes = 0;
	c->overflow = MQ_OVERFLOW_REJECT;
	c->conf_ns = 0;
	c->retain_ms = 0;
	c->retain_bytes = 0;
	/* RocketMQ asks after a minute, and gives up after 15 asks */
	c->prepare_timeout_ms = 60 * 1000;
	c->prepare_max = 15;
}

static int
fail(struct loadctx *x, int line, const char *fmt, const char *a,
    const char *b)
{
	/* inih goes on after an error: keep the first one */
	if (x->err->line == 0) {
		snprintf(x->err->reason, sizeof(x->err->reason), fmt, a, b);
		x->err->line = line;
	}
	return 0;
}

static int
duration(struct loadctx *x, int line, const char *k, const char *v,
    int64_t min, int64_t *out)
{
	int64_t ms;

	if (mq_parse_duration(v, &ms) == -1 || ms < min)
		return fail(x, line, "%s: bad duration: %s", k, v);
	*out = ms;
	return 1;
}

static int
integer(struct loadctx *x, int line, const char *k, const char *v,
    long long min, long long max, int *out)
{
	const char *e = NULL;
	long long n;

	n = strtonum(v, min, max, &e);
	if (e != NULL)
		return fail(x, line, "%s: value %s", k, e);
	*out = (int)n;
	return 1;
}

/*
 * The sections of the tools (mq_conf_sections), the one list of them:
 * the library reads none of their keys, and knows no other section.
 */
static const char *const sections[] = { "forward", "recv" };
static mq_sectionfn sectionfn;
static void *sectionarg;

void
mq_conf_sections(mq_sectionfn fn, void *arg)
{
	sectionfn = fn;
	sectionarg = arg;
}

/* The section named at s, blanks around the name skipped up to *end. */
static const char *
section_name(const char *s, const char **end)
{
	size_t i, n;

	s += strspn(s, " \t");
	for (i = 0; i < sizeof(sections) / sizeof(sections[0]); i++) {
		n = strlen(sections[i]);
		if (strncmp(s, sections[i], n) == 0 && (s[n] == '\0' ||
		    s[n] == ' ' || s[n] == '\t' || s[n] == ']')) {
			*end = s + n + strspn(s + n, " \t");
			return sections[i];
		}
	}
	return NULL;
}

/* "[forward]" or "[recv]", spaces allowed around the name and after. */
static int
known_section(const char *s)
{
	if (section_name(s + 1, &s) == NULL || *s++ != ']')
		return 0;
	s += strspn(s, " \t\r\n");
	return *s == '\0' || *s == '#' || *s == ';';
}

/*
 * inih tells handlers no line number, stops lines at its buffer size and
 * at NUL bytes, and does not tell handlers about sections: read lines
 * ourselves, count them, and catch what inih would get wrong.
 */
static char *
reader(char *buf, int len, void *user)
{
	struct loadctx *x = user;
	size_t n = 0, i;
	int c = EOF, nul = 0, lost = 0;

	while ((c = getc(x->f)) != EOF) {
		if (c == '\0')
			nul = 1;
		if (n + 2 < (size_t)len)
			buf[n++] = (char)c;
		else if (c != '\n')
			lost = 1;
		if (c == '\n')
			break;
	}
	if (n == 0 && c == EOF)
		return NULL;
	if (lost && buf[n - 1] != '\n')
		buf[n++] = '\n';
	buf[n] = '\0';
	x->line++;
	for (i = 0; buf[i] == ' ' || buf[i] == '\t'; i++)
		;
	if (nul)
		fail(x, x->line, "%s%s", "NUL byte in line", "");
	else if (buf[i] == '[' && !known_section(buf + i))
		fail(x, x->line, "%s%s", "unknown section", "");
	else if (lost && buf[i] != '#' && buf[i] != ';')
		fail(x, x->line, "%s%s", "line too long", "");
	return buf;
}

/* A key of a tool's section, for the tool to read. */
static int
tool_key(struct loadctx *x, int line, const char *section, const char *k,
    const char *v)
{
	char why[sizeof(x->err->reason)] = "";

	if (sectionfn == NULL || sectionfn(section, line, k, v, x->owner, why,
	    sizeof(why), sectionarg) == 0)
		return 1;
	if (why[0] == '\0')
		return fail(x, line, "%s: refused%s", k, "");
	return fail(x, line, "%s%s", why, "");
}

static int
handler(void *user, const char *section, const char *k, const char *v)
{
	struct loadctx *x = user;
	struct mq_conf *c = &x->conf;
	int64_t n;
	const char *name, *rest;
	char *end, min[32];
	long m;
	int line = x->line;

	/* inih keeps the spaces of "[ recv ]"; the reader allowed them */
	section += strspn(section, " \t");
	if (section[0] != '\0') {
		if ((name = section_name(section, &rest)) == NULL ||
		    *rest != '\0')
			return fail(x, line, "unknown section [%s]%s", section,
			    "");
		return tool_key(x, line, name, k, v);
	}
	if (strcmp(k, "lease") == 0) {
		if (mq_parse_lease(v, &n) == -1) {
			if (n > MQ_LEASE_MAX)
				return fail(x, line,
				    "lease: longer than 31 years: %s", v, "");
			snprintf(min, sizeof(min), "%dms", MQ_LEASE_MIN);
			return fail(x, line, "lease: bad lease, %s or more: %s",
			    min, v);
		}
		c->lease_ms = n;
		return 1;
	}
	if (strcmp(k, "backoff") == 0)
		return duration(x, line, k, v, 0, &c->backoff_ms);
	if (strcmp(k, "backoff_max") == 0)
		return duration(x, line, k, v, 0, &c->backoff_max_ms);
	if (strcmp(k, "ttl") == 0)
		return duration(x, line, k, v, 0, &c->ttl_ms);
	if (strcmp(k, "poll_interval") == 0)
		return duration(x, line, k, v, 1, &c->poll_interval_ms);
	if (strcmp(k, "wait") == 0) {
		if (strcmp(v, "inotify") == 0)
			c->wait_poll = 0;
		else if (strcmp(v, "poll") == 0)
			c->wait_poll = 1;
		else
			return fail(x, line,
			    "%s: must be inotify or poll: %s", k, v);
		return 1;
	}
	if (strcmp(k, "rate") == 0) {
		/* 0: no limit, so a queue can lift the global file's */
		if (strcmp(v, "0") == 0)
			c->rate_us = 0;
		else if (mq_parse_rate(v, &c->rate_us) == -1)
			return fail(x, line,
			    "%s: bad rate, N, N/s, N/m or N/h: %s", k, v);
		return 1;
	}
	/* a name holds no ack time past MQ_TIME_MAX: no longer either */
	if (strcmp(k, "retain") == 0) {
		if (mq_parse_duration(v, &n) == -1 || n < 0 ||
		    n / 1000 > MQ_TIME_MAX)
			return fail(x, line, "%s: bad duration: %s", k, v);
		c->retain_ms = n;
		return 1;
	}
	if (strcmp(k, "retain_bytes") == 0) {
		if (mq_parse_size(v, &n) == -1 || n > INT64_C(1) << 50)
			return fail(x, line, "%s: bad size: %s", k, v);
		c->retain_bytes = n;
		return 1;
	}
	if (strcmp(k, "dedup_window") == 0)
		return duration(x, line, k, v, 0, &c->dedup_window_ms);
	if (strcmp(k, "prepare_timeout") == 0)
		return duration(x, line, k, v, 1, &c->prepare_timeout_ms);
	if (strcmp(k, "prepare_max") == 0)
		return integer(x, line, k, v, 1, 1000000, &c->prepare_max);
	if (strcmp(k, "max_attempts") == 0)
		return integer(x, line, k, v, 0, 1000000, &c->max_attempts);
	if (strcmp(k, "bucket_size") == 0)
		return integer(x, line, k, v, 1, 1000000, &c->bucket_size);
	if (strcmp(k, "max_size") == 0) {
		if (mq_parse_size(v, &n) == -1 || n > INT64_C(1) << 40)
			return fail(x, line, "%s: bad size: %s", k, v);
		c->max_size = n;
		return 1;
	}
	if (strcmp(k, "max_length") == 0) {
		const char *e = NULL;

		/* 0: no limit, so a queue can lift the global file's */
		c->max_length = strtonum(v, 0, MQ_LENGTH_MAX, &e);
		if (e != NULL)
			return fail(x, line, "%s: value %s", k, e);
		return 1;
	}
	if (strcmp(k, "max_length_bytes") == 0) {
		if (mq_parse_size(v, &n) == -1 || n > MQ_LENGTH_BYTES_MAX)
			return fail(x, line, "%s: bad size: %s", k, v);
		c->max_length_bytes = n;
		return 1;
	}
	if (strcmp(k, "overflow") == 0) {
		if (strcmp(v, "reject") == 0)
			c->overflow = MQ_OVERFLOW_REJECT;
		else if (strcmp(v, "dead-oldest") == 0)
			c->overflow = MQ_OVERFLOW_DEAD_OLDEST;
		else
			return fail(x, line,
			    "%s: must be reject or dead-oldest: %s", k, v);
		return 1;
	}
	if (strcmp(k, "sync") == 0) {
		if (strcmp(v, "none") == 0)
			c->sync = MQ_SYNC_NONE;
		else if (strcmp(v, "batch") == 0)
			c->sync = MQ_SYNC_BATCH;
		else if (strcmp(v, "full") == 0)
			c->sync = MQ_SYNC_FULL;
		else
			return fail(x, line,
			    "%s: must be none, batch or full: %s", k, v);
		return 1;
	}
	if (strcmp(k, "mode") == 0) {
		errno = 0;
		m = strtol(v, &end, 8);
		if (*v < '0' || *v > '7' || *end != '\0' || errno != 0 ||
		    m > 0777)
			return fail(x, line, "%s: bad octal mode: %s", k, v);
		c->mode = (int)m;
		return 1;
	}
	if (strcmp(k, "group") == 0) {
		if (mq_parse_group(v, &c->gid) == -1)
			return fail(x, line, "%s: no such group: %s", k, v);
		return 1;
	}
	return fail(x, line, "unknown key: %s%s", k, "");
}

/*
 * Load one file over *c.  A missing file is not an error unless must_exist;
 * dirfd/path are opened with mq_openat so a queue's file is found through
 * the queue's directory descriptor, and a symlink or FIFO planted there is
 * refused (MQ_ECONFIG, the file named), never followed nor waited on.  The
 * owner is checked on the descriptor, so what is read is what was checked.
 */
int
mq_conf_load(struct mq_conf *c, int dirfd, const char *path, int must_exist,
    uid_t owner, struct mq_conferr *err)
{
	struct loadctx x;
	struct stat st;
	FILE *f;
	int fd, r, saved;

	memset(err, 0, sizeof(*err));
	strlcpy(err->file, path, sizeof(err->file));
	fd = mq_openat_stat(dirfd, path, O_RDONLY, 0, &st);
	if (fd == -1) {
		if (errno == ENOENT && !must_exist)
			return 0;
		/* out of descriptors or memory is no fault of the file */
		if (errno == EMFILE || errno == ENFILE || errno == ENOMEM ||
		    errno == EINTR)
			return -1;
		saved = errno;
		snprintf(err->reason, sizeof(err->reason), "%s",
		    mq_strerror(saved));
		errno = MQ_ECONFIG;
		return -1;
	}
	if (conf_trusted(&st, owner, 1, "", err->reason,
	    sizeof(err->reason)) == -1) {
		close(fd);
		errno = MQ_ECONFIG;
		return -1;
	}
	if ((f = fdopen(fd, "r")) == NULL) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	x.conf = *c;
	x.err = err;
	x.f = f;
	x.line = 0;
	x.owner = st.st_uid;
	r = ini_parse_stream(reader, &x, handler, &x);
	if (ferror(f) && r == 0)
		r = -1;
	fclose(f);
	if (r != 0 || err->line != 0) {
		if (r > 0 && (err->line == 0 || r < err->line)) {
			err->line = r;
			snprintf(err->reason, sizeof(err->reason),
			    "syntax error: expected key = value");
		} else if (r < 0) {
			err->line = 0;
			snprintf(err->reason, sizeof(err->reason),
			    "cannot read");
		}
		errno = MQ_ECONFIG;
		return -1;
	}
	*c = x.conf;
	/* a change to either file may have set a limit: the counts follow */
	if ((int64_t)st.st_ctim.tv_sec * 1000000000 + st.st_ctim.tv_nsec >
	    c->conf_ns)
		c->conf_ns = (int64_t)st.st_ctim.tv_sec * 1000000000 +
		    st.st_ctim.tv_nsec;
	return 0;
}

/*
 * Copy a queue's mq.conf (in; NULL: there is none) to out with its mode
 * and group set anew (mq-init -g, mq_queue_share): every other line stays
 * as it was.
 */
int
conf_rewrite_share(FILE *in, FILE *out, int mode, const char *group)
{
	char line[1024], *k;

	while (in != NULL && fgets(line, sizeof(line), in) != NULL) {
		for (k = line; *k == ' ' || *k == '\t'; k++)
			;
		if ((strncmp(k, "mode", 4) == 0 &&
		    strchr(" \t=", k[4]) != NULL) ||
		    (strncmp(k, "group", 5) == 0 &&
		    strchr(" \t=", k[5]) != NULL))
			continue;
		fputs(line, out);
	}
	fprintf(out, "mode = 0%o\n", (unsigned)mode);
	if (group != NULL)
		fprintf(out, "group = %s\n", group);
	return ferror(out) ? -1 : 0;
}
