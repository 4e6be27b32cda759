/*
 * mq-sub - subscribe queues to a topic, unsubscribe them, list them.
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
	usage_exit(help, "[-r] [-d dir] topic [queue ...]");
}

/* Print the subscribers of a topic, one per line. */
static void
list(struct mq_queue *t, const char *topic)
{
	char **v;
	size_t n, i;

	if (mq_subscribers(t, &v, &n) == -1)
		die_queue(topic, errno);
	for (i = 0; i < n; i++) {
		printf("%s\n", v[i]);
		free(v[i]);
	}
	free(v);
}

/* The topic still holds messages to deliver: say how many. */
static int
refused(const char *topic, long long n)
{
	warnx("%s: holds %lld message%s (ready, delayed or in flight); "
	    "drain or purge it first", topic, n, n == 1 ? "" : "s");
	return mq_exit_status(MQ_ENOTEMPTY);
}

/*
 * Subscribe (or with rm, unsubscribe) one queue; returns its status.  A
 * refusal of the topic sets *pending, and no other queue can subscribe.
 */
static int
sub1(const char *spool, struct mq_queue *t, const char *topic,
    const char *name, int rm, long long *pending)
{
	struct mq_conferr ce;
	struct mq_queue *q;
	int r, e;

	if (rm) {
		if (mq_unsubscribe(t, name) == 0)
			return 0;
		e = errno;
		if (e == ENOENT) {
			warnx("%s: not a subscriber of %s", name, topic);
			return MQ_EX_NONE;
		}
		warnx("%s: cannot unsubscribe from %s: %s", name, topic,
		    mq_strerror(e));
		return mq_exit_status(e);
	}
	/* a subscriber is created like a queue mq-put puts to */
	if ((q = mq_queue_open(spool, name, MQ_CREATE, &ce)) == NULL) {
		if (errno == MQ_ECONFIG)
			die_conf(&ce);
		e = errno;
		warnx("%s: %s", name, mq_strerror(e));
		return mq_exit_status(e);
	}
	r = mq_subscribe(t, q, pending);
	e = errno;
	mq_queue_close(q);
	if (r == 0)
		return 0;
	if (e == MQ_ENOTEMPTY)
		return refused(topic, *pending);
	warnx("%s: cannot subscribe to %s: %s", name, topic, mq_strerror(e));
	return mq_exit_status(e);
}

int
main(int argc, char *argv[])
{
	struct mq_queue *t;
	char spool[PATH_MAX];
	const char *dir = NULL;
	long long pending = 0;
	int ch, i, rm = 0, r, status = 0;

	while ((ch = getopt(argc, argv, "Vd:hr")) != -1) {
		switch (ch) {
		case 'V':
			version();
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
	if (argc < 1 || (rm && argc < 2))
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
		list(t, argv[0]);
	/* a refused topic makes no subscriber queue; mq_subscribe decides */
	if (argc > 1 && !rm && mq_subscribe_check(t, &pending) == -1) {
		if (errno != MQ_ENOTEMPTY)
			die_queue(argv[0], errno);
		status = refused(argv[0], pending);
	}
	for (i = 1; i < argc && pending == 0; i++)
		if ((r = sub1(spool, t, argv[0], argv[i], rm, &pending)) >
		    status)
			status = r;
	mq_queue_close(t);
	close_stdout();
	return status;
}
