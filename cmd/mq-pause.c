/*
 * mq-pause - stop delivery from queues; producers go on.
 */
#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "mq.h"
#include "tool.h"

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: %s [-d dir] queue ...\n", getprogname());
	exit(MQ_EX_USAGE);
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
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		usage();
	spool_path(dir, spool, sizeof(spool));
	return each_queue(spool, argc, argv, mq_pause, "pause");
}
