/*
 * work-run.c - mq-work's steps that every mode takes: finding the command
 * once, starting it, and claiming, settling and renewing messages.
 *
 * A message is held by one struct wmsg from its claim until it is settled;
 * settling frees the handle and leaves NULL, so that no road settles a
 * message twice.
 */
#include <sys/types.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tool.h"
#include "work.h"

int64_t
least(int64_t a, int64_t b)
{
	if (a < 0)
		return b;
	if (b < 0)
		return a;
	return a < b ? a : b;
}

/* mq-work's exit status for a command that could not be run */
int
exec_status(int e)
{
	/* out of descriptors, processes or memory: try again later */
	if (e == EMFILE || e == ENFILE || e == ENOMEM || e == EAGAIN)
		return MQ_EX_TEMPFAIL;
	return e == ENOENT ? 127 : 126;
}

/*
 * The command's path, looked up in PATH once: execvp(3) would search it
 * again for every command started, failing on each directory before the
 * right one.  A name with a slash is taken as it is; a name found nowhere
 * too, so that execvp fails on it the way it always did (127 or 126).
 */
const char *
resolve_cmd(const char *name)
{
	char dirs[PATH_MAX * 4], p[PATH_MAX], *dir, *next;
	const char *path = getenv("PATH");
	struct stat st;
	int n;

	if (*name == '\0' || strchr(name, '/') != NULL)
		return name;
	if (path == NULL) {
		if (confstr(_CS_PATH, dirs, sizeof(dirs)) == 0)
			return name;
	} else if (strlcpy(dirs, path, sizeof(dirs)) >= sizeof(dirs))
		return name;	/* a PATH this long: let execvp search it */
	for (dir = dirs; dir != NULL; dir = next) {
		if ((next = strchr(dir, ':')) != NULL)
			*next++ = '\0';
		/* an empty entry is the current directory, as for execvp */
		n = snprintf(p, sizeof(p), "%s/%s", *dir ? dir : ".", name);
		if (n < 0 || (size_t)n >= sizeof(p))
			continue;
		if (faccessat(AT_FDCWD, p, X_OK, AT_EACCESS) == 0 &&
		    stat(p, &st) == 0 && S_ISREG(st.st_mode)) {
			if ((path = strdup(p)) == NULL)
				err(MQ_EX_TEMPFAIL, NULL);
			return path;
		}
	}
	return name;
}

/* Make fd the descriptor to, or /dev/null for fd -1; 0 or -1. */
static int
redirect(int fd, int to, int flags)
{
	if (fd == -1 && (fd = open("/dev/null", flags | O_CLOEXEC)) == -1)
		return -1;
	return dup2(fd, to) == -1 ? -1 : 0;
}

/*
 * A message's headers as MQ_H_<name> (mq-work(1)).  Any MQ_H_ inherited
 * goes first: a command must not take a header of mq-work's own
 * environment (an mq-work run by another's command) for one of this
 * message.  In the child, after fork: nothing here needs to be undone.
 */
static int
header_env(const struct mq_headers *h)
{
	extern char **environ;
	struct mq_header r;
	char name[sizeof("MQ_H_") + MQ_HDR_NAME_MAX], *val, *old, **e;
	size_t pos = 0, n;
	int rc;

	for (e = environ; *e != NULL; ) {
		/* an entry without '=' is none unsetenv could remove */
		if (strncmp(*e, "MQ_H_", 5) == 0 &&
		    (*e)[n = strcspn(*e, "=")] == '=') {
			/* any length: no header makes it, but one may be given */
			if ((old = strndup(*e, n)) == NULL)
				return -1;
			rc = unsetenv(old);
			free(old);
			if (rc == -1)
				return -1;
			continue;	/* environ moved down over it */
		}
		e++;
	}
	while (h != NULL && mq_header_next(h, &pos, &r)) {
		if (mq_header_envname(r.name, r.nlen, name, sizeof(name)) == -1 ||
		    (val = strndup(r.val, r.vlen)) == NULL ||
		    setenv(name, val, 1) == -1)
			return -1;
		free(val);
	}
	return 0;
}

/* The per-message variables, or none of them (a batch, a stream). */
static int
environment(const char *queue, const struct wmsg *m,
    const struct mq_headers *h)
{
	char attempts[16];

	if (setenv("MQ_QUEUE", queue, 1) == -1 || header_env(h) == -1)
		return -1;
	if (m == NULL)
		return unsetenv("MQ_ID") | unsetenv("MQ_ATTEMPT") |
		    unsetenv("MQ_HANDLE");
	snprintf(attempts, sizeof(attempts), "%d", m->attempts);
	return setenv("MQ_ID", m->id, 1) | setenv("MQ_ATTEMPT", attempts, 1) |
	    setenv("MQ_HANDLE", m->handle, 1);
}

static void __attribute__((noreturn))
child(struct work *w, char **argv, int in, int out, const struct wmsg *m,
    const struct mq_headers *h, int errfd, pid_t parent)
{
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
	/* mq-work ignores SIGPIPE (a stream command may go away): not so
	   the command, ignored signals are inherited through exec */
	signal(SIGPIPE, SIG_DFL);
	/*
	 * Moved above 2 first, so neither can be the other's target (a
	 * worker started with 0 or 1 closed gets them from pipe(2)); dup2
	 * then clears close-on-exec on 0 and 1.
	 */
	if ((in != -1 && (in = fcntl(in, F_DUPFD_CLOEXEC, 3)) == -1) ||
	    (out != -1 && (out = fcntl(out, F_DUPFD_CLOEXEC, 3)) == -1) ||
	    redirect(in, 0, O_RDONLY) == -1 ||
	    (out != -1 && redirect(out, 1, O_WRONLY) == -1) ||
	    environment(w->queue, m, h) == -1)
		e = errno;
	else {
		/* a path with a slash: execvp only adds its sh fallback */
		execvp(w->path, argv);
		e = errno;
	}
	(void)!write(errfd, &e, sizeof(e));
	_exit(127);
}

