/*
 * mq-purge - delete every message of one state of a queue.
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
	usage_exit(help, "[-d dir] -s state queue");
}

int
main(int argc, char *argv[])
{
	char spool[PATH_MAX];
	struct mq_queue *q;
	const char *dir = NULL;
	long long n;
	int ch, state = -1;

	while ((ch = getopt(argc, argv, "Vd:hs:")) != -1) {
		switch (ch) {
		case 'V':
			version();
		case 'd':
			dir = optarg;
			break;
		case 'h':
			usage(1);
		case 's':
			if ((state = mq_parse_state(optarg)) == -1)
				errx(MQ_EX_USAGE, "%s: no such state", optarg);
			break;
		default:
			usage(0);
		}
	}
	argc -= optind;
	argv += optind;
	/* purging is always explicit: no default state */
	if (argc != 1 || state == -1)
		usage(0);
	spool_path(dir, spool, sizeof(spool));
	q = open_queue(spool, argv[0], 0);
	if (mq_purge(q, state, &n) == -1)
		errx(mq_exit_status(errno), "%s: cannot purge %s: %s",
		    argv[0], mq_state_name(state), mq_strerror(errno));
	mq_queue_close(q);
	return 0;
}
