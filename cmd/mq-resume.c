/*
 * mq-resume - let paused queues deliver again.
 */
#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "mq.h"
#include "tool.h"

static void __attribute__((noreturn))
usage(int help)
{
	usage_exit(help, "[-d dir] queue ...");
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
	if (argc < 1)
		usage(0);
	spool_path(dir, spool, sizeof(spool));
	return each_queue(spool, argc, argv, mq_resume, "resume");
}
