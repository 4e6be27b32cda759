/*
 * mq-kick - give dead messages another chance.
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
	usage_exit(help, "[-d dir] queue [handle ...]");
}

static int
kick(struct mq_session *s, const char *path, void *queue)
{
	return mq_kick(s, queue, path);
}

int
main(int argc, char *argv[])
{
	char spool[PATH_MAX];
	struct mq_queue *q;
	const char *dir = NULL;
	long long n;
	int ch;

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
	if (argc < 1)
		usage(0);
	spool_path(dir, spool, sizeof(spool));
	q = open_queue(spool, argv[0], 0);
	if (argc > 1) {
		mq_queue_close(q);
		return each_handle(spool, argc - 1, argv + 1, kick, argv[0]);
	}
	if (mq_kick_all(q, &n) == -1) {
		/* the others were kicked: those no binding takes stay dead */
		if (errno == MQ_EUNROUTABLE)
			errx(MQ_EX_NONE, "%s: some kept: %s", argv[0],
			    mq_strerror(errno));
		errx(mq_exit_status(errno), "%s: cannot kick: %s", argv[0],
		    mq_strerror(errno));
	}
	mq_queue_close(q);
	return 0;
}
