/*
 * mq-ack - acknowledge claimed messages: they are done and go away.
 */
#include <sys/types.h>

#include <err.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mq.h"
#include "tool.h"

static void __attribute__((noreturn))
usage(int help)
{
	usage_exit(help, "[-d dir] [handle ...]");
}

/* Say why a handle was refused, as each_handle does; its exit status. */
static int
report(struct mq_session *s, const char *h, size_t len, int e)
{
	char *v;

	if (e == MQ_ECONFIG)
		die_conf(mq_session_conferr(s));
	v = visible(h, len);
	warnx("%s: %s", v, mq_strerror(e));
	free(v);
	return mq_exit_status(e);
}

/*
 * Ack n handles of lengths len, in one mq_ack_many: a run of one queue's
 * takes its lock once.  A line with a NUL byte is no handle.  Returns the
 * worst status.
 */
static int
ack_batch(struct mq_session *s, char **h, const size_t *len, size_t n)
{
	const char **ok;
	size_t i, k;
	int *errs, e, st, status = 0;

	if (n == 0)
		return 0;
	ok = reallocarray(NULL, n, sizeof(*ok));
	errs = reallocarray(NULL, n, sizeof(*errs));
	if (ok == NULL || errs == NULL)
		err(MQ_EX_TEMPFAIL, NULL);
	for (i = k = 0; i < n; i++)
		if (strlen(h[i]) == len[i])
			ok[k++] = h[i];
	mq_ack_many(s, ok, k, errs);
	for (i = k = 0; i < n; i++) {
		e = strlen(h[i]) != len[i] ? MQ_EHANDLE : errs[k++];
		if (e != 0 && (st = report(s, h[i], len[i], e)) > status)
			status = st;
	}
	free(ok);
	free(errs);
	return status;
}

/*
 * The handles on standard input, one a line: each read's whole lines are
 * acked together (a line is never cut short; the last may lack its
 * newline).  No lock is held while reading: mq_ack_many drops its hold
 * before it returns.
 */
static int
ack_stdin(struct mq_session *s)
{
	char *buf = NULL, *nb, *nl, **h = NULL;
	size_t cap = 0, have = 0, start, n, capn = 0, *len = NULL;
	ssize_t r;
	int status = 0, eof = 0, st;

	while (!eof) {
		if (have + 1 >= cap) {
			cap = cap == 0 ? 65536 : cap * 2;
			if ((nb = realloc(buf, cap)) == NULL)
				err(MQ_EX_TEMPFAIL, NULL);
			buf = nb;
		}
		if ((r = read(STDIN_FILENO, buf + have, cap - have - 1)) == -1) {
			if (errno == EINTR)
				continue;
			warn("stdin");
			if (status < MQ_EX_IOERR)
				status = MQ_EX_IOERR;
			r = 0;
		}
		eof = r == 0;
		have += (size_t)r;
		/* the whole lines; at the end, what is left is one too */
		for (start = n = 0; start < have; start = nl + 1 - buf) {
			if ((nl = memchr(buf + start, '\n', have - start)) ==
			    NULL) {
				if (!eof)
					break;
				nl = buf + have;
			}
			*nl = '\0';
			if (nl == buf + start)
				continue;	/* an empty line */
			if (n == capn) {
				capn = capn == 0 ? 256 : capn * 2;
				h = reallocarray(h, capn, sizeof(*h));
				len = reallocarray(len, capn, sizeof(*len));
				if (h == NULL || len == NULL)
					err(MQ_EX_TEMPFAIL, NULL);
			}
			h[n] = buf + start;
			len[n++] = (size_t)(nl - (buf + start));
		}
		if ((st = ack_batch(s, h, len, n)) > status)
			status = st;
		if (start > have)
			start = have;
		memmove(buf, buf + start, have - start);
		have -= start;
	}
	free(buf);
	free(h);
	free(len);
	return status;
}

int
main(int argc, char *argv[])
{
	char spool[PATH_MAX];
	struct mq_session *s;
	const char *dir = NULL;
	size_t *len;
	int ch, i, status;

	while ((ch = getopt(argc, argv, "Vd:h")) != -1) {
		switch (ch) {
		case 'V':
			version();
		case 'd':
			dir = optarg;
			break;
		case 'h':
			usage(1);
		default:
			usage(0);
		}
	}
	argc -= optind;
	argv += optind;
	spool_path(dir, spool, sizeof(spool));
	if ((s = mq_session_new(spool)) == NULL)
		err(MQ_EX_TEMPFAIL, NULL);
	if (argc > 0) {
		if ((len = reallocarray(NULL, argc, sizeof(*len))) == NULL)
			err(MQ_EX_TEMPFAIL, NULL);
		for (i = 0; i < argc; i++)
			len[i] = strlen(argv[i]);
		status = ack_batch(s, argv, len, argc);
		free(len);
	} else
		status = ack_stdin(s);
	if (mq_session_end(s) == -1)
		errx(mq_exit_status(errno), "cannot sync spool: %s",
		    mq_strerror(errno));
	return status;
}
