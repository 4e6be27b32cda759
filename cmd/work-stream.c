/*
 * work-stream.c - mq-work -s: one command per job slot, kept running, fed
 * messages on its standard input and answering on its standard output
 * (the format is in mq-work(1), STREAM FORMAT).
 *
 * Invariants:
 * - a slot's unsettled messages are m[0..n), in the order they were
 *   claimed; m[0..wr) have had their frame line put out, m[wr..n) not
 *   yet, and only those of m[0..wr) can be answered;
 * - the pipes are non-blocking and watched by one epoll set, which the
 *   loop sleeps on (through mq_wait, with the self-pipe in it): writing
 *   never blocks the loop, so leases are renewed and answers read however
 *   slow the command is;
 * - a command that is gone (exited, killed, or never answered in time)
 *   leaves nothing unsettled behind: what it began to read goes back with
 *   its attempt counted; what it never read (frames still in the pipe,
 *   FIONREAD, or not yet written) is unclaimed, so that a message that
 *   kills its command takes no attempt from the ones queued behind it;
 * - what a command can no longer read is unclaimed at once, not when it
 *   exits: the frames not yet written when its input closes (a frame cut
 *   short would give it a truncated body to answer), and those left in
 *   the pipe when it closed its end itself;
 * - a command is never sent a message it nacked (see nacked_by), so that
 *   an answer, which names no delivery, names one delivery only.
 */
#include <sys/types.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tool.h"
#include "work.h"

#define OBUF_CAP	(128 * 1024)	/* frames waiting for the pipe */
#define LINE_MAX_OUT	(64 * 1024)	/* a frame line, newline included */
#define ANSWER_MAX	1024		/* an answer line, newline included */
#define RESTART_MIN	100		/* ms: first wait after a vain start */
#define RESTART_MAX	30000
#define SELF		UINT64_MAX	/* epoll data of the self-pipe */
#define READ_TURN	(64 * 1024)	/* answers read a slot a loop turn */
#define READ_LAST	(1024 * 1024)	/* a gone command's last answers */
#define WRITE_TURN	(256 * 1024)	/* frames written a slot a loop turn */
#define NACKED_MAX	1024		/* ids a command nacked, remembered */

struct slot {
	pid_t	 pid;		/* 0: no command */
	int	 in, out;	/* its standard input and output; -1: closed */
	int	 watchin;	/* in is in the epoll set (output pending) */
	int	 closing;	/* input closed by us: to exit, not restart */
	int64_t	 retired;	/* monotonic ms its input was closed for a
				   new command to take over; 0: not */
	int	 killed;	/* sent SIGKILL: to be reaped */
	long	 settled;	/* answers since it started */
	int64_t	 restart;	/* monotonic ms before which it is not started */
	int64_t	 backoff;	/* ms: doubled by each start that settled nothing */
	int64_t	 progress;	/* monotonic ms of its start or last answer */
	int64_t	 queued;	/* bytes of frames put in obuf since its start */
	int64_t	 written;	/* of those, written to its input */
	int64_t	 consumed;	/* of those, read by it when its input closed */
	struct wmsg *m;
	size_t	 n, wr;
	int	 src;		/* the body being copied, -1: none */
	int64_t	 left;		/* its bytes to copy, the final newline included */
	char	*obuf;
	size_t	 olen;
	char	 ibuf[ANSWER_MAX];
	size_t	 ilen;
	int	 skip;		/* in an answer line too long: up to its end */
	char	(*nacked)[MQ_ID_LEN + 1];	/* ids its command nacked */
	size_t	 nnacked;
};

static struct slot *slots;
static int epfd = -1, settle_err;

static void
watch(int fd, uint64_t data, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.u64 = data };

	if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) == -1)
		err(MQ_EX_TEMPFAIL, "epoll_ctl");
}

