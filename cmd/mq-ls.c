/*
 * mq-ls - list the messages of a queue without claiming any.
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
	usage_exit(help, "[-d dir] [-s state] queue");
}

static int
print1(const char *path, const struct mq_name *m, void *arg)
{
	(void)m;
	(void)arg;
	if (puts(path) == EOF)
		err(MQ_EX_IOERR, "stdout");
	return 0;
}

int
main(int argc, char *argv[])
{
	char spool[PATH_MAX];
	struct mq_queue *q;
	const char *dir = NULL;
	int ch, state = -1, s;

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
	if (argc != 1)
		usage(0);
	spool_path(dir, spool, sizeof(spool));
	q = open_queue(spool, argv[0], 0);
	for (s = 0; s < MQ_NSTATES; s++) {
		if (state != -1 && s != state)
			continue;
		/* done messages left the queue: listed only when asked for */
		if (state == -1 && s == MQ_DONE)
			continue;
		if (mq_walk(q, s, print1, NULL) == -1)
			errx(mq_exit_status(errno), "%s: cannot list %s: %s",
			    argv[0], mq_state_name(s), mq_strerror(errno));
	}
	mq_queue_close(q);
	close_stdout();
	return 0;
}
