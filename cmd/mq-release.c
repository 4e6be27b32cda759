/*
 * mq-release - let held messages be delivered again.
 *
 * Like mq-kick it prints nothing: a released message is ready (or
 * delayed), not claimed, so there is no handle to pass on, and its id is
 * the one it had.
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
	usage_exit(help, "[-d dir] [-a queue | handle ...]");
}

static int
release(struct mq_session *s, const char *handle, void *arg)
{
	(void)arg;
	return mq_release(s, handle);
}

int
main(int argc, char *argv[])
{
	char spool[PATH_MAX];
	struct mq_queue *q;
	const char *dir = NULL, *all = NULL;
	long long n;
	int ch;

	while ((ch = getopt(argc, argv, "Va:d:h")) != -1) {
		switch (ch) {
		case 'V':
			version();
		case 'a':
			all = optarg;
			break;
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
	/*
	 * Releasing a whole queue takes -a, not the lack of handles: with no
	 * operands handles come from stdin, and an empty pipe must not
	 * release everything.
	 */
	if (all != NULL && argc > 0)
		usage(0);
	spool_path(dir, spool, sizeof(spool));
	if (all == NULL)
		return each_handle(spool, argc, argv, release, NULL);
	q = open_queue(spool, all, 0);
	if (mq_release_all(q, &n) == -1)
		errx(mq_exit_status(errno), "%s: cannot release: %s", all,
		    mq_strerror(errno));
	mq_queue_close(q);
	return 0;
}
