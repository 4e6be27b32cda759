/*
 * mq-work - run a command once per message.
 *
 * One process claims, runs up to -j commands at once, keeps their leases
 * alive and settles each message by its command's exit status.  It
 * sleeps in mq_wait (inotify) and in poll(2) on a self-pipe that signal
 * handlers write to, so SIGCHLD, SIGTERM and new messages all wake the
 * same loop and no time is spent spinning.
 */
#include <sys/types.h>
#include <sys/prctl.h>
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

#define EX_REJECT	100	/* a command's "never retry this message" */
#define JOBS_MAX	1024

struct job {
	pid_t	 pid;
	char	 handle[PATH_MAX];
	char	 id[MQ_ID_LEN + 1];
	int64_t	 touched;		/* monotonic ms of the last lease renewal */
};

static struct job *jobs;
static int njobs, maxjobs = 1, verbose;
static int selfpipe[2];
static volatile sig_atomic_t stopsig, signals;

static void __attribute__((noreturn))
usage(int help)
{
	usage_exit(help, "[-ev] [-d dir] [-j jobs] [-k grace] "
	    "[-L lease] [-n max] [-r rate] queue command [arg ...]");
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

static void
child(const char *queue, const char *handle, const struct mq_name *m,
    char **cmd, int fd, int errfd, pid_t parent)
{
	char attempts[16];
	sigset_t none;
	int e;

	/* our own group: a ^C at the terminal is for mq-work to handle */
	setpgid(0, 0);
	/* a worker killed outright takes its commands along */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != parent)
		_exit(127);	/* it died before we asked */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	snprintf(attempts, sizeof(attempts), "%d", m->attempts);
	/* fd is close-on-exec, and dup2 of 0 onto itself would keep that */
	if ((fd == 0 ? fcntl(0, F_SETFD, 0) : dup2(fd, 0)) == -1 ||
	    setenv("MQ_QUEUE", queue, 1) == -1 ||
	    setenv("MQ_ID", m->id, 1) == -1 ||
	    setenv("MQ_ATTEMPT", attempts, 1) == -1 ||
	    setenv("MQ_HANDLE", handle, 1) == -1)
		e = errno;
	else {
		execvp(cmd[0], cmd);
		e = errno;
	}
	(void)!write(errfd, &e, sizeof(e));
	_exit(127);
}

/*
 * Start the command on a claimed message.  Returns 0, or the errno of a
 * command that could not be run (the message is then released at once).
 * A message that cannot be opened is nacked as a failed command's would
 * be, and 0 returned: the next one may do.
 */
static int
start(const char *queue, struct mq_session *s, const char *handle,
    char **cmd)
{
	struct mq_name m;
	struct job *j = &jobs[njobs];
	int ep[2], fd, e = 0;
	ssize_t n;
	pid_t pid, parent = getpid();

	if (mq_handle_name(handle, &m) == -1)
		errx(MQ_EX_DATAERR, "%s: bad handle", handle);
	/*
	 * Opened here, not in the child, with the library's one open of a
	 * spool file: whoever may write inflight/ could have swapped the
	 * file for a FIFO since the claim, and the command must not start
	 * on (nor the child hang in) anything but the message.
	 */
	if ((fd = mq_openat(AT_FDCWD, handle, O_RDONLY, 0)) == -1) {
		e = errno;
		warnx("%s: cannot read: %s", handle, mq_strerror(e));
		/* gone, or no message mq made: there is nothing to nack */
		if (e != ENOENT && e != MQ_ENOTREG &&
		    mq_nack(s, handle, -1) == -1)
			warnx("%s: cannot release: %s", handle,
			    mq_strerror(errno));
		return 0;
	}
	if (pipe2(ep, O_CLOEXEC) == -1)
		err(MQ_EX_TEMPFAIL, "pipe");
	if ((pid = fork()) == -1)
		err(MQ_EX_TEMPFAIL, "fork");
	if (pid == 0)
		child(queue, handle, &m, cmd, fd, ep[1], parent);
	close(fd);
	setpgid(pid, pid);
	close(ep[1]);
	/* the pipe closes on exec: data on it means exec failed */
	while ((n = read(ep[0], &e, sizeof(e))) == -1 && errno == EINTR)
		;
	close(ep[0]);
	if (n == sizeof(e)) {
		while (waitpid(pid, NULL, 0) == -1 && errno == EINTR)
			;
		if (mq_nack(s, handle, 0) == -1)
			warnx("%s: cannot release: %s", handle,
			    mq_strerror(errno));
		return e;
	}
	j->pid = pid;
	strlcpy(j->handle, handle, sizeof(j->handle));
	strlcpy(j->id, m.id, sizeof(j->id));
	j->touched = mono_ms();
	njobs++;
	return 0;
}

