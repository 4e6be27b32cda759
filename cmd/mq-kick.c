/*
 * mq-kick - give dead messages another chance; with -s delayed, make
 * delayed messages ready now.
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
	usage_exit(help, "[-d dir] [-s state] queue [handle ...]");
}

static int
kick(struct mq_session *s, const char *path, void *queue)
{
	return mq_kick(s, queue, path);
}

static int
kick_delayed(struct mq_session *s, const char *path, void *queue)
{
	return mq_kick_delayed_one(s, queue, path);
}

int
main(int argc, char *argv[])
{
	char spool[PATH_MAX];
	struct mq_queue *q;
	const char *dir = NULL;
	long long n;
	int ch, state = MQ_DEAD, r;

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
			state = mq_parse_state(optarg);
			if (state != MQ_DEAD && state != MQ_DELAYED)
				errx(MQ_EX_USAGE, "%s: not a state mq-kick takes "
				    "messages from (dead, delayed)", optarg);
			break;
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
		return each_handle(spool, argc - 1, argv + 1,
		    state == MQ_DEAD ? kick : kick_delayed, argv[0]);
	}
	r = state == MQ_DEAD ? mq_kick_all(q, &n) : mq_kick_delayed(q, &n);
	if (r == -1) {
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