void
stream_init(struct work *w)
{
	int i;

	if ((epfd = epoll_create1(EPOLL_CLOEXEC)) == -1)
		err(MQ_EX_TEMPFAIL, "epoll_create1");
	watch(w->waitfd, SELF, EPOLLIN);
	w->waitfd = epfd;
	if ((slots = calloc(w->maxjobs, sizeof(*slots))) == NULL)
		err(MQ_EX_TEMPFAIL, NULL);
	for (i = 0; i < w->maxjobs; i++) {
		slots[i].in = slots[i].out = slots[i].src = -1;
		if ((slots[i].m = calloc(w->batch, sizeof(*slots[i].m))) ==
		    NULL || (slots[i].obuf = malloc(OBUF_CAP)) == NULL)
			err(MQ_EX_TEMPFAIL, NULL);
	}
}

/*
 * The frame line of a message: "ID ATTEMPT BYTES", then " name=value"
 * for each field, each value's bytes percent-encoded (%XX, upper case)
 * when they are %, =, space or outside printable ASCII, then a newline.
 * Returns its length, or 0 when it does not fit in cap or is longer than
 * LINE_MAX_OUT.  The fields are the message's headers, in the order put;
 * their names (mq(7) Headers) need no encoding.  Consumers ignore fields
 * they do not know.
 */
static size_t
frame_line(char *buf, size_t cap, const struct wmsg *m, int64_t bytes,
    const struct mq_headers *h)
{
	static const char hex[] = "0123456789ABCDEF";
	struct mq_header f;
	unsigned char b;
	size_t len, pos = 0, j;
	int r;

	if (cap > LINE_MAX_OUT)
		cap = LINE_MAX_OUT;
	r = snprintf(buf, cap, "%s %d %lld", m->id, m->attempts,
	    (long long)bytes);
	if (r < 0 || (size_t)r >= cap)
		return 0;
	len = r;
	while (mq_header_next(h, &pos, &f)) {
		r = snprintf(buf + len, cap - len, " %.*s=", (int)f.nlen,
		    f.name);
		if (r < 0 || (size_t)r >= cap - len)
			return 0;
		len += r;
		for (j = 0; j < f.vlen; j++) {
			if (cap - len < 4)
				return 0;
			b = f.val[j];
			if (b == '%' || b == '=' || b <= ' ' || b > '~') {
				buf[len++] = '%';
				buf[len++] = hex[b >> 4];
				buf[len++] = hex[b & 15];
			} else
				buf[len++] = b;
		}
	}
	if (cap - len < 1)
		return 0;
	buf[len++] = '\n';
	return len;
}

/* Stop a slot's command: it is reaped later, and its messages go back. */
static void
slot_kill(struct slot *sl)
{
	if (sl->pid > 0 && !sl->killed)
		kill(-sl->pid, SIGKILL);
	sl->killed = 1;
}

static void
close_in(struct slot *sl)
{
	int unread = 0;

	/* what the command read of what was written: the rest is in the pipe */
	if (sl->in != -1) {
		if (ioctl(sl->in, FIONREAD, &unread) == -1 || unread < 0)
			unread = 0;
		sl->consumed = sl->written - unread;
	}
	if (sl->in != -1)
		close(sl->in);	/* which takes it out of the epoll set */
	sl->in = -1;
	sl->watchin = 0;
	if (sl->src != -1)
		close(sl->src);
	sl->src = -1;
	sl->olen = 0;
}

/* How many of m[0..wr) the command began to read: the frames are in order. */
static size_t
began(const struct slot *sl)
{
	size_t k;

	for (k = 0; k < sl->wr && sl->m[k].sent < sl->consumed; k++)
		;
	return k;
}

/* How many of m[0..wr) have had their frame wholly written. */
static size_t
whole(const struct slot *sl)
{
	int64_t end;
	size_t k;

	for (k = 0; k < sl->wr; k++) {
		end = k + 1 < sl->wr ? sl->m[k + 1].sent :
		    sl->src == -1 ? sl->queued : INT64_MAX;
		if (end > sl->written)
			break;
	}
	return k;
}

/* Unclaim m[k..n), which the command will never read. */
static void
unsent_back(struct work *w, struct slot *sl, size_t k)
{
	give_back(w, sl->m + k, sl->n - k, S_UNCLAIM);
	sl->n = sl->wr = k;
}

/*
 * Close a slot's input for good and unclaim what its command will never
 * read: the frames not wholly written (one cut short would give it a
 * truncated body to answer) and, when the command closed its end itself
 * (byself), those still in the pipe as well.
 */
