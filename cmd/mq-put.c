/*
 * mq-put - add messages to a queue.
 */
#include <sys/types.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mq.h"
#include "tool.h"

static void __attribute__((noreturn))
usage(int help)
{
	usage_exit(help, "[-0lP] [-d dir] [-g group] [-H name=value] "
	    "[-k key] [-p prio] [-r routing-key] [-D delay | -A time] "
	    "[-T ttl] queue [file ...]");
}

static long long nput;	/* ids printed: the records that went in */

static void
flush_ids(struct mq_putter *p)
{
	const char **ids;
	size_t n, i;

	n = mq_put_ready(p, &ids);
	nput += (long long)n;
	for (i = 0; i < n; i++)
		printf("%s\n", ids[i]);
	if (n > 0 && fflush(stdout) == EOF)
		err(MQ_EX_IOERR, "stdout");
}

/*
 * Report why a put failed in queue, the one put to or, for a topic (via),
 * one of its subscribers.  Returns the exit status.
 */
static int
failed(const char *spool, const char *queue, const char *via,
    const char *key, int e)
{
	char path[64];

	if (e == MQ_EKEYFILE) {
		mq_key_path(key, path, sizeof(path));
		warnx("%s/%s/%s: corrupt key file: remove it to put with this "
		    "key", spool, queue, path);
		return MQ_EX_DATAERR;
	}
	if (via != NULL)
		warnx("%s: subscriber %s: cannot put message: %s", via, queue,
		    mq_strerror(e));
	else
		warnx("%s: cannot put message: %s", queue, mq_strerror(e));
	return mq_exit_status(e);
}

/*
 * One message per record of stdin.  Before blocking for more input, the
 * messages read so far are committed: a slow writer (tail -f | mq-put -l)
 * sees each message go out promptly, a fast one gets large group commits.
 */
static int
put_records(struct mq_putter *p, int sep, int64_t max)
{
	static char buf[65536];
	char *rec = NULL, *nl;
	size_t len = 0, cap = 0, off = 0, have = 0;
	struct pollfd pfd = { .fd = 0, .events = POLLIN };
	ssize_t n;
	int eof = 0, r = -1;

	for (;;) {
		if (off == have && !eof) {
			if (mq_put_pending(p) > 0 && poll(&pfd, 1, 0) == 0) {
				if (mq_put_commit(p) == -1)
					goto out;
				flush_ids(p);
			}
			if ((n = read(0, buf, sizeof(buf))) == -1) {
				if (errno == EINTR)
					continue;
				goto out;
			}
			off = 0;
			have = (size_t)n;
			eof = n == 0;
		}
		if (eof && off == have) {
			/* a last record without its terminator still counts */
			if (len > 0 && mq_put_buf(p, rec, len) == -1)
				goto out;
			break;
		}
		nl = memchr(buf + off, sep, have - off);
		n = (nl ? nl : buf + have) - (buf + off);
		/* refuse a huge record before holding all of it in memory */
		if ((int64_t)(len + (size_t)n) > max) {
			errno = EFBIG;
			goto out;
		}
		if (len + (size_t)n > cap) {
			char *nr;

			cap = (len + (size_t)n) * 2;
			if ((nr = realloc(rec, cap)) == NULL)
				goto out;
			rec = nr;
		}
		memcpy(rec + len, buf + off, (size_t)n);
		len += (size_t)n;
		off += (size_t)n;
		if (nl != NULL) {
			off++;
			if (mq_put_buf(p, rec, len) == -1)
				goto out;
			len = 0;
			flush_ids(p);
		}
	}
	r = 0;
out:
	free(rec);
	return r;
}

/* -H name=value, or (-r) the value of a header of a known name */
static void
header(struct mq_headers *h, const char *arg, const char *val)
{
	char *v;
	int r;

	if (val != NULL)
		r = mq_header_add(h, arg, strlen(arg), val, strlen(val));
	else if (reserved_header(arg, strcspn(arg, "=")) != NULL) {
		v = visible(arg, strcspn(arg, "="));
		errx(MQ_EX_DATAERR, "header %s: reserved: mq-forward sends mq's "
		    "own as the AMQP property", v);
	} else if (replay_header(arg, strcspn(arg, "="))) {
		v = visible(arg, strcspn(arg, "="));
		errx(MQ_EX_DATAERR, "header %s: reserved: mq-replay sets it "
		    "on its copies", v);
	} else
		r = mq_header_arg(h, arg);
	if (r == -1) {
		v = visible(arg, strlen(arg));
		errx(MQ_EX_DATAERR, "header %s: %s", v, mq_strerror(errno));
	}
}

