/*
 * mq-resolve - ask a checker about prepared messages whose producer went
 * quiet (mq-put -P, then neither mq-commit nor mq-rm).
 *
 * Each message prepared prepare_timeout ago or more, and not asked about
 * since, gets one run of the command, with MQ_QUEUE, MQ_ID, MQ_HANDLE and
 * its headers (MQ_H_<name>, as mq-work sets them) in its environment: exit
 * 0 commits it, 1 rolls it back, anything else (a signal, a timeout, a
 * command that cannot run) asks again prepare_timeout later, and the
 * prepare_max-th such answer sends it to dead/ as unresolved.  While the
 * command runs, the message's ask lock keeps any other mq-resolve from
 * asking about it (mq(7) LOCKS).
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
#include <unistd.h>

#include "mq.h"
#include "tool.h"

struct resolver {
	const char	*queue;
	struct mq_queue	*q;
	struct mq_session *s;
	char		**cmd;
	int64_t		 timeout;	/* ms a checker may take */
	int		 verbose;
};

static void __attribute__((noreturn))
usage(int help)
{
	usage_exit(help, "[-vw] [-d dir] [-t timeout] queue [--] command "
	    "[arg ...]");
}

static void __attribute__((noreturn))
child(struct resolver *r, const char *handle, const char *id,
    const struct mq_headers *h, int errfd, pid_t parent)
{
	int e;

	setpgid(0, 0);
	/*
	 * A resolver killed outright takes its checker along: its ask lock
	 * is gone with it, and another resolver may ask about the message.
	 */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(127);
	if (redirect(-1, 0, O_RDONLY) == -1 ||
	    setenv("MQ_QUEUE", r->queue, 1) == -1 ||
	    setenv("MQ_ID", id, 1) == -1 ||
	    setenv("MQ_HANDLE", handle, 1) == -1 || header_env(h) == -1)
		e = errno;
	else {
		execvp(r->cmd[0], r->cmd);
		e = errno;
	}
	(void)!write(errfd, &e, sizeof(e));
	_exit(127);
}

/*
 * Run the checker for one message: its exit status, or -1 when it timed
 * out or died of a signal; exits when it cannot be run at all (a missing
 * command would otherwise send every message to dead/).
 */