static void
end_input(struct work *w, struct slot *sl, int byself)
{
	size_t k = whole(sl);

	close_in(sl);
	unsent_back(w, sl, byself ? began(sl) : k);
}

/* Open m[wr] and put its frame line out; 0, or -1 when there is no room. */
static int
next_frame(struct work *w, struct slot *sl)
{
	struct wmsg *m = &sl->m[sl->wr];
	struct mq_headers h;
	struct stat st;
	size_t len;
	int fd, e;

	if ((fd = mq_openat_stat(AT_FDCWD, m->handle, O_RDONLY, 0, &st)) ==
	    -1) {
		e = errno;
		warnx("%s: cannot read: %s", m->handle, mq_strerror(e));
		/* gone, or no message mq made: nothing to nack */
		if (e == ENOENT || e == MQ_ENOTREG) {
			free(m->handle);
			m->handle = NULL;
		} else
			settle_msg(w, m, S_NACK, -1, 0);
		memmove(m, m + 1, (sl->n - sl->wr - 1) * sizeof(*m));
		sl->n--;
		return 0;
	}
	if (msg_headers(w, m, fd, &h) == -1) {
		memmove(m, m + 1, (sl->n - sl->wr - 1) * sizeof(*m));
		sl->n--;
		return 0;
	}
	if ((len = frame_line(sl->obuf + sl->olen, OBUF_CAP - sl->olen, m,
	    st.st_size, &h)) == 0) {
		close(fd);
		return -1;
	}
	m->sent = sl->queued;
	sl->olen += len;
	sl->queued += len;
	sl->src = fd;
	sl->left = (int64_t)st.st_size + 1;
	sl->wr++;
	return 0;
}

/* Copy what fits of the current body; -1 when the file ends early. */
static int
copy_body(struct work *w, struct slot *sl)
{
	size_t room = OBUF_CAP - sl->olen;
	ssize_t k;

	if (sl->left == 1) {
		sl->obuf[sl->olen++] = '\n';
		sl->queued++;
		close(sl->src);
		sl->src = -1;
		return 0;
	}
	if ((int64_t)room > sl->left - 1)
		room = sl->left - 1;
	while ((k = read(sl->src, sl->obuf + sl->olen, room)) == -1 &&
	    errno == EINTR)
		;
	if (k <= 0) {
		/* the frame promised BYTES: the stream is broken */
		warnx("%s: %s: cannot read the body: %s", w->cmd[0],
		    sl->m[sl->wr - 1].id, k == 0 ? "shorter than its size" :
		    strerror(errno));
		return -1;
	}
	sl->olen += k;
	sl->queued += k;
	sl->left -= k;
	return 0;
}

/* Frames into obuf while it has room and messages wait. */
static void
fill(struct work *w, struct slot *sl)
{
	while (sl->olen < OBUF_CAP) {
		if (sl->src != -1) {
			if (copy_body(w, sl) == -1) {
				slot_kill(sl);
				close_in(sl);
				return;
			}
		} else if (sl->wr < sl->n) {
			if (next_frame(w, sl) == -1)
				return;
		} else
			return;
	}
}

/* Write what the pipe takes now; the rest when epoll says it may. */
static void
slot_write(struct work *w, struct slot *sl)
{
	struct epoll_event ev = { .events = EPOLLOUT };
	size_t done = 0;
	ssize_t k;

	while (sl->in != -1) {
		fill(w, sl);
		if (sl->olen == 0 || sl->in == -1)
			break;
		/*
		 * A fast reader of big bodies must not hold the loop either:
		 * after WRITE_TURN bytes, the rest as if the pipe were full.
		 */
		if (done >= WRITE_TURN) {
			k = -1;
			errno = EAGAIN;
		} else
			k = write(sl->in, sl->obuf, sl->olen);
		if (k == -1) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN) {
				/* it closed its input: it is to exit, or
				   time out, holding what it read */
				end_input(w, sl, 1);
				return;
			}
			if (!sl->watchin) {
				ev.data.u64 = (uint64_t)(sl - slots) * 2 + 1;
				if (epoll_ctl(epfd, EPOLL_CTL_ADD, sl->in,
				    &ev) == -1)
					err(MQ_EX_TEMPFAIL, "epoll_ctl");
				sl->watchin = 1;
			}
			return;
		}
		memmove(sl->obuf, sl->obuf + k, sl->olen - k);
		sl->olen -= k;
		sl->written += k;
		done += k;
	}
	if (sl->watchin && sl->in != -1 &&
	    epoll_ctl(epfd, EPOLL_CTL_DEL, sl->in, NULL) == -1)
		err(MQ_EX_TEMPFAIL, "epoll_ctl");
	sl->watchin = 0;
}

