/*
 * mq-replay - put done messages (kept by retain) back into ready, as
 * copies: after a bad deploy, the last hour processed again.
 *
 * A whole queue only with -a, so that an empty pipe never replays
 * everything; named messages by the paths mq-ls -s done prints.
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
	usage_exit(help, "[-d dir] -a [-S since] [-U until] queue [dest] | "
	    "[-t dest] [path ...]");
}

/* A time as mq-put -A takes it, or a duration: that long ago. */
static int64_t
when(const char *s, int64_t now)
{
	int64_t t, ms;

	if (mq_parse_time(s, &t) == 0)
		return t;
	if (mq_parse_duration(s, &ms) == 0)
		return now - ms / 1000;
	errx(MQ_EX_USAGE, "%s: bad time or duration",
	    visible(s, strlen(s)));
}

static int
replay1(struct mq_session *s, const char *path, void *dest)
{
	char id[MQ_ID_LEN + 1];

	if (mq_replay(s, path, dest, id) == -1)
		return -1;
	if (printf("%s\n", id) < 0 || fflush(stdout) == EOF)
		err(MQ_EX_IOERR, "stdout");
	return 0;
}

int
main(int argc, char *argv[])
{
	char spool[PATH_MAX];
	struct mq_queue *q, *dest = NULL;
	const char *dir = NULL, *to = NULL, *since = NULL, *until = NULL;
	int64_t now = mq_now_ms() / 1000, lo = 0, hi;
	long long n;
	int ch, all = 0, status = 0;

	while ((ch = getopt(argc, argv, "S:U:Vad:ht:")) != -1) {
		switch (ch) {
		case 'S':
			since = optarg;
			break;
		case 'U':
			until = optarg;
			break;
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
		case 't':
			to = optarg;
			break;
		default:
			usage(0);
		}
	}
	argc -= optind;
	argv += optind;
	/* -S and -U pick from a queue's time range, -t goes with paths */
	if (all ? (to != NULL || argc < 1 || argc > 2) :
	    (since != NULL || until != NULL))
		usage(0);
	hi = until != NULL ? when(until, now) : now;
	if (since != NULL)
		lo = when(since, now);
	spool_path(dir, spool, sizeof(spool));
	if (!all) {
		if (to != NULL)
			dest = open_queue(spool, to, 0);
		status = each_handle(spool, argc, argv, replay1, dest);
		if (dest != NULL && mq_sync_dirs(dest) == -1)
			errx(mq_exit_status(errno), "%s: cannot sync: %s", to,
			    mq_strerror(errno));
		mq_queue_close(dest);
		close_stdout();
		return status;
	}
	q = open_queue(spool, argv[0], 0);
	if (argc == 2)
		dest = open_queue(spool, argv[1], 0);
	/* what went in went in: say how many, and into which queue */
	if (mq_replay_all(q, lo, hi, dest, &n) == -1) {
		status = mq_exit_status(errno);
		warnx("%s -> %s: %lld replayed, then: %s", argv[0],
		    argv[argc - 1], n, mq_strerror(errno));
	}
	mq_queue_close(dest);
	mq_queue_close(q);
	close_stdout();
	return status;
}
