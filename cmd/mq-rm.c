/*
 * mq-rm - delete messages by the paths mq-ls prints.
 *
 * One message at a time, named: a whole state is mq-purge's, and an empty
 * pipe deletes nothing.  In flight is not for mq-rm: the consumer holding
 * the lease settles it (mq-ack).
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
	usage_exit(help, "[-d dir] [path ...]");
}

static int
rm1(struct mq_session *s, const char *path, void *arg)
{
	(void)arg;
	return mq_rm(s, path);
}

int
main(int argc, char *argv[])
{
	char spool[PATH_MAX];
	const char *dir = NULL;
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
	spool_path(dir, spool, sizeof(spool));
	return each_handle(spool, argc, argv, rm1, NULL);
}