/*
 * Why an answer line is malformed, or NULL; its parts in the rest.  The
 * words are counted before any is read, so that a line with one too many
 * is said to be that, whatever the words.
 */
static const char *
parse_answer(char *line, enum settle *how, char **id, int64_t *delay)
{
	static const char *const more[] = { "more words than ack ID",
	    "more words than nack ID [delay]", "more words than dead ID" };
	char *word[3], *p = line;
	size_t n, max;

	if (*line == '\0')
		return "an empty line";
	for (n = 0; p != NULL && n < 3; n++)
		if (*(word[n] = strsep(&p, " ")) == '\0')
			return "an empty word: words are one space apart";
	*delay = -1;
	if (strcmp(word[0], "ack") == 0)
		*how = S_ACK;
	else if (strcmp(word[0], "nack") == 0)
		*how = S_NACK;
	else if (strcmp(word[0], "dead") == 0)
		*how = S_DEAD;
	else
		return "not ack, nack or dead";
	max = *how == S_NACK ? 3 : 2;
	if (n < 2)
		return "no message id";
	if (n > max || p != NULL)
		return more[*how];
	if (n == 3 && mq_parse_duration(word[2], delay) == -1)
		return "bad delay";
	*id = word[1];
	return NULL;
}

/* Whether the slot's command nacked id: it is not to see it again. */
static int
nacked_by(const struct slot *sl, const char *id)
{
	size_t i;

	for (i = 0; i < sl->nnacked; i++)
		if (strcmp(sl->nacked[i], id) == 0)
			return 1;
	return 0;
}

/*
 * Close a slot's input so that a new command takes over once this one
 * has answered what it holds and exited (-k after, it is killed).
 */
static void
retire(struct work *w, struct slot *sl)
{
	if (sl->retired || sl->in == -1)
		return;
	end_input(w, sl, 0);
	sl->retired = mono_ms();
}

/*
 * A nack's id is remembered for as long as the command runs: the message
 * may come back to this slot, and the command's second answer for it (a
 * late duplicate) would then settle the new delivery unread.  Full, the
 * record is emptied by a new command.
 */
static void
remember_nack(struct work *w, struct slot *sl, const char *id)
{
	if (sl->nacked == NULL && (sl->nacked = reallocarray(NULL, NACKED_MAX,
	    sizeof(*sl->nacked))) == NULL)
		err(MQ_EX_TEMPFAIL, NULL);
	strlcpy(sl->nacked[sl->nnacked++], id, sizeof(*sl->nacked));
	if (sl->nnacked == NACKED_MAX)
		retire(w, sl);
}

/* One answer line (without its newline): settle, or say why not. */
static void
answer(struct work *w, struct slot *sl, const char *text, size_t len)
{
	char line[ANSWER_MAX], *id = NULL, *v;
	const char *why;
	enum settle how;
	int64_t delay;
	size_t i;
	int r;

	memcpy(line, text, len);
	line[len] = '\0';
	if (strlen(line) != len)
		why = "a NUL byte";
	else if ((why = parse_answer(line, &how, &id, &delay)) == NULL) {
		for (i = 0; i < sl->wr; i++)
			if (sl->m[i].handle != NULL &&
			    strcmp(sl->m[i].id, id) == 0)
				break;
		if (i == sl->wr)
			why = nacked_by(sl, id) ? "answered twice" :
			    "no such message unsettled";
	}
	if (why != NULL) {
		v = visible(text, len);
		warnx("%s: bad answer \"%s\": %s", w->cmd[0], v, why);
		free(v);
		return;
	}
	if ((r = settle_msg(w, &sl->m[i], how, delay, 0)) != 0 &&
	    settle_err == 0)
		settle_err = r;
	sl->settled++;
	sl->progress = mono_ms();
	memmove(&sl->m[i], &sl->m[i + 1], (sl->n - i - 1) * sizeof(*sl->m));
	sl->n--;
	sl->wr--;
	if (how == S_NACK && sl->nnacked < NACKED_MAX)
		remember_nack(w, sl, id);
}

