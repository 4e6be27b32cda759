/*
 * tool.h - the few lines every tool would otherwise repeat: finding the
 * spool and opening a queue, with the one error message and exit status
 * each failure gets (see EXIT STATUS in mq(7)).
 */
#ifndef MQ_TOOL_H
#define MQ_TOOL_H

#include <err.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#define LIBBSD_OPENBSD_VIS	/* libbsd's vis.h asks which strnvis; none */
#include <vis.h>

#include "mq.h"

/* tool.c: the exit status of an errno (mq(7)), and the operand loop */
int	 mq_exit_status(int err);
/*
 * fn gets each operand or line and its length in bytes: a line with a NUL
 * byte is longer than the string, and so no handle or id (fn says so).
 */
typedef int (*mq_argfn)(const char *, size_t len, void *);
int	 mq_foreach_arg(int argc, char **argv, FILE *in, mq_argfn, void *);
/* a message's headers as MQ_H_<name>, in a child about to exec a command */
int	 header_env(const struct mq_headers *);
/* make fd (-1: /dev/null, opened with flags) the descriptor to */
int	 redirect(int fd, int to, int flags);

/* milliseconds on a clock no one sets: for timeouts and spacing */
static inline int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline void
spool_path(const char *opt, char *buf, size_t len)
{
	if (mq_spool_path(opt, buf, len) == -1)
		err(MQ_EX_USAGE, "spool");
}

static inline void __attribute__((noreturn))
die_conf(const struct mq_conferr *ce)
{
	if (ce->line > 0)
		errx(MQ_EX_CONFIG, "%s:%d: %s", ce->file, ce->line, ce->reason);
	errx(MQ_EX_CONFIG, "%s: %s", ce->file, ce->reason);
}

/*
 * A string mq did not make and the grammar did not pass (a refused handle,
 * a bad queue name, a line of input) may hold anything a group member
 * could plant: it is printed escaped as vis(3) does with VIS_CSTYLE |
 * VIS_OCTAL | VIS_TAB | VIS_NL (\n, \t, \033 and the like, a backslash
 * doubled), never raw, so that it can neither drive the terminal nor pass
 * for two lines (see mq(7)).  Names that met the grammar hold no byte this
 * changes.  Free the result.
 */
static inline char *
visible(const char *s, size_t len)
{
	char *v;

	if ((v = reallocarray(NULL, len + 1, 4)) == NULL)
		err(MQ_EX_TEMPFAIL, NULL);
	strvisx(v, s, len, VIS_CSTYLE | VIS_OCTAL | VIS_TAB | VIS_NL);
	return v;
}

/*
 * The header names no message may carry (mq(7) Headers): the AMQP
 * properties mq-forward fills from mq's own id, put time, ttl and name,
 * by which the far side drops duplicates.  Compared as MQ_H_ names are,
 * '-' and '.' as '_'.  The reserved name, or NULL.
 */
static inline const char *
reserved_header(const char *name, size_t len)
{
	static const char *const names[] = {
		"message-id", "timestamp", "expiration", "app-id"
	};
	size_t i, j;
	int a, b;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strlen(names[i]) != len)
			continue;
		for (j = 0; j < len; j++) {
			a = name[j] == '.' || name[j] == '_' ? '-' : name[j];
			b = names[i][j];
			if (a != b)
				break;
		}
		if (j == len)
			return names[i];
	}
	return NULL;
}

/*
 * Whether a header name is original-id (MQ_HDR_ORIGINAL), compared as
 * MQ_H_ names are: only mq-replay sets it, so that it always names the
 * message a copy was made of; a producer may not (mq-put -H), while a
 * receiver keeps what a replay on the far side set (mq-recv).
 */
static inline int
replay_header(const char *name, size_t len)
{
	const char *r = MQ_HDR_ORIGINAL;
	size_t j;

	if (strlen(r) != len)
		return 0;
	for (j = 0; j < len; j++)
		if ((name[j] == '.' || name[j] == '_' ? '-' : name[j]) != r[j])
			return 0;
	return 1;
}

/* A queue operand must be a queue name (mq(7)), or the tool stops. */
static inline void
check_queue_name(const char *name)
{
	if (!mq_queue_name_ok(name))
		errx(MQ_EX_USAGE, "%s: bad queue name",
		    visible(name, strlen(name)));
}