/*
 * Start argv with in as its standard input (-1: /dev/null) and out as its
 * standard output (-1: mq-work's), in a process group of its own.  m, for
 * a command per message, sets the per-message variables, and h (or none)
 * the headers.  Returns the pid,
 * or -1 with the errno of a command that could not be run in *err.
 */
pid_t
spawn(struct work *w, char **argv, int in, int out, const struct wmsg *m,
    const struct mq_headers *h, int *errp)
{
	int ep[2], e;
	ssize_t n;
	pid_t pid, parent = getpid();

	if (pipe2(ep, O_CLOEXEC) == -1)
		err(MQ_EX_TEMPFAIL, "pipe");
	if ((pid = fork()) == -1)
		err(MQ_EX_TEMPFAIL, "fork");
	if (pid == 0)
		child(w, argv, in, out, m, h, ep[1], parent);
	setpgid(pid, pid);
	close(ep[1]);
	/* the pipe closes on exec: data on it means exec failed */
	while ((n = read(ep[0], &e, sizeof(e))) == -1 && errno == EINTR)
		;
	close(ep[0]);
	if (n != sizeof(e))
		return pid;
	while (waitpid(pid, NULL, 0) == -1 && errno == EINTR)
		;
	*errp = e;
	return -1;
}

/* Claim one message into m: 1, 0 when none is ready, -1 with errno. */
int
claim(struct work *w, struct wmsg *m)
{
	char handle[PATH_MAX];
	struct mq_name nm;
	int r;

	if ((r = mq_get(w->q, w->lease, handle, sizeof(handle))) != 1) {
		w->empty = r == 0;
		return r;
	}
	if (mq_handle_name(handle, &nm) == -1)
		errx(MQ_EX_DATAERR, "%s: bad handle", handle);
	if ((m->handle = strdup(handle)) == NULL)
		err(MQ_EX_TEMPFAIL, NULL);
	strlcpy(m->id, nm.id, sizeof(m->id));
	m->attempts = nm.attempts;
	m->claimed = m->touched = mono_ms();
	return 1;
}

/*
 * The headers of m, opened as fd, for its command.  Headers no reader can
 * trust (a foreign producer's, planted) are never passed as if there were
 * none: m is dead, as a command would reject it, fd closed, and -1.
 */
int
msg_headers(struct work *w, struct wmsg *m, int fd, struct mq_headers *h)
{
	if (mq_headers_read(fd, h) == 0)
		return 0;
	warnx("%s: cannot read headers: %s", m->handle, mq_strerror(errno));
	close(fd);
	settle_msg(w, m, S_DEAD, -1, 0);
	return -1;
}

/*
 * Settle m as told; returns 0 or the errno of a failure that matters.  A
 * lost lease (ESTALE) is another consumer's message now, or one that the
 * command settled itself: quiet_stale says it may have, and then it is no
 * news.
 */
int
settle_msg(struct work *w, struct wmsg *m, enum settle how, int64_t delay,
    int quiet_stale)
{
	static const char *what[] = { "acked", "nacked", "dead", NULL, NULL };
	int r, e = 0;

	switch (how) {
	case S_ACK:
		r = mq_ack(w->s, m->handle);
		break;
	case S_NACK:
		r = mq_nack(w->s, m->handle, delay);
		break;
	case S_DEAD:
		r = mq_reject(w->s, m->handle);
		break;
	case S_BACK:
		r = mq_nack(w->s, m->handle, 0);
		break;
	default:
		r = mq_unclaim(w->s, m->handle);
		break;
	}
	if (r == -1 && !(errno == ESTALE && quiet_stale)) {
		e = errno;
		warnx("%s: %s", m->id, mq_strerror(e));
	} else if (r == 0 && w->verbose && what[how] != NULL)
		fprintf(stderr, "%s: %s %s\n", getprogname(), m->id, what[how]);
	free(m->handle);
	m->handle = NULL;
	/* a lost lease: another consumer has it now; go on */
	return e == ESTALE ? 0 : e;
}

/* Return what is still unsettled of m[0..n): a command gone, a stop. */
void
give_back(struct work *w, struct wmsg *m, size_t n, enum settle how)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (m[i].handle != NULL)
			settle_msg(w, &m[i], how, 0, 1);
}

/*
 * Renew the leases of m[0..n) a third of the way through; returns ms to
 * the next renewal (-1: none).  A lease lost with quiet_stale was the
 * command's own settling (a batch): the message is no longer ours.
 */
int64_t
renew_msgs(struct work *w, struct wmsg *m, size_t n, int64_t now,
    int quiet_stale)
{
	int64_t next = -1, due;
	size_t i;

	for (i = 0; i < n; i++) {
		if (m[i].handle == NULL)
			continue;
		due = m[i].touched + w->lease / 3;
		if (due <= now) {
			if (mq_touch(w->s, m[i].handle, w->lease) == 0)
				;
			else if (errno == ESTALE && quiet_stale) {
				free(m[i].handle);
				m[i].handle = NULL;
				continue;
			} else
				warnx("%s: cannot renew lease: %s", m[i].id,
				    mq_strerror(errno));
			m[i].touched = now;
			due = now + w->lease / 3;
		}
		next = least(next, due - now);
	}
	return next;
}
