/*
 * stream-ack - the trivial consumer of mq-work -s (mq-work(1), "Stream
 * format") for bench/run: reads each frame, skips its body, and acks it.
 * The acks of all the frames one read(2) brought are written at once,
 * before it reads again, so that it never holds an answer while it waits.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char in[1 << 16], out[1 << 16];
static size_t olen;

static void
flush(void)
{
	size_t off = 0;
	ssize_t k;

	while (off < olen) {
		if ((k = write(1, out + off, olen - off)) <= 0)
			exit(1);
		off += k;
	}
	olen = 0;
}

int
main(void)
{
	size_t len = 0, off, skip = 0;
	char *nl, *sp;
	ssize_t k;

	while ((k = read(0, in + len, sizeof(in) - len)) > 0) {
		len += k;
		off = 0;
		for (;;) {
			if (skip > 0) {	/* a body, and its newline */
				size_t n = skip < len - off ? skip : len - off;

				off += n;
				skip -= n;
				if (skip > 0)
					break;
			}
			if ((nl = memchr(in + off, '\n', len - off)) == NULL)
				break;
			*nl = '\0';
			if ((sp = strchr(in + off, ' ')) == NULL)
				return 1;
			if (olen + (sp - (in + off)) + 6 > sizeof(out))
				flush();
			olen += sprintf(out + olen, "ack %.*s\n",
			    (int)(sp - (in + off)), in + off);
			/* BYTES is the third word; words after it are fields */
			(void)strtol(sp + 1, &sp, 10);
			skip = strtoull(sp, NULL, 10) + 1;
			off = nl + 1 - in;
		}
		memmove(in, in + off, len - off);
		len -= off;
		flush();
	}
	return 0;
}