static inline void __attribute__((noreturn))
die_queue(const char *name, int e)
{
	errx(mq_exit_status(e), "%s: %s", name, mq_strerror(e));
}

static inline struct mq_queue *
open_queue(const char *spool, const char *name, int flags)
{
	struct mq_conferr ce;
	struct mq_queue *q;

	check_queue_name(name);
	if ((q = mq_queue_open(spool, name, flags, &ce)) == NULL) {
		if (errno == MQ_ECONFIG)
			die_conf(&ce);
		die_queue(name, errno);
	}
	return q;
}

static inline void
close_stdout(void)
{
	if (fclose(stdout) == EOF)
		err(MQ_EX_IOERR, "stdout");
}

/*
 * Each tool's usage(help) passes its synopsis here.  Asked for (-h,
 * --help), the usage is the answer: on stdout, status 0, or 74 when stdout
 * cannot take it.  After a usage error it goes with the error, to stderr,
 * status 64.
 */
static inline void __attribute__((noreturn))
usage_exit(int help, const char *synopsis)
{
	if (!help) {
		fprintf(stderr, "usage: %s %s\n", getprogname(), synopsis);
		exit(MQ_EX_USAGE);
	}
	printf("usage: %s %s\n", getprogname(), synopsis);
	close_stdout();
	exit(0);
}

static inline void __attribute__((noreturn))
version(void)
{
	printf("%s %s\n", getprogname(), MQ_VERSION);
	close_stdout();
	exit(0);
}

typedef int (*handle_op)(struct mq_session *, const char *handle, void *);

struct handle_loop {
	struct mq_session	*s;
	handle_op		 op;
	void			*arg;
};

/*
 * A handle that failed is named in the warning, escaped: it may be a
 * line of stdin with a NUL byte (shown whole, refused as no handle) or
 * any path at all.
 */
static inline int
handle1(const char *handle, size_t len, void *arg)
{
	struct handle_loop *l = arg;
	char *v;
	int e;

	if (strlen(handle) != len)
		e = MQ_EHANDLE;
	else if (l->op(l->s, handle, l->arg) == 0)
		return 0;
	else if ((e = errno) == MQ_ECONFIG)
		die_conf(mq_session_conferr(l->s));
	v = visible(handle, len);
	warnx("%s: %s", v, mq_strerror(e));
	free(v);
	return mq_exit_status(e);
}

/*
 * Apply op to each handle operand, or to each line of stdin when there are
 * none.  Per-handle failures are reported and the rest go on; the status
 * is the worst seen.  Exits non-zero if what changed cannot be made durable.
 */
static inline int
each_handle(const char *spool, int argc, char **argv, handle_op op,
    void *arg)
{
	struct handle_loop l = { NULL, op, arg };
	int status;

	if ((l.s = mq_session_new(spool)) == NULL)
		err(MQ_EX_TEMPFAIL, NULL);
	status = mq_foreach_arg(argc, argv, stdin, handle1, &l);
	if (mq_session_end(l.s) == -1)
		errx(mq_exit_status(errno), "cannot sync spool: %s",
		    mq_strerror(errno));
	return status;
}

/*
 * Apply op to each queue operand (all of them must name queues).  A
 * failing queue is reported and the rest go on; the status is the worst.
 */
static inline int
each_queue(const char *spool, int argc, char **argv,
    int (*op)(struct mq_queue *), const char *what)
{
	struct mq_conferr ce;
	struct mq_queue *q;
	int i, status = 0, e;

	for (i = 0; i < argc; i++)
		check_queue_name(argv[i]);
	for (i = 0; i < argc; i++) {
		e = 0;
		if ((q = mq_queue_open(spool, argv[i], 0, &ce)) == NULL) {
			e = errno;
			if (e == MQ_ECONFIG)
				die_conf(&ce);
			warnx("%s: %s", argv[i], mq_strerror(e));
		} else if (op(q) == -1) {
			e = errno;
			warnx("%s: cannot %s: %s", argv[i], what,
			    mq_strerror(e));
		}
		if (e != 0 && mq_exit_status(e) > status)
			status = mq_exit_status(e);
		mq_queue_close(q);
	}
	return status;
}

#endif
