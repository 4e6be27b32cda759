/*
 * mq-work - run a command once per message, per batch (-b), or keep one
 * running per job slot and feed it messages (-s, work-stream.c).
 *
 * One process claims, runs up to -j commands at once, keeps their leases
 * alive and settles each message by its command's exit status (or, -s, by
 * its answer).  It sleeps in mq_wait (inotify) and in poll(2) on a
 * self-pipe that signal handlers write to (-s: on an epoll set that holds
 * it and the commands' pipes), so SIGCHLD, SIGTERM, answers and new
 * messages all wake the same loop and no time is spent spinning.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mq.h"
#include "tool.h"
#include "work.h"

/* A command running on one message, or on a batch (-b). */
struct job {
	pid_t	 pid;
	size_t	 n;
	struct wmsg *m;			/* room for -b messages (1 without) */
};

static struct job *jobs;
static int njobs;
static int selfpipe[2];
static volatile sig_atomic_t stopsig, signals;

static void __attribute__((noreturn))
usage(int help)
{
	usage_exit(help, "[-esv] [-b batch] [-d dir] [-j jobs] [-k grace] "
	    "[-L lease] [-n max] [-r rate] [-t timeout] queue command "
	    "[arg ...]");
}

static void
wake(int sig)
{
	int saved = errno;

	if (sig == SIGTERM || sig == SIGINT || sig == SIGHUP) {
		stopsig = sig;
		signals++;
	}
	/* a full pipe already holds a wake-up */
	(void)!write(selfpipe[1], "", 1);
	errno = saved;
}

/*
 * A command per message: its standard input is the message, opened here
 * with the library's one open of a spool file (whoever may write
 * inflight/ could have swapped the file for a FIFO since the claim, and
 * the command must not start on, nor the child hang in, anything else).
 * A message that cannot be opened is nacked as a failed command's would
 * be; 0 is returned and no command started.
 */
static pid_t
start_msg(struct work *w, struct wmsg *m, int *e)
{
	struct mq_headers h;
	pid_t pid;
	int fd;

	if ((fd = mq_openat(AT_FDCWD, m->handle, O_RDONLY, 0)) == -1) {
		*e = errno;
		warnx("%s: cannot read: %s", m->handle, mq_strerror(*e));
		/* gone, or no message mq made: there is nothing to nack */
		if (*e != ENOENT && *e != MQ_ENOTREG &&
		    mq_nack(w->s, m->handle, -1) == -1)
			warnx("%s: cannot release: %s", m->handle,
			    mq_strerror(errno));
		free(m->handle);
		m->handle = NULL;
		return 0;
	}
	if (msg_headers(w, m, fd, &h) == -1)
		return 0;
	pid = spawn(w, w->cmd, fd, -1, m, &h, e);
	close(fd);
	return pid;
}

/* A batch: the handles after the command's words, as xargs(1) does. */
static pid_t
start_batch(struct work *w, struct wmsg *m, size_t n, int *e)
{
	char **argv;
	size_t nc, i;
	pid_t pid;

	for (nc = 0; w->cmd[nc] != NULL; nc++)
		;
	if ((argv = reallocarray(NULL, nc + n + 1, sizeof(*argv))) == NULL)
		err(MQ_EX_TEMPFAIL, NULL);
	memcpy(argv, w->cmd, nc * sizeof(*argv));
	for (i = 0; i < n; i++)
		argv[nc + i] = m[i].handle;
	argv[nc + n] = NULL;
	pid = spawn(w, argv, -1, -1, NULL, NULL, e);
	free(argv);
	return pid;
}

/*
 * Claim up to want messages and start a command on them.  Returns how
 * many were claimed (fewer than want: the queue had no more ready), or
 * -1 when the worker must stop, with its exit status in *status.
 */
