/*
 * mq-hold - keep messages out of delivery until mq-release.
 *
 * The new paths are printed, one a line, so that a pipe can go on with
 * them: mq-get orders | mq-hold | tee held.list.
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
	usage_exit(help, "[-d dir] [handle ...]");
}

static int
hold(struct mq_session *s, const char *handle, void *arg)
{
	char held[PATH_MAX];

	(void)arg;
	if (mq_hold(s, handle, held, sizeof(held)) == -1)
		return -1;
	if (puts(held) == EOF)
		err(MQ_EX_IOERR, "stdout");
	return 0;
}

int
main(int argc, char *argv[])
{
	char spool[PATH_MAX];
	const char *dir = NULL;
	int ch, status;

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
	status = each_handle(spool, argc, argv, hold, NULL);
	close_stdout();
	return status;
}