/* The complete lines of ibuf; what is left moves to its start. */
static void
lines(struct work *w, struct slot *sl)
{
	char *p = sl->ibuf, *end = sl->ibuf + sl->ilen, *nl;

	while ((nl = memchr(p, '\n', end - p)) != NULL) {
		if (!sl->skip)
			answer(w, sl, p, nl - p);
		sl->skip = 0;
		p = nl + 1;
	}
	sl->ilen = end - p;
	memmove(sl->ibuf, p, sl->ilen);
	if (sl->ilen == sizeof(sl->ibuf)) {
		if (!sl->skip) {
			char *v = visible(sl->ibuf, 40);

			warnx("%s: bad answer \"%s...\": longer than %d bytes",
			    w->cmd[0], v, ANSWER_MAX - 1);
			free(v);
		}
		sl->skip = 1;
		sl->ilen = 0;
	}
}

/* Read the answers there are; at the end of them, close the pipe. */
static void
slot_read(struct work *w, struct slot *sl, size_t max)
{
	size_t got = 0;
	ssize_t k;

	/*
	 * At most max bytes a call: a command that floods its output must not
	 * hold the loop (epoll is level-triggered: the rest comes next turn)
	 */
	while (sl->out != -1 && got < max) {
		k = read(sl->out, sl->ibuf + sl->ilen,
		    sizeof(sl->ibuf) - sl->ilen);
		if (k == -1 && errno == EINTR)
			continue;
		if (k == -1 && errno == EAGAIN)
			return;
		if (k > 0) {
			got += k;
			sl->ilen += k;
			lines(w, sl);
			continue;
		}
		/* the end: a last line without its newline is one too */
		if (sl->ilen > 0 && !sl->skip)
			answer(w, sl, sl->ibuf, sl->ilen);
		sl->ilen = 0;
		sl->skip = 0;
		close(sl->out);
		sl->out = -1;
	}
}

int
stream_io(struct work *w)
{
	struct epoll_event ev[64];
	struct slot *sl;
	int i, n, e;

	if ((n = epoll_wait(epfd, ev, 64, 0)) == -1 && errno != EINTR)
		err(MQ_EX_TEMPFAIL, "epoll_wait");
	for (i = 0; i < n; i++) {
		if (ev[i].data.u64 == SELF)
			continue;
		sl = &slots[ev[i].data.u64 / 2];
		if (ev[i].data.u64 % 2)
			slot_write(w, sl);
		else
			slot_read(w, sl, READ_TURN);
	}
	e = settle_err;
	settle_err = 0;
	return e;
}