int
main(int argc, char *argv[])
{
	struct mq_putopts o = {
		.prio = MQ_PRIORITY_DEFAULT, .notbefore = 0, .delay_ms = 0,
		.ttl_ms = -1
	};
	struct mq_headers h = { 0 };
	struct mq_putter *p;
	struct mq_queue *q;
	char spool[PATH_MAX];
	const char *dir = NULL, *e, *sub, *k;
	char *rk;
	size_t klen = 0;
	long long un;
	int64_t ms, t;
	int ch, sep = -1, fd, i, r = 0, saved, when = 0, status = 0, st, e2;

	static const struct option longopts[] = {
		{ "prepare", no_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};

	while ((ch = getopt_long(argc, argv, "0A:D:H:PT:d:g:hk:lp:r:V",
	    longopts, NULL)) != -1) {
		switch (ch) {
		case 'P':
			/* prepared, not ready: mq-commit publishes it */
			o.prepare = 1;
			break;
		case '0':
			sep = '\0';
			break;
		case 'l':
			sep = '\n';
			break;
		case 'A':
			when |= 2;
			if (mq_parse_time(optarg, &t) == -1)
				errx(MQ_EX_USAGE, "%s: bad time", optarg);
			o.notbefore = t;
			break;
		case 'D':
			when |= 1;
			if (mq_parse_duration(optarg, &ms) == -1)
				errx(MQ_EX_USAGE, "%s: bad duration", optarg);
			o.delay_ms = ms;
			break;
		case 'T':
			/* -T 0: never expires, whatever the config says */
			if (mq_parse_duration(optarg, &ms) == -1)
				errx(MQ_EX_USAGE, "%s: bad ttl", optarg);
			o.ttl_ms = ms;
			break;
		case 'd':
			dir = optarg;
			break;
		case 'g':
			if (*optarg == '\0' || strlen(optarg) > MQ_KEY_MAX)
				errx(MQ_EX_USAGE, "group must be 1 to %d bytes",
				    MQ_KEY_MAX);
			o.group = optarg;
			break;
		case 'h':
			usage(1);
		case 'H':
			header(&h, optarg, NULL);
			o.headers = &h;
			break;
		case 'k':
			if (*optarg == '\0' || strlen(optarg) > MQ_KEY_MAX)
				errx(MQ_EX_USAGE, "key must be 1 to %d bytes",
				    MQ_KEY_MAX);
			o.key = optarg;
			break;
		case 'p':
			o.prio = (int)strtonum(optarg, MQ_PRIORITY_MIN, MQ_PRIORITY_MAX,
			    &e);
			if (e != NULL)
				errx(MQ_EX_USAGE, "priority %s: %s", optarg, e);
			break;
		case 'r':
			if (!mq_route_ok(optarg, strlen(optarg))) {
				rk = visible(optarg, strlen(optarg));
				errx(MQ_EX_DATAERR, "routing key %s: at most %d "
				    "bytes, no control bytes", rk, MQ_ROUTE_MAX);
			}
			header(&h, MQ_HDR_ROUTING, optarg);
			o.headers = &h;
			break;
		case 'V':
			version();
		default:
			usage(0);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1 || (sep != -1 && argc > 1) || when == 3)
		usage(0);
	if (o.key != NULL && (sep != -1 || argc > 2))
		errx(MQ_EX_USAGE, "-k puts one message: not with -l, -0 or "
		    "several files");
	spool_path(dir, spool, sizeof(spool));
	q = open_queue(spool, argv[0], MQ_CREATE);
	if ((p = mq_put_begin(q, &o)) == NULL)
		err(MQ_EX_TEMPFAIL, "%s", argv[0]);

	if (sep != -1)
		r = put_records(p, sep, mq_queue_conf(q)->max_size);
	else if (argc == 1)
		r = mq_put_fd(p, 0);
	/* r is 1 when a key was known: the id printed is the original's */
	for (i = 1; i < argc && r != -1; i++) {
		/*
		 * The user's own input, not a file of the spool: a pipe or a
		 * link is as good as a file here (mq-put q <(cmd)).
		 */
		if ((fd = open(argv[i], O_RDONLY | O_CLOEXEC)) == -1) {
			saved = errno;
			warn("%s", argv[i]);
			errno = saved;
			r = -1;
			break;
		}
		r = mq_put_fd(p, fd);
		close(fd);
		flush_ids(p);
	}
	/*
	 * What was written before a failure is still published and its ids
	 * printed: a producer that retries must know what got through.
	 */
	saved = errno;
	if (mq_put_commit(p) == -1 && r != -1) {
		r = -1;
		saved = errno;
	}
	flush_ids(p);
	/* a topic: each subscriber that failed, the others have the message */
	for (i = 0; r == -1 && (sub = mq_put_failure(p, i, &e2)) != NULL; i++)
		if ((st = failed(spool, sub, argv[0], o.key, e2)) > status)
			status = st;
	if (r == -1 && i == 0 && o.prepare && saved == MQ_EISTOPIC) {
		warnx("%s: a topic takes no prepared messages", argv[0]);
		status = MQ_EX_USAGE;
	} else if (r == -1 && i == 0)
		status = failed(spool, argv[0], NULL, o.key, saved);
	/*
	 * A batch stops at its first failure, in order: the records before
	 * it went in (their ids are on stdout), it and the rest did not.
	 */
	if (r == -1 && sep != -1)
		warnx("%s: %lld record%s put, record %lld and after not put",
		    argv[0], nput, nput == 1 ? "" : "s", nput + 1);
	/* durable, in the topic's dead/: a negative answer, not an error */
	if ((un = mq_put_unroutable(p)) > 0) {
		if ((k = mq_header_get(&h, MQ_HDR_ROUTING, &klen)) == NULL)
			k = "";
		rk = visible(k, klen);
		warnx("%s: no binding matches routing key \"%s\": %lld "
		    "message%s in dead/ as unroutable", argv[0], rk, un,
		    un == 1 ? "" : "s");
		free(rk);
		if (status == 0)
			status = MQ_EX_NONE;
	}
	mq_put_end(p);
	if (status != 0)
		exit(status);
	mq_queue_close(q);
	close_stdout();
	return 0;
}
