/*
 * mq-get - claim messages and print their handles.
 */
#include <sys/types.h>

#include <err.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "mq.h"
#include "tool.h"

static void __attribute__((noreturn))
usage(int help)
{
	usage_exit(help, "[-w] [-d dir] [-n count] [-L lease] "
	    "[-t timeout] queue");
}

int
main(int argc, char *argv[])
{
	char spool[PATH_MAX], handle[PATH_MAX];
	struct mq_queue *q;
	const char *dir = NULL, *e;
	int64_t lease = 0, timeout = -1, deadline = 0, left;
	long long count = 1, got = 0;
	int ch, r = 0, wait = 0;

	while ((ch = getopt(argc, argv, "L:Vd:hn:t:w")) != -1) {
		switch (ch) {
		case 'L':
			if (mq_parse_lease(optarg, &lease) == -1)
				errx(MQ_EX_USAGE, "%s: bad lease", optarg);
			break;
		case 'V':
			version();
		case 'd':
			dir = optarg;
			break;
		case 'h':
			usage(1);
		case 'n':
			count = strtonum(optarg, 1, 1000000, &e);
			if (e != NULL)
				errx(MQ_EX_USAGE, "count %s: %s", optarg, e);
			break;
		case 't':
			if (mq_parse_duration(optarg, &timeout) == -1)
				errx(MQ_EX_USAGE, "%s: bad timeout", optarg);
			wait = 1;
			break;
		case 'w':
			wait = 1;
			break;
		default:
			usage(0);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 1)
		usage(0);
	spool_path(dir, spool, sizeof(spool));
	q = open_queue(spool, argv[0], 0);
	if (lease == 0)
		lease = mq_queue_conf(q)->lease_ms;
	mq_get_ahead(q, count);
	if (timeout >= 0)
		deadline = mq_now_ms() + timeout;

	while (got < count) {
		if ((r = mq_get(q, lease, handle, sizeof(handle))) == 1) {
			got++;
			/* a handle nobody saw is stuck until its lease ends */
			if (puts(handle) == EOF)
				err(MQ_EX_IOERR, "stdout");
			continue;
		}
		/* -w sleeps until the first message, then takes what is ready */
		if (r == -1 || !wait || got > 0)
			break;
		left = timeout < 0 ? -1 : deadline - mq_now_ms();
		if (timeout >= 0 && left <= 0)
			break;
		if ((r = mq_wait(q, left, -1)) <= 0)
			break;
	}
	if (r == -1)
		warnx("%s: cannot claim: %s", argv[0], mq_strerror(errno));
	mq_queue_close(q);
	close_stdout();
	if (r == -1)
		return got > 0 ? MQ_EX_OK : mq_exit_status(errno);
	return got > 0 ? MQ_EX_OK : MQ_EX_NONE;
}
