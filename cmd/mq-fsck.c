/*
 * mq-fsck - check and repair queues.
 */
#include <sys/types.h>

#include <err.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "mq.h"
#include "tool.h"

#define EX_FOUND	1	/* like fsck(8): something was (or would be) fixed */

static void __attribute__((noreturn))
usage(int help)
{
	usage_exit(help, "[-n] [-d dir] [-T age] [queue ...]");
}

int
main(int argc, char *argv[])
{
	char spool[PATH_MAX], **names;
	struct mq_conferr ce;
	struct mq_queue *q;
	struct mq_fsck r;
	const char *dir = NULL;
	int64_t age = 3600 * 1000;
	size_t n, i;
	int ch, dry = 0, status = 0, all, e;

	while ((ch = getopt(argc, argv, "T:Vd:hn")) != -1) {
		switch (ch) {
		case 'T':
			if (mq_parse_duration(optarg, &age) == -1)
				errx(MQ_EX_USAGE, "%s: bad age", optarg);
			break;
		case 'V':
			version();
		case 'd':
			dir = optarg;
			break;
		case 'h':
			usage(1);
		case 'n':
			dry = 1;
			break;
		default:
			usage(0);
		}
	}
	argc -= optind;
	argv += optind;
	spool_path(dir, spool, sizeof(spool));
	names = argv;
	n = (size_t)argc;
	for (i = 0; i < n; i++)
		check_queue_name(names[i]);
	if ((all = argc == 0) && mq_list_queues(spool, &names, &n) == -1)
		errx(mq_exit_status(errno), "%s: %s", spool,
		    mq_strerror(errno));
	for (i = 0; i < n; i++) {
		if ((q = mq_queue_open(spool, names[i], 0, &ce)) == NULL) {
			if (errno == MQ_ECONFIG)
				die_conf(&ce);
			if (all && errno == MQ_ENOQUEUE)
				continue;	/* not a queue: not ours */
			warnx("%s: %s", names[i], mq_strerror(errno));
			if (mq_exit_status(errno) > status)
				status = mq_exit_status(errno);
			continue;
		}
		if (mq_fsck(q, dry, age, &r) == -1) {
			e = errno;
			warnx("%s: cannot %s: %s", names[i], dry ? "check" :
			    "repair", mq_strerror(e));
			if (mq_exit_status(e) > status)
				status = mq_exit_status(e);
		}
		/* dropped: done messages past retain, routine, not a repair */
		printf("%s tmp=%lld leases=%lld buckets=%lld quarantined=%lld "
		    "groups=%lld keys=%lld dropped=%lld\n", names[i], r.tmp,
		    r.leases, r.buckets, r.quarantined, r.groups, r.keys,
		    r.dropped);
		if (status == 0 && r.tmp + r.leases + r.buckets +
		    r.quarantined + r.groups + r.keys > 0)
			status = EX_FOUND;
		mq_queue_close(q);
	}
	if (all) {
		for (i = 0; i < n; i++)
			free(names[i]);
		free(names);
	}
	close_stdout();
	return status;
}
