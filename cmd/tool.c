/*
 * tool.c - what every tool needs the same way and the library has no
 * business deciding: one mapping from errors to exit statuses (EXIT STATUS
 * in mq(7)), and one loop over operands or standard input lines.
 */
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tool.h"

int
mq_exit_status(int err)
{
	switch (err) {
	case 0:
		return MQ_EX_OK;
	case ESTALE:
	case MQ_EMOVED:
	case MQ_EUNROUTABLE:
	case MQ_EGONE:
		return MQ_EX_NONE;
	case MQ_ECONFIG:
	case MQ_EUNTRUSTED:
		return MQ_EX_CONFIG;
	case MQ_EISTOPIC:
	case MQ_EISSUB:
	case MQ_EMVTOPIC:
		return MQ_EX_USAGE;
	case MQ_EHANDLE:
	case MQ_EKEYFILE:
	case MQ_ENOTREG:
	case MQ_ENOTEMPTY:
	case MQ_ERANGE:
	case MQ_EHEADER:
	case MQ_EHDRDUP:
	case MQ_EHDRSIZE:
	case MQ_EPATTERN:
	case MQ_EIDCLASH:
	case MQ_EKEYCLASH:
	case MQ_ESAMEQ:
	case EFBIG:
	case EINVAL:
	case ENAMETOOLONG:
		return MQ_EX_DATAERR;
	case MQ_ENOQUEUE:
	case ENOENT:
	case ENOTDIR:
		return MQ_EX_NOINPUT;
	case ENOSPC:
	case EDQUOT:
	case EROFS:
	case EEXIST:
	case MQ_ENOXATTR:
		return MQ_EX_CANTCREAT;
	case EACCES:
	case EPERM:
		return MQ_EX_NOPERM;
	case EMFILE:
	case ENFILE:
	case ENOMEM:
	case MQ_EFULL:
	case EAGAIN:
	case EINTR:
	case ENOLCK:
	case MQ_EPREPARED:
		return MQ_EX_TEMPFAIL;
	default:
		return MQ_EX_IOERR;
	}
}

/*
 * Call fn for each operand or, when there are none, for each non-empty
 * line of in, with its length.  A line is never cut short: one with a NUL
 * byte reaches fn whole, and fn alone can tell it from the string it
 * sees.  Returns the highest status fn returned (74 if reading in failed).
 */
int
mq_foreach_arg(int argc, char **argv, FILE *in, mq_argfn fn, void *arg)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int i, r, status = 0;

	if (argc > 0) {
		for (i = 0; i < argc; i++)
			if ((r = fn(argv[i], strlen(argv[i]), arg)) > status)
				status = r;
		return status;
	}
	while ((len = getline(&line, &cap, in)) != -1) {
		if (len > 0 && line[len - 1] == '\n')
			line[--len] = '\0';
		if (len == 0)
			continue;
		if ((r = fn(line, (size_t)len, arg)) > status)
			status = r;
	}
	if (ferror(in) && status < MQ_EX_IOERR)
		status = MQ_EX_IOERR;
	free(line);
	return status;
}

/*
 * A message's headers as MQ_H_<name> (mq-work(1), mq-resolve(1)).  Any MQ_H_ inherited
 * goes first: a command must not take a header of the tool's own
 * environment (an mq-work run by another's command) for one of this
 * message.  In the child, after fork: nothing here needs to be undone.
 */
int
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

/* Make fd the descriptor to, or /dev/null for fd -1; 0 or -1. */
int
redirect(int fd, int to, int flags)
{
	if (fd == -1 && (fd = open("/dev/null", flags | O_CLOEXEC)) == -1)
		return -1;
	return dup2(fd, to) == -1 ? -1 : 0;
}
