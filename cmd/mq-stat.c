/*
 * mq-stat - count the messages of queues, per state.
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

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: %s [-j] [-d dir] [queue ...]\n", getprogname());
	exit(MQ_EX_USAGE);
}

static void
show(const char *name, const struct mq_stat *st, int json, int width)
{
	int64_t age = st->oldest ? time(NULL) - st->oldest : -1;
	char oldest[32];

	if (age < 0 && st->oldest)
		age = 0;
	if (json) {
		/* queue names need no escaping: the grammar excludes it */
		printf("{\"queue\":\"%s\",\"ready\":%lld,\"delayed\":%lld,"
		    "\"inflight\":%lld,\"dead\":%lld,\"held\":%lld,"
		    "\"oldest\":", name, st->count[MQ_READY],
		    st->count[MQ_DELAYED], st->count[MQ_INFLIGHT],
		    st->count[MQ_DEAD], st->count[MQ_HELD]);
		if (age < 0)
			printf("null");
		else
			printf("%lld", (long long)age);
		printf(",\"bytes\":%lld}\n", st->bytes);
		return;
	}
	if (age < 0)
		strlcpy(oldest, "-", sizeof(oldest));
	else
		mq_format_age(age, oldest, sizeof(oldest));
	printf("%-*s %7lld %7lld %8lld %6lld %6lld %6s %10lld\n", width, name,
	    st->count[MQ_READY], st->count[MQ_DELAYED],
	    st->count[MQ_INFLIGHT], st->count[MQ_DEAD], st->count[MQ_HELD],
	    oldest, st->bytes);
}

int
main(int argc, char *argv[])
{
	char spool[PATH_MAX], **names = NULL;
	struct mq_queue *q;
	struct mq_stat st;
	const char *dir = NULL;
	size_t n = 0, i;
	int ch, json = 0, width = 5, status = 0, all;

	while ((ch = getopt(argc, argv, "Vd:hj")) != -1) {
		switch (ch) {
		case 'V':
			version();
		case 'd':
			dir = optarg;
			break;
		case 'j':
			json = 1;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	spool_path(dir, spool, sizeof(spool));
	if ((all = argc == 0)) {
		if (mq_list_queues(spool, &names, &n) == -1)
			errx(mq_exit_status(errno), "%s: %s", spool,
			    mq_strerror(errno));
	} else {
		names = argv;
		n = (size_t)argc;
	}
	for (i = 0; i < n; i++)
		if ((int)strlen(names[i]) > width)
			width = (int)strlen(names[i]);
	if (!json)
		printf("%-*s %7s %7s %8s %6s %6s %6s %10s\n", width, "QUEUE",
		    "READY", "DELAYED", "INFLIGHT", "DEAD", "HELD", "OLDEST",
		    "BYTES");
	for (i = 0; i < n; i++) {
		struct mq_conferr ce;

		if (!mq_queue_name_ok(names[i]))
			errx(MQ_EX_USAGE, "%s: bad queue name", names[i]);
		if ((q = mq_queue_open(spool, names[i], 0, &ce)) == NULL) {
			if (errno == MQ_ECONFIG)
				die_conf(&ce);
			/* listing all: a directory that is no queue is skipped */
			if (all && errno == MQ_ENOQUEUE)
				continue;
			warnx("%s: %s", names[i], mq_strerror(errno));
			status = mq_exit_status(errno);
			continue;
		}
		if (mq_stat(q, &st) == -1) {
			warnx("%s: cannot count: %s", names[i],
			    mq_strerror(errno));
			status = mq_exit_status(errno);
		} else
			show(names[i], &st, json, width);
		mq_queue_close(q);
	}
	if (all) {
		for (i = 0; i < n; i++)
			free(names[i]);
		free(names);
	}
	close_stdout();
	return status;
}
