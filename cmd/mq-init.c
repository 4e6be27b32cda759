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
usage(int help)
{
	usage_exit(help, "[-d dir] [-g group] [-m mode] queue ...");
}

int
main(int argc, char *argv[])
{
	char spool[PATH_MAX], *end;
	struct mq_queue *q;
	const char *dir = NULL, *group = NULL;
	gid_t gid;
	long mode = -1;
	int ch, i, e;

	while ((ch = getopt(argc, argv, "Vd:g:hm:")) != -1) {
		switch (ch) {
		case 'V':
			version();
		case 'd':
			dir = optarg;
			break;
		case 'g':
			if (mq_parse_group(optarg, &gid) == -1)
				errx(MQ_EX_USAGE, "%s: no such group", optarg);
			group = optarg;
			break;
		case 'h':
			usage(1);
		case 'm':
			errno = 0;
			mode = strtol(optarg, &end, 8);
			if (*optarg < '0' || *optarg > '7' || *end != '\0' ||
			    errno != 0 || mode > 0777)
				errx(MQ_EX_USAGE, "%s: bad octal mode", optarg);
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
	for (i = 0; i < argc; i++)
		check_queue_name(argv[i]);
	/* a group shares the messages: read and write for it by default */
	if (group != NULL && mode == -1)
		mode = 0660;
	for (i = 0; i < argc; i++) {
		q = open_queue(spool, argv[i], MQ_CREATE);
		e = 0;
		if (mode != -1 && mq_queue_share(q, (int)mode, group) == -1)
			e = errno;
		mq_queue_close(q);
		if (e != 0)
			errx(mq_exit_status(e), "%s: cannot share: %s",
			    argv[i], mq_strerror(e));
	}
	return 0;
}