/* Settle a finished job's message by its status; returns 0 or errno. */
static int
settle(struct mq_session *s, struct job *j, int status)
{
	const char *what;
	int r;

	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		r = mq_ack(s, j->handle);
		what = "acked";
	} else if (WIFEXITED(status) && WEXITSTATUS(status) == EX_REJECT) {
		r = mq_reject(s, j->handle);
		what = "dead";
	} else {
		r = mq_nack(s, j->handle, -1);
		what = "nacked";
	}
	if (r == -1) {
		warnx("%s: %s", j->id, mq_strerror(errno));
		/* a lost lease: another consumer has it now; go on */
		return errno == ESTALE ? 0 : errno;
	}
	if (verbose)
		fprintf(stderr, "%s: %s %s\n", getprogname(), j->id, what);
	return 0;
}

/* Reap finished commands; returns the worst settle error seen, or 0. */
static int
reap(struct mq_session *s)
{
	int status, i, e = 0, r;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (i = 0; i < njobs && jobs[i].pid != pid; i++)
			;
		if (i == njobs)
			continue;
		if ((r = settle(s, &jobs[i], status)) != 0 && e == 0)
			e = r;
		jobs[i] = jobs[--njobs];
	}
	if (mq_session_sync(s) == -1 && e == 0)
		e = errno;
	return e;
}

/* Renew leases a third of the way through; returns ms to the next renewal. */
static int64_t
renew(struct mq_session *s, int64_t lease)
{
	int64_t now = mono_ms(), next = -1, due;
	int i;

	for (i = 0; i < njobs; i++) {
		due = jobs[i].touched + lease / 3;
		if (due <= now) {
			if (mq_touch(s, jobs[i].handle, lease) == -1)
				warnx("%s: cannot renew lease: %s",
				    jobs[i].id, mq_strerror(errno));
			jobs[i].touched = now;
			due = now + lease / 3;
		}
		if (next == -1 || due - now < next)
			next = due - now;
	}
	return next;
}

