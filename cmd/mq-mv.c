/*
 * mq-mv - move messages to another queue of the spool, with their id,
 * key, group, priority, expiry and headers.
 *
 * A whole state takes -a, not the lack of paths: with none they come
 * from stdin, and an empty pipe must move nothing.  In flight is not for
 * mq-mv: the consumer holding the lease settles it.
 */
#include <sys/types.h>

#include <err.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mq.h"
#include "tool.h"

static void __attribute__((noreturn))
usage(int help)
{
	usage_exit(help, "[-d dir] [-a [-s state] queue] dest [path ...]");
}

static int
mv1(struct mq_session *s, const char *path, void *mv)
{
	return mq_move(mv, s, path);
}

int
main(int argc, char *argv[])
{
	char spool[PATH_MAX];
	struct mq_mover *mv;
	struct mq_queue *src = NULL, *dest;
	const char *dir = NULL, *to;
	long long n;
	int ch, all = 0, state = MQ_READY, status = 0;

	while ((ch = getopt(argc, argv, "Vad:hs:")) != -1) {
		switch (ch) {
		case 'V':
			version();
		case 'a':
			all = 1;
			break;
		case 'd':
			dir = optarg;
			break;
		case 'h':
			usage(1);
		case 's':
			state = mq_parse_state(optarg);
			if (!mq_move_state(state))
				errx(MQ_EX_USAGE, "%s: not a state mq-mv takes "
				    "messages from (ready, delayed, held, dead)",
				    optarg);
			break;
		default:
			usage(0);
		}
	}
	argc -= optind;
	argv += optind;
	if (all ? argc != 2 : argc < 1 || state != MQ_READY)
		usage(0);
	to = argv[all];
	check_queue_name(to);
	if (all) {
		check_queue_name(argv[0]);
		if (strcmp(argv[0], to) == 0)
			errx(MQ_EX_USAGE, "%s: %s", to,
			    mq_strerror(MQ_ESAMEQ));
	}
	spool_path(dir, spool, sizeof(spool));
	if (all)
		src = open_queue(spool, argv[0], 0);
	dest = open_queue(spool, to, 0);
	if ((mv = mq_move_begin(dest)) == NULL)
		die_queue(to, errno);
	if (!all)
		status = each_handle(spool, argc - 1, argv + 1, mv1, mv);
	else if (mq_move_all(mv, src, state, &n) == -1) {
		/* the others went: those refused stay where they were */
		if (errno == MQ_EIDCLASH || errno == MQ_EKEYCLASH)
			warnx("%s: some kept: %s", argv[0],
			    mq_strerror(errno));
		else
			warnx("%s -> %s: %lld moved, then: %s", argv[0], to, n,
			    mq_strerror(errno));
		status = mq_exit_status(errno);
	}
	if (mq_move_end(mv) == -1)
		errx(mq_exit_status(errno), "%s: cannot sync: %s", to,
		    mq_strerror(errno));
	mq_queue_close(dest);
	if (src != NULL)
		mq_queue_close(src);
	return status;
}