static int
job_claim(struct work *w, size_t want, int *status)
{
	struct job *j = &jobs[njobs];
	size_t n = 0;
	int r = 0, e = 0;
	pid_t pid;

	mq_get_ahead(w->q, want);
	while (n < want && (r = claim(w, &j->m[n])) == 1)
		n++;
	if (r == -1) {
		warnx("%s: cannot claim: %s", w->queue, mq_strerror(errno));
		*status = mq_exit_status(errno);
	}
	if (n == 0)
		return r == -1 ? -1 : 0;
	pid = w->batch == 0 ? start_msg(w, j->m, &e) :
	    start_batch(w, j->m, n, &e);
	if (pid == -1) {
		warnx("%s: %s", w->cmd[0], strerror(e));
		give_back(w, j->m, n, S_BACK);
		*status = exec_status(e);
		return -1;
	}
	if (pid > 0) {
		j->pid = pid;
		j->n = n;
		njobs++;
	}
	return r == -1 ? -1 : (int)n;
}

/*
 * Settle a finished job's messages by its status; returns 0 or errno.  A
 * batch's command may have settled some itself: their lost leases are no
 * news.
 */
static int
job_settle(struct work *w, struct job *j, int status)
{
	enum settle how;
	size_t i;
	int e = 0, r;

	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		how = S_ACK;
	else if (WIFEXITED(status) && WEXITSTATUS(status) == EX_REJECT)
		how = S_DEAD;
	else
		how = S_NACK;
	for (i = 0; i < j->n; i++)
		if (j->m[i].handle != NULL && (r = settle_msg(w, &j->m[i], how,
		    -1, w->batch > 0)) != 0 && e == 0)
			e = r;
	return e;
}

/* Reap finished commands; returns the worst settle error seen, or 0. */
static int
reap(struct work *w)
{
	struct wmsg *m;
	int status, i, e = 0, r;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (w->stream) {
			stream_reaped(w, pid, status);
			continue;
		}
		for (i = 0; i < njobs && jobs[i].pid != pid; i++)
			;
		if (i == njobs)
			continue;
		if ((r = job_settle(w, &jobs[i], status)) != 0 && e == 0)
			e = r;
		/* swap the slots' arrays, each keeps its own */
		m = jobs[i].m;
		jobs[i] = jobs[--njobs];
		jobs[njobs].m = m;
	}
	if (mq_session_sync(w->s) == -1 && e == 0)
		e = errno;
	return e;
}

/* The grace time is over: kill the commands, return their messages. */
static int
kill_all(struct work *w)
{
	int i, n = njobs, st = 0;

	if (w->stream)
		return stream_kill(w);
	for (i = 0; i < njobs; i++)
		kill(-jobs[i].pid, SIGKILL);
	for (i = 0; i < njobs; i++) {
		while (waitpid(jobs[i].pid, &st, 0) == -1 && errno == EINTR)
			;
		/* one that finished before the kill is settled by its status */
		if (WIFEXITED(st))
			job_settle(w, &jobs[i], st);
		else
			give_back(w, jobs[i].m, jobs[i].n, S_BACK);
	}
	njobs = 0;
	return n;
}

/* Renew leases; returns ms to the next thing to do (-1: nothing). */
static int64_t
renew(struct work *w)
{
	int64_t now = mono_ms(), next = -1;
	int i;

	if (w->stream)
		return stream_tick(w, now);
	for (i = 0; i < njobs; i++)
		next = least(next, renew_msgs(w, jobs[i].m, jobs[i].n, now,
		    w->batch > 0));
	return next;
}

static int
busy(const struct work *w)
{
	return w->stream ? stream_busy(w) : njobs > 0;
}

/* How many messages may be claimed now (0: no room). */
static size_t
room(struct work *w, int64_t *wake)
{
	if (w->stream)
		return stream_room(w, mono_ms(), wake);
	if (njobs == w->maxjobs)
		return 0;
	return w->batch > 0 ? (size_t)w->batch : 1;
}

static void
signals_init(void)
{
	struct sigaction sa;

	if (pipe2(selfpipe, O_CLOEXEC | O_NONBLOCK) == -1)
		err(MQ_EX_TEMPFAIL, "pipe");
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = wake;
	sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGCHLD, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	/* a stream command that has gone: write(2) says EPIPE instead */
	signal(SIGPIPE, SIG_IGN);
}

