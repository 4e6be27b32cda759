/*
 * mq-touch - extend the lease of claimed messages.
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
	usage_exit(help, "[-d dir] [-L lease] [handle ...]");
}

static int
touch(struct mq_session *s, const char *handle, void *arg)
{
	return mq_touch(s, handle, *(int64_t *)arg);
}

int
main(int argc, char *argv[])
{
	char spool[PATH_MAX];
	const char *dir = NULL;
	int64_t lease = 0;	/* from the config */
	int ch;

	while ((ch = getopt(argc, argv, "L:Vd:h")) != -1) {
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
		default:
			usage(0);
		}
	}
	argc -= optind;
	argv += optind;
	spool_path(dir, spool, sizeof(spool));
	return each_handle(spool, argc, argv, touch, &lease);
}