static int
check(struct resolver *r, const char *handle, const char *id,
    const struct mq_headers *h)
{
	int64_t end = r->timeout > 0 ? mono_ms() + r->timeout : 0;
	int ep[2], e, status;
	ssize_t n;
	pid_t pid, w, parent = getpid();

	if (pipe2(ep, O_CLOEXEC) == -1)
		err(MQ_EX_TEMPFAIL, "pipe");
	if ((pid = fork()) == -1)
		err(MQ_EX_TEMPFAIL, "fork");
	if (pid == 0)
		child(r, handle, id, h, ep[1], parent);
	setpgid(pid, pid);
	close(ep[1]);
	while ((n = read(ep[0], &e, sizeof(e))) == -1 && errno == EINTR)
		;
	close(ep[0]);
	if (n == sizeof(e)) {
		while (waitpid(pid, NULL, 0) == -1 && errno == EINTR)
			;
		errno = e;
		err(e == ENOENT ? 127 : 126, "%s", r->cmd[0]);
	}
	/* a hung checker must not hold the pass (and the message) for good */
	for (;;) {
		if ((w = waitpid(pid, &status, end ? WNOHANG : 0)) == pid)
			break;
		if (w == -1 && errno != EINTR)
			err(MQ_EX_TEMPFAIL, "waitpid");
		if (end && mono_ms() >= end) {
			warnx("%s: checker timed out: killed", handle);
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
				;
			return -1;
		}
		if (w == 0)
			poll(NULL, 0, 10);
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Ask about one overdue message: the worst exit status met, or 0. */
static int
ask(struct resolver *r, const char *handle)
{
	struct mq_message msg;
	struct mq_headers h = { 0 };
	struct mq_ask *a;
	int fd, rc, x = 0, dead;
	const char *what;

	if ((a = mq_ask(r->q, handle)) == NULL) {
		/* another resolver's, or settled since the listing */
		if (errno == EBUSY || errno == MQ_EGONE)
			return 0;
		warnx("%s: %s", handle, mq_strerror(errno));
		return mq_exit_status(errno);
	}
	if ((fd = mq_open_message(r->s, handle, &msg)) == -1 ||
	    mq_headers_read(fd, &h) == -1) {
		/* headers no one can trust: no checker sees them as none */
		if (errno != MQ_EMOVED)
			warnx("%s: cannot read: %s", handle,
			    mq_strerror(errno));
		if (fd != -1)
			close(fd);
		mq_ask_end(a);
		return 0;
	}
	close(fd);
	rc = check(r, handle, msg.name.id, &h);
	if (rc == 0) {
		what = "committed";
		if (mq_commit(r->s, handle) == -1)
			x = errno;
	} else if (rc == 1) {
		what = "rolled back";
		if (mq_rm(r->s, handle) == -1)
			x = errno;
	} else {
		what = "unresolved";
		if ((dead = mq_unresolved(r->q, a)) == -1)
			x = errno;
		else if (dead)
			what = "dead as unresolved";
	}
	/* durable before another resolver may ask again */
	if (x == 0 && mq_session_sync(r->s) == -1)
		x = errno;
	mq_ask_end(a);
	/* settled meanwhile by its producer: the checker's answer is moot */
	if (x == MQ_EGONE || x == MQ_EMOVED)
		return 0;
	if (x != 0) {
		warnx("%s: %s", handle, mq_strerror(x));
		return mq_exit_status(x);
	}
	if (r->verbose && printf("%s %s\n", what, handle) < 0)
		err(MQ_EX_IOERR, "stdout");
	if (r->verbose)
		fflush(stdout);
	return 0;
}

/* One pass: every message overdue now.  The ms until the next is due. */
static int
pass(struct resolver *r, int64_t *next)
{
	char **v;
	size_t n, i;
	int st, status = 0;

	if (mq_overdue(r->q, &v, &n, next) == -1)
		die_queue(r->queue, errno);
	for (i = 0; i < n; i++) {
		if ((st = ask(r, v[i])) > status)
			status = st;
		free(v[i]);
	}
	free(v);
	return status;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	/* as mq-work's -t: a hung checker holds its message, not all */
	struct resolver r = { .timeout = 30 * 60 * 1000 };
	char spool[PATH_MAX];
	const char *dir = NULL;
	int64_t next;
	int ch, watch = 0, status;

	while ((ch = getopt_long(argc, argv, "+Vd:ht:vw", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'V':
			version();
		case 'd':
			dir = optarg;
			break;
		case 'h':
			usage(1);
		case 't':
			/* -t 0: no limit */
			if (mq_parse_duration(optarg, &r.timeout) == -1)
				errx(MQ_EX_USAGE, "%s: bad timeout", optarg);
			break;
		case 'v':
			r.verbose = 1;
			break;
		case 'w':
			watch = 1;
			break;
		default:
			usage(0);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc >= 2 && strcmp(argv[1], "--") == 0) {
		argv[1] = argv[0];
		argc--;
		argv++;
	}
	if (argc < 2)
		usage(0);
	r.queue = argv[0];
	r.cmd = argv + 1;
	spool_path(dir, spool, sizeof(spool));
	r.q = open_queue(spool, r.queue, 0);
	if ((r.s = mq_session_new(spool)) == NULL)
		err(MQ_EX_TEMPFAIL, NULL);
	status = pass(&r, &next);
	while (watch) {
		/* time, not an event, makes a message due: sleep until then */
		poll(NULL, 0, next > INT_MAX ? INT_MAX : (int)next);
		if ((ch = pass(&r, &next)) > status)
			status = ch;
	}
	if (mq_session_end(r.s) == -1)
		errx(mq_exit_status(errno), "cannot sync spool: %s",
		    mq_strerror(errno));
	mq_queue_close(r.q);
	close_stdout();
	return status;
}