static void
jobs_init(struct work *w)
{
	size_t per = w->batch > 0 ? (size_t)w->batch : 1;
	int i;

	if ((jobs = calloc(w->maxjobs, sizeof(*jobs))) == NULL)
		err(MQ_EX_TEMPFAIL, NULL);
	for (i = 0; i < w->maxjobs; i++)
		if ((jobs[i].m = calloc(per, sizeof(*jobs[i].m))) == NULL)
			err(MQ_EX_TEMPFAIL, NULL);
}

/* Sleep until something is to be done, at most sleep ms (-1: no limit). */
static int
nap(struct work *w, int64_t sleep, int inotify)
{
	struct pollfd p = { w->waitfd, POLLIN, 0 };
	int64_t t;

	if (inotify) {
		if (mq_wait(w->q, sleep, w->waitfd) == -1 && errno != EINTR) {
			warnx("%s: cannot wait: %s", w->queue,
			    mq_strerror(errno));
			return mq_exit_status(errno);
		}
		return 0;
	}
	t = sleep < 0 || sleep > INT32_MAX ? -1 : sleep;
	if (poll(&p, 1, (int)t) == -1 && errno != EINTR)
		err(MQ_EX_TEMPFAIL, "poll");
	return 0;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "drain", no_argument, NULL, 'e' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct work w = { .maxjobs = 1, .timeout = 30 * 60 * 1000,
	    .grace = 30000 };
	char spool[PATH_MAX], c;
	const char *dir = NULL, *e;
	int64_t rate = 0, stopat = -1;
	int64_t now, sleep, later;
	long long max = 0, started = 0;
	size_t want;
	int ch, drain = 0, empty = 0, status = 0, r;

	/* first: a signal during start-up must stop the worker cleanly */
	signals_init();
	while ((ch = getopt_long(argc, argv, "+L:Vb:d:ehj:k:n:r:st:v",
	    longopts, NULL)) != -1) {
		switch (ch) {
		case 'L':
			if (mq_parse_lease(optarg, &w.lease) == -1)
				errx(MQ_EX_USAGE, "%s: bad lease", optarg);
			break;
		case 'V':
			version();
		case 'b':
			w.batch = strtonum(optarg, 1, BATCH_MAX, &e);
			if (e != NULL)
				errx(MQ_EX_USAGE, "batch %s: %s", optarg, e);
			break;
		case 'd':
			dir = optarg;
			break;
		case 'e':
			drain = 1;
			break;
		case 'h':
			usage(1);
		case 'j':
			w.maxjobs = strtonum(optarg, 1, JOBS_MAX, &e);
			if (e != NULL)
				errx(MQ_EX_USAGE, "jobs %s: %s", optarg, e);
			break;
		case 'k':
			if (mq_parse_duration(optarg, &w.grace) == -1)
				errx(MQ_EX_USAGE, "%s: bad grace time", optarg);
			break;
		case 'n':
			max = strtonum(optarg, 1, LLONG_MAX, &e);
			if (e != NULL)
				errx(MQ_EX_USAGE, "max %s: %s", optarg, e);
			break;
		case 'r':
			if (mq_parse_rate(optarg, &rate) == -1)
				errx(MQ_EX_USAGE, "%s: bad rate", optarg);
			break;
		case 's':
			w.stream = 1;
			break;
		case 't':
			if (mq_parse_duration(optarg, &w.timeout) == -1 ||
			    w.timeout <= 0)
				errx(MQ_EX_USAGE, "%s: bad timeout", optarg);
			break;
		case 'v':
			w.verbose = 1;
			break;
		default:
			usage(0);
		}
	}
	argc -= optind;
	argv += optind;
	/* "queue -- command": the -- getopt did not get to see */
	if (argc > 2 && strcmp(argv[1], "--") == 0) {
		argv[1] = argv[0];
		argv++;
		argc--;
	}
	if (argc < 2)
		usage(0);
	if (w.stream && w.batch == 0)
		w.batch = STREAM_BATCH;
	w.queue = argv[0];
	w.cmd = argv + 1;
	w.waitfd = selfpipe[0];
	spool_path(dir, spool, sizeof(spool));
	w.q = open_queue(spool, w.queue, 0);
	if (w.lease == 0)
		w.lease = mq_queue_conf(w.q)->lease_ms;
	/* -r, and rate in mq.conf: a start late may be made up, one a slot */
	mq_rate_set(w.q, rate, w.maxjobs + 1);
	if ((w.s = mq_session_new(spool)) == NULL)
		err(MQ_EX_TEMPFAIL, NULL);
	w.path = resolve_cmd(w.cmd[0]);
	if (w.stream)
		stream_init(&w);
	else
		jobs_init(&w);

	for (;;) {
		while (read(selfpipe[0], &c, 1) == 1)
			;
		/* answers first: reap() syncs what they settled */
		if (w.stream && (r = stream_io(&w)) != 0 && status == 0)
			status = mq_exit_status(r);
		if ((r = reap(&w)) != 0 && status == 0)
			status = mq_exit_status(r);
		now = mono_ms();
		if (stopsig && stopat < 0)
			stopat = now + w.grace;
		/* a second signal, or the grace time over: stop them now */
		if (stopat >= 0 && busy(&w) && (signals > 1 || now >= stopat) &&
		    kill_all(&w) > 0 && status == 0)
			status = MQ_EX_TEMPFAIL;
		if (stopat >= 0 && !busy(&w))
			break;
		/* claim while there is room, the rate allows and -n is not met */
		empty = w.empty = 0;
		sleep = -1;
		while (stopat < 0 && (max == 0 || started < max) &&
		    status == 0 && (want = room(&w, &sleep)) > 0) {
			if (max > 0 && (long long)want > max - started)
				want = max - started;
			/* each message counts: a batch takes what tokens allow */
			if ((r = mq_rate_take(w.q, (int)want, &later)) <= 0) {
				if (r == 0) {
					sleep = least(sleep, later);
					break;
				}
				warnx("%s: cannot take from its rate: %s",
				    w.queue, mq_strerror(errno));
				status = mq_exit_status(errno);
				break;
			}
			want = (size_t)r;
			r = w.stream ? stream_claim(&w, want, &status) :
			    job_claim(&w, want, &status);
			if (r > 0)
				started += r;
			if (r >= 0 && (size_t)r < want)
				mq_rate_unused(w.q, (int)(want - r));
			if (r < 0)
				break;
			/* fewer (-s): one may have gone back, unsent */
			if ((size_t)r < want) {
				empty = w.empty;
				break;
			}
		}
		/*
		 * -s: nothing more to claim and nothing unsettled, or an
		 * error: the commands' input is closed, and they are waited
		 * for.  After an error, not for their answers: those may
		 * never come (a command that answers nothing until its -t).
		 */
		if (w.stream && !w.closed && (status != 0 ||
		    (stream_unsettled(&w) == 0 && (stopat >= 0 ||
		    (max > 0 && started >= max) || (drain && empty))))) {
			stream_close(&w);
			/* -k applies here too: a command that stays is killed */
			if (stopat < 0)
				stopat = mono_ms() + w.grace;
		}
		if (!busy(&w) && (status != 0 || (max > 0 && started >= max) ||
		    (drain && empty) || w.closed))
			break;
		/* after claiming, so that new jobs count */
		sleep = least(sleep, renew(&w));
		if (stopat >= 0)
			sleep = least(sleep, stopat - mono_ms());
		if (sleep == 0)
			continue;
		/* room for more and none ready: sleep in inotify as well */
		r = nap(&w, sleep, empty && !drain && status == 0 &&
		    room(&w, &later) > 0);
		if (r != 0 && status == 0)
			status = r;
	}
	mq_queue_close(w.q);
	if (w.path != w.cmd[0])
		free((char *)w.path);
	if (mq_session_end(w.s) == -1) {
		warnx("cannot sync spool: %s", mq_strerror(errno));
		if (status == 0)
			status = mq_exit_status(errno);
	}
	return status;
}
