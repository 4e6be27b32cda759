/*
 * mq-commit - publish prepared messages (mq-put -P) by the handles
 * mq-put printed.
 *
 * A commit goes where the put would have gone (ready, delayed, or its
 * ordered group's turn, taken now), and is durable before the exit.  A
 * message no longer prepared (rolled back by mq-rm or a checker, or
 * committed already, or dead as unresolved) is the negative answer, 1:
 * which of them, the producer's database says (mq(7) Half messages).
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
commit1(struct mq_session *s, const char *handle, void *arg)
{
	(void)arg;
	return mq_commit(s, handle);
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
	return each_handle(spool, argc, argv, commit1, NULL);
}
