/*
 * fuzz-records - mq_foreach_arg: the handles and ids that the tools take
 * as operands or, when there are none, one per line of standard input.
 *
 * Standard input is the input itself, through fmemopen: NUL bytes, lines
 * of any length, no newline at the end.  Invariants checked:
 * - the callback sees each non-empty line, in order, exactly: every byte
 *   of it and its length, nothing more (a NUL byte cut a line short
 *   unseen: mq-ack acted on "a" for the line "a\0b");
 * - with operands, it sees each operand as it is, empty ones too;
 * - the status is the highest the callback returned.
 */
#include <sys/types.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tool.h"
#include "fuzz.h"

struct want {
	const char	*p;		/* the next record still to come */
	const char	*end;
	char		 sep;
	int		 skipempty;
	int		 status;	/* the highest returned so far */
	size_t		 calls;
};

/* The next record of w, or NULL: its length in *len. */
static const char *
next(struct want *w, size_t *len)
{
	const char *r, *e;

	for (;;) {
		if (w->p >= w->end)
			return NULL;
		r = w->p;
		if ((e = memchr(r, w->sep, (size_t)(w->end - r))) == NULL)
			e = w->end;
		w->p = e + 1;
		if (e > r || !w->skipempty) {
			*len = (size_t)(e - r);
			return r;
		}
	}
}

static int
record(const char *s, size_t slen, void *arg)
{
	struct want *w = arg;
	const char *r;
	size_t len;
	int status;

	CHECK((r = next(w, &len)) != NULL);
	CHECK(slen == len && memcmp(s, r, len) == 0 && s[len] == '\0');
	w->calls++;
	/* some status from what it saw, so that the highest counts */
	status = len % 5 == 0 ? MQ_EX_DATAERR : (int)(len % 5);
	if (status > w->status)
		w->status = status;
	return status;
}

static void
from_stdin(const uint8_t *data, size_t n)
{
	struct want w;
	size_t len;
	FILE *f;
	char *buf;
	int r;

	/* fmemopen wants room even for nothing */
	if ((buf = malloc(n ? n : 1)) == NULL)
		abort();
	memcpy(buf, data, n);
	CHECK((f = n ? fmemopen(buf, n, "r") : fopen("/dev/null", "r")) !=
	    NULL);
	w = (struct want){ buf, buf + n, '\n', 1, 0, 0 };
	r = mq_foreach_arg(0, NULL, f, record, &w);
	CHECK(next(&w, &len) == NULL);
	CHECK(r == w.status);
	fclose(f);
	free(buf);
}

static void
from_operands(const uint8_t *data, size_t n)
{
	struct want w;
	char *buf, **argv;
	size_t i, argc = 1, len;
	int r;

	if ((buf = malloc(n + 1)) == NULL)
		abort();
	memcpy(buf, data, n);
	buf[n] = '\0';
	for (i = 0; i < n; i++)
		argc += buf[i] == '\0';
	if ((argv = calloc(argc, sizeof(*argv))) == NULL)
		abort();
	argv[0] = buf;
	for (i = 0, argc = 1; i < n; i++)
		if (buf[i] == '\0')
			argv[argc++] = buf + i + 1;
	w = (struct want){ buf, buf + n + 1, '\0', 0, 0, 0 };
	r = mq_foreach_arg((int)argc, argv, NULL, record, &w);
	CHECK(next(&w, &len) == NULL);
	CHECK(w.calls == argc && r == w.status);
	free(argv);
	free(buf);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	size_t n = 4 << 20, i;
	uint8_t *big;

	(void)argc;
	(void)argv;
	/* lines far longer than the fuzzer makes: 4 MiB, then in pieces */
	if ((big = malloc(n)) == NULL)
		abort();
	memset(big, 'x', n);
	from_stdin(big, n);
	for (i = 0; i < n; i += 65537)
		big[i] = i % 3 ? '\n' : '\0';
	from_stdin(big, n);
	free(big);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	from_stdin(data, n);
	from_operands(data, n);
	return 0;
}
