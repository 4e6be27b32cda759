/*
 * mq-sub - subscribe queues to a topic, bind them to routing keys,
 * unsubscribe or unbind them, list them.
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
	usage_exit(help, "[-r] [-b pattern] [-d dir] topic [queue ...]");
}

/*
 * Print the subscribers of a topic: the queue alone when it takes every
 * key (the implicit "#", or "#" its one binding), else a line
 * queue<TAB>pattern per binding.  Returns the status.
 */
static int
list(struct mq_queue *t, const char *topic)
{
	char **v, *b, *p, *nl, why[160];
	size_t n, i, len;
	int status = 0;

	if (mq_subscribers(t, &v, &n) == -1)
		die_queue(topic, errno);
	for (i = 0; i < n; i++) {
		if (mq_bindings(t, v[i], &b, &len, why, sizeof(why)) == -1) {
			warnx("%s: bindings of %s: %s%s%s", topic, v[i],
			    mq_strerror(errno), why[0] ? ": " : "", why);
			if (mq_exit_status(errno) > status)
				status = mq_exit_status(errno);
		} else if (b == NULL || (len == 2 && memcmp(b, "#\n", 2) == 0))
			printf("%s\n", v[i]);
		else
			for (p = b; p < b + len; p = nl + 1) {
				nl = memchr(p, '\n', (size_t)(b + len - p));
				printf("%s\t%.*s\n", v[i], (int)(nl - p), p);
			}
		free(b);
		free(v[i]);
	}
	free(v);
	return status;
}

/* The topic still holds messages to deliver: say how many. */
static int
refused(const char *topic, long long n)
{
	warnx("%s: holds %lld message%s (ready, delayed or in flight); "
	    "drain or purge it first", topic, n, n == 1 ? "" : "s");
	return mq_exit_status(MQ_ENOTEMPTY);
}

/* Why a change of bindings failed: EPERM says who may make it. */
static int
cannot(const char *what, const char *name, const char *topic, int e)
{
	if (e == EPERM)
		warnx("%s: cannot %s %s: only the topic's owner or root may "
		    "change bindings", name, what, topic);
	else
		warnx("%s: cannot %s %s: %s", name, what, topic,
		    mq_strerror(e));
	return mq_exit_status(e);
}

/* Unsubscribe one queue, or with patterns, unbind it; returns its status. */
static int
unsub1(struct mq_queue *t, const char *topic, const char *name,
    char **pat, int npat)
{
	char *v;
	int i, r, status = 0;

	if (npat == 0) {
		if (mq_unsubscribe(t, name) == 0)
			return 0;
		if (errno == ENOENT) {
			warnx("%s: not a subscriber of %s", name, topic);
			return MQ_EX_NONE;
		}
		return cannot("unsubscribe from", name, topic, errno);
	}
	for (i = 0; i < npat; i++) {
		if ((r = mq_unbind(t, name, pat[i])) == 0)
			continue;
		if (r == 1 || errno == ENOENT) {
			v = visible(pat[i], strlen(pat[i]));
			warnx("%s: not bound to %s by %s", name, topic, v);
			free(v);
			r = MQ_EX_NONE;
		} else
			r = cannot("unbind from", name, topic, errno);
		if (r > status)
			status = r;
	}
	return status;
}

/*
 * Subscribe one queue, with its bindings; returns its status.  A refusal
 * of the topic sets *pending, and no other queue can subscribe.
 */
static int
sub1(const char *spool, struct mq_queue *t, const char *topic,
    const char *name, char **pat, int npat, long long *pending)
{
	struct mq_conferr ce;
	struct mq_queue *q;
	int i, r, e = 0;

	/* a subscriber is created like a queue mq-put puts to */
	if ((q = mq_queue_open(spool, name, MQ_CREATE, &ce)) == NULL) {
		if (errno == MQ_ECONFIG)
			die_conf(&ce);
		e = errno;
		warnx("%s: %s", name, mq_strerror(e));
		return mq_exit_status(e);
	}
	r = 0;
	for (i = 0; i < (npat > 0 ? npat : 1) && r == 0; i++)
		if ((r = mq_subscribe(t, q, npat > 0 ? pat[i] : NULL,
		    pending)) == -1)
			e = errno;
	mq_queue_close(q);
	if (r == 0)
		return 0;
	if (e == MQ_ENOTEMPTY)
		return refused(topic, *pending);
	return cannot(npat > 0 ? "bind to" : "subscribe to", name, topic, e);
}

int
main(int argc, char *argv[])
{
	struct mq_queue *t;
	char spool[PATH_MAX], **pat = NULL, *v;
	const char *dir = NULL;
	long long pending = 0;
	int ch, i, rm = 0, r, status = 0, npat = 0;

	while ((ch = getopt(argc, argv, "Vb:d:hr")) != -1) {
		switch (ch) {
		case 'V':
			version();
		case 'b':
			if (!mq_route_ok(optarg, strlen(optarg))) {
				v = visible(optarg, strlen(optarg));
				errx(MQ_EX_DATAERR, "%s: %s", v,
				    mq_strerror(MQ_EPATTERN));
			}
			if ((pat = reallocarray(pat, npat + 1,
			    sizeof(*pat))) == NULL)
				err(MQ_EX_TEMPFAIL, NULL);
			pat[npat++] = optarg;
			break;
		case 'd':
			dir = optarg;
			break;
		case 'h':
			usage(1);
		case 'r':
			rm = 1;
			break;
		default:
			usage(0);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1 || ((rm || npat > 0) && argc < 2))
		usage(0);
	spool_path(dir, spool, sizeof(spool));
	for (i = 0; i < argc; i++)
		check_queue_name(argv[i]);
	for (i = 1; i < argc && !rm; i++)
		if (strcmp(argv[i], argv[0]) == 0)
			errx(MQ_EX_USAGE, "%s: a topic cannot subscribe to "
			    "itself", argv[0]);

	/* only subscribing makes a missing topic */
	t = open_queue(spool, argv[0], argc > 1 && !rm ? MQ_CREATE : 0);
	if (argc == 1)
		status = list(t, argv[0]);
	/* a refused topic makes no subscriber queue; mq_subscribe decides */
	if (argc > 1 && !rm && mq_subscribe_check(t, &pending) == -1) {
		if (errno != MQ_ENOTEMPTY)
			die_queue(argv[0], errno);
		status = refused(argv[0], pending);
	}
	for (i = 1; i < argc && pending == 0; i++) {
		r = rm ? unsub1(t, argv[0], argv[i], pat, npat) :
		    sub1(spool, t, argv[0], argv[i], pat, npat, &pending);
		if (r > status)
			status = r;
	}
	free(pat);
	mq_queue_close(t);
	close_stdout();
	return status;
}
