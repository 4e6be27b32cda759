/*
 * mq-init - create queues.
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
	int ch, i;

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
	for (i = 0; i < argc; i++)
		if (!mq_queue_name_ok(argv[i]))
			errx(MQ_EX_USAGE, "%s: bad queue name", argv[i]);
	for (i = 0; i < argc; i++)
		mq_queue_close(open_queue(spool, argv[i], MQ_CREATE));
	return 0;
}