static int64_t
least(int64_t a, int64_t b)
{
	if (a < 0)
		return b;
	if (b < 0)
		return a;
	return a < b ? a : b;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "drain", no_argument, NULL, 'e' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	char spool[PATH_MAX], handle[PATH_MAX], c;
	struct sigaction sa;
	struct mq_session *s;
	struct mq_queue *q;
	const char *dir = NULL, *e;
	int64_t lease = 0, grace = 30000, rate = 0, stopat = -1;
	int64_t now, sleep, t;
	long long max = 0, started = 0;
	int ch, drain = 0, empty = 0, status = 0, r, i;

	/* first: a signal during start-up must stop the worker cleanly */
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

	while ((ch = getopt_long(argc, argv, "+L:Vd:ehj:k:n:r:v", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'L':
			if (mq_parse_lease(optarg, &lease) == -1)
				errx(MQ_EX_USAGE, "%s: bad lease", optarg);
			break;
		case 'V':
			version();
		case 'd':
			dir = optarg;
			break;
		case 'e':
			drain = 1;
			break;
		case 'h':
			usage(1);
		case 'j':
			maxjobs = strtonum(optarg, 1, JOBS_MAX, &e);
			if (e != NULL)
				errx(MQ_EX_USAGE, "jobs %s: %s", optarg, e);
			break;
		case 'k':
			if (mq_parse_duration(optarg, &grace) == -1)
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
		case 'v':
			verbose = 1;
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
	spool_path(dir, spool, sizeof(spool));
	q = open_queue(spool, argv[0], 0);
	if (lease == 0)
		lease = mq_queue_conf(q)->lease_ms;
	/* -r, and rate in mq.conf: a start late may be made up, one a slot */
	mq_rate_set(q, rate, maxjobs + 1);
	if ((s = mq_session_new(spool)) == NULL ||
	    (jobs = calloc(maxjobs, sizeof(*jobs))) == NULL)
		err(MQ_EX_TEMPFAIL, NULL);


	for (;;) {
		while (read(selfpipe[0], &c, 1) == 1)
			;
		if ((r = reap(s)) != 0 && status == 0)
			status = mq_exit_status(r);
		now = mono_ms();
		if (stopsig && stopat < 0)
			stopat = now + grace;
		/* a second signal, or the grace time over: stop them now */
		if (stopat >= 0 && njobs > 0 && (signals > 1 || now >= stopat)) {
			for (i = 0; i < njobs; i++)
				kill(-jobs[i].pid, SIGKILL);
			for (i = 0; i < njobs; i++) {
				while (waitpid(jobs[i].pid, NULL, 0) == -1 &&
				    errno == EINTR)
					;
				if (mq_nack(s, jobs[i].handle, 0) == -1)
					warnx("%s: cannot release: %s",
					    jobs[i].id, mq_strerror(errno));
			}
			njobs = 0;
			if (status == 0)
				status = MQ_EX_TEMPFAIL;
		}
		if (stopat >= 0 && njobs == 0)
			break;
		/* claim while there is room, the rate allows and -n is not met */
		empty = 0;
		sleep = -1;
		while (stopat < 0 && njobs < maxjobs && (max == 0 ||
		    started < max) && status == 0) {
			if ((r = mq_rate_take(q, 1, &t)) <= 0) {
				if (r == 0) {
					sleep = least(sleep, t);
					break;
				}
				warnx("%s: cannot take from its rate: %s",
				    argv[0], mq_strerror(errno));
				status = mq_exit_status(errno);
				break;
			}
			mq_get_ahead(q, 1);
			if ((r = mq_get(q, lease, handle, sizeof(handle))) ==
			    -1) {
				warnx("%s: cannot claim: %s", argv[0],
				    mq_strerror(errno));
				status = mq_exit_status(errno);
				break;
			}
			if (r == 0) {
				empty = 1;
				mq_rate_unused(q, 1);
				break;
			}
			if ((r = start(argv[0], s, handle, argv + 1)) != 0) {
				warnx("%s: %s", argv[1], strerror(r));
				status = r == ENOENT ? 127 : 126;
				break;
			}
			started++;
		}
		if (njobs == 0 && (status != 0 || (max > 0 && started >= max) ||
		    (drain && empty)))
			break;
		/* after claiming, so that new jobs count */
		sleep = least(sleep, renew(s, lease));
		if (stopat >= 0)
			sleep = least(sleep, stopat - mono_ms());
		if (sleep == 0)
			continue;
		/* room for more and none ready: sleep in inotify as well */
		if (empty && njobs < maxjobs && !drain && status == 0) {
			if (mq_wait(q, sleep, selfpipe[0]) == -1 &&
			    errno != EINTR) {
				warnx("%s: cannot wait: %s", argv[0],
				    mq_strerror(errno));
				status = mq_exit_status(errno);
			}
		} else {
			struct pollfd p = { selfpipe[0], POLLIN, 0 };

			t = sleep < 0 || sleep > INT32_MAX ? -1 : sleep;
			if (poll(&p, 1, (int)t) == -1 && errno != EINTR)
				err(MQ_EX_TEMPFAIL, "poll");
		}
	}
	mq_queue_close(q);
	if (mq_session_end(s) == -1) {
		warnx("cannot sync spool: %s", mq_strerror(errno));
		if (status == 0)
			status = mq_exit_status(errno);
	}
	return status;
}