static void
set_nonblock(int fd)
{
	int fl;

	if ((fl = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1)
		err(MQ_EX_TEMPFAIL, "fcntl");
}

/* Start the slot's command; 0, or -1 with the exec errno in *e. */
static int
slot_start(struct work *w, struct slot *sl, int *e)
{
	int in[2], out[2];

	if (pipe2(in, O_CLOEXEC) == -1 || pipe2(out, O_CLOEXEC) == -1)
		err(MQ_EX_TEMPFAIL, "pipe");
	sl->pid = spawn(w, w->cmd, in[0], out[1], NULL, NULL, e);
	close(in[0]);
	close(out[1]);
	if (sl->pid == -1) {
		sl->pid = 0;
		close(in[1]);
		close(out[0]);
		return -1;
	}
	sl->in = in[1];
	sl->out = out[0];
	set_nonblock(sl->in);
	set_nonblock(sl->out);
	watch(sl->out, (uint64_t)(sl - slots) * 2, EPOLLIN);
	sl->settled = 0;
	sl->killed = 0;
	sl->queued = sl->written = sl->consumed = 0;
	sl->progress = mono_ms();
	return 0;
}

/* Whether a slot takes messages now; when it will, in *wake. */
static size_t
slot_room(struct work *w, struct slot *sl, int64_t now, int64_t *wake)
{
	if (sl->closing || sl->killed)
		return 0;
	if (sl->pid == 0 && sl->restart > now) {
		*wake = least(*wake, sl->restart - now);
		return 0;
	}
	if (sl->pid != 0 && sl->in == -1)
		return 0;
	return w->batch - sl->n;
}

size_t
stream_room(struct work *w, int64_t now, int64_t *wake)
{
	size_t r = 0;
	int i;

	for (i = 0; i < w->maxjobs; i++)
		r += slot_room(w, &slots[i], now, wake);
	return r;
}

/*
 * The slot with room and the fewest unsettled, the work spread; not one
 * whose command nacked id (NULL: any).
 */
static struct slot *
pick(struct work *w, int64_t now, const char *id)
{
	struct slot *best = NULL;
	int64_t wake = -1;
	int i;

	for (i = 0; i < w->maxjobs; i++)
		if (slot_room(w, &slots[i], now, &wake) > 0 &&
		    (best == NULL || slots[i].n < best->n) &&
		    (id == NULL || !nacked_by(&slots[i], id)))
			best = &slots[i];
	return best;
}

int
stream_claim(struct work *w, size_t want, int *status)
{
	struct wmsg m;
	struct slot *sl, *to;
	size_t got;
	int r, e, i;

	for (got = 0; got < want;) {
		if ((sl = pick(w, mono_ms(), NULL)) == NULL)
			break;
		/*
		 * A slot without a command claims one, the command's start
		 * may fail: no run of claims is left in flight behind it.
		 */
		mq_get_ahead(w->q, sl->pid == 0 ? 1 : want - got);
		if ((r = claim(w, &m)) == 0)
			break;
		if (r == -1) {
			warnx("%s: cannot claim: %s", w->queue,
			    mq_strerror(errno));
			*status = mq_exit_status(errno);
			break;
		}
		/* back to a command that nacked it: to another, or a new one */
		if (nacked_by(sl, m.id)) {
			if ((to = pick(w, mono_ms(), m.id)) == NULL) {
				settle_msg(w, &m, S_UNCLAIM, 0, 1);
				retire(w, sl);
				continue;
			}
			sl = to;
		}
		/* started on its first message: an idle queue runs none */
		if (sl->pid == 0 && slot_start(w, sl, &e) == -1) {
			warnx("%s: %s", w->cmd[0], strerror(e));
			/* back when the commands' input is closed: out of
			   descriptors, it could not go back now */
			sl->m[sl->n++] = m;
			*status = exec_status(e);
			return -1;
		}
		sl->m[sl->n++] = m;
		got++;
	}
	for (i = 0; i < w->maxjobs; i++)
		if (slots[i].pid != 0 && slots[i].wr < slots[i].n)
			slot_write(w, &slots[i]);
	return (int)got;
}

/* A slot's command is gone: its last answers, then the rest goes back. */
static void
slot_gone(struct work *w, struct slot *sl, int status, int64_t now)
{
	size_t left, k;

	slot_read(w, sl, READ_LAST);
	if (sl->out != -1)
		close(sl->out);	/* held open by what it started */
	sl->out = -1;
	sl->ilen = 0;
	sl->skip = 0;
	close_in(sl);
	left = 0;
	for (size_t i = 0; i < sl->n; i++)
		left += sl->m[i].handle != NULL;
	if (!(sl->closing || sl->retired) || left > 0) {
		if (WIFSIGNALED(status))
			warnx("%s: killed by signal %d, %zu messages returned",
			    w->cmd[0], WTERMSIG(status), left);
		else
			warnx("%s: exited %d, %zu messages returned",
			    w->cmd[0], WEXITSTATUS(status), left);
	}
	k = began(sl);
	give_back(w, sl->m, k, S_BACK);
	give_back(w, sl->m + k, sl->n - k, S_UNCLAIM);
	sl->n = sl->wr = 0;
	sl->pid = 0;
	sl->killed = 0;
	sl->retired = 0;
	sl->closing = w->closed;
	sl->nnacked = 0;
	/* one that keeps dying before it settles anything waits longer */
	if (sl->settled > 0)
		sl->backoff = 0;
	else if ((sl->backoff *= 2) < RESTART_MIN)
		sl->backoff = RESTART_MIN;
	else if (sl->backoff > RESTART_MAX)
		sl->backoff = RESTART_MAX;
	sl->restart = now + sl->backoff;
}

void
stream_reaped(struct work *w, pid_t pid, int status)
{
	int i;

	for (i = 0; i < w->maxjobs; i++)
		if (slots[i].pid == pid) {
			slot_gone(w, &slots[i], status, mono_ms());
			return;
		}
}

int
stream_busy(const struct work *w)
{
	int i;

	for (i = 0; i < w->maxjobs; i++)
		if (slots[i].pid != 0)
			return 1;
	return 0;
}

size_t
stream_unsettled(const struct work *w)
{
	size_t n = 0;
	int i;

	for (i = 0; i < w->maxjobs; i++)
		n += slots[i].n;
	return n;
}

/*
 * Nothing more will come: close the commands' input, let them exit.  What
 * was claimed and not wholly written is unclaimed, and a failed start's
 * message goes back, once every input is closed: out of descriptors, they
 * could not go back before.
 */
void
stream_close(struct work *w)
{
	size_t keep[JOBS_MAX];
	int i;

	w->closed = 1;
	for (i = 0; i < w->maxjobs; i++) {
		slots[i].closing = 1;
		keep[i] = whole(&slots[i]);
		close_in(&slots[i]);
	}
	for (i = 0; i < w->maxjobs; i++)
		if (slots[i].pid != 0)
			unsent_back(w, &slots[i], keep[i]);
		else {
			give_back(w, slots[i].m, slots[i].n, S_BACK);
			slots[i].n = slots[i].wr = 0;
		}
}

/* The grace time is over: kill the commands; returns how many ran. */
int
stream_kill(struct work *w)
{
	int i, n = 0, status;

	w->closed = 1;
	for (i = 0; i < w->maxjobs; i++) {
		if (slots[i].pid == 0)
			continue;
		slots[i].closing = 1;
		slot_kill(&slots[i]);
		while (waitpid(slots[i].pid, &status, 0) == -1 &&
		    errno == EINTR)
			;
		slot_gone(w, &slots[i], status, 0);
		n++;
	}
	return n;
}

/* ms from which a message's answer is waited for */
static int64_t
since(const struct slot *sl, const struct wmsg *m)
{
	return m->claimed > sl->progress ? m->claimed : sl->progress;
}

/*
 * The command is stuck: every message it began to read goes back as a
 * failure would (its attempt counted, with backoff), the oldest even
 * unread, so that a message no command gets through ends in dead/; the
 * rest, unread, go back as for any command gone.
 */
static void
time_out(struct work *w, struct slot *sl)
{
	size_t i, k;

	slot_kill(sl);
	close_in(sl);
	k = began(sl);
	for (i = 0; i < sl->n && (i == 0 || i < k); i++) {
		warnx("%s: %s: no answer in %lld ms: restarting it",
		    w->cmd[0], sl->m[i].id, (long long)w->timeout);
		settle_msg(w, &sl->m[i], S_NACK, -1, 0);
	}
}

/*
 * Renew the leases of what is unsettled, and restart a command that
 * answered nothing for the answer timeout while a message waited (counted
 * from the later of that message's claim and the command's last answer:
 * a slow command that answers goes on), or that stays -k after it was
 * retired.  Returns ms to the next renewal or timeout.
 */
int64_t
stream_tick(struct work *w, int64_t now)
{
	struct slot *sl;
	int64_t next = -1;
	int j;

	for (j = 0; j < w->maxjobs; j++) {
		sl = &slots[j];
		if (sl->pid == 0 || sl->killed)
			continue;
		/* m[0], the oldest claim, is the first to time out */
		if (sl->n > 0 && now - since(sl, &sl->m[0]) >= w->timeout) {
			time_out(w, sl);
			continue;
		}
		if (sl->retired && now - sl->retired >= w->grace) {
			slot_kill(sl);
			continue;
		}
		next = least(next, renew_msgs(w, sl->m, sl->n, now, 0));
		if (sl->n > 0)
			next = least(next, since(sl, &sl->m[0]) + w->timeout -
			    now);
		if (sl->retired)
			next = least(next, sl->retired + w->grace - now);
	}
	return next;
}
